"""Peak memory growth of one photo search and one ingest on the embedded default, for hostile
small files and for ordinary photos: `python -m bench.memory` (writes docs/benchmarks.md).

Each (input, operation) runs in a fresh process: the embedded catalog opens (embedded
Postgres, the shipped detector and aligned embedder), one ordinary search and ingest warm it
up, then the process's peak RSS is read before and after the one measured call. Growth is the
rise of the peak (MB): what that one request cost, on top of a warm service.

Inputs: a 695-byte 20000 × 10 PNG (a strip the tower once padded to 20000 × 20000), a 16-bit
grey PNG of 39.7 MP (under the 40 MP limit), and ordinary catalog and street photos."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from bench.common import machine_markdown, write_section
from core.paths import shared_path

CASES = ("strip-20000x10.png", "grey16-39.7MP.png", "product.jpg", "street.jpg")
OPS = ("search", "ingest")
LIMIT_MB = 200


def make_input(case: str) -> bytes:
    """The bytes of one bench input (the shared photos for the ordinary ones)."""
    buffer = io.BytesIO()
    if case.startswith("strip"):
        Image.new("RGB", (20000, 10), (200, 30, 30)).save(buffer, "PNG")
    elif case.startswith("grey16"):
        grey = np.zeros((6300, 6300), dtype=np.uint16)
        grey[::9] = 50000
        Image.fromarray(grey).save(buffer, "PNG")
    elif case == "product.jpg":
        return _first("datasets", "fashion-products", "images")
    else:
        return _first("datasets", "fashion-detection", "images", "val")
    return buffer.getvalue()


def _first(*parts: str) -> bytes:
    folder = shared_path(*parts)
    if folder is None:
        raise SystemExit(f"needs ../shared/{'/'.join(parts)}")
    return sorted(folder.glob("*.jpg"))[0].read_bytes()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure_one(case: str, op: str) -> dict[str, float]:
    """Open the embedded catalog, warm it up, then measure one `op` on `case` (one process)."""
    from catalens.embedded.catalog import embedded_catalog
    from core.settings import Settings

    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="catalens-memory-")))
    settings.detector = settings.detector.with_preset("fashion")
    settings.captioner.backend = "offline"
    settings.postgres.durable = False
    data, warm = make_input(case), make_input("product.jpg")
    async with embedded_catalog(settings) as catalog:
        await catalog.ingest("warm.jpg", warm, "bench")
        await catalog.search_look(warm, _filters(), 10)
        before = peak_mb()
        try:
            if op == "search":
                await catalog.search_look(data, _filters(), 10)
            else:
                await catalog.ingest(case, data, "bench")
            outcome = "ok"
        except Exception as exc:  # a refusal is an answer too; its cost still counts
            outcome = type(exc).__name__
        after = peak_mb()
    return {
        "before_mb": before,
        "growth_mb": after - before,
        "bytes": len(data),
        "outcome": outcome,
    }  # type: ignore[dict-item]


def _filters():  # type: ignore[no-untyped-def]
    from core.catalog.views import SearchFilters

    return SearchFilters()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", nargs=2, metavar=("CASE", "OP"), help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print, do not touch the docs")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(measure_one(*args.one))))
        return
    rows = []
    for case in CASES:
        for op in OPS:
            run = subprocess.run(
                [sys.executable, "-m", "bench.memory", "--one", case, op],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(run.stdout.strip().splitlines()[-1])
            rows.append((case, op, result))
            print(case, op, result, flush=True)
    lines = [
        "| input | bytes | operation | answer | peak RSS before (MB) | peak growth (MB) | ≤ 200 MB"
        " |",
        "|---|---:|---|---|---:|---:|---|",
    ]
    for case, op, r in rows:
        ok = "yes" if r["growth_mb"] <= LIMIT_MB else "**no**"
        lines.append(
            f"| {case} | {r['bytes']:,} | {op} | {r['outcome']} | {r['before_mb']:.0f} |"
            f" {r['growth_mb']:.0f} | {ok} |"
        )
    body = "\n".join(
        [
            __doc__.split("\n\n", 1)[1].strip(),
            "",
            *lines,
            "",
            machine_markdown(),
            "Command: `python -m bench.memory`.",
        ]
    )
    if not args.no_write:
        print("wrote", write_section("Memory per request (bench/memory.py)", body))


if __name__ == "__main__":
    main()
