"""The "Auto" index type: exact while small, then IVF-PQ fast-scan with a float16 refine, its search
settings calibrated on its own vectors at every build.

Below `FaissParams.exact_below` vectors every shard is an exact IndexFlatIP (under IndexIDMap2).
Past it, and again whenever the index has grown `growth` times since the last build (a new size
class), a background thread builds `IVF{nlist},PQ{m}x4fs,Refine(SQfp16)` shards (64-byte PQ codes)
from a copy of the live vectors (`nlist` ≈ √n, a power of two) and swaps them in shard by shard;
each shard's vectors are added grouped by inverted list (`list_order`), so the few lists a query
probes are also a few contiguous stretches of the float16 refine codes;
searches and writes go on against the old shards meanwhile, and the writes made during the
build are carried over at the swap (see `Shard.install_built`). This pairing was the fastest
at recall@10 ≥ 0.95 in bench/query.py's side-by-side runs (4-bit PQ codes scanned with SIMD,
then a re-rank of `k_factor × k` candidates from float16 copies), at about 60 % of Flat's
memory. 8-bit (SQ8) copies were tried first: on the catalog's own near-duplicate vectors they
capped recall@10 at ~0.93 even with every list probed.

Between builds, each time the index has grown by `RECALIBRATE` since the last calibration, the
search settings are calibrated again (denser data needs more candidates for the same recall);
the exact neighbours then come from an exhaustive search over the shards' float16 refine copies.

Calibration: `calibration_queries` stored vectors are searched for their 10 nearest neighbours
(the query itself left out) with the new shards; exact neighbours come from brute force over the
same vectors. For each k_factor in 8, 16, 32 the smallest nprobe (to within an eighth, not
only powers of two) whose recall@10 reaches `recall_target` plus a margin is found; of those
pairs the one with the fastest measured single queries wins (core/index/faiss_calibrate.py).
The result (`Knobs`) is what `/api/index` reports.

Sources: FAISS wiki "Indexing 1M vectors" and "Fast accumulation of PQ and AQ codes (FastScan)";
`faiss.IndexRefine` / `IndexRefineSearchParameters` (k_factor) in faiss ≥ 1.7.3.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, cast

import faiss
import numpy as np

from core.index.faiss_calibrate import K, calibrate, without
from core.index.faiss_gpu import train_template
from core.index.faiss_params import FaissParams, Knobs, search_parameters

if TYPE_CHECKING:
    from core.index.faiss_shard import Shard

RECALIBRATE = 1.25  # calibrate again at this growth since the last calibration
# k-means points per list (FAISS warns below 39; 256 is its own cap, max_points_per_centroid):
# at 1M × IVF1024, 256 instead of 64 raised recall@10 at nprobe 1, k_factor 4 from 0.945 to
# 0.959 on real-like 256-d vectors and at nprobe 2, k_factor 16 from 0.944 to 0.951 on the
# synthetic 512-d ones, for ~10 s more k-means (/work/scratch/s10_train*.py, session 10)
TRAIN_PER_LIST = 256
ADD_CHUNK = 100_000  # rows assigned or added per FAISS call during a build


def choose_nlist(n: int) -> int:
    """Inverted lists for n vectors: the power of two nearest √n, 16..4096, ≤ n / 39."""
    nlist = 2 ** round(math.log2(max(math.sqrt(max(n, 1)), 1)))
    nlist = min(max(nlist, 16), 4096)
    while nlist > 16 and nlist * 39 > n:
        nlist //= 2
    return nlist


def factory_string(dim: int, nlist: int) -> str:
    """`IVF{nlist},PQ{m}x4fs,Refine(SQfp16)` with 64-byte codes where the dimension allows (m = 128
    4-bit sub-quantizers: dim/4 values each at 512-d, dim/2 at 256-d); dims the fast-scan PQ
    cannot split use SQ8 codes."""
    m = min(dim // 2, 128)
    if dim % 8 == 0 and dim % m == 0:
        return f"IVF{nlist},PQ{m}x4fs,Refine(SQfp16)"
    return f"IVF{nlist},SQ8,Refine(Flat)"


def train_refine_template(sample: np.ndarray, nlist: int, device: str = "auto") -> faiss.Index:
    """An empty, trained IndexRefine for `sample`'s dimension (inner product)."""
    template = faiss.index_factory(
        sample.shape[1], factory_string(sample.shape[1], nlist), faiss.METRIC_INNER_PRODUCT
    )
    return train_template(template, sample, device)


def empty_like(template: faiss.Index) -> faiss.Index:
    fresh = faiss.clone_index(template)
    fresh.reset()
    return fresh


def list_order(template: faiss.Index, part: np.ndarray) -> np.ndarray:
    """Row numbers of `part` (float32 (n, dim)) sorted by the inverted list the trained
    `template` assigns them (stable: rows of one list keep their order); int64 (n,).

    Added in this order, a query's refine candidates (from the `nprobe` lists it probes) sit in
    `nprobe` contiguous stretches of the refine codes instead of all over them: at 1M × 512-d,
    nprobe 3, k_factor 16 single queries took 0.094 instead of 0.123 ms p50 (fewer cache and TLB
    misses in the re-rank, which reads k_factor × k codes of 1 KB). Costs one coarse assignment
    of the part (~7 s per 1M × 512-d on 2 cores)."""
    quantizer = faiss.extract_index_ivf(template).quantizer
    lists = np.empty(len(part), dtype=np.int64)
    for lo in range(0, len(part), ADD_CHUNK):
        chunk = np.ascontiguousarray(part[lo : lo + ADD_CHUNK], dtype=np.float32)
        lists[lo : lo + len(chunk)] = quantizer.search(chunk, 1)[1][:, 0]
    return np.argsort(lists, kind="stable")


def filled(template: faiss.Index, part: np.ndarray) -> tuple[faiss.Index, np.ndarray]:
    """An empty copy of the trained `template` with `part` (float32 (n, dim)) added in
    `list_order`; returns (index, order): position p holds row order[p] of `part`."""
    index, order = empty_like(template), list_order(template, part)
    for lo in range(0, len(order), ADD_CHUNK):
        index.add(np.ascontiguousarray(part[order[lo : lo + ADD_CHUNK]], dtype=np.float32))
    return index, order


def build_shards(
    parts: Sequence[np.ndarray], params: FaissParams, seed: int = 0
) -> tuple[faiss.Index, list[faiss.Index], list[np.ndarray], Knobs]:
    """Train one template on a sample of all `parts` (float32 (n_i, dim) per shard), fill one
    shard index per part in `list_order` (position p of shard s holds row `orders[s][p]` of
    its part) and calibrate. Returns (template, shard indexes, orders, knobs).
    Raises ValueError when there are fewer vectors than the smallest IVF needs (16 × 39)."""
    total = sum(len(p) for p in parts)
    if total < 16 * 39:
        raise ValueError(f"an IVF build needs at least {16 * 39} vectors, got {total}")
    nlist = choose_nlist(total)
    rng = np.random.default_rng(seed)
    take = min(total, TRAIN_PER_LIST * nlist)
    chosen = np.sort(rng.choice(total, size=take, replace=False))
    sample = _rows(parts, chosen)
    template = train_refine_template(sample, nlist, params.device)
    shards, orders = [], []
    for part in parts:
        index, order = filled(template, part)
        shards.append(index)
        orders.append(order)
    knobs = calibrate_built(shards, orders, parts, nlist, params, rng)
    return template, shards, orders, knobs


def calibrate_built(
    shards: Sequence[faiss.Index],
    orders: Sequence[np.ndarray],
    parts: Sequence[np.ndarray],
    nlist: int,
    params: FaissParams,
    rng: np.random.Generator,
) -> Knobs:
    """Calibrate freshly built shards (position p of shard s = row `orders[s][p]` of
    `parts[s]`)."""
    total = sum(len(p) for p in parts)
    picks = np.sort(rng.choice(total, size=min(params.calibration_queries, total), replace=False))
    queries = _rows(parts, picks)
    truth = _exact(parts, queries, picks)

    def search(q: np.ndarray, k: int, knobs: Knobs) -> list[list[Hashable]]:
        return _search(shards, orders, q, k, knobs)  # type: ignore[return-value]

    knobs = calibrate(search, queries, picks.tolist(), truth, nlist, total, params)
    return dataclasses.replace(knobs, built=total)


def recalibrate(
    shards: Sequence[Shard],
    search: Callable[[np.ndarray, int, Knobs], list[list[tuple[str, float]]]],
    knobs: Knobs,
    params: FaissParams,
    rng: np.random.Generator,
) -> Knobs:
    """New settings for built, live shards: `calibration_queries` stored vectors (spread over
    the shards by size) against their exact neighbours over the refine codes. Takes each shard's
    read lock while it reads it; `search` is the sharded search with a knobs override."""
    total = sum(len(shard) for shard in shards)
    want = min(params.calibration_queries, total)
    queries, own = [], []
    for shard in shards:
        with shard.lock.read():
            entries = list(shard.object_of.items())
            take = min(len(entries), round(want * len(entries) / max(total, 1)))
            if take:
                chosen = [entries[c] for c in rng.choice(len(entries), take, replace=False)]
                queries.append(shard.index.reconstruct_batch(np.array([s for s, _ in chosen])))
                own += [oid for _, oid in chosen]
    matrix = np.ascontiguousarray(np.concatenate(queries), dtype=np.float32)
    found: list[list[tuple[float, str]]] = [[] for _ in own]
    for shard in shards:
        with shard.lock.read():
            refine = faiss.downcast_index(cast(faiss.IndexRefine, shard.index).refine_index)
            if refine.ntotal == 0:
                continue
            params_ = faiss.SearchParameters()
            if shard._excluded is not None:
                params_.sel = shard._excluded
            d, p = refine.search(matrix, min(K + 1, refine.ntotal), params=params_)
            for row, (scores, positions) in enumerate(zip(d.tolist(), p.tolist(), strict=True)):
                found[row] += [
                    (score, shard.object_of[pos])
                    for score, pos in zip(scores, positions, strict=True)
                    if pos in shard.object_of
                ]
    truth: list[set[Hashable]] = [
        set(without([oid for _, oid in sorted(row, reverse=True)[: K + 1]], key))
        for row, key in zip(found, own, strict=True)
    ]

    def keys(q: np.ndarray, k: int, candidate: Knobs) -> list[list[Hashable]]:
        return [[oid for oid, _ in row] for row in search(q, k, candidate)]

    new = calibrate(keys, matrix, own, truth, knobs.nlist, total, params)
    return dataclasses.replace(new, built=knobs.built)


def _search(
    shards: Sequence[faiss.Index],
    orders: Sequence[np.ndarray],
    queries: np.ndarray,
    k: int,
    knobs: Knobs,
) -> list[list[int]]:
    """Global row numbers (parts concatenated in order) of the merged top-k."""
    params = search_parameters("Auto", True, FaissParams(), None, knobs)
    scores, ids, offset = [], [], 0
    for index, order in zip(shards, orders, strict=True):
        if index.ntotal == 0:
            continue
        d, i = index.search(queries, min(k, index.ntotal), params=params)
        scores.append(d)
        ids.append(np.where(i >= 0, order[np.maximum(i, 0)] + offset, -1))
        offset += index.ntotal
    return _merged_top(scores, ids, k)


def _exact(
    parts: Sequence[np.ndarray], queries: np.ndarray, picks: np.ndarray
) -> list[set[Hashable]]:
    """The exact top-10 global rows of each query, itself left out."""
    scores, ids, offset = [], [], 0
    for part in parts:
        if len(part):
            d, i = faiss.knn(
                queries,
                np.ascontiguousarray(part),
                min(K + 1, len(part)),
                faiss.METRIC_INNER_PRODUCT,
            )
            scores.append(d)
            ids.append(i + offset)
        offset += len(part)
    rows = _merged_top(scores, ids, K + 1)
    return [set(without(row, q)) for row, q in zip(rows, picks.tolist(), strict=True)]


def _merged_top(scores: list[np.ndarray], ids: list[np.ndarray], k: int) -> list[list[int]]:
    """The k best ids per query row over per-part (scores, ids) blocks, best first."""
    d_all, i_all = np.hstack(scores), np.hstack(ids)
    order = np.argsort(-d_all, axis=1)[:, :k]
    return np.take_along_axis(i_all, order, axis=1).tolist()


def _rows(parts: Sequence[np.ndarray], rows: np.ndarray) -> np.ndarray:
    """Rows (global numbers, sorted) of the parts concatenated, without concatenating them."""
    out, offset, start = [], 0, 0
    for part in parts:
        end = int(np.searchsorted(rows, offset + len(part)))
        if end > start:
            out.append(part[rows[start:end] - offset])
        start, offset = end, offset + len(part)
    dim = parts[0].shape[1]
    return np.ascontiguousarray(
        np.concatenate(out) if out else np.empty((0, dim)), dtype=np.float32
    )
