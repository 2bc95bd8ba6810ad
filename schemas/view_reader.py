"""`read_embedded`: a replay's reader of `objects.embedded`, JSON records and vector frames alike.

It makes the checks `decode_embedded` makes (so it vouches for a record only where `decode`
would return the message, and answers None where `decode` must decide), but builds no model per
record or vector: each record becomes an `EmbeddedView`, its vectors one float32 matrix (a
frame's is a view of the record's own bytes). And it checks the string patterns (ids, uris,
trace context, time) once per batch instead of once per field: msgspec runs a pattern through
Python's `re` for every value, most of a frame header's parse. Per batch, each kind of value is
joined with newlines (which no pattern admits) and matched in one call; only a batch that fails
is checked record by record.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar, cast

import msgspec
import numpy as np
from msgspec import UNSET, Meta, Struct, UnsetType

from schemas.base import URI_MAX_LENGTH, URI_PATTERN
from schemas.embedded_reader import TIME_PATTERN, Dim, _Embedder, _Vector, embedder_of
from schemas.embedded_view import EmbeddedView
from schemas.envelope import EVENT_ID_PATTERN, TRACEPARENT_PATTERN
from schemas.events import EmbedderRef
from schemas.frames import FRAME_VERSION, HEAD_SIZE, MAGIC
from schemas.pattern_batch import (
    ID_CHARS,
    TIMES,
    TRACEPARENT,
    UUID4,
    CharClass,
    FixedWidth,
)

Embedders = dict[tuple[str, str, str, int], EmbedderRef]


class _FrameVector(Struct, forbid_unknown_fields=True, gc=False):
    """A vector in a frame's header: its data follows the header (`schemas.frames`)."""

    dim: Dim
    dtype: Literal["float32", "float16"] | UnsetType = UNSET


V = TypeVar("V", _Vector, _FrameVector)


class _Item(Struct, Generic[V], forbid_unknown_fields=True, gc=False):
    object_id: str  # pattern: checked per batch
    modality: Literal["image", "caption"]
    vector: V


class _Header(Struct, Generic[V], forbid_unknown_fields=True, gc=False):
    """`schemas.embedded_reader._Embedded` with its patterns left to `_patterns_hold`."""

    event_id: str
    schema_version: Literal["1.0", "1.1"]
    type: Literal["objects.embedded"]
    producer: Annotated[str, Meta(min_length=1, max_length=64)]
    time: str
    traceparent: str
    image_id: str
    embedder: _Embedder
    vectors: Annotated[list[_Item[V]], Meta(min_length=1)]
    tracestate: Annotated[str, Meta(max_length=512)] | UnsetType | None = UNSET
    image_uri: str | UnsetType | None = UNSET


_JSON = msgspec.json.Decoder(_Header[_Vector])
_FRAME = msgspec.json.Decoder(_Header[_FrameVector])
_HEAD = struct.Struct("<4sBI")
_ITEMSIZE = {"float32": 4, "float16": 2}
_NUMPY = {"float32": "<f4", "float16": "<f2"}


_CHECKS: dict[str, FixedWidth | CharClass] = {  # ID_PATTERN is `^[A-Za-z0-9._:-]{1,128}$`
    "event_id": FixedWidth(EVENT_ID_PATTERN, UUID4),
    "traceparent": FixedWidth(TRACEPARENT_PATTERN, TRACEPARENT),
    "time": FixedWidth(TIME_PATTERN, *TIMES),
    "id": CharClass(ID_CHARS, 1, 128),
    "uri": FixedWidth(URI_PATTERN),  # no fixed width: the pattern itself
}
Header = _Header[_Vector] | _Header[_FrameVector]
Parsed = tuple[bytes, Header, int]


def read_embedded(datas: Sequence[bytes | None]) -> list[EmbeddedView | None]:
    """Per record, JSON or a vector frame (`schemas.frames`), the view of the `ObjectsEmbedded`
    that `decode` would return, or None where this reader does not vouch for it."""
    parsed = [_parse(data) if data is not None else None for data in datas]
    headers = [p[1] for p in parsed if p is not None]
    if not _patterns_hold(headers):
        parsed = [p if p is not None and _patterns_hold([p[1]]) else None for p in parsed]
    embedders: Embedders = {}
    out = [_view(p, embedders) if p is not None else None for p in parsed]
    present = [view.matrix.ravel() for view in out if view is not None]
    if present and not np.isfinite(np.concatenate(present)).all():
        for i, view in enumerate(out):
            if view is not None and not np.isfinite(view.matrix).all():
                out[i] = None
    return out


def _parse(data: bytes) -> Parsed | None:
    """(record, header, where a frame's vectors start or -1 for JSON), or None."""
    try:
        if data[:4] != MAGIC:
            return data, _JSON.decode(data), -1
        _, version, size = _HEAD.unpack_from(data)
        if version != FRAME_VERSION or HEAD_SIZE + size > len(data):
            return None
        return data, _FRAME.decode(memoryview(data)[HEAD_SIZE : HEAD_SIZE + size]), HEAD_SIZE + size
    except (msgspec.MsgspecError, struct.error):
        return None


def _patterns_hold(headers: Sequence[Header]) -> bool:
    uris = [h.image_uri for h in headers if isinstance(h.image_uri, str)]
    if uris and max(map(len, uris)) > URI_MAX_LENGTH:
        return False
    values = {
        "event_id": [h.event_id for h in headers],
        "traceparent": [h.traceparent for h in headers],
        "time": [h.time for h in headers],
        "id": [*(h.image_id for h in headers), *(i.object_id for h in headers for i in h.vectors)],
        "uri": uris,
    }
    return all(_CHECKS[kind].all_match(got) for kind, got in values.items())


def _view(parsed: Parsed, embedders: Embedders) -> EmbeddedView | None:
    data, header, start = parsed
    dim = header.embedder.dim
    if start >= 0:
        matrix = _frame_rows(data, cast("_Header[_FrameVector]", header), start)
    else:
        matrix = _json_rows(cast("_Header[_Vector]", header))
    if matrix is None or matrix.shape[1] != dim:
        return None
    try:
        datetime.fromisoformat(header.time)
    except ValueError:  # e.g. 2026-02-30
        return None
    items, uri = header.vectors, header.image_uri
    return EmbeddedView(
        data,
        header.image_id,
        None if uri is UNSET else uri,
        embedder_of(header.embedder, embedders),
        [item.object_id for item in items],
        [item.modality for item in items],
        matrix,
    )


def _frame_rows(data: bytes, header: _Header[_FrameVector], start: int) -> np.ndarray | None:
    dim, items = header.embedder.dim, header.vectors
    dtype = items[0].vector.dtype
    if any(i.vector.dim != dim or i.vector.dtype != dtype for i in items):
        return None  # a dim decode refuses, or mixed dtypes (decode reads them)
    name = "float32" if dtype is UNSET else dtype
    count = len(items) * dim
    if len(data) - start != count * _ITEMSIZE[name]:
        return None
    rows = np.frombuffer(data, _NUMPY[name], count, start).reshape(-1, dim)
    return rows if name == "float32" else rows.astype(np.float32)


def _json_rows(header: _Header[_Vector]) -> np.ndarray | None:
    dim, vectors = header.embedder.dim, [item.vector for item in header.vectors]
    dtypes = ["float32" if v.dtype is UNSET else v.dtype for v in vectors]
    for v, dtype in zip(vectors, dtypes, strict=True):
        if v.dim != dim or len(v.data) != dim * _ITEMSIZE[dtype]:
            return None
    if all(dtype == "float32" for dtype in dtypes):
        return np.frombuffer(b"".join(v.data for v in vectors), "<f4").reshape(-1, dim)
    rows: Iterator[tuple[_Vector, str]] = zip(vectors, dtypes, strict=True)
    return np.stack([np.frombuffer(v.data, _NUMPY[t]) for v, t in rows]).astype(np.float32)
