"""Shop-the-look latency on the embedded default: `python -m bench.look` (docs/benchmarks.md).

The act users come for: a person shows a street photo and gets the catalog items in it. The
embedded catalog (the shipped fashion detector and aligned embedder, the offline captioner, an
embedded Postgres) first ingests `--catalog` product photos; then each of `--photos`
fashion-detection val street photos is searched with `search_look` (decode, detect, crop, embed
every object and the whole photo in one batch, search each) and, as the baseline of the same
run, searched whole (the catalog's query-side detector switched off: one embedding, one
search). Per-photo wall time in the process, after `--warmup` unmeasured searches; HTTP is not
included (see bench/query_http.py for the server's own overhead).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import machine_markdown, write_section
from core.paths import shared_path

SECTION = "Shop the look: one street photo → its objects' catalog hits (bench/look.py)"


def _photos(*parts: str, count: int) -> list[Path]:
    folder = shared_path(*parts)
    if folder is None:
        raise SystemExit(f"needs ../shared/{'/'.join(parts)}")
    return sorted(folder.glob("*.jpg"))[:count]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(catalog_size: int, photos: int, warmup: int) -> dict[str, dict[str, float]]:
    from catalens.embedded.catalog import embedded_catalog
    from core.catalog.views import SearchFilters
    from core.settings import Settings

    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="catalens-look-")))
    settings.detector = settings.detector.with_preset("fashion")
    settings.captioner.backend = "offline"
    settings.postgres.durable = False
    products = _photos("datasets", "fashion-products", "images", count=catalog_size)
    street = _photos("datasets", "fashion-detection", "images", "val", count=photos + warmup)
    out: dict[str, dict[str, float]] = {}
    async with embedded_catalog(settings) as catalog:
        for path in products:
            await catalog.ingest(path.name, path.read_bytes(), "bench")
        detector = catalog.photo_objects
        for mode in ("whole photo only (baseline)", "shop the look (default)"):
            catalog.photo_objects = detector if mode.startswith("shop") else None
            times, objects = [], []
            for i, path in enumerate(street):
                data = path.read_bytes()
                start = time.perf_counter()
                found = await catalog.search_look(data, SearchFilters(), 10)
                if i >= warmup:
                    times.append(time.perf_counter() - start)
                    objects.append(len(found.objects))
            out[mode] = {
                "p50_s": statistics.median(times),
                "p95_s": _percentile(times, 0.95),
                "max_s": max(times),
                "objects": statistics.fmean(objects),
            }
            print(mode, out[mode], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=int, default=100, help="product photos ingested first")
    parser.add_argument("--photos", type=int, default=40, help="street photos timed")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured searches first")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch the docs")
    args = parser.parse_args()
    rows = asyncio.run(measure(args.catalog, args.photos, args.warmup))
    base = rows["whole photo only (baseline)"]["p50_s"]
    lines = [
        "| query | objects searched per photo | p50 s | p95 s | max s | p50 × baseline |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {mode} | {r['objects']:.1f} | {r['p50_s']:.3f} | {r['p95_s']:.3f} |"
            f" {r['max_s']:.3f} | {r['p50_s'] / base:.2f}× |"
            for mode, r in rows.items()
        ),
    ]
    body = "\n".join(
        [
            __doc__.split("\n\n", 1)[1].strip(),
            "",
            *lines,
            "",
            machine_markdown(),
            f"Command: `python -m bench.look --catalog {args.catalog} --photos {args.photos}`.",
        ]
    )
    print(body)
    if not args.no_write:
        print(f"wrote {write_section(SECTION, body)}")


if __name__ == "__main__":
    main()
