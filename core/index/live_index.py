"""The generation that serves now, moved when the alias moves (blue/green without downtime).

`LiveIndex` follows the aliased generation (`log_follower`). Every `alias_poll_s` it reads the
alias; when it names another generation, a second follower restores that generation's snapshots
and replays its tail while the current one keeps serving; once the new copy has caught up with
the end of its topic as it was when it started, `on_switch` hands its indexes (and the
generation, whose embedder settings say how to embed queries) to the owner in one step, and the
old copy stops. Queries already running on the old indexes finish on them; the old indexes are
closed after `grace_s`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from core.index.faiss_params import FaissParams, params_from_settings
from core.index.generations import Generation, GenerationStore, open_generation_store
from core.index.log_follower import LogFollower, open_follower
from core.settings import Settings

log = logging.getLogger(__name__)

OnSwitch = Callable[[LogFollower], Awaitable[None]]


class LiveIndex:
    def __init__(
        self,
        bootstrap_servers: str,
        store: GenerationStore,
        params: FaissParams | None = None,
        write_snapshots: bool = False,
        snapshot_every_s: float = 30.0,
        alias_poll_s: float = 1.0,
        grace_s: float = 10.0,
    ) -> None:
        self.bootstrap_servers, self.store = bootstrap_servers, store
        self.params = params
        self.write_snapshots, self.snapshot_every_s = write_snapshots, snapshot_every_s
        self.alias_poll_s, self.grace_s = alias_poll_s, grace_s
        self.follower: LogFollower | None = None
        self.on_switch: OnSwitch | None = None
        self.switches = 0
        self._watch: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    async def _open(self, generation: Generation) -> LogFollower:
        return await open_follower(
            generation,
            self.bootstrap_servers,
            self.store,
            self.params,
            self.write_snapshots,
            self.snapshot_every_s,
        )

    async def start(self) -> LogFollower:
        self.follower = await self._open(await self.store.live())
        self._watch = asyncio.create_task(self._watch_alias())
        return self.follower

    async def _watch_alias(self) -> None:
        while True:
            await asyncio.sleep(self.alias_poll_s)
            try:
                generation = await self.store.live()
                if self.follower is not None and generation.name != self.follower.generation.name:
                    await self.switch_to(generation)
            except asyncio.CancelledError:
                raise
            except Exception:  # a store hiccup: keep serving what we have, try again
                log.exception("reading the index alias failed; still serving the old generation")

    async def switch_to(self, generation: Generation) -> None:
        log.info("alias moved to %s: building it beside the serving copy", generation.name)
        new = await self._open(generation)
        await new.caught_up.wait()
        old, self.follower = self.follower, new
        if self.on_switch is not None:
            await self.on_switch(new)
        self.switches += 1
        log.info("now serving %s (%d vectors)", generation.name, len(new.index))
        if old is not None:
            task = asyncio.create_task(self._retire(old))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _retire(self, old: LogFollower) -> None:
        await old.stop(final_snapshot=False)
        await asyncio.sleep(self.grace_s)  # queries that picked the old indexes finish first
        old.index.close()

    @property
    def running(self) -> bool:
        return self.follower is not None and self.follower.running

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        for task in list(self._closing):
            task.cancel()
        await asyncio.gather(*self._closing, return_exceptions=True)
        if self.follower is not None:
            await self.follower.stop(final_snapshot=True)
            self.follower.index.close()


async def open_live_index(settings: Settings, write_snapshots: bool = False) -> LiveIndex:
    """The configured stack's live index (not started yet): the indexer writes snapshots,
    query replicas only read them."""
    return LiveIndex(
        settings.kafka.bootstrap_servers,
        await open_generation_store(settings),
        params_from_settings(settings.index),
        write_snapshots=write_snapshots,
        snapshot_every_s=settings.index.snapshot_every_s,
        alias_poll_s=settings.index.alias_poll_s,
    )
