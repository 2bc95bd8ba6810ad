"""Batched detector throughput on a GPU: images/s of ultralytics YOLO predict (letterbox, forward,
NMS) at batch 1/8/32/64, fp16 and fp32, on decoded photos (decode is timed apart).

Usage: python scripts/gpu/detector_throughput.py WEIGHTS IMAGE_DIR OUT_JSON [N]
Writes {"device", "decode_images_per_s", "rows": [{"batch", "half", "images_per_s"}]}.
A GPU job (scripts/gpu/detector_job.sh); the CPU numbers are bench/ingest.py's."""

import json
import sys
import time
from pathlib import Path

import cv2
import torch
from ultralytics import YOLO


def main() -> None:
    weights, image_dir, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 256
    paths = sorted(p for p in image_dir.iterdir() if p.suffix in {".jpg", ".webp", ".png"})[:n]
    started = time.perf_counter()
    images = [cv2.imread(str(p)) for p in paths]
    decode = len(images) / (time.perf_counter() - started)
    model = YOLO(weights, task="detect")
    rows = []
    for half in (True, False):
        for batch in (1, 8, 32, 64):
            for i in range(0, 2 * batch, batch):  # warm-up
                model.predict(images[i : i + batch], imgsz=640, half=half, device=0, verbose=False)
            torch.cuda.synchronize()
            started = time.perf_counter()
            for i in range(0, len(images), batch):
                model.predict(images[i : i + batch], imgsz=640, half=half, device=0, verbose=False)
            torch.cuda.synchronize()
            rate = len(images) / (time.perf_counter() - started)
            rows.append({"batch": batch, "half": half, "images_per_s": round(rate, 1)})
            print(rows[-1], flush=True)
    result = {
        "device": torch.cuda.get_device_name(0),
        "images": len(images),
        "imgsz": 640,
        "decode_images_per_s": round(decode, 1),
        "rows": rows,
    }
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
