"""What goes to `<topic>.dlq`: the record (or the rejected message) with why and where from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas import Envelope, encode, partition_key

MAX_DETAIL = 2000


@dataclass(frozen=True)
class Source:
    """Where a record was read: enough to find it again in the log."""

    topic: str
    partition: int
    offset: int
    key: bytes | None = None

    @classmethod
    def of(cls, record: Any) -> Source:
        return cls(record.topic, record.partition, record.offset, record.key or None)


@dataclass(frozen=True)
class DeadRecord:
    value: bytes
    key: bytes | None
    headers: dict[str, str]


def dead_record(
    body: Envelope | bytes, source: Source, reason: str, detail: str, group: str
) -> DeadRecord:
    """A rejected message is re-encoded (it may be a narrowed copy of what was read); an
    undecodable record travels as the bytes that were read."""
    headers = {
        "x-reason": reason,
        "x-detail": detail[:MAX_DETAIL],
        "x-source-topic": source.topic,
        "x-source-partition": str(source.partition),
        "x-source-offset": str(source.offset),
        "x-consumer-group": group,
    }
    if isinstance(body, Envelope):
        headers["traceparent"] = body.traceparent
        return DeadRecord(encode(body), partition_key(body), headers)
    return DeadRecord(body, source.key, headers)
