"""Work the in-process bus gave up on (a transient failure outlasted its retries) is kept on
disk, survives a restart, is sent through again, and leaves the disk only once it went through;
what gives up again stays, what the pipeline refuses for good is not retried forever."""

from __future__ import annotations

import hashlib
from pathlib import Path

from catalens.embedded.aside import GAVE_UP, AsideWork
from schemas import ImageUploaded


def uploaded(image_id: str) -> ImageUploaded:
    return ImageUploaded(
        producer="query",
        image_id=image_id,
        bucket="catalog",
        key=f"images/{image_id}.jpg",
        sha256=hashlib.sha256(image_id.encode()).hexdigest(),
        size=10,
    )


class Bus:
    """Sends what is published to a handler that fails (`gave_up` / `schema_error`) or not."""

    def __init__(self, aside: AsideWork, fails: dict[str, str]) -> None:
        self.aside, self.fails, self.seen = aside, fails, []  # image_id -> dead-letter reason
        self.queue: list[tuple[str, ImageUploaded]] = []

    def publish(self, topic: str, message: object) -> None:
        assert isinstance(message, ImageUploaded)
        self.queue.append((topic, message))

    async def drain(self) -> None:
        for topic, message in self.queue:
            self.seen.append(message.image_id)
            reason = self.fails.get(message.image_id)
            if reason:
                self.aside.on_dead_letter(f"{topic}.dlq", reason, message)
        self.queue.clear()


async def test_what_gave_up_is_kept_on_disk_and_still_there_after_a_restart(
    tmp_path: Path,
) -> None:
    aside = AsideWork(tmp_path / "aside")
    aside.on_dead_letter("images.dlq", GAVE_UP, uploaded("a" * 32))
    aside.on_dead_letter("images.dlq", "schema_error", uploaded("b" * 32))  # not transient
    assert aside.images() == {"a" * 32} and len(aside) == 1

    reopened = AsideWork(tmp_path / "aside")
    assert reopened.images() == {"a" * 32}


async def test_a_retry_removes_what_went_through_and_keeps_what_gave_up_again(
    tmp_path: Path,
) -> None:
    aside = AsideWork(tmp_path / "aside")
    for image_id in ("a" * 32, "b" * 32, "c" * 32):
        aside.on_dead_letter("images.dlq", GAVE_UP, uploaded(image_id))
    bus = Bus(aside, fails={"b" * 32: GAVE_UP, "c" * 32: "schema_error"})

    retried = await aside.retry(bus)

    assert sorted(bus.seen) == ["a" * 32, "b" * 32, "c" * 32]  # each sent once, on its topic
    assert (retried.sent, retried.finished, retried.refused) == (3, 1, 1)
    assert aside.images() == {"b" * 32}
    assert len(list((tmp_path / "aside").glob("*.json"))) == 1

    bus.fails.clear()  # the database is back
    again = await aside.retry(bus)
    assert (again.sent, again.finished) == (1, 1) and not aside.images()
    assert not list((tmp_path / "aside").glob("*.json"))
    assert (await aside.retry(bus)).sent == 0  # nothing left to send


async def test_an_unreadable_file_aside_is_set_apart_and_does_not_stop_the_others(
    tmp_path: Path,
) -> None:
    aside = AsideWork(tmp_path / "aside")
    aside.on_dead_letter("images.dlq", GAVE_UP, uploaded("a" * 32))
    (tmp_path / "aside" / "broken.json").write_text('{"topic": "images", "message": "{}"}')
    bus = Bus(aside, fails={})

    await aside.retry(bus)

    assert bus.seen == ["a" * 32] and not aside.images()
    assert [p.name for p in (tmp_path / "aside").iterdir()] == ["broken.unreadable"]
    assert (await aside.retry(bus)).sent == 0  # not tried again on every pass
