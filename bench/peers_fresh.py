"""Freshness in the side-by-side query bench: how long 1,000 new vectors take to come back for
themselves after a system's insert call (bench/query_peers.py runs it last, on each system)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bench.query_peers import Peer

NEW_VECTORS = 1_000
FRESH_TIMEOUT_S = 120.0
FRESH_SHARE = 0.99  # "searchable": this share of the new vectors come back for themselves


def until_visible(
    insert: Callable[[], None],
    probe: Callable[[], float],
    share: float = FRESH_SHARE,
    timeout_s: float = FRESH_TIMEOUT_S,
    clock: Callable[[], float] = time.perf_counter,
    pause: Callable[[float], None] = time.sleep,
) -> float | None:
    """Seconds from the start of `insert()` until `probe()` (the share of the new vectors that
    searches return) reaches `share`; None if it does not within `timeout_s`."""
    start = clock()
    insert()
    while True:
        if probe() >= share:
            return clock() - start
        if clock() - start > timeout_s:
            return None
        pause(0.01)


def freshness(peer: Peer, new: np.ndarray, first_id: int, setting: Any) -> float | None:
    """Insert `new` (ids first_id...) and time until they are searchable at `setting`."""
    want = np.arange(first_id, first_id + len(new))

    def probe() -> float:
        found = peer.rows(peer.search(new, setting, batch=True))
        return float(np.mean([w in row for w, row in zip(want, found, strict=True)]))

    return until_visible(lambda: peer.add(new, first_id), probe, timeout_s=FRESH_TIMEOUT_S)
