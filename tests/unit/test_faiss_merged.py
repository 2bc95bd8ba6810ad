"""One query over several built "Auto" shards: one FAISS call (IndexShards) that answers exactly
what searching the shards in turn answers, and steps aside when it cannot."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.index.faiss_merged import MergedShards
from core.index.faiss_shard import Shard
from core.index.faiss_shards import ShardedFaissIndex
from tests.unit.test_faiss_auto import built, clustered, ids


def in_turn(index: ShardedFaissIndex, queries: np.ndarray, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """What the shards searched one after the other answer (the merged path switched off)."""
    with monkeypatch.context() as patch:
        patch.setattr(MergedShards, "search", lambda *a, **k: None)
        return [index.search(q[None, :], 10, index.knobs)[0] for q in queries]


def no_shard_search(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Shard, "search", lambda *a: pytest.fail("searched shard by shard"))


def test_one_query_over_built_shards_is_one_faiss_call_with_the_hits_of_the_shards_in_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index, _ = built(shards=4)
    with index:
        queries = clustered(40, seed=5)
        want = in_turn(index, queries, monkeypatch)
        no_shard_search(monkeypatch)
        got = [index.search(q[None, :], 10)[0] for q in queries]
    assert [[oid for oid, _ in row] for row in got] == [[oid for oid, _ in row] for row in want]
    np.testing.assert_allclose(
        [[s for _, s in row] for row in got], [[s for _, s in row] for row in want], rtol=1e-5
    )


def test_knobs_given_to_one_query_reach_every_shard(monkeypatch: pytest.MonkeyPatch) -> None:
    index, _ = built(shards=4)
    with index:
        assert index.knobs is not None
        cheap = dataclasses.replace(index.knobs, nprobe=1, k_factor=1.0)
        queries = clustered(40, seed=6)
        with monkeypatch.context() as patch:
            patch.setattr(MergedShards, "search", lambda *a, **k: None)
            want = [index.search(q[None, :], 10, cheap)[0] for q in queries]
        got = [index.search(q[None, :], 10, cheap)[0] for q in queries]
        default = [index.search(q[None, :], 10)[0] for q in queries]
    assert [[o for o, _ in r] for r in got] == [[o for o, _ in r] for r in want]
    assert got != default  # the cheap knobs were really used


def test_vectors_added_after_the_build_come_back_under_their_own_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index, data = built(shards=4)
    with index:
        index.search(data[:1], 10)  # the merged index exists before the shards grow
        fresh = clustered(40, seed=8)
        index.upsert(ids(10_000, 10_040), fresh)
        no_shard_search(monkeypatch)
        found = [index.search(v[None, :], 1)[0][0][0] for v in fresh]
    assert found == ids(10_000, 10_040)


def test_after_deletes_one_query_searches_the_shards_in_turn_and_deleted_ids_stay_gone() -> None:
    index, data = built(shards=4)
    with index:
        gone = [oid for oid, _ in index.search(data[:1], 5)[0]]
        index.delete(gone)
        assert index._merged.search(index.shards, data[:1], 10) is None  # dead entries somewhere
        assert not {oid for oid, _ in index.search(data[:1], 10)[0]} & set(gone)
        index.compact()  # the shards' indexes are replaced: the merged one follows them
        assert index._merged.search(index.shards, data[:1], 10) is not None
        assert not {oid for oid, _ in index.search(data[:1], 10)[0]} & set(gone)
        assert index.search(data[100:101], 1)[0][0][0] == "o100"
