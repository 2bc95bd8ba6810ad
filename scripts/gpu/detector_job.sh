#!/usr/bin/env bash
# The clothing detector's GPU job, for a machine that has a GPU but no internet (the `device` tool:
# repo + carried files <= 64 MiB, results back from $OUT).
#   scripts/gpu/detector_job.sh prepare [PYTHON]  writes .gpu/ (git-excluded, ~36 MB): the
#       fashion-detection train images and the first 100 val images re-encoded as WebP quality 75
#       (about 0.65x the JPEG bytes, so repo + data + wheels stay under 64 MiB), the
#       ultralytics + ultralytics-thop + ultralytics-platform wheels for CPython 3.12, and a
#       pandas-backed stand-in for the few polars calls ultralytics makes (polars' runtime
#       wheel is ~40 MB).
#   scripts/gpu/detector_job.sh command           prints the command to run in the repo root there.
#       It fine-tunes the shipped detector (models/fashion-detector) with our own
#       `train_detector` code path, copies weights/best.pt and results.csv to $OUT every 15 s
#       (so a run stopped at its time limit still returns its best epoch), then measures
#       batched images/s on the GPU (scripts/gpu/detector_throughput.py -> $OUT/throughput.json).
#       Validate the returned best.pt here on all 300 original val photos with
#       `catalens evaluate detector`, and log it with `catalens train detector --log-existing`.
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
prepare)
  python=${2:-python3}
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
  rm -rf .gpu && mkdir -p .gpu/whl .gpu/shim/polars
  cp scripts/gpu/polars_shim.py .gpu/shim/polars/__init__.py
  "$python" - <<'PY'
import shutil
from pathlib import Path
from PIL import Image
src, dst = Path("../shared/datasets/fashion-detection"), Path(".gpu/fashion")
for split, limit in (("train", None), ("val", 100)):
    (dst / "images" / split).mkdir(parents=True, exist_ok=True)
    (dst / "labels" / split).mkdir(parents=True, exist_ok=True)
    for p in sorted((src / "images" / split).glob("*.jpg"))[:limit]:
        Image.open(p).convert("RGB").save(dst / "images" / split / f"{p.stem}.webp", quality=75, method=6)
        label = src / "labels" / split / f"{p.stem}.txt"
        if label.exists():
            shutil.copyfile(label, dst / "labels" / split / label.name)
shutil.copyfile(src / "data.yaml", dst / "data.yaml")
PY
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu/whl ultralytics==8.4.190 ultralytics-thop==2.2.3 ultralytics-platform==0.1.99
  du -sh .gpu
  ;;
command)
  cat <<'CMD'
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl && export PYTHONPATH=/tmp/site:.gpu/shim:. || exit; export PYTHONUNBUFFERED=1 YOLO_CONFIG_DIR=/tmp/ycfg; R=/tmp/runs/fashion-gpu; (while sleep 15; do cp $R/weights/best.pt $R/results.csv $OUT/ 2>/dev/null; done) & python3 -c "from pathlib import Path; from catalens.mlops.detector_training import DetectorTrainConfig as C, train_detector as t; r = t(C(data=Path('.gpu/fashion'), out=Path('/tmp/runs'), name='fashion-gpu', model='models/fashion-detector/yolov8n-fashion.pt', epochs=${EPOCHS:-50}, imgsz=640, batch=32, device='0', workers=14, plots=False, extra={'cos_lr': True, 'patience': 100, 'cache': 'ram'})); print('METRICS', r.metrics)" > $OUT/train.log 2>&1; cp $R/weights/best.pt $R/results.csv $R/summary.json $R/args.yaml $OUT/; nvidia-smi -L > $OUT/gpu.txt; python3 scripts/gpu/detector_throughput.py $R/weights/best.pt .gpu/fashion/images/train $OUT/throughput.json
CMD
  ;;
*) echo "usage: $0 prepare [PYTHON] | command" >&2; exit 2 ;;
esac
