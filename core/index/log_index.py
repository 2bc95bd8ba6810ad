"""`LogIndex`: the FAISS view of one embeddings topic, one shard per Kafka partition.

The log is the source of truth; this is a pure function of it. Every `ObjectsEmbedded` read from
partition p upserts its vectors into shard p of its (model, modality) index, every
`ObjectsDeleted` removes the objects it names, and `positions[p]` is the next offset to read.
Because events are keyed by the stored image's uri (`schemas.partition_key`), all of an image's
vectors and its tombstones share a partition, hence a shard: a shard and its offset can be
snapshotted and restored on their own (`partition_snapshot`), and replaying the tail of a
partition from a snapshot's offset ends in the same state as replaying it from offset 0.

To answer a tombstone that names only an image (or only the uri, for a bucket delete; or the
uri and the version that now lives there, for an overwrite), each partition keeps which objects
belong to which image and which images live at which uri.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from core.index.faiss_params import FaissParams
from core.index.faiss_shards import ShardedFaissIndex
from core.index.indexes import IndexRegistry
from core.index.log_records import PartitionMaps, Record, is_late
from core.index.view_batch import apply_views
from core.wire import identity_of
from schemas import EmbedderRef, ObjectsDeleted, ObjectsEmbedded, Vector
from schemas.embedded_view import EmbeddedView

OnError = Callable[[int, int, Exception], None]


class LogIndex:
    """Not thread-safe for writers: one follower applies records; searches may run alongside
    (the shards lock themselves)."""

    def __init__(
        self,
        topic: str,
        partitions: int,
        index_type: str = "Flat",
        params: FaissParams | None = None,
    ) -> None:
        if partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {partitions}")
        self.topic, self.partitions, self.index_type = topic, partitions, index_type
        self.params = params or FaissParams()
        self.indexes = IndexRegistry(partitions, index_type, self.params, partitioned=True)
        self.positions = [0] * partitions
        self.maps = [PartitionMaps() for _ in range(partitions)]
        self.applied = 0

    def apply(
        self, partition: int, offset: int, message: ObjectsEmbedded | ObjectsDeleted | None
    ) -> None:
        """Apply the record at `offset` of `partition` (None: a record to skip, e.g. one that
        does not decode); records at or before the partition's position are ignored."""
        self.apply_many([(partition, offset, message)])

    def apply_many(self, records: Iterable[Record], on_error: OnError | None = None) -> None:
        """`apply` each record in order, with the vectors of consecutive records gathered into
        one FAISS upsert per (partition, index); a tombstone first writes what its partition
        gathered before it. An `EmbeddedView` applies as the message it views. A record that
        cannot be applied (e.g. a vector of another dim) is skipped, and reported to
        `on_error`; the records after it go on. A replay's usual poll of views applies at once
        (`view_batch.apply_views`), to the same end."""
        records = list(records)
        if apply_views(self, records):
            return
        batch = _Gathered(self)
        for partition, offset, message in records:
            if offset < self.positions[partition]:
                continue
            try:
                if isinstance(message, (EmbeddedView, ObjectsEmbedded)):
                    removed = self.maps[partition].removed
                    if not is_late(message, message.image_id in removed):
                        removed.discard(message.image_id)
                        ids = batch.add(partition, message)
                        self._remember(partition, message.image_id, message.image_uri, ids)
                elif isinstance(message, ObjectsDeleted):
                    batch.flush(partition)
                    self._delete(partition, message)
            except Exception as exc:
                if on_error is None:
                    raise
                on_error(partition, offset, exc)
            self.positions[partition] = offset + 1
            self.applied += 1
        batch.flush()

    def _remember(self, partition: int, image_id: str, uri: str | None, ids: list[str]) -> None:
        maps = self.maps[partition]
        maps.objects_of_image[image_id].update(ids)
        if uri is not None:
            maps.place(image_id, str(uri))

    def _delete(self, partition: int, message: ObjectsDeleted) -> None:
        maps = self.maps[partition]
        image_ids = {message.image_id} if message.image_id is not None else set()
        if message.image_uri is not None:
            image_ids |= maps.images_at_uri.get(str(message.image_uri), set())
        if message.superseded_by is not None:  # an overwrite keeps the version it names
            image_ids.discard(message.superseded_by)
            maps.removed.discard(message.superseded_by)
        if message.object_ids is None:
            maps.removed |= image_ids
        if message.object_ids is not None:
            ids = set(message.object_ids)
            for image_id in image_ids:
                maps.objects_of_image.get(image_id, set()).difference_update(ids)
        else:
            ids = set().union(*(maps.objects_of_image.get(i, set()) for i in image_ids))
            maps.forget_images(image_ids)
        if ids:
            for index in self.indexes.all():
                index.delete(sorted(ids))

    def live(self) -> dict[str, dict[str, np.ndarray]]:
        """Index name → {object id: vector} of everything live (for checks; not for 1M+)."""
        out: dict[str, dict[str, np.ndarray]] = {}
        for name, index in self.indexes.names().items():
            out[name] = index.vectors_of(sorted(index.ids()))
        return out

    def __len__(self) -> int:
        return sum(len(index) for index in self.indexes.all())

    def close(self) -> None:
        self.indexes.close()


class _Gathered:
    """Vectors waiting for one upsert per (partition, index), last write per object winning:
    per key, each record's rows as a matrix (a view's is its frame's bytes, not copied) and
    which row of their concatenation holds each object's latest vector."""

    def __init__(self, log: LogIndex) -> None:
        self.log = log
        self.pending: dict[tuple[int, ShardedFaissIndex], _Pending] = {}
        self.partition_of: dict[str, int] = {}
        self.indexes: dict[tuple[str, str, int], ShardedFaissIndex] = {}
        self._ref: EmbedderRef | None = None  # the last embedder seen, its model key and
        self._key = ""  # its indexes by modality
        self._by_modality: dict[str, ShardedFaissIndex] = {}

    def add(self, partition: int, message: ObjectsEmbedded | EmbeddedView) -> list[str]:
        """Gather the record's vectors; returns its object ids."""
        ref = message.embedder
        if isinstance(message, EmbeddedView):
            ids, modalities, matrix = message.object_ids, message.modalities, message.matrix
        else:
            ids = [v.object_id for v in message.vectors]
            modalities = [v.modality for v in message.vectors]
            matrix = _matrix([v.vector for v in message.vectors])
        if matrix.shape[1] != ref.dim:  # the schema checks it; a hand-built message may not
            raise ValueError(f"vector of dim {matrix.shape[1]} from an embedder of dim {ref.dim}")
        if ref is not self._ref:  # a replay's records share one embedder, often one object
            self._ref, self._key, self._by_modality = ref, identity_of(ref).key, {}
        partition_of = self.partition_of
        if not partition_of.keys().isdisjoint(ids) and any(
            partition_of[oid] != partition for oid in ids if oid in partition_of
        ):
            self.flush()  # an object moved partition: keep the order of its two writes
        if modalities.count(modalities[0]) == len(modalities):  # one modality: the usual
            self._put(partition, modalities[0], ids, matrix)
        else:
            for modality in set(modalities):
                picked = [j for j, m in enumerate(modalities) if m == modality]
                self._put(partition, modality, [ids[j] for j in picked], matrix[picked])
        partition_of.update(dict.fromkeys(ids, partition))
        return ids

    def _put(self, partition: int, modality: str, ids: list[str], matrix: np.ndarray) -> None:
        index = self._by_modality.get(modality)
        if index is None:
            assert self._ref is not None
            index = self._by_modality[modality] = self._index(modality, self._ref.dim)
        pending = self.pending.get((partition, index))
        if pending is None:
            pending = self.pending[(partition, index)] = _Pending()
        end = pending.end
        pending.rows.update(zip(ids, range(end, end + len(ids)), strict=True))
        pending.chunks.append(matrix)
        pending.end = end + len(ids)

    def _index(self, modality: str, dim: int) -> ShardedFaissIndex:
        """The index of the current model and `modality` (get_or_create refuses another dim)."""
        index = self.indexes.get((self._key, modality, dim))
        if index is None:
            index = self.log.indexes.get_or_create(self._key, modality, dim)
            self.indexes[(self._key, modality, dim)] = index
        return index

    def flush(self, partition: int | None = None) -> None:
        for key in [k for k in self.pending if partition is None or k[0] == partition]:
            p, index = key
            pending = self.pending.pop(key)
            rows, chunks = pending.rows, pending.chunks
            matrix = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
            if len(rows) != len(matrix):  # an object written twice: its last row only
                matrix = matrix[list(rows.values())]
            index.upsert(list(rows), matrix, shard=p)
            for oid in rows:
                self.partition_of.pop(oid, None)


class _Pending:
    """One key's gathered rows: each record's matrix, and object id → row of their
    concatenation (the latest write of an object wins)."""

    __slots__ = ("chunks", "end", "rows")

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.chunks: list[np.ndarray] = []
        self.end = 0


_ITEMSIZE = {"float32": 4, "float16": 2}


def _matrix(vectors: list[Vector]) -> np.ndarray:
    """Rows of float32 values (`Vector.to_numpy` of each), of one dim; a vector whose data
    does not hold `dim` values raises the size error."""
    for vector in vectors:
        if len(vector.data) != vector.dim * _ITEMSIZE[vector.dtype]:
            vector.to_numpy()  # raises the size error
    if len({v.dim for v in vectors}) != 1:
        raise ValueError(f"vectors of dims {sorted({v.dim for v in vectors})} in one message")
    if all(v.dtype == "float32" for v in vectors):
        joined = np.frombuffer(b"".join(v.data for v in vectors), dtype="<f4")
        return joined.reshape(len(vectors), -1)
    return np.stack([v.to_numpy() for v in vectors])
