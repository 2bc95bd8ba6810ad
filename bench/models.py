"""Model throughput on this machine: detector and embedder at batch 1 vs batch 32.

Run from the repository root: `python -m bench.models`. Uses real images (coco128 for the
detector, fashion-products for the embedders) and product names as texts. The result is the
RATIO of per-item time at batch 1 to per-item time at batch 32, both measured in this run;
items/s are listed for context. Writes the "Models (bench/models.py)" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import csv
import itertools
import logging
import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from bench.common import machine_markdown, spread, timings, write_section
from core.errors import CatalensError
from core.imaging import load_image_file
from core.paths import shared_path

SECTION = "Models (bench/models.py)"
BIG, SINGLES, REPEATS = 32, 8, 3


@dataclass(frozen=True)
class Row:
    model: str
    inputs: str
    single_s: float  # per item, batch 1
    batched_s: float  # per item, batch 32
    spread: float  # worst (max − min) / median over the repeats of either measurement
    note: str = ""

    def markdown(self) -> str:
        ratio = self.single_s / self.batched_s
        return (
            f"| {self.model} | {self.inputs} | {1 / self.single_s:.1f} | "
            f"{1 / self.batched_s:.1f} | **{ratio:.2f}×** | {self.spread:.0%} | {self.note} |"
        )


def per_item(fn: Callable[[Sequence], object], items: Sequence) -> tuple[float, float, float]:
    """Seconds per item one at a time, per item in one batch of `len(items)`, and the spread."""
    singles = items[:SINGLES]
    fn(items[:2])  # warm-up: first-call allocations and lazy initialisation
    one = timings(lambda: [fn([item]) for item in singles], REPEATS, warmup=0)
    many = timings(lambda: fn(items), REPEATS, warmup=0)
    per_one = statistics.median(one) / len(singles)
    return per_one, statistics.median(many) / len(items), max(spread(one), spread(many))


def load_images(folder: Path, n: int) -> list[Image.Image]:
    return [load_image_file(p) for p in sorted(folder.glob("*.jpg"))[:n]]


def product_names(n: int) -> list[str]:
    csv_path = shared_path("datasets", "fashion-products", "products.csv")
    if csv_path is None:
        return [f"blue cotton shirt number {i}" for i in range(n)]
    with csv_path.open(newline="") as handle:
        rows = itertools.islice(csv.DictReader(handle), n)
        return [row["productDisplayName"] for row in rows]


def bench_detector(images: list[Image.Image]) -> tuple[list[Row], str]:
    import torch

    from core.detection.yolo import YoloDetector
    from core.settings import DetectorSettings

    threads = torch.get_num_threads()
    detector = YoloDetector.from_settings(DetectorSettings(batch_size=BIG))
    times = per_item(detector.detect, images)
    note = "static batch-1 export: the interpreter runs once per image"
    row = Row(f"detector {detector.identity.key}", "coco128 images, 640", *times, note)
    capped = torch.get_num_threads()
    torch.set_num_threads(threads)  # ultralytics' select_device lowers it to cores - 1
    warning = (
        f"Loading the detector set torch threads {threads} → {capped} for the whole process "
        "(ultralytics `select_device` sets cores − 1); this bench restores it before timing the "
        "embedders."
        if capped != threads
        else ""
    )
    return [row], warning


def bench_embedder(
    name: str, embedder: Any, images: list[Image.Image], texts: list[str], note: str = ""
) -> list[Row]:
    embedder.batch_size = BIG
    key = embedder.identity.key
    image_times = per_item(embedder.embed_images, images)
    text_times = per_item(embedder.embed_texts, texts)
    return [
        Row(f"{name} {key}", "fashion-products images", *image_times, note),
        Row(f"{name} {key}", "product names (texts)", *text_times, note),
    ]


def bench_configured_embedder(images: list[Image.Image], texts: list[str]) -> tuple[list[Row], str]:
    from core.embedding.factory import build_embedder
    from core.settings import Settings

    settings = Settings()
    try:
        embedder = build_embedder(settings.embedder, data_dir=settings.data_dir)
    except (CatalensError, ImportError) as exc:
        reason = getattr(exc, "message", str(exc))
        return [], f"Configured embedder ({settings.embedder.backend}) not timed: {reason}"
    return bench_embedder("embedder", embedder, images, texts), ""


def bench_open_clip_reference(images: list[Image.Image], texts: list[str]) -> tuple[list[Row], str]:
    from core.embedding.open_clip_backend import OpenClipEmbedder

    embedder = OpenClipEmbedder("ViT-B-32", pretrained=None)
    note = "SPEED ONLY: random weights, vectors meaningless"
    return bench_embedder("open_clip", embedder, images, texts, note), ""


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    coco = shared_path("datasets", "coco128", "images", "train2017")
    fashion = shared_path("datasets", "fashion-products", "images")
    if coco is None or fashion is None:
        raise SystemExit("needs ../shared/datasets/{coco128,fashion-products} (see DATA.md)")
    detector_images, product_images = load_images(coco, BIG), load_images(fashion, BIG)
    texts = product_names(BIG)
    context = machine_markdown()
    rows: list[Row] = []
    notes: list[str] = []
    for bench in (
        lambda: bench_detector(detector_images),
        lambda: bench_configured_embedder(product_images, texts),
        lambda: bench_open_clip_reference(product_images, texts),
    ):
        new_rows, note = bench()
        rows += new_rows
        notes += [note] if note else []
        for row in new_rows:
            print(row.markdown(), flush=True)
    body = "\n".join(
        [
            context,
            f"Load average at the end: {os.getloadavg()[0]:.1f} (other work on this machine "
            "slows every row alike; ratios are steadier than items/s).",
            "",
            f"Per-item time at batch 1 ({SINGLES} items one at a time) vs in one batch of {BIG}; "
            f"median of {REPEATS} runs after a warm-up call. Ratio = batch-1 per-item time / "
            f"batch-{BIG} per-item time (above 1: batching helps). Spread = (max − min) / median "
            "of the repeats; a ratio means little when the spread is near its distance from 1.",
            "",
            f"| model | inputs | items/s, batch 1 | items/s, batch {BIG} | ratio | spread | note |",
            "|---|---|---|---|---|---|---|",
            *(row.markdown() for row in rows),
            "",
            *(f"- {note}" for note in notes),
        ]
    )
    print(f"wrote {write_section(SECTION, body)}")


if __name__ == "__main__":
    main()
