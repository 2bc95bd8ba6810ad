"""Follow a registry alias: when `@production` moves, load the new version and swap it in.

Only for `models:/name@alias` references. Every `reload_every_s` the alias is read (no
download); when it names another version than the one serving, the new weights are fetched and
loaded on the model thread (between batches, never during one), then become `ports.detector`
in one assignment. A batch keeps the model it started with, so its events carry the version
that made them. A registry that cannot be reached leaves the serving model in place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from core.ports import Detector
from core.settings import DetectorSettings
from services.detector.handler import DetectorPorts

log = logging.getLogger(__name__)

Stamp = Callable[[str], str]
Load = Callable[[DetectorSettings], Detector]


async def follow_alias(
    ports: DetectorPorts, settings: DetectorSettings, stamp: Stamp, load: Load
) -> None:
    while True:
        await asyncio.sleep(settings.reload_every_s)
        await check_once(ports, settings, stamp, load)


async def check_once(
    ports: DetectorPorts, settings: DetectorSettings, stamp: Stamp, load: Load
) -> bool:
    """Swap in the version the alias names, if it changed; True when it did."""
    try:
        wanted = await asyncio.to_thread(stamp, settings.model)
        if wanted == ports.detector.identity.version:
            return False
        log.info("%s now names %s: loading it", settings.model, wanted)
        ports.detector = await ports.runner.run(load, settings)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # registry down, bad upload: keep serving what we have
        log.warning(
            "cannot follow %s (%s); still serving %s",
            settings.model,
            exc,
            ports.detector.identity.version,
        )
        return False
    log.info("detector now serves %s %s", settings.model, ports.detector.identity.version)
    return True
