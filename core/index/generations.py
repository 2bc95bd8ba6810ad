"""Index generations and the alias that names the live one, kept in an object store.

A *generation* is one FAISS view of one embeddings topic with one index type, e.g. the default
`objects.embedded` as Flat, or `objects.embedded.<model>` as HNSW after a re-index. Its shard
snapshots live under `index/<generation>/`. The alias `index/aliases/<alias>.json` names the
generation queries use; switching it is one object put (atomic), and every replica that polls
it moves over once its copy of the new generation has caught up (`live_index`).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from core.index.partition_snapshot import partition_key
from core.ports import ObjectStore
from core.settings import Settings
from schemas import OBJECTS_EMBEDDED

ALIAS = "live"


def slug(text: str) -> str:
    """A name safe in topic names and object keys."""
    return re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-.")[:80] or "x"


@dataclass(frozen=True)
class Generation:
    name: str
    topic: str = OBJECTS_EMBEDDED
    index_type: str = "Flat"
    embedder: dict[str, Any] = field(default_factory=dict)  # settings of the model that wrote it
    created: float = 0.0

    @classmethod
    def default(cls, index_type: str, topic: str = OBJECTS_EMBEDDED) -> Generation:
        """What serves before any re-index: the configured topic and index type."""
        return cls(f"{slug(topic)}-{slug(index_type)}", topic, index_type)

    @classmethod
    def new(cls, topic: str, index_type: str, embedder: dict[str, Any] | None = None) -> Generation:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        name = f"{slug(topic)}-{slug(index_type)}-{stamp}"
        return cls(name, topic, index_type, embedder or {}, time.time())


class GenerationStore:
    """`alias` names the serving generation; `default` serves while no alias was ever set."""

    def __init__(
        self, store: ObjectStore, alias: str = ALIAS, default: Generation | None = None
    ) -> None:
        self.store, self.alias_name = store, alias
        self.default = default or Generation.default("Flat")

    async def load(self, generation: str, partition: int) -> bytes | None:
        try:
            return await self.store.get(partition_key(generation, partition))
        except KeyError:
            return None

    async def save(self, generation: str, partition: int, data: bytes) -> None:
        await self.store.put(partition_key(generation, partition), data, "application/octet-stream")

    async def drop(self, generation: str, partitions: int) -> None:
        for partition in range(partitions):
            await self.store.delete(partition_key(generation, partition))

    async def alias(self) -> Generation | None:
        try:
            raw = await self.store.get(f"index/aliases/{self.alias_name}.json")
        except KeyError:
            return None
        return Generation(**json.loads(raw))

    async def switch(self, generation: Generation) -> None:
        body = json.dumps(asdict(generation), sort_keys=True).encode("utf-8")
        await self.store.put(f"index/aliases/{self.alias_name}.json", body, "application/json")

    async def live(self) -> Generation:
        return await self.alias() or self.default

    @classmethod
    def from_settings(cls, store: ObjectStore, settings: Settings) -> GenerationStore:
        default = Generation.default(settings.index.index_type, settings.streaming.embedded_topic)
        return cls(store, settings.index.alias, default)


async def open_generation_store(settings: Settings) -> GenerationStore:
    """The generations and alias of the real stack: the MinIO index bucket, as configured."""
    from core.storage.minio_store import open_minio_store

    store = await open_minio_store(settings.minio, settings.minio.index_bucket)
    return GenerationStore.from_settings(store, settings)
