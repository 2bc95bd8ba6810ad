"""Deterministic ids: the same input gives the same id on every run and every machine.

Ids are the first 32 hex characters (128 bits) of a sha256, so every write keyed by them is an
idempotent upsert. Fields are joined with NUL bytes so no two inputs can spell the same text.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Sequence
from typing import Literal, Protocol
from urllib.parse import quote, unquote

ID_HEX_CHARS = 32
ObjectKind = Literal["object", "image"]


class HasCoordinates(Protocol):
    """A pixel box that can spell itself as (x1, y1, x2, y2), e.g. `core.domain.Box`."""

    def as_tuple(self) -> tuple[int, int, int, int]: ...


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:ID_HEX_CHARS]


def image_id_from_bytes(data: bytes) -> str:
    """Content id: sha256 of the bytes, first 32 hex characters."""
    return hashlib.sha256(data).hexdigest()[:ID_HEX_CHARS]


def s3_uri(bucket: str, key: str) -> str:
    """`s3://bucket/key` with the key percent-encoded (spaces and other unsafe characters), the
    one spelling every service uses, so a delete by URI finds what the upload stored."""
    return f"s3://{bucket}/{quote(key, safe='/')}"


def s3_key(uri: str, bucket: str) -> str | None:
    """The object key of an `s3_uri` in `bucket`, or None for a URI elsewhere."""
    prefix = f"s3://{bucket}/"
    return unquote(uri.removeprefix(prefix)) if uri.startswith(prefix) else None


def image_id_from_object(bucket: str, key: str, etag: str) -> str:
    """Id of one version of a stored object (S3 etags are compared without their quotes)."""
    return _digest("s3", bucket, key, etag.strip('"'))


def object_id(
    image_id: str, kind: ObjectKind, box: HasCoordinates | Sequence[int], label: str
) -> str:
    """Id of one object in one image: stable for the same image id, kind, pixel box and label."""
    coords = box.as_tuple() if hasattr(box, "as_tuple") else tuple(box)
    if len(coords) != 4:
        raise ValueError(f"box: expected 4 integers, got {coords!r}")
    ints = [operator.index(c) for c in coords]  # numpy ints pass, floats raise TypeError
    return _digest(image_id, kind, ",".join(map(str, ints)), label)
