"""One shard of the sharded index: an IndexIDMap2, the object ids of its slots, and its lock.

Inside a shard every stored vector gets a fresh int64 *slot* (its FAISS id); a map turns slots
back into object ids. Flat (and IVF while it is still a flat buffer) removes replaced or deleted
slots in place. HNSW cannot remove, and IndexIDMap.remove_ids over IVF corrupts the id map
(IVF does not renumber like Flat), so for those the old slot goes to a dead set that every search
excludes with an IDSelector; when the dead share passes `compact_ratio` the shard is rebuilt from
its live vectors (IndexIDMap2 reconstructs them by slot).

A built "Auto" shard (see `faiss_auto`) is a bare IndexRefine, not an IndexIDMap2: its slots
are the index's own positions (IndexRefine cannot pass an id selector through an id map), so
`next_slot == index.ntotal` always, dead slots are excluded at its IVF stage, and a rebuild
renumbers the live entries 0..n-1.
"""

from __future__ import annotations

from typing import cast

import faiss
import numpy as np

from core.index.faiss_params import (
    FaissParams,
    IndexType,
    Knobs,
    new_flat,
    new_hnsw,
    new_ivf,
    search_parameters,
)
from core.index.faiss_rwlock import ReadWriteLock

Hits = list[list[tuple[str, float]]]


class Shard:
    """Thread-safe: searches share a read lock; upsert, delete, compaction take the write lock."""

    def __init__(self, dim: int, index_type: IndexType, params: FaissParams) -> None:
        self.dim, self.index_type, self.params = dim, index_type, params
        self.lock = ReadWriteLock()
        self.index: faiss.Index = new_hnsw(dim, params) if index_type == "HNSW" else new_flat(dim)
        self.trained = index_type not in ("IVF-SQ8", "Auto")  # these start as a flat buffer
        self.knobs: Knobs | None = None  # "Auto" once built: calibrated nprobe and k_factor
        self.slot_of: dict[str, int] = {}
        self.object_of: dict[int, str] = {}
        self.dead: set[int] = set()
        self.next_slot = 0
        self._excluded: faiss.IDSelector | None = None  # keeps the batch selector alive too
        self._excluded_batch: faiss.IDSelector | None = None
        # a positional shard's last (knobs, excluded, parameters): rebuilding the SWIG objects
        # costs ~10 µs of a ~150 µs query, and they are only read by a search
        self._last_params: (
            tuple[Knobs | None, faiss.IDSelector | None, faiss.SearchParameters] | None
        ) = None

    @property
    def removes_in_place(self) -> bool:
        return self.index_type == "Flat" or not self.trained

    @property
    def positional(self) -> bool:
        """A built "Auto" shard: slots are positions in a bare index."""
        return self.index_type == "Auto" and self.trained

    def __len__(self) -> int:
        return len(self.slot_of)

    def upsert(self, object_ids: list[str], vectors: np.ndarray) -> None:
        """Store vectors (float32, (n, dim), ids unique); an existing id's old vector goes."""
        with self.lock.write():
            if not self.slot_of.keys().isdisjoint(object_ids):
                self._retire([self.slot_of[oid] for oid in object_ids if oid in self.slot_of])
            slots = np.arange(self.next_slot, self.next_slot + len(object_ids), dtype=np.int64)
            if self.positional:
                self.index.add(vectors)
            else:
                self.index.add_with_ids(vectors, slots)
            self.next_slot += len(object_ids)
            numbers = range(int(slots[0]), int(slots[0]) + len(object_ids)) if len(slots) else ()
            self.slot_of.update(zip(object_ids, numbers, strict=True))
            self.object_of.update(zip(numbers, object_ids, strict=True))
            self._maybe_compact()

    def delete(self, object_ids: list[str]) -> int:
        """Remove these ids (unknown ones are ignored); returns how many were present."""
        with self.lock.write():
            slots = [self.slot_of.pop(oid) for oid in object_ids if oid in self.slot_of]
            self._retire(slots)
            self._maybe_compact()
            return len(slots)

    def search(self, queries: np.ndarray, k: int, knobs: Knobs | None = None) -> Hits:
        """Top-k (object id, inner product) per query, best first; `knobs` overrides the
        calibrated settings of a built "Auto" shard (calibration tries candidates with it)."""
        with self.lock.read():
            if not self.slot_of:
                return [[] for _ in range(len(queries))]
            params = self._search_parameters(knobs or self.knobs)
            scores, slots = self.index.search(queries, min(k, len(self.slot_of)), params=params)
            name = self.object_of.get  # one lookup a hit: -1 (no hit) and dead slots give None
            return [
                [
                    (oid, d)
                    for s, d in zip(row_s, row_d, strict=True)
                    if (oid := name(s)) is not None
                ]
                for row_s, row_d in zip(slots.tolist(), scores.tolist(), strict=True)
            ]

    def _search_parameters(self, knobs: Knobs | None) -> faiss.SearchParameters:
        """Fresh per call under an IndexIDMap (its search swaps `sel` inside the object); a
        positional shard reuses the last ones while its knobs and dead set are unchanged."""
        last = self._last_params
        if (
            self.positional
            and last is not None
            and (last[0] is knobs or last[0] == knobs)
            and last[1] is self._excluded
        ):
            return last[2]
        params = search_parameters(
            self.index_type, self.trained, self.params, self._excluded, knobs
        )
        if self.positional:
            self._last_params = (knobs, self._excluded, params)
        return params

    def live_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(slots, vectors) of every live entry; caller holds a lock."""
        slots = np.fromiter(self.object_of, dtype=np.int64, count=len(self.object_of))
        if not len(slots):
            return slots, np.empty((0, self.dim), dtype=np.float32)
        return slots, self.index.reconstruct_batch(slots)

    def training_sample(self) -> np.ndarray:
        with self.lock.read():
            return self.live_vectors()[1]

    def install_trained(self, template: faiss.Index) -> None:
        """Move the flat buffer into an IVF index with the trained template's centroids."""
        with self.lock.write():
            if self.trained:
                return
            self.trained = True
            self._rebuild(new_ivf(template))

    def install_built(self, index: faiss.Index, built: dict[str, int], knobs: Knobs) -> None:
        """Swap in a built "Auto" index whose position p holds the vector slot `built[oid]` held
        when the build copied it (p = the order of `built`). Writes since the copy are carried
        over: a copied entry deleted or replaced since becomes dead there, a newer one is added.
        Caller: `ShardedFaissIndex`'s build thread, without holding this shard's lock."""
        with self.lock.write():
            positions = {oid: p for p, oid in enumerate(built)}
            stale = [positions[o] for o, slot in built.items() if self.slot_of.get(o) != slot]
            newer = [o for o, slot in self.slot_of.items() if built.get(o) != slot]
            if newer:
                index.add(self.index.reconstruct_batch(np.array([self.slot_of[o] for o in newer])))
            order = [o for o in built] + newer
            self.object_of = {p: o for p, o in enumerate(order)}
            for p in stale:
                del self.object_of[p]
            self.slot_of = {o: p for p, o in self.object_of.items()}
            self.index, self.knobs, self.trained = index, knobs, True
            self.next_slot = int(index.ntotal)
            self.dead = set(stale)
            self._set_excluded()

    def _retire(self, slots: list[int]) -> None:
        for slot in slots:
            del self.object_of[slot]
        if not slots:
            return
        if self.removes_in_place:
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(slots, dtype=np.int64)))
        else:
            self.dead.update(slots)
            self._set_excluded()

    def _set_excluded(self) -> None:
        if not self.dead:
            self._excluded = self._excluded_batch = None
            return
        self._excluded_batch = faiss.IDSelectorBatch(np.fromiter(self.dead, dtype=np.int64))
        self._excluded = faiss.IDSelectorNot(self._excluded_batch)

    def _maybe_compact(self) -> None:
        dead = len(self.dead)
        total = dead + len(self.object_of)
        if dead >= self.params.compact_min_dead and dead >= self.params.compact_ratio * total:
            self.compact_locked()

    def compact_locked(self) -> None:
        """Rebuild without dead entries; caller holds the write lock."""
        if self.index_type == "HNSW":
            self._rebuild(new_hnsw(self.dim, self.params))
        elif self.positional:
            self._renumber()
        else:
            self._rebuild(new_ivf(faiss.downcast_index(cast(faiss.IndexIDMap2, self.index).index)))

    def _rebuild(self, fresh: faiss.IndexIDMap2) -> None:
        slots, vectors = self.live_vectors()
        if len(slots):
            fresh.add_with_ids(vectors, slots)
        self.index = fresh
        self.dead.clear()
        self._set_excluded()

    def _renumber(self) -> None:
        """A positional shard without its dead entries: live ones become positions 0..n-1."""
        slots, vectors = self.live_vectors()
        fresh = faiss.clone_index(self.index)
        fresh.reset()
        if len(slots):
            fresh.add(vectors)
        self.object_of = {p: self.object_of[int(s)] for p, s in enumerate(slots.tolist())}
        self.slot_of = {o: p for p, o in self.object_of.items()}
        self.index, self.next_slot = fresh, len(slots)
        self.dead.clear()
        self._set_excluded()
