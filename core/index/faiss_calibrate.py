"""Calibration of an IVF index with a refine step: the cheapest (nprobe, k_factor) that reaches
a recall@10 target on a sample of the index's own vectors, measured, not modelled.

Used by core/index/faiss_auto.py at every build and recalibration; the result is the `Knobs`
that `/api/index` reports.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Hashable, Sequence

import numpy as np

from core.index.faiss_params import FaissParams, Knobs

MARGIN = 0.012  # calibrate above the target: the sample's recall is an estimate (see calibrate)
K = 10
# re-ranking 80+ candidates is cheap and holds as n grows (in steps of ~1.5×: the re-rank reads
# k_factor × k float16 codes, the largest part of a query at 1M); k_factor 4 (40 candidates)
# saturated just above 0.95 on real-like vectors, where the estimate ran 0.011 above held-out
K_FACTORS = (8.0, 12.0, 16.0, 24.0, 32.0)

Search = Callable[[np.ndarray, int, Knobs], list[list[Hashable]]]


def calibrate(
    search: Search,
    queries: np.ndarray,
    own: Sequence[Hashable],
    truth: Sequence[set[Hashable]],
    nlist: int,
    size: int,
    params: FaissParams,
) -> Knobs:
    """The cheapest (nprobe, k_factor) whose recall@10 reaches the target + MARGIN.

    `queries` (float32 (q, dim)) are stored vectors, `own` their keys, `truth` their exact 10
    nearest keys (themselves left out); `search(queries, k, knobs)` answers keys, best first.
    The even-numbered queries choose, by measured speed among the pairs that reach the target
    + MARGIN; the odd-numbered ones then check the choice (the cheapest of many candidates is
    the luckiest estimate): nprobe grows by a quarter until they too reach the target +
    MARGIN / 2. The recall reported is the checking half's.

    Why a margin of 0.012 on 1,024 queries: on bench/query.py's data (100k, synthetic 512-d and
    real-like 256-d, k_factor ≥ 8, nprobe ≥ 4) the stored-vector estimate was within ±0.016 of
    the recall of 200 held-out queries (docs/benchmarks.md, "Calibration", bench/calibration.py),
    and 200 queries alone measure recall@10 with a standard error of ~0.007; halves of 512
    queries estimate it to ~0.005. A margin of 0.02 cost 1.6-2x the search time at 1M synthetic
    vectors (nprobe 24 where 8 gave 0.966 on held-out queries), where recall rises slowly with
    nprobe."""
    target = min(params.recall_target + MARGIN, 1.0)
    choose, check = slice(0, None, 2), slice(1, None, 2)

    def recall(nprobe: int, k_factor: float, half: slice) -> float:
        rows = list(range(len(own)))[half]
        found = search(queries[half], K + 1, Knobs(nlist, nprobe, k_factor, 0.0, size))
        hits = sum(
            len(truth[i].intersection(without(row, own[i])))
            for row, i in zip(found, rows, strict=True)
        )
        return hits / (K * max(len(rows), 1))

    def reaches(nprobe: int, k_factor: float) -> bool:
        return recall(nprobe, k_factor, choose) >= target

    best: tuple[float, Knobs] | None = None
    for k_factor in K_FACTORS:
        found = smallest_nprobe(functools.partial(reaches, k_factor=k_factor), nlist)
        if found is None:
            continue
        knobs = Knobs(nlist, found, k_factor, 0.0, size)
        seconds = _seconds_per_round(search, queries[: min(64, len(queries))], knobs)
        if best is None or seconds < best[0]:
            best = (seconds, knobs)
    nprobe, k_factor = (best[1].nprobe, best[1].k_factor) if best else (nlist, K_FACTORS[-1])
    checked = recall(nprobe, k_factor, check)
    while checked < target - MARGIN / 2 and nprobe < nlist:
        nprobe = min(nprobe + max(1, nprobe // 4), nlist)
        checked = recall(nprobe, k_factor, check)
    return Knobs(nlist, nprobe, k_factor, checked, size)


def smallest_nprobe(reaches: Callable[[int], bool], nlist: int) -> int | None:
    """The smallest nprobe in 1..nlist for which `reaches(nprobe)`, to within an eighth of itself
    (recall grows with nprobe): doubling finds the first power of two that reaches, bisection
    then narrows the gap below it. None when even `nlist` does not reach."""
    high = 1
    while not reaches(high):
        if high >= nlist:
            return None
        high = min(2 * high, nlist)
    low = high // 2  # does not reach (0: nothing below 1)
    while high - low > max(1, high // 8):
        middle = (low + high) // 2
        if reaches(middle):
            high = middle
        else:
            low = middle
    return high


def _seconds_per_round(search: Search, queries: np.ndarray, knobs: Knobs, rounds: int = 3) -> float:
    """The fastest of `rounds` passes of single queries (the minimum is the least disturbed by
    other work on the machine)."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for q in range(len(queries)):
            search(queries[q : q + 1], K, knobs)
        times.append(time.perf_counter() - started)
    return min(times)


def without(row: Sequence[Hashable], query: Hashable) -> list[Hashable]:
    """The first 10 of a row of K + 1 neighbours, the query itself left out."""
    return [g for g in row if g != query][:K]
