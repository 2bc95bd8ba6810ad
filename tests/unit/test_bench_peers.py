"""The side-by-side query bench (bench/query_peers.py, bench/peers_report.py): the sweep's picks,
the freshness timer, the 10M projection, the table, and a smoke run of each system on a tiny
dataset (a peer whose package is missing here is skipped: `bench/peers_env.sh` installs them)."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest

from bench import peers_fresh, peers_report, query_peers
from bench.peers_faiss import grid
from bench.peers_fresh import freshness, until_visible
from bench.peers_plot import pareto
from bench.peers_report import install_hint, make, peer_builds, run_peers, table
from bench.query_data import Generator, Synthetic, exact_top_k, normalise
from bench.query_peers import (
    PeerRow,
    Point,
    RssPeer,
    bench_peer,
    best,
    pick,
    projected_gib,
)


class ExactPeer(RssPeer):
    """Brute force over what was added; `setting` = how many of the top 10 to return (so
    recall grows with it); inserts become visible after `lag` searches."""

    system, index, knob, own_memory = "exact", "Flat", "top", True
    settings = (2, 5, 10)

    def __init__(self, lag: int = 0) -> None:
        self.lag, self.pending = lag, 0

    def build(self, data: np.ndarray) -> None:
        self.data = data.copy()

    def search(self, queries: np.ndarray, setting: Any, batch: bool) -> np.ndarray:
        visible = self.data if self.pending == 0 else self.data[: -self.pending_rows]
        self.pending = max(0, self.pending - 1)
        top = np.argsort(-(queries @ visible.T), axis=1)[:, :10]
        top[:, setting:] = -1
        return top

    def add(self, vectors: np.ndarray, first_id: int) -> None:
        assert first_id == len(self.data)
        self.data = np.vstack([self.data, vectors])
        self.pending, self.pending_rows = self.lag, len(vectors)

    def memory_mb(self) -> float | None:
        return self.data.nbytes / 2**20


def points(*pairs: tuple[float, float]) -> list[Point]:
    return [Point(i, recall, ms) for i, (recall, ms) in enumerate(pairs)]


def test_pick_takes_the_fastest_setting_reaching_the_target() -> None:
    sweep = points((0.90, 0.1), (0.96, 0.5), (0.97, 0.3), (0.995, 0.9))
    assert pick(sweep, 0.95) is sweep[2]
    assert pick(sweep, 0.99) is sweep[3]
    assert pick(sweep, 0.999) is None
    assert best(sweep) is sweep[3]
    assert best([]) is None


def test_best_prefers_the_cheapest_of_equal_recall() -> None:
    sweep = points((0.98, 0.2), (0.98, 0.1))
    assert best(sweep) is sweep[0]  # sweep order = cost order


def test_projected_gib_scales_bytes_per_vector() -> None:
    assert projected_gib(1024.0, 1_000_000) == pytest.approx(10.0)
    assert projected_gib(None, 100) is None


def test_until_visible_stops_when_the_share_is_reached() -> None:
    now = [0.0]
    shares = iter([0.5, 0.98, 0.995])
    seconds = until_visible(
        lambda: now.__setitem__(0, now[0] + 1.0),
        lambda: next(shares),
        clock=lambda: now[0],
        pause=lambda s: now.__setitem__(0, now[0] + 0.5),
    )
    assert seconds == pytest.approx(2.0)  # 1 s insert + two pauses


def test_until_visible_gives_up_after_the_timeout() -> None:
    now = [0.0]
    seconds = until_visible(
        lambda: None,
        lambda: 0.0,
        timeout_s=3.0,
        clock=lambda: now[0],
        pause=lambda s: now.__setitem__(0, now[0] + 1.0),
    )
    assert seconds is None


def test_freshness_waits_for_lagging_inserts() -> None:
    rng = np.random.default_rng(0)
    peer = ExactPeer(lag=3)
    peer.build(normalise(rng.standard_normal((200, 8)).astype(np.float32)))
    new = normalise(rng.standard_normal((20, 8)).astype(np.float32))
    assert freshness(peer, new, 200, 10) is not None
    assert peer.pending == 0  # it took the lagging searches to see them


def test_bench_peer_rows_on_an_exact_peer() -> None:
    data = Generator(Synthetic(dim=16, centres=8, rank=4)).sample(500, seed=2)
    queries = Generator(Synthetic(dim=16, centres=8, rank=4)).sample(30, seed=1)
    truth = exact_top_k(data, queries, 10)
    result = bench_peer(ExactPeer(), data, queries, truth, normalise(data[:5] + 0.1))
    [row] = result.rows  # setting 10 reaches both targets: one row naming both
    assert row.setting == "top 10" and row.target == "≥ 0.95, ≥ 0.99"
    assert row.recall == 1.0 and row.fresh_s is not None and row.qps and row.p99_ms
    assert [p.recall for p in result.curve] == [0.2, 0.5, 1.0]
    assert "| 500 | exact | Flat | top 10 |" in table([result])


def test_grid_is_in_order_of_cost_and_bounded_by_nlist() -> None:
    g = grid(4)
    assert g[0] == (1, 4) and max(p for p, _ in g) == 4
    assert g == sorted(g)


def test_missing_peer_becomes_a_row_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> Any:
        raise ImportError(name)

    monkeypatch.setattr("bench.peers_report.make", missing)
    data = np.eye(4, dtype=np.float32)
    [result] = run_peers(["milvus"], data, data, np.zeros((4, 10), int), data, {}, 60.0)
    assert result.rows[0].note == install_hint("milvus")
    assert "pymilvus milvus-lite" in install_hint("milvus")


def test_slow_builds_are_projected_not_run() -> None:
    data = np.eye(4, dtype=np.float32)
    measured = {"pgvector": (2, 100.0)}
    [result] = run_peers(["pgvector"], data, data, np.zeros((4, 10), int), data, measured, 60.0)
    assert result.rows[0].note.startswith("NOT RUN: projected build")
    assert result.rows[0].p50_ms is None


def test_always_run_peers_are_not_projected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bench.peers_report.make", lambda name: (_ for _ in ()).throw(ImportError))
    data = np.eye(4, dtype=np.float32)
    measured = {"scann": (2, 100.0)}
    [result] = run_peers(
        ["scann"], data, data, np.zeros((4, 10), int), data, measured, 60.0, {"scann"}
    )
    assert result.rows[0].note.startswith("not installed")


def test_peer_builds_parses_earlier_measurements() -> None:
    assert peer_builds("hnswlib=100000:183.7, pgvector=100000:95") == {
        "hnswlib": (100_000, 183.7),
        "pgvector": (100_000, 95.0),
    }
    assert peer_builds("") == {}


def test_pareto_keeps_the_undominated_points_by_rising_recall() -> None:
    sweep = points((0.90, 0.5), (0.95, 0.4), (0.93, 0.6), (0.99, 1.0), (0.99, 2.0))
    assert [p.setting for p in pareto(sweep)] == [1, 3]


def test_ten_million_column() -> None:
    row = PeerRow("x", "y", 1_000_000, memory_mb=2048.0)
    assert row.ten_million_gib == pytest.approx(20.0)


MODULES = {
    "hnswlib": "hnswlib",
    "usearch": "usearch",
    "scann": "scann",
    "lancedb": "lancedb",
    "milvus": "milvus_lite",
    "catalens": "faiss",
    "catalens-2": "faiss",
    "faiss": "faiss",
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_smoke_each_peer_on_a_tiny_dataset(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec(MODULES[name]) is None:
        pytest.skip(f"{name} is not installed in this venv (bench/peers_env.sh installs it)")
    monkeypatch.setattr(query_peers, "CURVE_QUERIES", 5)
    monkeypatch.setattr(peers_fresh, "FRESH_TIMEOUT_S", 10.0)
    spec = Synthetic(dim=32, centres=16, rank=8)
    data = Generator(spec).sample(2_000, seed=2)
    queries = Generator(spec).sample(20, seed=1)
    truth = exact_top_k(data, queries, 10)
    peer = make(name)
    try:
        result = bench_peer(peer, data, queries, truth, Generator(spec).sample(50, seed=3))
    finally:
        peer.close()
    assert result.rows and result.curve
    assert max(p.recall for p in result.curve) >= 0.9
    assert result.rows[0].fresh_s is not None


def test_timing_rounds_alternate_between_systems_in_turn_and_every_round_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log: list[str] = []

    class Logged(ExactPeer):
        def __init__(self, system: str) -> None:
            super().__init__()
            self.system = system

        def search(self, queries: np.ndarray, setting: Any, batch: bool) -> np.ndarray:
            if not batch:
                log.append(self.system)
            return super().search(queries, setting, batch)

    monkeypatch.setattr("bench.peers_report.make", Logged)
    monkeypatch.setattr(query_peers, "CURVE_QUERIES", 5)
    spec = Synthetic(dim=16, centres=8, rank=4)
    data, queries = Generator(spec).sample(300, seed=2), Generator(spec).sample(30, seed=1)
    truth = exact_top_k(data, queries, 10)
    results = run_peers(["a", "b"], data, queries, truth, data[:5], {}, 60.0, rounds=3)
    turn = peers_report.BLOCK_WARMUP + peers_report.BLOCK  # one system's searches in a block
    timed = log[-2 * 3 * 30 // peers_report.BLOCK * turn :]  # the rounds follow both sweeps
    turns = [timed[i : i + turn] for i in range(0, len(timed), turn)]
    assert all(len(set(t)) == 1 for t in turns)  # a turn is one system's
    # block b of round r starts with system r + b: three blocks of 10 queries a round
    starts = "".join(t[0] for t in turns[::2])
    assert starts == "aba" + "bab" + "aba"
    assert "".join(t[0] for t in turns) == "abbaab" + "baabba" + "abbaab"
    assert [r.system for r in results] == ["a", "b"] and all(r.rows[0].p99_ms for r in results)


def test_single_query_timings_cover_the_systems_own_call_not_the_bench_turning_ids_into_rows() -> (
    None
):
    converted: list[int] = []

    class CountedRows(ExactPeer):
        def rows(self, found: Any) -> np.ndarray:
            converted.append(len(found))
            return super().rows(found)

    peer = CountedRows()
    peer.build(Generator(Synthetic(dim=16, centres=8, rank=4)).sample(200, seed=2))
    queries = Generator(Synthetic(dim=16, centres=8, rank=4)).sample(10, seed=1)
    assert len(query_peers.single_times(peer, queries, 10, warmup=0)) == 10
    assert converted == []  # inside the timed loop only the system's own search runs
    assert query_peers.found_rows(peer, queries, 10, batch=True).shape == (10, 10)
    assert converted == [10]
