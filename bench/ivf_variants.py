"""Raw FAISS IVF variants at equal recall: which coarse quantizer / code size is fastest for
single queries once recall@10 ≥ 0.95 (`python -m bench.ivf_variants N 'SPEC;SPEC;...'`).

For each factory string (inner product) it trains on 40 × nlist sampled vectors, adds all N
synthetic vectors (bench/query_data.py), then walks nprobe (1..32) and, at each, the smallest
k_factor (2, 4, 8, 16) whose batch recall@10 on 200 queries reaches 0.95, timing those 200 one
at a time on 1 OpenMP thread (p50/p99 ms); the fastest p50 is printed. An HNSW coarse quantizer
gets efSearch = max(nprobe, 16). Prints only: the readings are quoted in docs/benchmarks.md.
"""

from __future__ import annotations

import sys
import time

import faiss
import numpy as np

from bench.query_data import Generator, Synthetic, exact_top_k, percentiles_ms, recall_at_k

TARGET = 0.95


def best_setting(
    index: faiss.Index, queries: np.ndarray, truth: np.ndarray, hnsw_quantizer: bool
) -> tuple[int, int, float, float, float] | None:
    """(nprobe, k_factor, p50 ms, p99 ms, recall) of the fastest setting reaching TARGET."""
    best = None
    for nprobe in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32):
        for k_factor in (2, 4, 8, 16):
            base = faiss.SearchParametersIVF()
            base.nprobe = nprobe
            if hnsw_quantizer:
                coarse = faiss.SearchParametersHNSW()
                coarse.efSearch = max(nprobe, 16)
                base.quantizer_params = coarse
            params = faiss.IndexRefineSearchParameters()
            params.k_factor = k_factor
            params.base_index_params = base
            faiss.omp_set_num_threads(2)
            _, rows = index.search(queries, 10, params=params)
            recall = recall_at_k([[int(i) for i in row] for row in rows], truth)
            if recall < TARGET:
                continue
            faiss.omp_set_num_threads(1)
            times = []
            for q in queries:
                start = time.perf_counter()
                index.search(q[None], 10, params=params)
                times.append(time.perf_counter() - start)
            p50, p99 = percentiles_ms(times)
            if best is None or p50 < best[2]:
                best = (nprobe, k_factor, p50, p99, recall)
            break  # a larger k_factor at this nprobe only costs more
    return best


def main() -> None:
    n, specs = int(sys.argv[1]), sys.argv[2].split(";")
    generator = Generator(Synthetic())
    data, queries = generator.sample(n, 2), generator.sample(200, 1)
    truth = exact_top_k(data, queries, 10)
    for spec in specs:
        faiss.omp_set_num_threads(2)
        start = time.perf_counter()
        index = faiss.index_factory(data.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
        nlist = faiss.extract_index_ivf(index).nlist
        rng = np.random.default_rng(0)
        index.train(data[rng.choice(n, min(n, 40 * nlist), replace=False)])
        index.add(data)
        built = time.perf_counter() - start
        found = best_setting(index, queries, truth, "HNSW" in spec)
        if found is None:
            print(f"{spec}: built in {built:.0f} s; recall@10 {TARGET} not reached", flush=True)
        else:
            nprobe, k_factor, p50, p99, recall = found
            print(
                f"{spec}: built in {built:.0f} s; nprobe {nprobe}, k_factor {k_factor}: "
                f"recall@10 {recall:.3f}, p50 {p50:.3f} ms, p99 {p99:.3f} ms",
                flush=True,
            )
        del index


if __name__ == "__main__":
    main()
