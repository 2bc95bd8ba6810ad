"""Captions cached by crop content: in memory, and optionally as JSON files in a folder.

The key is sha256 over the JPEG bytes sent, the model, the prompt version and the detector
hint, so a new model or prompt never serves an old answer. A corrupt or unreadable file is a
miss, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

from core.domain import Attributes, Caption


def cache_key(jpeg: bytes, model: str, prompt_version: str, label: str) -> str:
    digest = hashlib.sha256(jpeg)
    for part in (model, prompt_version, label):
        digest.update(b"\x00" + part.encode())
    return digest.hexdigest()


def caption_to_json(caption: Caption) -> dict[str, object]:
    a = caption.attributes
    return {
        "caption": caption.caption,
        "model": caption.model,
        "attributes": {
            "category": a.category,
            "colours": list(a.colours),
            "pattern": a.pattern,
            "material": a.material,
            "style": a.style,
        },
    }


def caption_from_json(data: dict[str, Any]) -> Caption:
    a = data["attributes"]
    attributes = Attributes(
        category=str(a["category"]),
        colours=tuple(str(c) for c in a["colours"]),
        pattern=a.get("pattern"),
        material=a.get("material"),
        style=a.get("style"),
    )
    return Caption(caption=str(data["caption"]), attributes=attributes, model=str(data["model"]))


class CaptionCache:
    """LRU in memory (`max_items`); with a folder, also `<folder>/<key[:2]>/<key>.json`."""

    def __init__(self, folder: Path | None = None, max_items: int = 10_000) -> None:
        self.folder = folder
        self.max_items = max_items
        self._memory: OrderedDict[str, Caption] = OrderedDict()

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> Caption | None:
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory[key]
        if self.folder is None:
            return None
        try:
            caption = caption_from_json(json.loads(self._path(key).read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        self._remember(key, caption)
        return caption

    def put(self, key: str, caption: Caption) -> None:
        self._remember(key, caption)
        if self.folder is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(caption_to_json(caption), handle)
        os.replace(tmp, path)

    def _remember(self, key: str, caption: Caption) -> None:
        self._memory[key] = caption
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_items:
            self._memory.popitem(last=False)
