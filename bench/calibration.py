"""How good is the Auto index's calibration estimate? For every (nprobe, k_factor) of a built Auto
index, the recall@10 that calibration would estimate (stored vectors searched for their neighbours,
themselves left out: what `core/index/faiss_calibrate.py` measures) beside the recall@10 of
held-out queries (new vectors from the same generator: what users see). The gap between the two
is what the calibration margin (`faiss_calibrate.MARGIN`) has to cover.

    python -m bench.calibration --n 100000            # both data kinds, writes docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from bench.common import machine_markdown, write_section
from bench.peers_faiss import CatalensAuto
from bench.query_data import Generator, Synthetic, exact_top_k, recall_at_k
from bench.query_peers import found_rows
from bench.query_real import RealGenerator, RealLike
from core.index import faiss_calibrate
from core.index.faiss_params import FaissParams

SECTION = "Calibration: the stored-vector estimate against held-out queries (bench/calibration.py)"
NPROBES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
K = 10


def recalls(kind: str, n: int, queries: int, stored: int) -> tuple[str, list[str], float]:
    """Markdown rows (one per k_factor × nprobe) for one data kind, its calibrated choice and the
    largest |held-out − estimate| seen."""
    gen = Generator(Synthetic()) if kind == "synthetic" else RealGenerator(RealLike())
    data, held = gen.sample(n, 0), gen.sample(queries, 1)
    truth = exact_top_k(data, held, K)
    peer = CatalensAuto()
    started = time.perf_counter()
    peer.build(data)
    knobs = peer.ix.knobs
    assert knobs is not None, f"{n} vectors stay exact below FaissParams().exact_below"
    built = time.perf_counter() - started
    picks = np.random.default_rng(5).choice(n, stored, replace=False)
    own_truth = exact_top_k(data, data[picks], K + 1)
    own = np.asarray(
        [[x for x in t if x != p][:K] for p, t in zip(picks, own_truth.tolist(), strict=True)]
    )
    rows, worst = [], 0.0
    for k_factor in (4.0, *faiss_calibrate.K_FACTORS):
        for nprobe in (p for p in NPROBES if p <= knobs.nlist):
            setting = dataclasses.replace(knobs, nprobe=nprobe, k_factor=k_factor)
            user = recall_at_k(found_rows(peer, held, (nprobe, k_factor), False).tolist(), truth)
            hits = peer.ix.search(data[picks], K + 1, setting)
            found = [_rows(row, p) for p, row in zip(picks.tolist(), hits, strict=True)]
            estimate = recall_at_k(found, own)
            if k_factor in faiss_calibrate.K_FACTORS and estimate >= 0.9:  # where it chooses
                worst = max(worst, abs(user - estimate))
            rows.append(
                f"| {kind} | {k_factor:g} | {nprobe} | {estimate:.3f} | {user:.3f} "
                f"| {user - estimate:+.3f} |"
            )
    chosen_rows = found_rows(peer, held, (knobs.nprobe, knobs.k_factor), False)
    user = recall_at_k(chosen_rows.tolist(), truth)
    chosen = (
        f"{kind}: built and calibrated in {built:.0f} s; IVF{knobs.nlist}, chose nprobe "
        f"{knobs.nprobe}, k_factor {knobs.k_factor:g} (estimate {knobs.recall:.3f}); held-out "
        f"recall@10 at that setting **{user:.3f}**"
    )
    peer.close()
    return chosen, rows, worst


def _rows(row: list[tuple[str, float]], own: int) -> list[int]:
    return [r for r in (int(oid.removeprefix("obj-")) for oid, _ in row) if r != own][:K]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=100_000, help="vectors in the index")
    p.add_argument("--queries", type=int, default=200, help="held-out queries")
    p.add_argument("--stored", type=int, default=512, help="stored vectors used as queries")
    p.add_argument("--kinds", default="synthetic,real", help="data kinds, comma-separated")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args()
    target = FaissParams().recall_target
    chosen, rows, worst = [], [], 0.0
    for kind in args.kinds.split(","):
        c, r, w = recalls(kind, args.n, args.queries, args.stored)
        chosen.append(f"- {c}")
        rows += r
        worst = max(worst, w)
    body = "\n".join(
        [
            machine_markdown(),
            f"Command: `python -m bench.calibration --n {args.n} --kinds {args.kinds}`",
            "",
            f"Recall target {target}, margin {faiss_calibrate.MARGIN} "
            f"(calibration aims at {target + faiss_calibrate.MARGIN:.3f}). "
            f"Largest |held-out − estimate| where calibration chooses (k_factor "
            f"{'/'.join(f'{k:g}' for k in faiss_calibrate.K_FACTORS)}, estimate ≥ 0.9): "
            f"**{worst:.3f}**.",
            "",
            *chosen,
            "",
            "| data | k_factor | nprobe | estimate (stored vectors) | held-out queries | gap |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"- Estimate: {args.stored} stored vectors, their exact 10 nearest (themselves left "
            f"out) against the index's; held-out: {args.queries} new vectors from the same "
            "generator (bench/query_data.py, bench/query_real.py) against brute force.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
