"""The "Auto" index: exact while small, then a calibrated IVF-PQ fast-scan + refine index built in
the background, with no write lost while it builds."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import faiss
import numpy as np
import pytest

from core.index import faiss_auto
from core.index.faiss_params import FaissParams
from core.index.faiss_shards import ShardedFaissIndex
from core.index.faiss_snapshot import read_snapshot, write_snapshot

DIM = 64
PARAMS = FaissParams(exact_below=3_000, calibration_queries=128)


def clustered(n: int, seed: int) -> np.ndarray:
    """Unit vectors around 40 fixed centres plus noise, like embeddings of kinds of products."""
    centres = np.random.default_rng(99).standard_normal((40, DIM))
    rng = np.random.default_rng(seed)
    rows = centres[rng.integers(0, 40, n)] + 0.6 * rng.standard_normal((n, DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def ids(start: int, stop: int) -> list[str]:
    return [f"o{i}" for i in range(start, stop)]


def recall_at_10(index: ShardedFaissIndex, data: np.ndarray, queries: np.ndarray) -> float:
    _, exact = faiss.knn(queries, data, 10, faiss.METRIC_INNER_PRODUCT)
    found = index.search(queries, 10)
    hits = sum(
        len({f"o{j}" for j in row} & {oid for oid, _ in got})
        for row, got in zip(exact, found, strict=True)
    )
    return hits / (10 * len(queries))


def built(n: int = 6_000, shards: int = 4) -> tuple[ShardedFaissIndex, np.ndarray]:
    data = clustered(n, seed=1)
    index = ShardedFaissIndex(DIM, shards, "Auto", PARAMS)
    for start in range(0, n, 1_000):
        index.upsert(ids(start, start + 1_000), data[start : start + 1_000])
        index.wait_built()
    return index, data


def test_below_the_threshold_auto_searches_exactly_like_flat() -> None:
    data, queries = clustered(2_000, seed=1), clustered(20, seed=2)
    with (
        ShardedFaissIndex(DIM, 4, "Auto", PARAMS) as auto,
        ShardedFaissIndex(DIM, 4, "Flat") as flat,
    ):
        auto.upsert(ids(0, 2_000), data)
        flat.upsert(ids(0, 2_000), data)
        assert auto.knobs is None
        assert auto.search(queries, 10) == flat.search(queries, 10)


def test_past_the_threshold_auto_builds_a_calibrated_index_that_reaches_the_recall_target() -> None:
    index, data = built()
    with index:
        knobs = index.knobs
        assert knobs is not None and all(shard.positional for shard in index.shards)
        assert knobs.recall >= PARAMS.recall_target and 1 <= knobs.nprobe <= knobs.nlist
        assert knobs.built == 3_000 < knobs.size  # built once, calibrated again as it grew
        assert recall_at_10(index, data, clustered(200, seed=3)) >= 0.93  # held-out queries
        assert len(index) == len(data)


def test_writes_made_while_the_index_builds_are_carried_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = clustered(4_000, seed=1)
    started, release = threading.Event(), threading.Event()
    build = faiss_auto.build_shards

    def slow_build(*args: object, **kwargs: object) -> object:
        started.set()
        release.wait(30)
        return build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(faiss_auto, "build_shards", slow_build)
    with ShardedFaissIndex(DIM, 4, "Auto", PARAMS) as index:
        index.upsert(ids(0, 3_000), data[:3_000])
        assert started.wait(30)
        index.delete(ids(0, 10))  # deleted during the build
        moved = clustered(10, seed=7)
        index.upsert(ids(10, 20), moved)  # replaced during the build
        index.upsert(ids(3_000, 4_000), data[3_000:])  # new during the build
        release.set()
        index.wait_built()
        assert index.knobs is not None and index.build_error is None
        assert index.ids() == set(ids(10, 4_000))
        found = {oid for row in index.search(data[:10], 5) for oid, _ in row}
        assert not found & set(ids(0, 10))
        stored = index.vectors_of(ids(10, 20))  # the replacements, read back (8-bit codes)
        assert np.allclose(np.stack([stored[oid] for oid in ids(10, 20)]), moved, atol=0.05)
        for oid, row in zip(
            ids(10, 20) + ids(3_990, 4_000),
            index.search(np.concatenate([moved, data[3_990:]]), 10),
            strict=True,
        ):
            assert oid in {hit for hit, _ in row}


def test_deletes_after_the_build_never_come_back_and_compaction_keeps_the_rest() -> None:
    index, data = built()
    with index:
        gone = [oid for oid, _ in index.search(data[:1], 5)[0]]
        index.delete(gone)
        assert not {oid for oid, _ in index.search(data[:1], 10)[0]} & set(gone)
        index.compact()
        assert len(index) == len(data) - 5
        assert not {oid for oid, _ in index.search(data[:1], 10)[0]} & set(gone)
        assert index.search(data[100:101], 1)[0][0][0] == "o100"


def test_a_search_with_other_knobs_leaves_the_next_default_search_unchanged() -> None:
    index, _ = built()
    with index:
        queries = clustered(50, seed=7)
        before = index.search(queries, 10)
        assert index.knobs is not None
        cheap = dataclasses.replace(index.knobs, nprobe=1, k_factor=1.0)
        assert index.search(queries, 10, cheap) != before  # the override is really used
        assert index.search(queries, 10) == before


def test_a_search_after_deletes_still_fills_k_from_the_live_entries() -> None:
    index, data = built(shards=1)
    with index:
        gone = [oid for oid, _ in index.search(data[:1], 5)[0]]
        index.delete(gone)
        after = index.search(data[:1], 10)[0]
        assert len(after) == 10 and not {oid for oid, _ in after} & set(gone)


def test_a_snapshot_keeps_the_built_index_and_its_search_settings(tmp_path: Path) -> None:
    index, _ = built()
    queries = clustered(20, seed=4)
    with index:
        write_snapshot(index, tmp_path / "snap")
        with read_snapshot(tmp_path / "snap") as restored:
            assert restored.knobs == index.knobs
            assert restored.search(queries, 10) == index.search(queries, 10)


def test_nlist_grows_with_the_square_root_of_the_size_and_never_starves_k_means() -> None:
    assert faiss_auto.choose_nlist(1_000_000) == 1024
    assert faiss_auto.choose_nlist(100_000) == 256
    for n in (700, 5_000, 50_000, 10_000_000):
        nlist = faiss_auto.choose_nlist(n)
        assert 16 <= nlist <= 4096 and (nlist * 39 <= n or nlist == 16)


def test_an_over_fetch_probes_as_many_times_more_lists_up_to_all_of_them() -> None:
    from core.index.faiss_params import Knobs, widened

    knobs = Knobs(nlist=64, nprobe=4, k_factor=8.0, recall=0.97, size=1, built=1)
    assert widened(knobs, 1) is None and widened(None, 4) is None
    assert widened(knobs, 4) == Knobs(64, 16, 8.0, 0.97, 1, 1)
    assert widened(knobs, 64) == Knobs(64, 64, 8.0, 0.97, 1, 1)


def test_a_build_stores_each_inverted_list_as_one_stretch_and_every_vector_keeps_its_id() -> None:
    data = clustered(4_000, seed=1)
    with ShardedFaissIndex(DIM, 1, "Auto", PARAMS) as index:
        index.upsert(ids(0, 4_000), data)
        index.settle()
        shard = index.shards[0]
        ivf = faiss.extract_index_ivf(faiss.downcast_index(shard.index).base_index)
        stretches = [
            faiss.rev_swig_ptr(ivf.invlists.get_ids(lst), size).copy()
            for lst in range(ivf.nlist)
            if (size := ivf.invlists.list_size(lst))
        ]
        assert all(np.array_equal(s, np.arange(s[0], s[0] + len(s))) for s in stretches)
        stored = shard.index.reconstruct_batch(np.arange(4_000))
        rows = [int(shard.object_of[p].removeprefix("o")) for p in range(4_000)]
        assert np.allclose(stored, data[rows], atol=2e-3)  # float16 copies of the right rows
