"""`.pt` detector weights as an OpenVINO model for the CPU, exported once and cached.

ultralytics exports the network (`format="openvino"`, dynamic batch, the product's imgsz) into
`~/.cache/catalens/openvino/<stem>-<sha12>-<imgsz>-ul<ultralytics version>_openvino_model/`;
later loads reuse the folder, and `YOLO(folder)` runs it with OpenVINO's CPU plugin. The export
happens in a temporary folder renamed into place, so concurrent starts never read half of one.
The detections are the PyTorch model's up to letterboxing (OpenVINO runs square 640 × 640
inputs where PyTorch pads to the nearest multiple of 32): val mAP50 in docs/models.md.

Sources: ultralytics "Intel OpenVINO Export" integration guide; OpenVINO Runtime CPU plugin.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from core.errors import ModelError

CACHE = Path.home() / ".cache" / "catalens" / "openvino"
log = logging.getLogger(__name__)


def openvino_model(weights: Path, version: str, imgsz: int, cache: Path = CACHE) -> Path:
    """The cached OpenVINO folder for `weights` (`version`: its sha256 prefix); exports it on
    first use. Raises ModelError when the export fails (openvino missing, unreadable weights)."""
    import ultralytics
    from ultralytics import YOLO

    target = cache / f"{weights.stem}-{version}-{imgsz}-ul{ultralytics.__version__}_openvino_model"
    if (target / "metadata.yaml").is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=cache, prefix=".export-"))
    try:
        log.info("exporting %s to OpenVINO (once; cached in %s)", weights.name, cache)
        shutil.copyfile(weights, work / weights.name)
        os.environ.setdefault("YOLO_OFFLINE", "1")
        exported = YOLO(str(work / weights.name), task="detect").export(
            format="openvino", imgsz=imgsz, dynamic=True, verbose=False
        )
        try:
            Path(exported).rename(target)
        except OSError:  # another process finished first: its folder serves
            if not (target / "metadata.yaml").is_file():
                raise
    except Exception as exc:
        raise ModelError(f"could not export {weights} to OpenVINO: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
