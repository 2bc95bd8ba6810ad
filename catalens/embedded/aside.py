"""Work the in-process bus set aside, kept on disk and finished later.

A batch whose handler keeps failing on a transient error (its Postgres restarting, a full disk)
is dead-lettered `gave_up` by `core.bus.InProcessBus`: one process has no redelivery. Embedded
mode keeps each such message in `<data_dir>/aside/<event_id>.json` (besides its `dlq.jsonl`
record); the stack sends it through again at start-up and every `streaming.aside_retry_s`
while the app runs (`catalens.embedded.bootstrap`). A message that succeeds is removed; one
that gives up again stays for the next pass.
Ids are deterministic and every write downstream is an upsert, so retrying a message that had
in fact succeeded changes nothing. `images()` tells which images still wait: an upload with
work aside is answered 202 (accepted, not yet searchable), never 201."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.bus import GAVE_UP
from schemas import decode, encode
from schemas.envelope import Envelope
from schemas.errors import CatalensError

__all__ = ["GAVE_UP", "AsideWork", "Retried"]
log = logging.getLogger(__name__)


class Bus(Protocol):
    def publish(self, topic: str, message: object) -> None: ...
    async def drain(self) -> None: ...


@dataclass(frozen=True)
class Retried:
    sent: int  # messages sent through again
    finished: int  # of them, the ones that went through
    refused: int  # the ones dead-lettered for good this time (not transient: see dlq.jsonl)


class AsideWork:
    """The set-aside messages under `folder`, one JSON file each: {"topic", "message"}."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._images: dict[str, str] = {}  # event_id -> image_id ("" when it names none)
        self._retrying: set[str] = set()
        self._again: set[str] = set()
        self._refused: set[str] = set()
        self._lock = asyncio.Lock()
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            with contextlib.suppress(OSError, ValueError, KeyError):
                entry = json.loads(path.read_bytes())
                self._images[path.stem] = _image_of(decode(entry["message"]))

    def __len__(self) -> int:
        return len(self._images)

    def images(self) -> set[str]:
        """Image ids with a message aside: not complete until a retry finishes them."""
        return {image_id for image_id in self._images.values() if image_id}

    def on_dead_letter(self, topic: str, reason: str, message: object) -> None:
        """The bus's dead-letter hook: a `gave_up` message is kept; others are only noted
        when they come from a retry (so it does not count them as finished)."""
        if reason == GAVE_UP and isinstance(message, Envelope):
            self.keep(topic.removesuffix(".dlq"), message)
        elif isinstance(message, Envelope) and str(message.event_id) in self._retrying:
            self._refused.add(str(message.event_id))

    def keep(self, topic: str, message: Envelope) -> None:
        """Write `message` (taken from `topic`) to disk before anything answers for it:
        a temporary file renamed into place, so a crash leaves the old file or the new."""
        self.folder.mkdir(parents=True, exist_ok=True)
        event_id = str(message.event_id)
        body = {"topic": topic, "message": encode(message).decode("utf-8")}
        temporary = self.folder / f".{event_id}.tmp"
        temporary.write_text(json.dumps(body))
        os.replace(temporary, self.folder / f"{event_id}.json")
        self._images[event_id] = _image_of(message)
        if event_id in self._retrying:
            self._again.add(event_id)

    async def retry(self, bus: Bus) -> Retried:
        """Send every kept message through `bus` again (in the order they were kept) and drain;
        remove the files of the ones that did not give up again."""
        async with self._lock:
            paths = sorted(self.folder.glob("*.json"), key=_kept_at) if self.folder.is_dir() else []
            if not paths:
                return Retried(0, 0, 0)
            self._retrying, self._again, self._refused = {p.stem for p in paths}, set(), set()
            try:
                for path in paths:
                    try:
                        entry = json.loads(path.read_bytes())
                        bus.publish(entry["topic"], decode(entry["message"]))
                    except (OSError, ValueError, KeyError, CatalensError) as exc:
                        # one unreadable file must not stop every later pass: set it apart
                        log.error("unreadable work aside %s (%s): kept as .unreadable", path, exc)
                        path.rename(path.with_suffix(".unreadable"))
                        self._retrying.discard(path.stem)
                await bus.drain()
                done = self._retrying - self._again
                for event_id in done:
                    (self.folder / f"{event_id}.json").unlink(missing_ok=True)
                    self._images.pop(event_id, None)
                refused = len(done & self._refused)
            finally:
                self._retrying = set()
        log.info(
            "work set aside: %d sent again, %d finished, %d refused for good, %d still aside",
            len(paths),
            len(done) - refused,
            refused,
            len(self._images),
        )
        return Retried(len(paths), len(done) - refused, refused)


def _image_of(message: Envelope) -> str:
    return str(getattr(message, "image_id", "") or "")


def _kept_at(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
