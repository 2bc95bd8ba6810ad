"""ObjectStore over a local folder (the embedded default). Writes are atomic (temp + rename)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path


class FolderObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"key escapes the store: {key!r}")
        return path

    def uri(self, key: str) -> str:
        return f"file://{self._path(key)}"

    async def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> str:
        await asyncio.to_thread(self._write, self._path(key), data)
        return self.uri(key)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)

    async def get(self, key: str, version: str | None = None) -> bytes:
        """Folder keys have one version each (content-addressed): `version` is not checked."""
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise KeyError(key) from exc

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    async def delete_prefix(self, prefix: str) -> None:
        """Remove every key under `prefix` (a folder)."""
        import shutil

        folder = self._path(prefix.rstrip("/"))
        await asyncio.to_thread(shutil.rmtree, folder, True)

    async def exists(self, key: str) -> bool:
        return self._path(key).is_file()
