"""The live feed: poll `catalog.recent` and yield each newly indexed object once."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator

import anyio
import msgspec
from litestar.response import ServerSentEventMessage

from core.catalog.views import ObjectView
from services.query.http_models import object_read
from services.query.ports import Catalog

WINDOW = 50
HEARTBEAT_EVERY = 15


class SeenObjects:
    """Remembers the last few thousand ids, so a long-lived feed stays small."""

    def __init__(self, capacity: int = 4096) -> None:
        self._order: deque[str] = deque(maxlen=capacity)
        self._ids: set[str] = set()

    def add(self, object_id: str) -> bool:
        """True when `object_id` is new."""
        if object_id in self._ids:
            return False
        if len(self._order) == self._order.maxlen:
            self._ids.discard(self._order[0])
        self._order.append(object_id)
        self._ids.add(object_id)
        return True


async def new_objects(
    catalog: Catalog, poll_s: float, window: int = WINDOW
) -> AsyncIterator[list[ObjectView]]:
    """Each poll's unseen objects, oldest first; what was there at the start is never sent."""
    seen = SeenObjects()
    for obj in await catalog.recent(window):
        seen.add(obj.object_id)
    while True:
        await anyio.sleep(poll_s)
        fresh = [obj for obj in await catalog.recent(window) if seen.add(obj.object_id)]
        yield list(reversed(fresh))


async def feed_events(catalog: Catalog, poll_s: float) -> AsyncIterator[ServerSentEventMessage]:
    """SSE messages: an `object` event per new object, a comment now and then as a heartbeat."""
    yield ServerSentEventMessage(comment="catalens live feed", retry=3000)
    quiet = 0
    async for batch in new_objects(catalog, poll_s):
        for obj in batch:
            data = msgspec.json.encode(object_read(obj)).decode()
            yield ServerSentEventMessage(data=data, event="object", id=obj.object_id)
        quiet = 0 if batch else quiet + 1
        if quiet * poll_s >= HEARTBEAT_EVERY:
            quiet = 0
            yield ServerSentEventMessage(comment="heartbeat")
