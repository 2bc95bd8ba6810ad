"""One query over several built "Auto" shards in one FAISS call (`faiss.IndexShards`).

Searching the shards in turn from Python pays the wrapper (lock, parameters, id conversion,
result lists) once per shard and merges in Python; `IndexShards` (not threaded, successive ids)
runs every shard's search and the top-k merge in C++, and one id conversion follows. At 1M
real-like vectors over 4 shards, nprobe 1 / k_factor 8, single queries took 0.178 / 0.234 ms
p50 / p99 instead of 0.223 / 0.424 (/work/scratch/s10_ishards.py, session 10). Each shard still
runs its own coarse search: `IndexShardsIVF` shares one, but only over bare IVF indexes, and a
built shard is an IndexRefine.

It applies only when every shard is positional (a built "Auto" index, so a label is a position)
with no dead entries (one `SearchParameters` goes to every shard, so no per-shard exclusion) and
all shards carry the same calibrated knobs (or the caller passes its own); otherwise `search`
answers None and the caller searches the shards in turn.

Source: faiss/IndexShards.h (`IndexShardsTemplate::search`: `successive_ids` shifts each
shard's labels by the sizes of the shards before it, taken at search time).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from contextlib import ExitStack
from itertools import accumulate

import faiss
import numpy as np

from core.index.faiss_params import Knobs
from core.index.faiss_shard import Hits, Shard


class MergedShards:
    """Thread-safe: the IndexShards over the shards' current indexes is rebuilt when one of them
    was replaced (a build, compaction or restore) and shared by concurrent searches."""

    def __init__(self) -> None:
        self._cached: tuple[tuple[faiss.Index, ...], faiss.IndexShards] | None = None

    def search(
        self, shards: Sequence[Shard], query: np.ndarray, k: int, knobs: Knobs | None = None
    ) -> Hits | None:
        """Top-k (object id, inner product) of one query (float32 (1, dim)) over all `shards`,
        best first, or None when the shards do not qualify (see the module docstring)."""
        if not _qualify(shards, knobs):
            return None
        with ExitStack() as stack:
            for shard in shards:  # always in shard order, like a snapshot: no lock cycle
                stack.enter_context(shard.lock.read())
            if not _qualify(shards, knobs):  # a write got in before the locks
                return None
            indexes = tuple(shard.index for shard in shards)
            merged = self._merged(indexes)
            params = shards[0]._search_parameters(knobs or shards[0].knobs)
            scores, labels = merged.search(query, k, params=params)
            starts = list(accumulate((int(i.ntotal) for i in indexes), initial=0))
            hits = []
            for label, score in zip(labels[0].tolist(), scores[0].tolist(), strict=True):
                if label < 0:
                    continue
                s = bisect_right(starts, label) - 1
                oid = shards[s].object_of.get(label - starts[s])
                if oid is not None:
                    hits.append((oid, score))
            return [hits]

    def _merged(self, indexes: tuple[faiss.Index, ...]) -> faiss.IndexShards:
        cached = self._cached
        if cached is not None and all(a is b for a, b in zip(cached[0], indexes, strict=True)):
            return cached[1]
        merged = faiss.IndexShards(indexes[0].d)  # not threaded: in this thread
        merged.successive_ids = True  # (the default) shard s's labels follow shard s - 1's
        for index in indexes:
            merged.add_shard(index)
        self._cached = (indexes, merged)  # holds the indexes: the shards' stay alive with it
        return merged


def _qualify(shards: Sequence[Shard], knobs: Knobs | None) -> bool:
    first = shards[0].knobs
    return all(
        shard.positional and not shard.dead and (knobs is not None or shard.knobs == first)
        for shard in shards
    )
