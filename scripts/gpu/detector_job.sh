#!/usr/bin/env bash
# The clothing detector's GPU job, for a machine that has a GPU but no internet.
#   scripts/gpu/detector_job.sh prepare [PYTHON]  writes .gpu/ (git-excluded, ~55 MB): the
#       fashion-detection images re-encoded at JPEG quality 55 (so repo + data + wheels stay
#       under 64 MiB), ultralytics + ultralytics-thop + ultralytics-platform wheels for
#       CPython 3.12, and a pandas-backed stand-in for the few polars calls ultralytics makes
#       (the real polars runtime wheel is ~40 MB).
#   scripts/gpu/detector_job.sh command           prints the command to run in the repo root there;
#       it runs `catalens train detector --no-track` (our own code path) and leaves
#       $OUT/run.tgz; log it here with `catalens train detector --log-existing RUN_DIR`.
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
prepare)
  python=${2:-python3}
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
  mkdir -p .gpu/whl .gpu/shim/polars
  cp scripts/gpu/polars_shim.py .gpu/shim/polars/__init__.py
  "$python" - <<'PY'
import shutil
from pathlib import Path
from PIL import Image
src, dst = Path("../shared/datasets/fashion-detection"), Path(".gpu/fashion")
for split in ("train", "val"):
    (dst / "images" / split).mkdir(parents=True, exist_ok=True)
    shutil.copytree(src / "labels" / split, dst / "labels" / split, dirs_exist_ok=True)
    for p in sorted((src / "images" / split).glob("*.jpg")):
        Image.open(p).convert("RGB").save(dst / "images" / split / p.name, quality=55, optimize=True)
shutil.copyfile(src / "data.yaml", dst / "data.yaml")
PY
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu/whl ultralytics==8.4.190 ultralytics-thop==2.2.3 ultralytics-platform==0.1.99
  du -sh .gpu
  ;;
command)
  cat <<'CMD'
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl && export PYTHONPATH=/tmp/site:.gpu/shim:. || exit; export PYTHONUNBUFFERED=1 YOLO_CONFIG_DIR=/tmp/ycfg; python3 -c "import typer; from catalens.cli.train_cmd import detector; typer.run(detector)" --data .gpu/fashion --out /tmp/runs --name fashion-h100 --epochs 300 --hours 0.115 --imgsz 640 --batch 16 --device 0 --workers 12 --no-track > $OUT/train.log 2>&1; cd /tmp/runs/fashion-h100 && tar czf $OUT/run.tgz --exclude=weights/last.pt --exclude='train_batch*' .
CMD
  ;;
*) echo "usage: $0 prepare [PYTHON] | command" >&2; exit 2 ;;
esac
