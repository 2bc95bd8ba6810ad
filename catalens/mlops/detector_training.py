"""Train an ultralytics YOLO detector offline and collect what a tracking run records.

Only the standard library and ultralytics are imported here (no MLflow, no settings), so the
same code runs on a bare GPU machine; `catalens.mlops.tracking` logs the result afterwards.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SUMMARY = "summary.json"  # params, final metrics, class names, seconds: what tracking logs
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
# the artifacts a run keeps, by file name pattern, relative to the ultralytics run folder
ARTIFACT_PATTERNS = ("*.png", "*.jpg", "results.csv", "args.yaml", "data.yaml", SUMMARY)


@dataclass(frozen=True)
class DetectorTrainConfig:
    data: Path  # a YOLO data.yaml, or the folder holding one
    out: Path  # runs are written to out/<name>
    name: str = "detector"
    model: str = "yolov8n.yaml"  # architecture yaml (random init) or a .pt to fine-tune
    epochs: int = 1
    imgsz: int = 320
    batch: int = 8
    limit: int | None = None  # first N train images (by name) and N // 4 val images
    device: str = "cpu"
    workers: int = 0
    seed: int = 0
    hours: float | None = None  # wall-clock budget; ultralytics fits the epochs into it
    plots: bool = True
    extra: dict[str, Any] = field(default_factory=dict)  # any other ultralytics train argument


@dataclass(frozen=True)
class TrainedDetector:
    run_dir: Path
    weights: Path  # best.pt
    params: dict[str, Any]
    metrics: dict[str, float]  # final validation metrics of the best weights
    epochs: list[dict[str, float]]  # results.csv, one row per epoch
    seconds: float
    names: dict[int, str]


def train_detector(config: DetectorTrainConfig) -> TrainedDetector:
    """Train, validate the best weights, and return where everything landed."""
    run_dir = config.out / config.name
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    limits = {"train": config.limit, "val": max(2, config.limit // 4)} if config.limit else None
    data_yaml = prepare_data(config.data, run_dir, limits)
    args: dict[str, Any] = {
        "data": str(data_yaml),
        "epochs": config.epochs,
        "imgsz": config.imgsz,
        "batch": config.batch,
        "device": config.device,
        "workers": config.workers,
        "seed": config.seed,
        "deterministic": True,
        "project": str(config.out.resolve()),
        "name": config.name,
        "exist_ok": True,
        "amp": False,  # the AMP check downloads reference weights; no model hub here
        "plots": config.plots,
        "pretrained": config.model.endswith(".pt"),
        "verbose": False,
        **({"time": config.hours} if config.hours else {}),
        **config.extra,
    }
    started = time.perf_counter()
    with offline_ultralytics():
        from ultralytics import YOLO

        model = YOLO(config.model, task="detect")
        model.train(**args)
    seconds = time.perf_counter() - started
    weights = run_dir / "weights" / "best.pt"
    if not weights.exists():
        raise RuntimeError(f"training wrote no best.pt under {run_dir}")
    validator = getattr(model.trainer, "validator", None)
    final = getattr(validator, "metrics", None)
    metrics = box_metrics(final) if final is not None else {}
    names = {int(k): str(v) for k, v in (model.names or {}).items()}
    params = {k: v for k, v in asdict(config).items() if k != "extra"} | config.extra
    params |= {"data_yaml": str(data_yaml), "train_seconds": round(seconds, 1)}
    summary = {"params": params, "metrics": metrics, "names": names, "seconds": seconds}
    (run_dir / SUMMARY).write_text(json.dumps(summary, indent=1, default=str))
    return load_trained(run_dir)


def load_trained(run_dir: Path) -> TrainedDetector:
    """A finished run folder (written by `train_detector` here or on another machine)."""
    summary_file = run_dir / SUMMARY
    weights = run_dir / "weights" / "best.pt"
    if not summary_file.exists() or not weights.exists():
        raise FileNotFoundError(f"{run_dir} holds no finished run ({SUMMARY} + weights/best.pt)")
    summary = json.loads(summary_file.read_text())
    names = {int(k): str(v) for k, v in summary["names"].items()}
    epochs = read_results_csv(run_dir / "results.csv")
    return TrainedDetector(
        run_dir, weights, summary["params"], summary["metrics"], epochs, summary["seconds"], names
    )


def prepare_data(data: Path, run_dir: Path, limits: dict[str, int] | None = None) -> Path:
    """A data.yaml with an absolute `path` (ultralytics reads a relative one against its own
    datasets folder) and, per split in `limits`, an image list of its first N images (by name)."""
    import yaml

    source = data / "data.yaml" if data.is_dir() else data
    spec = yaml.safe_load(source.read_text())
    root = Path(spec.get("path") or ".")
    root = (root if root.is_absolute() else source.parent / root).resolve()
    spec["path"] = str(root)
    for split, count in (limits or {}).items():
        images = sorted(_images(root / spec[split]))[:count]
        listing = run_dir / f"{split}.txt"
        listing.write_text("".join(f"{image}\n" for image in images))
        spec[split] = str(listing)
    target = run_dir / "data.yaml"
    target.write_text(yaml.safe_dump(spec, sort_keys=False))
    return target


def count_images(data_yaml: Path, split: str) -> int:
    """How many images `split` of a prepared data.yaml names (a list file or a folder)."""
    import yaml

    spec = yaml.safe_load(data_yaml.read_text())
    entry = Path(spec[split])
    entry = entry if entry.is_absolute() else Path(spec["path"]) / entry
    if entry.suffix == ".txt":
        return sum(1 for line in entry.read_text().splitlines() if line.strip())
    return sum(1 for _ in _images(entry))


def _images(folder: Path) -> Iterator[Path]:
    return (p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def read_results_csv(path: Path) -> list[dict[str, float]]:
    """ultralytics' results.csv as rows of floats; column names stripped, `epoch` kept."""
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        {k.strip(): float(v) for k, v in row.items() if k and v not in (None, "")} for row in rows
    ]


def box_metrics(metrics: Any) -> dict[str, float]:
    """Overall and per-class precision, recall, mAP50 and mAP50-95 of a `DetMetrics`."""
    box = metrics.box
    out = {"precision": float(box.mp), "recall": float(box.mr)}
    out |= {"map50": float(box.map50), "map50_95": float(box.map)}
    names = metrics.names
    for index, class_id in enumerate(metrics.ap_class_index):
        label = str(names[int(class_id)]).replace(" ", "_")
        p, r, ap50, ap = box.class_result(index)
        out |= {f"precision.{label}": float(p), f"recall.{label}": float(r)}
        out |= {f"map50.{label}": float(ap50), f"map50_95.{label}": float(ap)}
    return out


def artifact_files(run_dir: Path) -> list[Path]:
    """The plots (PR/P/R/F1 curves, confusion matrices, batches), results.csv, args.yaml."""
    found = {p for pattern in ARTIFACT_PATTERNS for p in run_dir.glob(pattern)}
    return sorted(found)


@contextmanager
def offline_ultralytics() -> Iterator[None]:
    """ultralytics without a network: no online checks, no hub/integration callbacks (we log
    to MLflow ourselves), and a local font where it would download Arial.ttf for its plots."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    from ultralytics.utils import SETTINGS, USER_CONFIG_DIR

    integrations = ("mlflow", "hub", "sync", "clearml", "comet", "dvc", "neptune", "wandb")
    wanted = {key: False for key in integrations if key in SETTINGS}
    if any(SETTINGS.get(key) for key in wanted):
        SETTINGS.update(wanted)
    _provide_fonts(Path(USER_CONFIG_DIR))
    yield


def _provide_fonts(config_dir: Path) -> None:
    """Copy matplotlib's DejaVuSans under the names ultralytics asks for (Arial*.ttf)."""
    import matplotlib

    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    config_dir.mkdir(parents=True, exist_ok=True)
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = config_dir / name
        if not target.exists() and font.exists():
            shutil.copyfile(font, target)
