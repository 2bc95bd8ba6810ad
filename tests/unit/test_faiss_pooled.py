"""Built "Auto" shards searched pooled: one coarse search, one re-rank over all shards' best PQ
candidates, the same hits one index with every vector would give."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from core.index import faiss_pooled
from core.index.faiss_params import FaissParams, Knobs
from core.index.faiss_pooled import pooled_search, pooled_top_k
from core.index.faiss_shards import ShardedFaissIndex

DIM = 32


def unit_rows(n: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def trained(data: np.ndarray) -> faiss.Index:
    template = faiss.index_factory(
        DIM, "IVF32,PQ16x4fs,Refine(SQfp16)", faiss.METRIC_INNER_PRODUCT
    )
    template.train(data)
    return template


def test_pooled_shards_find_what_one_index_over_all_their_vectors_finds() -> None:
    data, queries = unit_rows(6_000, seed=1), unit_rows(40, seed=2)
    template = trained(data)
    whole = faiss.clone_index(template)
    whole.add(data)
    rows = np.array_split(np.arange(len(data)), 3)
    parts = [faiss.clone_index(template) for _ in rows]
    for part, r in zip(parts, rows, strict=True):
        part.add(data[r])
    knobs = Knobs(32, nprobe=4, k_factor=4.0, recall=0.0, size=len(data))
    base = faiss.SearchParametersIVF()
    base.nprobe = 4
    params = faiss.IndexRefineSearchParameters()
    params.k_factor, params.base_index_params = 4.0, base
    expected_scores, expected = whole.search(queries, 10, params=params)

    scores, owners, positions = pooled_top_k(parts, [None] * 3, queries, 10, knobs)

    found = np.vectorize(lambda s, p: rows[s][p])(owners, positions)
    assert np.array_equal(found, expected)
    assert np.allclose(scores, expected_scores, atol=1e-5)


def test_a_sharded_auto_index_searches_its_built_shards_pooled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = unit_rows(4_000, seed=3)
    calls = []
    real = faiss_pooled.pooled_top_k
    monkeypatch.setattr(
        faiss_pooled, "pooled_top_k", lambda *a, **kw: calls.append(1) or real(*a, **kw)
    )
    params = FaissParams(exact_below=2_000, calibration_queries=128)
    with ShardedFaissIndex(DIM, 4, "Auto", params) as index:
        index.upsert([f"o{i}" for i in range(4_000)], data)
        index.settle()
        calls.clear()
        [hits] = index.search(data[:1], 10)
        assert calls == [1]
        assert hits[0][0] == "o0" and len(hits) == 10  # a stored vector finds itself first
        index.delete(["o0"])
        [hits] = index.search(data[:1], 10)
        assert "o0" not in {oid for oid, _ in hits} and len(hits) == 10


def test_shards_with_different_coarse_quantizers_are_not_pooled() -> None:
    params = FaissParams(exact_below=2_000, calibration_queries=128)
    with (
        ShardedFaissIndex(DIM, 2, "Auto", params) as one,
        ShardedFaissIndex(DIM, 2, "Auto", params) as other,
    ):
        for index, seed in ((one, 4), (other, 5)):
            index.upsert([f"o{i}" for i in range(3_000)], unit_rows(3_000, seed))
            index.settle()
        assert pooled_search(one.shards, unit_rows(1, 6), 10, None) is not None
        one.shards[1].index = other.shards[1].index  # as if restored from another build
        assert pooled_search(one.shards, unit_rows(1, 6), 10, None) is None
        assert len(one.search(unit_rows(1, 6), 10)[0]) == 10  # the fan-out answers instead
