"""One live FAISS index per (embedding model, modality): indexes are never mixed across models."""

from __future__ import annotations

import threading

from core.index.faiss_params import FaissParams
from core.index.faiss_shards import ShardedFaissIndex


def index_name(model_key: str, modality: str) -> str:
    return f"{model_key}:{modality}"


class IndexRegistry:
    def __init__(
        self,
        n_shards: int = 4,
        index_type: str = "Flat",
        params: FaissParams | None = None,
        partitioned: bool = False,
    ):
        self.n_shards = n_shards
        self.index_type = index_type
        self.params = params
        self.partitioned = partitioned
        self._indexes: dict[str, ShardedFaissIndex] = {}
        self._lock = threading.Lock()

    def get(self, model_key: str, modality: str) -> ShardedFaissIndex | None:
        return self._indexes.get(index_name(model_key, modality))

    def get_or_create(self, model_key: str, modality: str, dim: int) -> ShardedFaissIndex:
        name = index_name(model_key, modality)
        with self._lock:
            index = self._indexes.get(name)
            if index is None:
                index = ShardedFaissIndex(
                    dim, self.n_shards, self.index_type, self.params, partitioned=self.partitioned
                )
                self._indexes[name] = index
            elif index.dim != dim:
                raise ValueError(f"index {name} has dim {index.dim}, got vectors of dim {dim}")
            return index

    def names(self) -> dict[str, ShardedFaissIndex]:
        return dict(self._indexes)

    def put(self, name: str, index: ShardedFaissIndex) -> None:
        with self._lock:
            self._indexes[name] = index

    def all(self) -> list[ShardedFaissIndex]:
        return list(self._indexes.values())

    def close(self) -> None:
        for index in self._indexes.values():
            index.close()
