"""`LogIndex`: the FAISS view of one embeddings topic, one shard per Kafka partition.

The log is the source of truth; this is a pure function of it. Every `ObjectsEmbedded` read from
partition p upserts its vectors into shard p of its (model, modality) index, every
`ObjectsDeleted` removes the objects it names, and `positions[p]` is the next offset to read.
Because events are keyed by the stored image's uri (`schemas.partition_key`), all of an image's
vectors and its tombstones share a partition, hence a shard: a shard and its offset can be
snapshotted and restored on their own (`partition_snapshot`), and replaying the tail of a
partition from a snapshot's offset ends in the same state as replaying it from offset 0.

To answer a tombstone that names only an image (or only the uri, for a bucket delete), each
partition keeps which objects belong to which image and which images live at which uri.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from schemas import ObjectsDeleted, ObjectsEmbedded
from services.indexer.faiss_params import FaissParams
from services.indexer.registry import IndexRegistry


@dataclass
class PartitionMaps:
    """Per partition: image id → its object ids, uri → image ids stored there (and back)."""

    objects_of_image: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    images_at_uri: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    uri_of_image: dict[str, str] = field(default_factory=dict)

    def place(self, image_id: str, uri: str) -> None:
        self.images_at_uri[uri].add(image_id)
        self.uri_of_image[image_id] = uri

    def forget_images(self, image_ids: set[str]) -> None:
        for image_id in image_ids:
            self.objects_of_image.pop(image_id, None)
            uri = self.uri_of_image.pop(image_id, None)
            if uri is not None and uri in self.images_at_uri:
                self.images_at_uri[uri].discard(image_id)
                if not self.images_at_uri[uri]:
                    del self.images_at_uri[uri]


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
        if offset < self.positions[partition]:
            return  # already applied (a redelivery after a seek)
        if isinstance(message, ObjectsEmbedded):
            self._upsert(partition, message)
        elif isinstance(message, ObjectsDeleted):
            self._delete(partition, message)
        self.positions[partition] = offset + 1
        self.applied += 1

    def _upsert(self, partition: int, message: ObjectsEmbedded) -> None:
        key = message.embedder.to_identity().key
        maps = self.maps[partition]
        for modality in ("image", "caption"):
            items = [v for v in message.vectors if v.modality == modality]
            if items:
                index = self.indexes.get_or_create(key, modality, message.embedder.dim)
                vectors = np.stack([v.vector.to_numpy() for v in items])
                index.upsert([v.object_id for v in items], vectors, shard=partition)
        maps.objects_of_image[message.image_id].update(v.object_id for v in message.vectors)
        if message.image_uri is not None:
            maps.place(message.image_id, str(message.image_uri))

    def _delete(self, partition: int, message: ObjectsDeleted) -> None:
        maps = self.maps[partition]
        image_ids = {message.image_id} if message.image_id is not None else set()
        if message.image_uri is not None:
            image_ids |= maps.images_at_uri.get(str(message.image_uri), set())
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
