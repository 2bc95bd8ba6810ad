"""`read_to`: a bounded read never hands out a record past its cut, however the fetches fall."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import TopicPartition

from core.streaming.log_reading import read_to

TP = TopicPartition("t", 0)


@dataclass
class Record:
    offset: int


class Consumer:
    """Fetches come in threes; the log goes on past the cut (records written meanwhile)."""

    def __init__(self, log_end: int) -> None:
        self.at, self.log_end = 0, log_end

    async def position(self, tp: TopicPartition) -> int:
        return self.at

    async def getmany(self, tp: TopicPartition, timeout_ms: int, max_records: int):  # type: ignore[no-untyped-def]
        batch = [Record(o) for o in range(self.at, min(self.at + 3, self.log_end))]
        self.at += len(batch)
        return {tp: batch}


async def test_records_past_the_cut_are_never_yielded_even_when_fetched() -> None:
    consumer = Consumer(log_end=10)
    batches = [[r.offset for r in b] async for b in read_to(consumer, TP, end=7)]  # type: ignore[arg-type]
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]  # 7 and 8 came with the last fetch: dropped


async def test_nothing_is_read_when_the_consumer_already_stands_at_the_cut() -> None:
    consumer = Consumer(log_end=10)
    consumer.at = 5
    assert [b async for b in read_to(consumer, TP, end=5)] == []  # type: ignore[arg-type]
