"""Tower features, extracted once and cached on disk.

Image features are keyed by tower + view + the sha1 of the file's bytes, so an edited photo is
re-extracted and nothing else is, and a copy of the same datasets elsewhere (a new machine, a
re-provisioned `../shared`) finds the cache still valid. Views: "plain" and "flip" (mirrored
left-right).
Text features are keyed by tower + the text itself.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.embedding.aligned.towers import ImageTower, TextTower
from core.imaging import load_image_file

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


VIEWS = ("plain", "flip")


def image_cache_key(tower: str, view: str, path: Path) -> str:
    """The cache key of one view of the image file at `path` (hex sha1; reads the file once
    per path, size and mtime)."""
    stat = path.stat()
    content = _content(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    return _digest(f"{tower}|{view}|{content}")


@functools.lru_cache(maxsize=1 << 17)
def _content(path: str, size: int, mtime_ns: int) -> str:
    return "sha1:" + hashlib.sha1(Path(path).read_bytes()).hexdigest()


class FeatureCache:
    """Folder of `.npy` entries: `<root>/<kind>/<tower>/<key[:2]>/<key>.npy`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, kind: str, tower: str, key: str) -> Path:
        return self.root / kind / tower / key[:2] / f"{key}.npy"

    def get(self, kind: str, tower: str, key: str) -> np.ndarray | None:
        path = self._path(kind, tower, key)
        if not path.is_file():
            return None
        try:
            return np.load(path)
        except (OSError, ValueError):  # a torn write: extract again
            return None

    def put(self, kind: str, tower: str, key: str, value: np.ndarray) -> None:
        path = self._path(kind, tower, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, np.asarray(value, dtype=np.float32))
        tmp.replace(path)


def image_features(
    paths: Sequence[Path],
    tower_name: str,
    load_tower: Callable[[], ImageTower],
    cache: FeatureCache,
    views: Sequence[str] = ("plain",),
    batch_size: int = 32,
    progress: Progress | None = None,
) -> np.ndarray:
    """(n, len(views), dim) features of `paths`; the tower loads only on a cache miss."""
    keys = {v: [image_cache_key(tower_name, v, Path(p)) for p in paths] for v in views}
    found = {v: [cache.get("image", tower_name, k) for k in keys[v]] for v in views}
    missing = sorted({i for v in views for i, value in enumerate(found[v]) if value is None})
    if missing:
        tower = load_tower()
        bar = tqdm(total=len(missing), desc=f"image features ({tower_name})", unit="img")
        for start in range(0, len(missing), batch_size):
            chunk = missing[start : start + batch_size]
            images = [load_image_file(paths[i]) for i in chunk]
            for view in views:
                values = tower.features(images, flip=view == "flip")
                for j, i in enumerate(chunk):
                    found[view][i] = values[j]
                    cache.put("image", tower_name, keys[view][i], values[j])
            bar.update(len(chunk))
            if progress:
                progress("image features", min(start + batch_size, len(missing)), len(missing))
        bar.close()
    stacked = [np.stack(found[v]) for v in views]  # type: ignore[arg-type]
    return np.stack(stacked, axis=1).astype(np.float32)


def text_features(
    texts: Sequence[str],
    load_tower: Callable[[], TextTower],
    cache: FeatureCache,
    progress: Progress | None = None,
) -> np.ndarray:
    """(n, 384) text features; one cache entry per distinct text list."""
    key = _digest("\n".join(texts))
    cached = cache.get("text", TextTower.name, key)
    if cached is not None and len(cached) == len(texts):
        return cached
    tower = load_tower()
    unique = list(dict.fromkeys(texts))
    parts = []
    step = 512
    for start in tqdm(range(0, len(unique), step), desc="text features", unit="batch"):
        parts.append(tower.features(unique[start : start + step]))
        if progress:
            progress("text features", min(start + step, len(unique)), len(unique))
    table = dict(zip(unique, np.concatenate(parts), strict=True))
    result = np.stack([table[t] for t in texts]).astype(np.float32)
    cache.put("text", TextTower.name, key, result)
    return result
