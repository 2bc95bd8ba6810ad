"""ShardedFaissIndex: upsert/delete semantics, exactness, recall, snapshots, and concurrency."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
import pytest

from core.index.faiss_params import FaissParams, faiss_key
from core.index.faiss_shards import ShardedFaissIndex
from core.index.faiss_snapshot import read_snapshot, write_snapshot

DIM = 64
TYPES = ["Flat", "HNSW", "IVF-SQ8"]
SMALL_IVF = FaissParams(nlist=8, nprobe=8, train_size=200, compact_min_dead=8)


@pytest.fixture(autouse=True)
def one_openmp_thread() -> Iterator[None]:
    # shards already run in parallel; OpenMP inside each call only oversubscribes 2 cores
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def clustered(n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 50 centres, the way real embeddings bunch up."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, DIM))
    return unit(centres[rng.integers(0, 50, n)] + 0.35 * rng.standard_normal((n, DIM)))


def ids(n: int, prefix: str = "o") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def make(index_type: str, n_shards: int = 3) -> ShardedFaissIndex:
    params = SMALL_IVF if index_type == "IVF-SQ8" else FaissParams(compact_min_dead=8)
    return ShardedFaissIndex(DIM, n_shards, index_type, params)


def top_ids(index: ShardedFaissIndex, queries: np.ndarray, k: int = 10) -> list[list[str]]:
    return [[oid for oid, _ in row] for row in index.search(queries, k)]


def exact_top_10(data: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(scores, row numbers) of each query's 10 best rows by brute force."""
    exact = faiss.IndexFlatIP(DIM)
    exact.add(data)
    return exact.search(queries, 10)


def test_object_ids_hash_to_stable_non_negative_63_bit_keys() -> None:
    # pinned: a changed hash would route ids to other shards than their snapshot has them in
    assert faiss_key("o1") == 2545336924742213324
    keys = {faiss_key(oid) for oid in ids(1000)}
    assert len(keys) == 1000 and all(0 <= key < 2**63 for key in keys)
    index = make("Flat", n_shards=4)
    assert {index.shard_of(oid) for oid in ids(100)} == {0, 1, 2, 3}


@pytest.mark.parametrize("index_type", TYPES)
def test_upserting_an_id_twice_keeps_one_vector_and_the_new_one_wins(index_type: str) -> None:
    data = clustered(300)
    with make(index_type) as index:
        index.upsert(ids(300), data)
        index.upsert(["o7"], data[100])
        assert len(index) == 300
        everything = index.search(data[7:8], 300)[0]
        assert len(everything) == 300
        assert [oid for oid, _ in everything].count("o7") == 1
        score_of_o7 = dict(everything)["o7"]
        assert score_of_o7 == pytest.approx(float(data[7] @ data[100]), abs=0.02)


@pytest.mark.parametrize("index_type", TYPES)
def test_a_deleted_id_disappears_from_results(index_type: str) -> None:
    data = clustered(400)
    with make(index_type) as index:
        index.upsert(ids(400), data)
        assert top_ids(index, data[5:6], 1) == [["o5"]]
        assert index.delete(["o5", "o5", "unknown"]) == 1
        assert not index.contains("o5") and len(index) == 399 and "o5" not in index.ids()
        everything = top_ids(index, data[5:6], 399)[0]
        assert "o5" not in everything and len(everything) == 399  # no dead entry takes a place


@pytest.mark.parametrize("index_type", ["HNSW", "IVF-SQ8"])
def test_many_deletes_trigger_compaction_and_search_stays_right(index_type: str) -> None:
    data = clustered(400)
    with make(index_type, n_shards=2) as index:
        index.upsert(ids(400), data)
        index.delete(ids(300))
        assert [len(shard.dead) for shard in index.shards] == [0, 0]  # rebuilt without them
        assert sum(shard.index.ntotal for shard in index.shards) == 100
        assert index.ids() == set(ids(400)[300:])
        assert set(top_ids(index, data[350:351], 100)[0]) == set(ids(400)[300:])


def test_flat_results_merged_across_shards_equal_one_exact_index() -> None:
    data, queries = clustered(2000), clustered(50, seed=1)
    want_scores, want = exact_top_10(data, queries)
    with ShardedFaissIndex(DIM, 5) as index:
        index.upsert(ids(2000), data)
        got = index.search(queries, 10)
    assert [[oid for oid, _ in row] for row in got] == [[f"o{j}" for j in r] for r in want]
    np.testing.assert_allclose([[s for _, s in row] for row in got], want_scores, rtol=1e-5)


def test_a_single_query_is_merged_over_the_shards_without_the_shard_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, queries = clustered(2000), clustered(3, seed=1)
    _, want = exact_top_10(data, queries)
    with ShardedFaissIndex(DIM, 5) as index:
        index.upsert(ids(2000), data)
        batch = index.search(queries, 10)  # on the pool
        monkeypatch.setattr(index._pool, "map", lambda *a: pytest.fail("a hop to the pool"))
        single = [index.search(q[None, :], 10)[0] for q in queries]
    assert single == batch
    assert [[oid for oid, _ in row] for row in single] == [[f"o{j}" for j in r] for r in want]


@pytest.mark.parametrize(
    ("index_type", "params"),
    [
        ("HNSW", FaissParams()),
        ("IVF-SQ8", FaissParams(nlist=32, nprobe=8)),
    ],
)
def test_approximate_indexes_recall_at_least_90_percent_of_exact_top_10(
    index_type: str, params: FaissParams
) -> None:
    data = clustered(5000)
    queries = unit(
        data[np.random.default_rng(2).integers(0, 5000, 200)]
        + 0.1 * np.random.default_rng(3).standard_normal((200, DIM))
    )
    truth = [{f"o{j}" for j in row} for row in exact_top_10(data, queries)[1]]
    with ShardedFaissIndex(DIM, 4, index_type, params) as index:
        for start in range(0, 5000, 1000):
            index.upsert(ids(5000)[start : start + 1000], data[start : start + 1000])
        assert index.trained
        found = top_ids(index, queries)
    recall = np.mean([len(t & set(f)) / 10 for t, f in zip(truth, found, strict=True)])
    assert recall >= 0.9


def test_ivf_before_training_still_finds_fresh_vectors_exactly() -> None:
    data = clustered(150)
    with make("IVF-SQ8") as index:  # trains at 200
        index.upsert(ids(150), data)
        assert not index.trained
        assert top_ids(index, data[:20], 1) == [[f"o{i}"] for i in range(20)]
        index.upsert(ids(100, "p"), clustered(100, seed=5))
        assert index.trained and len(index) == 250
        assert top_ids(index, data[:20], 1) == [[f"o{i}"] for i in range(20)]


@pytest.mark.parametrize("index_type", TYPES)
def test_a_snapshot_loads_back_to_identical_search_results(index_type: str, tmp_path: Path) -> None:
    data = clustered(500)
    queries = data[:20]  # includes the deleted o0..o4 and the replaced o10
    with make(index_type) as index:
        index.upsert(ids(500), data)
        index.delete(ids(5))
        index.upsert(["o10"], data[0])
        write_snapshot(index, tmp_path / "snap")
        index.upsert(["late"], data[1])
        write_snapshot(index, tmp_path / "snap")  # replaces the first one
        before = index.search(queries, len(index))  # every live id, so none can hide
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]  # no temp or old folders
    with read_snapshot(tmp_path / "snap") as loaded:
        assert loaded.index_type == index_type and len(loaded) == len(index)
        assert loaded.search(queries, len(loaded)) == before
        loaded.upsert(["new"], data[2])  # a loaded index keeps working
        assert loaded.contains("new") and loaded.contains("late")


@pytest.mark.parametrize("index_type", TYPES)
def test_searches_run_safely_while_another_thread_upserts_and_deletes(index_type: str) -> None:
    data = clustered(600)
    errors: list[BaseException] = []
    stop = threading.Event()
    with make(index_type, n_shards=4) as index:
        index.upsert(ids(300), data[:300])

        def search_loop() -> None:
            try:
                while not stop.is_set():
                    for row in index.search(data[:8], 5):
                        assert len(row) == 5
            except BaseException as exc:
                errors.append(exc)

        searchers = [threading.Thread(target=search_loop) for _ in range(3)]
        for thread in searchers:
            thread.start()
        deadline = time.monotonic() + 1.0
        rounds = 0
        while time.monotonic() < deadline or rounds < 5:
            start = 300 + (rounds * 20) % 300
            index.upsert(ids(600)[start : start + 20], data[start : start + 20])
            index.delete(ids(600)[start : start + 10])
            rounds += 1
        stop.set()
        for thread in searchers:
            thread.join()
        assert errors == []
        expected = set(ids(300))
        for r in range(rounds):  # replay the same operations on a plain set
            start = 300 + (r * 20) % 300
            expected |= set(ids(600)[start : start + 20])
            expected -= set(ids(600)[start : start + 10])
        assert index.ids() == expected
        assert {oid for row in index.search(data, 1) for oid, _ in row} <= expected
        assert len(index) == len(expected)


def test_wrong_shapes_and_lengths_are_refused() -> None:
    with make("Flat") as index:
        with pytest.raises(ValueError, match="expected shape"):
            index.upsert(["a"], np.ones((1, DIM + 1), dtype=np.float32))
        with pytest.raises(ValueError, match="2 object ids for 1 vectors"):
            index.upsert(["a", "b"], np.ones((1, DIM), dtype=np.float32))
        with pytest.raises(ValueError, match="index_type"):
            ShardedFaissIndex(DIM, 2, "LSH")
