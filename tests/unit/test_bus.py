from catalens.bus import InProcessBus, Outcome
from catalens.errors import CorruptImage


async def test_messages_flow_through_chained_handlers_in_batches():
    bus = InProcessBus()
    seen_batches: list[int] = []
    results: list[int] = []

    async def double(batch):
        seen_batches.append(len(batch))
        out = Outcome()
        for n in batch:
            out.emit("doubled", n * 2)
        return out

    async def collect(batch):
        results.extend(batch)
        return Outcome()

    bus.subscribe("numbers", "double", double, batch_size=4)
    bus.subscribe("doubled", "collect", collect)
    for n in range(10):
        bus.publish("numbers", n)
    await bus.drain()
    assert sorted(results) == [n * 2 for n in range(10)]
    assert seen_batches == [4, 4, 2]


async def test_a_rejected_message_lands_in_the_dead_letter_topic_and_the_rest_go_on():
    bus = InProcessBus()
    passed: list[str] = []

    async def check(batch):
        out = Outcome()
        for item in batch:
            if item == "bad":
                out.reject(item, CorruptImage("truncated JPEG"))
            else:
                out.emit("ok", item)
        return out

    async def collect(batch):
        passed.extend(batch)
        return Outcome()

    bus.subscribe("images", "check", check)
    bus.subscribe("ok", "collect", collect)
    for item in ["a", "bad", "b"]:
        bus.publish("images", item)
    await bus.drain()
    assert passed == ["a", "b"]
    [dead] = bus.dead_letters["images.dlq"]
    assert (dead.message, dead.reason, dead.detail) == ("bad", "corrupt_image", "truncated JPEG")


async def test_a_handler_that_raises_dead_letters_its_batch_instead_of_stopping_the_bus():
    bus = InProcessBus()

    async def broken(batch):
        raise RuntimeError("boom")

    bus.subscribe("t", "broken", broken)
    bus.publish("t", 1)
    await bus.drain()
    assert [d.reason for d in bus.dead_letters["t.dlq"]] == ["RuntimeError"]
    assert bus.pending() == 0
