"""The versioned on-disk artifact: `manifest.json` + `heads.safetensors` in one directory.

The version is a short content hash of the head weights, so the same weights always get the
same version and index key. `<root>/latest` is a text file naming the newest version dir.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from core.errors import ModelError

FORMAT_VERSION = 1
SUPPORTED_FORMATS = (1,)
MANIFEST = "manifest.json"
WEIGHTS = "heads.safetensors"
LATEST = "latest"


@dataclass(frozen=True)
class Artifact:
    path: Path
    manifest: dict[str, Any]
    state: dict[str, torch.Tensor]


def weights_version(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().contiguous().float().numpy().tobytes())
    return digest.hexdigest()[:12]


def write_artifact(root: Path, manifest: dict[str, Any], state: dict[str, torch.Tensor]) -> Path:
    """Write `<root>/<version>/` and point `<root>/latest` at it; returns the version dir."""
    from safetensors.torch import save_file

    version = weights_version(state)
    manifest = {**manifest, "format_version": FORMAT_VERSION}
    manifest["identity"] = {**manifest["identity"], "version": version}
    target = Path(root) / version
    target.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, target / WEIGHTS)
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    (Path(root) / LATEST).write_text(version + "\n")
    return target


def resolve(path: str | Path) -> Path:
    """An artifact dir, or a root whose `latest` file names one."""
    path = Path(path)
    if (path / MANIFEST).is_file():
        return path
    if (path / LATEST).is_file():
        return path / (path / LATEST).read_text().strip()
    return path


def read_artifact(path: str | Path) -> Artifact:
    from safetensors.torch import load_file

    target = resolve(path)
    manifest_path = target / MANIFEST
    if not manifest_path.is_file():
        raise ModelError(f"aligned artifact {target}: missing {MANIFEST}")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"aligned artifact {target}: {MANIFEST} is not JSON ({exc})") from exc
    found = manifest.get("format_version")
    if found not in SUPPORTED_FORMATS:
        raise ModelError(
            f"aligned artifact {target}: format_version {found!r} is not supported "
            f"(this catalens reads {list(SUPPORTED_FORMATS)})"
        )
    for key in ("identity", "towers", "heads", "preprocessing"):
        if key not in manifest:
            raise ModelError(f"aligned artifact {target}: {MANIFEST} has no {key!r}")
    if not (target / WEIGHTS).is_file():
        raise ModelError(f"aligned artifact {target}: missing {WEIGHTS}")
    return Artifact(path=target, manifest=manifest, state=load_file(str(target / WEIGHTS)))
