from collections.abc import Sequence

from core.bus import InProcessBus, RetryPolicy
from core.errors import CorruptImage
from core.routes import Outcome, Route
from schemas import ImageDeleted, ImageUploaded


def deleted(n: int) -> ImageDeleted:
    return ImageDeleted(producer="test", image_id=f"{n:032x}", bucket="b", key=f"k{n}")


def uploaded(n: int) -> ImageUploaded:
    return ImageUploaded(
        producer="test", image_id=f"{n:032x}", bucket="b", key=f"k{n}", sha256="0" * 64, size=1
    )


def key_number(message: ImageDeleted | ImageUploaded) -> int:
    return int(message.key[1:])


class Collect:
    def __init__(self) -> None:
        self.seen: list[int] = []
        self.batches: list[int] = []

    async def __call__(self, batch: Sequence[ImageDeleted], ports: object) -> Outcome:
        self.batches.append(len(batch))
        self.seen.extend(key_number(m) for m in batch)
        return Outcome()


async def test_messages_flow_through_chained_routes_in_batches_of_the_route():
    bus = InProcessBus()
    collect = Collect()

    sizes: list[int] = []

    async def forward(batch: Sequence[ImageDeleted], ports: object) -> Outcome:
        sizes.append(len(batch))
        out = Outcome()
        for message in batch:
            out.emit("second", deleted(key_number(message) * 2))
        return out

    bus.subscribe(Route("forward", "first", forward, None, max_records=4))
    bus.subscribe(Route("collect", "second", collect, None))
    for n in range(10):
        bus.publish("first", deleted(n))
    await bus.drain()
    assert sorted(collect.seen) == [n * 2 for n in range(10)]
    assert sizes == [4, 4, 2]


async def test_a_rejected_message_lands_in_the_dead_letter_topic_and_the_rest_go_on():
    bus = InProcessBus()
    collect = Collect()

    async def check(batch: Sequence[ImageDeleted], ports: object) -> Outcome:
        out = Outcome()
        for message in batch:
            if key_number(message) == 1:
                out.reject(message, CorruptImage("truncated JPEG"))
            else:
                out.emit("ok", message)
        return out

    bus.subscribe(Route("check", "images", check, None))
    bus.subscribe(Route("collect", "ok", collect, None))
    for n in range(3):
        bus.publish("images", deleted(n))
    await bus.drain()
    assert collect.seen == [0, 2]
    [dead] = bus.dead_letters["images.dlq"]
    assert (key_number(dead.message), dead.reason, dead.detail) == (
        1,
        "corrupt_image",
        "truncated JPEG",
    )


async def test_a_handler_that_raises_on_one_message_dead_letters_only_that_message():
    bus = InProcessBus()
    collect = Collect()

    async def fragile(batch: Sequence[ImageDeleted], ports: object) -> Outcome:
        if any(key_number(m) == 3 for m in batch):
            raise RuntimeError("boom")
        return await collect(batch, ports)

    bus.subscribe(Route("fragile", "t", fragile, None, max_records=8))
    for n in range(6):
        bus.publish("t", deleted(n))
    await bus.drain()
    assert sorted(collect.seen) == [0, 1, 2, 4, 5]
    assert [(key_number(d.message), d.reason) for d in bus.dead_letters["t.dlq"]] == [
        (3, "RuntimeError")
    ]
    assert bus.pending() == 0


async def test_a_message_of_a_type_the_route_does_not_accept_is_dead_lettered_as_kafka_would():
    bus = InProcessBus()
    collect = Collect()
    bus.subscribe(Route("collect", "t", collect, None, accepts=(ImageDeleted,)))
    bus.publish("t", uploaded(1))
    bus.publish("t", deleted(2))
    await bus.drain()
    assert collect.seen == [2]
    [dead] = bus.dead_letters["t.dlq"]
    assert dead.reason == "schema_error"
    assert "expected image.deleted, got image.uploaded" in dead.detail


async def test_a_transient_failure_is_retried_and_past_the_bound_dead_lettered_not_dropped():
    bus = InProcessBus(RetryPolicy(attempts=3, backoff_s=0.001, backoff_max_s=0.001))
    calls: list[int] = []

    async def flaky(batch: Sequence[ImageDeleted], ports: object) -> Outcome:
        calls.append(len(batch))
        if key_number(batch[0]) == 0 or len(calls) < 2:
            raise ConnectionError("database away")
        return Outcome()

    bus.subscribe(Route("flaky", "t", flaky, None))
    bus.publish("t", deleted(1))
    await bus.drain()
    assert calls == [1, 1] and not bus.dead_letters["t.dlq"]  # second try went through

    bus.publish("t", deleted(0))
    await bus.drain()
    assert [(key_number(d.message), d.reason) for d in bus.dead_letters["t.dlq"]] == [
        (0, "gave_up")
    ]
