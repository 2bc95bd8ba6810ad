"""Embedded ingest speed, by stage: images/s of `EmbeddedCatalog.ingest_many` on the same photos.

Run from the repository root: `python -m bench.ingest` (see `--help`). It opens a fresh embedded
catalog (fashion preset with the shipped detector, the shipped aligned embedder, the offline
captioner, Postgres without fsync), warms it on two photos, then ingests `--images` photos (half
fashion-products studio shots, half fashion-detection street photos, every k-th by name) in
batches of `--batch`, and reports images/s and where the time went: every stage below is timed
by wrapping its function, so a stage's seconds are wall time inside it (stages run in threads
and overlap a little; the shares need not add up to 100 %). Writes the "Ingest
(bench/ingest.py)" section of docs/benchmarks.md unless --no-write.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import machine, machine_markdown, write_section
from bench.probes import Probe, Stages, probed
from core.paths import shared_path

SECTION = "Ingest (bench/ingest.py)"
log = logging.getLogger("bench.ingest")


def sample_photos(n: int) -> list[tuple[str, bytes]]:
    """n photos: half fashion-products studio shots, half fashion-detection street photos."""
    picked: list[tuple[str, bytes]] = []
    for parts, count in (
        (("fashion-products", "images"), n - n // 2),
        (("fashion-detection", "images", "val"), n // 2),
    ):
        folder = shared_path("datasets", *parts)
        if folder is None:
            raise FileNotFoundError(f"no ../shared/datasets/{'/'.join(parts)}")
        files = sorted(folder.glob("*.jpg"))
        step = max(1, len(files) // max(count, 1))
        picked += [(f.name, f.read_bytes()) for f in files[::step][:count]]
    return picked


# (stage, module or class path, attribute): the functions the embedded ingest spends time in
PROBES: list[Probe] = [
    ("decode upload", "catalens.embedded.catalog", "load_image"),
    ("decode (detector)", "services.detector.handler", "load_image"),
    ("detect", "core.detection.yolo:YoloDetector", "detect"),
    ("crop encode (JPEG)", "services.detector.handler", "encode_jpeg"),
    ("crop decode (embedder)", "services.embedder.handler", "load_image"),
    ("embed images", "core.embedding.base:BatchedEmbedder", "embed_images"),
    ("embed texts", "core.embedding.base:BatchedEmbedder", "embed_texts"),
    ("caption (offline)", "services.captioner.offline:OfflineCaptioner", "caption_now"),
    ("FAISS upsert", "core.index.faiss_shards:ShardedFaissIndex", "upsert"),
]


# name -> settings changes; the first is "today's" embedded ingest, the baseline of the ratios
BEFORE = {"embedder.reuse_vectors": False, "embedder.runtime": "torch", "detector.runtime": "torch"}
CONFIGS: dict[str, dict[str, Any]] = {
    "before": BEFORE,
    "+ captioner reuses crop vectors": {**BEFORE, "embedder.reuse_vectors": True},
    "+ image tower on ONNX Runtime": {
        **BEFORE,
        "embedder.reuse_vectors": True,
        "embedder.runtime": "onnx",
    },
    "+ detector on OpenVINO (the defaults)": {
        "embedder.reuse_vectors": True,
        "embedder.runtime": "onnx",
        "detector.runtime": "openvino",
    },
}


async def measure(
    photos: list[tuple[str, bytes]], batch: int, stages: Stages, changes: dict[str, Any]
) -> dict[str, Any]:
    from catalens.embedded.catalog import embedded_catalog
    from core.settings import Settings

    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="catalens-ingest-")))
    settings.detector = settings.detector.with_preset("fashion")
    settings.captioner.backend = "offline"
    settings.postgres.durable = False
    for path, value in changes.items():
        section, field = path.split(".")
        setattr(getattr(settings, section), field, value)
    async with embedded_catalog(settings) as catalog:
        warm = sample_photos(4)[::3]
        await catalog.ingest_many([(name, data, "warm") for name, data in warm])
        stages.reset()
        objects = 0
        started = time.perf_counter()
        with probed(stages, PROBES):
            for lo in range(0, len(photos), batch):
                chunk = [(name, data, "bench") for name, data in photos[lo : lo + batch]]
                for result in await catalog.ingest_many(chunk):
                    objects += getattr(result, "objects", 0)
        wall = time.perf_counter() - started
    return {"images": len(photos), "objects": objects, "wall_s": wall}


def render(runs: list[tuple[str, dict[str, Any], Stages]], info: dict, command: str) -> str:
    base = runs[0][1]["images"] / runs[0][1]["wall_s"]
    lines = [
        machine_markdown(info),
        f"Command: `{command}`. Same photos, same process, one configuration after the other.",
        "",
        "| configuration | settings | images/s | × before | objects | wall s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, result, _ in runs:
        rate = result["images"] / result["wall_s"]
        changes = ", ".join(f"`{k}={v}`" for k, v in CONFIGS[name].items())
        lines.append(
            f"| {name} | {changes} | **{rate:.2f}** | {rate / base:.2f}× | {result['objects']} "
            f"| {result['wall_s']:.1f} |"
        )
    lines += ["", "Seconds inside each stage (wall time in the wrapped function):", ""]
    lines.append("| stage | " + " | ".join(name for name, _, _ in runs) + " |")
    lines.append("|---|" + "---:|" * len(runs))
    for stage, _, _ in PROBES:
        cells = []
        for _, result, stages in runs:
            secs = stages.seconds.get(stage, 0.0)
            cells.append(
                f"{secs:.1f} s ({stages.calls.get(stage, 0)} calls, {secs / result['wall_s']:.0%})"
            )
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=200, help="photos to ingest")
    p.add_argument("--batch", type=int, default=32, help="photos per ingest_many call")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    info = machine()
    photos = sample_photos(args.images)
    runs = []
    for name, changes in CONFIGS.items():
        log.info("ingest: %s", name)
        stages = Stages()
        runs.append((name, asyncio.run(measure(photos, args.batch, stages, changes)), stages))
    command = f"python -m bench.ingest --images {args.images} --batch {args.batch}"
    body = render(runs, info, command)
    print(body)
    if not args.no_write:
        print(f"\nwrote {write_section(SECTION, body)}")


if __name__ == "__main__":
    main()
