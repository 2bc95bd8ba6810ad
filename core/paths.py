"""Where things live on disk: the repository, the shared weights/data folder, the data dir."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    """The `shared/` folder with real weights and datasets (`../shared` beside the repo).

    `CATALENS_SHARED_DIR` overrides it. Returns None when no such folder exists, so callers
    can fall back to a folder the user names.
    """
    override = os.environ.get("CATALENS_SHARED_DIR")
    candidate = Path(override) if override else REPO_ROOT.parent / "shared"
    return candidate if candidate.is_dir() else None


def shared_path(*parts: str) -> Path | None:
    base = shared_dir()
    if base is None:
        return None
    path = base.joinpath(*parts)
    return path if path.exists() else None


def default_data_dir() -> Path:
    """Where catalens keeps models, indexes and the embedded database by default."""
    return Path(os.environ.get("CATALENS_DATA_DIR", Path.home() / ".local/share/catalens"))
