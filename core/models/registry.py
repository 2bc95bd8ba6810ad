"""The MLflow model registry: register a version with an alias, and turn `models:/name@alias`
into a local file through a cache verified by sha256, falling back to a local file when the
registry cannot be reached.

A registered version carries two tags: `sha256` (of the file, or of a folder's files) and
`file` (the artifact's name inside the version's source folder). The version stamped on
events is `v<registry version>-<first 12 hex of the sha256>`, e.g. `v3-c8c5ea2b540c`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ModelError

log = logging.getLogger(__name__)
SCHEME = "models:/"
_REFERENCE = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[\w-]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class RegisteredModel:
    """A version of a registered model, present in the local cache."""

    path: Path
    name: str
    version: str  # the registry's version number, "3"
    sha256: str

    @property
    def stamp(self) -> str:
        return version_stamp(self.version, self.sha256)


def version_stamp(version: str, sha256: str) -> str:
    """What events carry as the model version: `v3-c8c5ea2b540c`."""
    return f"v{version}-{sha256[:12]}"


def parse_reference(reference: str) -> tuple[str, str | None, str | None]:
    """`models:/name@alias` → (name, alias, None); `models:/name/3` → (name, None, "3")."""
    match = _REFERENCE.match(reference)
    if match is None:
        raise ModelError(f"not a registry reference: {reference!r} (use models:/name@alias)")
    return match["name"], match["alias"], match["version"]


def content_sha256(path: Path) -> str:
    """sha256 of a file, or of a folder's files (relative names included, sorted)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """`CATALENS_MLFLOW__MODEL_CACHE_DIR`, else `<data_dir>/cache/models`."""
    from core.settings import Settings

    settings = Settings()
    return settings.mlflow.model_cache_dir or settings.data_dir / "cache" / "models"


def register_version(
    name: str,
    source: str,
    run_id: str | None,
    file: str,
    sha256: str,
    alias: str | None = "candidate",
    tags: dict[str, str] | None = None,
) -> str:
    """Register `source/file` as a new version of `name` (created on first use) and point
    `alias` at it; returns the version number. Uses the current tracking URI."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if "RESOURCE_ALREADY_EXISTS" not in str(exc.error_code):
            raise
    all_tags = {"sha256": sha256, "file": file, **(tags or {})}
    version = client.create_model_version(name, source=source, run_id=run_id, tags=all_tags)
    if alias:
        client.set_registered_model_alias(name, alias, version.version)
    return str(version.version)


def resolve_registered(
    reference: str, cache_dir: Path, tracking_uri: str | None = None
) -> RegisteredModel:
    """The local, checksum-verified copy of the version `reference` names. A cached copy whose
    sha256 no longer matches the version's tag is deleted and downloaded again."""
    from core.models.tracking import default_tracking_uri, tracking_at

    name, alias, number = parse_reference(reference)
    with tracking_at(default_tracking_uri(tracking_uri)) as mlflow, _bounded_http():
        client = mlflow.tracking.MlflowClient()
        found = client.get_model_version_by_alias(name, alias) if alias else None
        version = found or client.get_model_version(name, number)
        expected, file = version.tags.get("sha256"), version.tags.get("file")
        if not expected or not file:
            raise ModelError(f"{reference}: version {version.version} has no sha256/file tags")
        target = cache_dir / name / str(version.version) / file
        if target.exists() and content_sha256(target) == expected:
            log.info("%s: cached version %s at %s", reference, version.version, target)
            return RegisteredModel(target, name, str(version.version), expected)
        if target.exists():
            log.warning("%s: cached %s fails its checksum; downloading again", reference, target)
            _remove(target)
        _download(mlflow, f"{version.source}/{file}", target)
    actual = content_sha256(target)
    if actual != expected:
        _remove(target)
        raise ModelError(f"{reference}: downloaded {file} has sha256 {actual}, expected {expected}")
    return RegisteredModel(target, name, str(version.version), expected)


def current_stamp(reference: str, tracking_uri: str | None = None) -> str:
    """The version stamp `reference` names now (`v3-c5a11e6365cf`), without downloading."""
    from core.models.tracking import default_tracking_uri, tracking_at

    name, alias, number = parse_reference(reference)
    with tracking_at(default_tracking_uri(tracking_uri)) as mlflow, _bounded_http():
        client = mlflow.tracking.MlflowClient()
        found = client.get_model_version_by_alias(name, alias) if alias else None
        version = found or client.get_model_version(name, number)
        return version_stamp(str(version.version), version.tags.get("sha256", ""))


def resolve_or_fallback(
    reference: str, cache_dir: Path, fallback: Path | None, tracking_uri: str | None = None
) -> RegisteredModel | Path:
    """`resolve_registered`, or the local `fallback` (with a warning) when the registry cannot
    be reached. Without a fallback that is a `ModelError`; so is an answer from the registry
    that the model, alias or version does not exist (a typo must not serve the fallback)."""
    from mlflow.exceptions import RestException

    try:
        return resolve_registered(reference, cache_dir, tracking_uri)
    except ModelError:
        raise
    except RestException as exc:
        raise ModelError(f"cannot resolve {reference}: {exc.message}") from exc
    except Exception as exc:  # connection refused, timeouts, 5xx after the retry
        if fallback is None:
            raise ModelError(f"cannot resolve {reference}: {exc}") from exc
        log.warning("cannot resolve %s (%s); using the local fallback %s", reference, exc, fallback)
        return fallback


def _download(mlflow: Any, artifact_uri: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        local = Path(
            mlflow.artifacts.download_artifacts(artifact_uri=artifact_uri, dst_path=scratch)
        )
        os.replace(local, target)  # same filesystem: the cache never holds half a file


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def _bounded_http(retries: int = 1, timeout_s: int = 10) -> Iterator[None]:
    """A service start must not wait minutes on an unreachable registry (MLflow's default is
    7 retries with exponential backoff); an explicit environment setting wins."""
    names = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(retries)}
    names["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(timeout_s)
    unset = [key for key in names if key not in os.environ]
    os.environ.update({key: names[key] for key in unset})
    try:
        yield
    finally:
        for key in unset:
            os.environ.pop(key, None)
