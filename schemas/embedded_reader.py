"""`decode_embedded`: many `objects.embedded` records at once, for replaying an embeddings log.

`decode` validates a record with pydantic, and its Python parts (base64, every vector's length
and finiteness, one value at a time) make it the slow step of a replay. This reader parses what
`encode` writes with msgspec instead: the JSON, the base64, the field types, lengths, ranges and
patterns in one pass in C, against structs that mirror `ObjectsEmbedded` field by field; then it
checks every vector of the batch for NaN and infinities in one numpy call and builds the same
frozen models without validating them a second time.

It answers only for records it can vouch for: a record of another type or version (1.0 and 1.1
are read here), one that lacks a field `decode` would fill with a default, or one that fails any
check gets None, and the caller passes it to `decode`, which accepts it or refuses it with its
precise error. So a record becomes an equal message whichever path reads it, and a bad one is
refused exactly as before (tests/unit/test_embedded_reader.py compares the two).

msgspec comes with `litestar[standard]`, a declared dependency (the query service uses it too).
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

import msgspec
import numpy as np
from msgspec import UNSET, Meta, Struct, UnsetType
from pydantic import BaseModel

from schemas.base import ID_PATTERN, URI_MAX_LENGTH, URI_PATTERN
from schemas.envelope import EVENT_ID_PATTERN, TRACEPARENT_PATTERN
from schemas.events import EmbeddedVector, EmbedderRef, ObjectsEmbedded
from schemas.vector import Vector

M = TypeVar("M", bound=BaseModel)


def _whole(pattern: str) -> str:
    """A schema's `^…$` pattern for Python's `re.search`, which msgspec uses: `$` would also
    match before a final newline, `\\Z` only at the end (as the schema's Rust regex does)."""
    assert pattern.startswith("^") and pattern.endswith("$")
    return rf"\A(?:{pattern[1:-1]})\Z"


Id = Annotated[str, Meta(pattern=_whole(ID_PATTERN))]
Uri = Annotated[str, Meta(pattern=_whole(URI_PATTERN), max_length=URI_MAX_LENGTH)]
Dim = Annotated[int, Meta(ge=1, le=65536)]
Text = Annotated[str, Meta(min_length=1)]
# What `encode` writes for a UTC time; other spellings (offsets, leap seconds) go to `decode`.
TIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$"
Time = Annotated[str, Meta(pattern=_whole(TIME_PATTERN))]
_ITEMSIZE = {"float32": 4, "float16": 2}


class _Vector(Struct, forbid_unknown_fields=True, gc=False):
    dim: Dim
    data: bytes  # msgspec's base64 accepts a subset of what `b64decode(validate=True)` does
    dtype: Literal["float32", "float16"] | UnsetType = UNSET


class _Item(Struct, forbid_unknown_fields=True, gc=False):
    object_id: Id
    modality: Literal["image", "caption"]
    vector: _Vector


class _Embedder(Struct, forbid_unknown_fields=True, gc=False):
    backend: Text
    name: Text
    version: Text
    dim: Dim


class _Embedded(Struct, forbid_unknown_fields=True, gc=False):
    event_id: Annotated[str, Meta(pattern=_whole(EVENT_ID_PATTERN))]
    schema_version: Literal["1.0", "1.1"]
    type: Literal["objects.embedded"]
    producer: Annotated[str, Meta(min_length=1, max_length=64)]
    time: Time
    traceparent: Annotated[str, Meta(pattern=_whole(TRACEPARENT_PATTERN))]
    image_id: Id
    embedder: _Embedder
    vectors: Annotated[list[_Item], Meta(min_length=1)]
    tracestate: Annotated[str, Meta(max_length=512)] | UnsetType | None = UNSET
    image_uri: Uri | UnsetType | None = UNSET


_DECODER = msgspec.json.Decoder(_Embedded)


def decode_embedded(datas: Sequence[bytes | None]) -> list[ObjectsEmbedded | None]:
    """Per record, the `ObjectsEmbedded` that `decode` would return, or None where this reader
    does not vouch for the record (then `decode` decides)."""
    embedders: dict[tuple[str, str, str, int], EmbedderRef] = {}
    out: list[ObjectsEmbedded | None] = []
    for data in datas:
        try:
            raw = _DECODER.decode(data) if data is not None else None
        except msgspec.MsgspecError:
            raw = None
        out.append(_message(raw, embedders) if raw is not None else None)
    _refuse_non_finite(out)
    return out


def _message(
    raw: _Embedded, embedders: dict[tuple[str, str, str, int], EmbedderRef]
) -> ObjectsEmbedded | None:
    """The model `decode` builds from `raw`, or None where one of pydantic's own validators
    (vector length, dims against the embedder, the time) would refuse it. Each dict is
    written in its model's field order (`_FIELDS`)."""
    ref = raw.embedder
    items = []
    for item in raw.vectors:
        vector = item.vector
        dtype = "float32" if vector.dtype is UNSET else vector.dtype
        if vector.dim != ref.dim or len(vector.data) != vector.dim * _ITEMSIZE[dtype]:
            return None
        values: dict[str, Any] = {"dtype": dtype, "dim": vector.dim, "data": vector.data}
        built = _built(Vector, values, _DIM_DATA if vector.dtype is UNSET else None)
        fields = {"object_id": item.object_id, "modality": item.modality, "vector": built}
        items.append(_built(EmbeddedVector, fields))
    try:
        time = datetime.fromisoformat(raw.time).astimezone(UTC)
    except ValueError:  # e.g. 2026-02-30
        return None
    embedder = embedder_of(ref, embedders)
    tracestate, image_uri = raw.tracestate, raw.image_uri
    message = {
        "event_id": raw.event_id,
        "schema_version": raw.schema_version,
        "type": raw.type,
        "producer": raw.producer,
        "time": time,
        "traceparent": raw.traceparent,
        "tracestate": None if tracestate is UNSET else tracestate,
        "image_id": raw.image_id,
        "image_uri": None if image_uri is UNSET else image_uri,
        "embedder": embedder,
        "vectors": items,
    }
    absent = {n for n, v in (("tracestate", tracestate), ("image_uri", image_uri)) if v is UNSET}
    return _built(ObjectsEmbedded, message, message.keys() - absent if absent else None)


def embedder_of(
    ref: _Embedder, embedders: dict[tuple[str, str, str, int], EmbedderRef]
) -> EmbedderRef:
    """One `EmbedderRef` per distinct embedder of a batch (a replay's records share one)."""
    key = (ref.backend, ref.name, ref.version, ref.dim)
    embedder = embedders.get(key)
    if embedder is None:
        names = {"backend": ref.backend, "name": ref.name, "version": ref.version, "dim": ref.dim}
        embedder = embedders[key] = _built(EmbedderRef, names)
    return embedder


def _built(cls: type[M], fields: dict[str, Any], given: AbstractSet[str] | None = None) -> M:
    """What `cls.model_construct(**fields)` builds from checked `fields` that name every field
    in order, `given` the ones the record named (None: all), without model_construct's
    per-field default handling: a measurable share of a replay."""
    message = _new(cls)
    _set(message, "__dict__", fields)
    _set(message, "__pydantic_fields_set__", set(fields if given is None else given))
    _set(message, "__pydantic_extra__", None)
    _set(message, "__pydantic_private__", None)
    return message


_new, _set = object.__new__, object.__setattr__
_DIM_DATA = frozenset({"dim", "data"})
_FIELDS: dict[type[BaseModel], tuple[str, ...]] = {
    Vector: ("dtype", "dim", "data"),
    EmbeddedVector: ("object_id", "modality", "vector"),
    EmbedderRef: ("backend", "name", "version", "dim"),
    ObjectsEmbedded: (
        *("event_id", "schema_version", "type", "producer", "time", "traceparent"),
        *("tracestate", "image_id", "image_uri", "embedder", "vectors"),
    ),
}
for _cls, _names in _FIELDS.items():  # the dicts above are written in this order
    assert tuple(_cls.model_fields) == _names, f"{_cls.__name__} fields changed: update this"


def _refuse_non_finite(messages: list[ObjectsEmbedded | None]) -> None:
    """Set to None each message with a NaN or infinite value (the check `Vector` makes), with
    one numpy pass over all vectors when they are float32 and finite (the usual case)."""
    vectors = [v.vector for m in messages if m is not None for v in m.vectors]
    if all(v.dtype == "float32" for v in vectors):
        joined = np.frombuffer(b"".join(v.data for v in vectors), "<f4")
        if np.isfinite(joined).all():
            return
    for i, message in enumerate(messages):
        if message is not None and not all(_finite(v.vector) for v in message.vectors):
            messages[i] = None


def _finite(vector: Vector) -> bool:
    dtype = "<f4" if vector.dtype == "float32" else "<f2"
    return bool(np.isfinite(np.frombuffer(vector.data, dtype)).all())
