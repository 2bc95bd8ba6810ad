"""`apply_views`: a replay's usual poll applied to a `LogIndex` at once, not record by record.

While a follower catches up, nearly every poll is the same shape: `EmbeddedView`s of one
embedder and one modality, each past its partition's position, of images no tombstone removed,
no object in two partitions. Such a poll becomes one FAISS upsert per partition (the
concatenated matrices) and one pass over the image maps, which is what `LogIndex.apply_many`
would do record by record. Any other poll (a tombstone, a model, a late or moved record, an
index of another dim) is left to `apply_many`'s record loop: this answers False having changed
nothing.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from core.index.indexes import IndexRegistry
from core.index.log_records import PartitionMaps, Record
from core.wire import identity_of
from schemas.embedded_view import EmbeddedView


class _Log(Protocol):
    """What this needs of a `LogIndex`."""

    positions: list[int]
    maps: list[PartitionMaps]
    indexes: IndexRegistry
    applied: int


def apply_views(log: _Log, records: list[Record]) -> bool:
    """Apply `records` as `apply_many` would and return True, or change nothing and return
    False when they are not the usual replay poll (see the module)."""
    if not records or type(records[0][2]) is not EmbeddedView:
        return False
    first = records[0][2]
    ref, modality = first.embedder, first.modalities[0]
    views: dict[int, list[EmbeddedView]] = {}
    last: dict[int, int] = {}
    positions = log.positions
    for partition, offset, view in records:
        if (
            type(view) is not EmbeddedView
            or (view.embedder is not ref and view.embedder != ref)
            or offset < positions[partition]
            or offset <= last.get(partition, -1)
            or view.modalities.count(modality) != len(view.modalities)
            or view.matrix.shape[1] != ref.dim
        ):
            return False
        views.setdefault(partition, []).append(view)
        last[partition] = offset
    ids = {p: [oid for v in vs for oid in v.object_ids] for p, vs in views.items()}
    for p, vs in views.items():
        removed = log.maps[p].removed
        if removed and not removed.isdisjoint([v.image_id for v in vs]):
            return False  # a tombstone removed the image: `is_late` decides per record
    if len(views) > 1 and len(set().union(*ids.values())) != sum(len(set(i)) for i in ids.values()):
        return False  # an object in two partitions: the record loop keeps its writes' order
    try:
        index = log.indexes.get_or_create(identity_of(ref).key, modality, ref.dim)
    except ValueError:  # an index of this model and modality with another dim
        return False
    for p, vs in views.items():
        matrix = vs[0].matrix if len(vs) == 1 else np.concatenate([v.matrix for v in vs])
        oids = ids[p]
        rows = dict(zip(oids, range(len(oids)), strict=True))
        if len(rows) != len(oids):  # an object written twice: its last row only
            oids, matrix = list(rows), matrix[list(rows.values())]
        index.upsert(oids, matrix, shard=p)
        maps = log.maps[p]
        for v in vs:
            maps.objects_of_image[v.image_id].update(v.object_ids)
            if v.image_uri is not None:
                maps.place(v.image_id, v.image_uri)
        positions[p] = last[p] + 1
    log.applied += len(records)
    return True
