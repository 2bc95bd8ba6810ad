"""`encode` / `decode`: messages to JSON bytes and back, dispatching on `type` (`decode` also
reads the vector frames of `schemas.frames`)."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar, overload

from pydantic import ValidationError

from schemas.base import drop_unknown_fields
from schemas.envelope import ENVELOPE_FIELDS, VERSION_PATTERN, Envelope, major_of, minor_of
from schemas.errors import SchemaError, from_validation_error
from schemas.events import EVENT_TYPES, Event, ObjectsEmbedded
from schemas.frames import encode_frame, frame_json, is_frame
from schemas.ids import s3_uri

E = TypeVar("E", bound=Envelope)


def encode(message: Envelope) -> bytes:
    """Compact UTF-8 JSON of a message (vectors as base64 strings)."""
    return message.model_dump_json().encode("utf-8")


def encode_wire(message: Envelope, frames: bool) -> bytes:
    """What a Kafka producer sends: `encode`, or with `frames` an `ObjectsEmbedded` as a vector
    frame (`schemas.frames.encode_frame`); `decode` reads either."""
    if frames and isinstance(message, ObjectsEmbedded):
        return encode_frame(message)
    return encode(message)


@overload
def decode(data: bytes | str, expected: None = None) -> Event: ...
@overload
def decode(data: bytes | str, expected: type[E]) -> E: ...
@overload
def decode(data: bytes | str, expected: tuple[type[Envelope], ...]) -> Event: ...


def decode(
    data: bytes | str, expected: type[Envelope] | tuple[type[Envelope], ...] | None = None
) -> Envelope:
    """The message in `data`; raises SchemaError naming the offending field.

    `expected` restricts the accepted message types (a class or a tuple of classes). A vector
    frame (`schemas.frames`) is read as the JSON record of the same message.
    """
    if is_frame(data):
        assert not isinstance(data, str)
        data = frame_json(data)
    fast = _fast_path(data, expected)
    if fast is not None:
        return fast
    raw = json_object(data)
    cls = _message_class(raw, expected)
    missing = [name for name in ENVELOPE_FIELDS if name not in raw]
    if missing:
        raise SchemaError("missing envelope field", field=missing[0])
    if _newer_minor(cls, raw["schema_version"]):
        data = json.dumps(drop_unknown_fields(cls, raw))
    try:
        return cls.model_validate_json(data)
    except ValidationError as exc:
        raise from_validation_error(exc, title=str(raw["type"])) from None


_HEAD = re.compile(rb'^\{"event_id":"[^"]*","schema_version":"(\d+\.\d+)","type":"([a-z.]+)"')


def _fast_path(
    data: bytes | str, expected: type[Envelope] | tuple[type[Envelope], ...] | None
) -> Envelope | None:
    """What `encode` wrote (envelope fields first, this reader's version): validated in one
    pass instead of parsed twice. None for anything else, which takes the checking path with
    its precise errors (a failed validation here is retried there)."""
    head = _HEAD.match(data.encode("utf-8") if isinstance(data, str) else data)
    if head is None:
        return None
    cls = EVENT_TYPES.get(head.group(2).decode())
    allowed = expected if isinstance(expected, tuple) else (expected,) if expected else ()
    if cls is None or (allowed and cls not in allowed):
        return None
    if head.group(1).decode() != cls.supported_version():
        return None
    try:
        return cls.model_validate_json(data)
    except ValidationError:
        return None


def json_object(data: bytes | str) -> dict[str, Any]:
    """`data` parsed as one JSON object, or a SchemaError saying what it is instead."""
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SchemaError(f"message is not valid UTF-8 JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise SchemaError(f"message must be a JSON object, got {type(raw).__name__}")
    return raw


def _message_class(
    raw: dict[str, Any], expected: type[Envelope] | tuple[type[Envelope], ...] | None
) -> type[Envelope]:
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise SchemaError("missing or not a string", field="type")
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise SchemaError(
            f"unknown message type {kind!r} (known: {', '.join(EVENT_TYPES)})", field="type"
        )
    check_accepted(cls, expected)
    return cls


def check_accepted(
    cls: type[Envelope], expected: type[Envelope] | tuple[type[Envelope], ...] | None
) -> None:
    """Raise SchemaError (field `type`) when `cls` is not one of the `expected` message types
    (None or an empty tuple accepts every type). Both transports refuse alike with it."""
    allowed = expected if isinstance(expected, tuple) else (expected,) if expected else ()
    if allowed and cls not in allowed:
        names = ", ".join(type_name(c) for c in allowed)
        raise SchemaError(f"expected {names}, got {type_name(cls)}", field="type")


def _newer_minor(cls: type[Envelope], version: Any) -> bool:
    """Checks the version; True when it is a newer minor of the supported major."""
    supported = cls.supported_version()
    if not isinstance(version, str) or not re.fullmatch(VERSION_PATTERN, version):
        raise SchemaError(f"expected MAJOR.MINOR, got {version!r}", field="schema_version")
    if major_of(version) != major_of(supported):
        raise SchemaError(
            f"unsupported major version {version} of {type_name(cls)} "
            f"(this reader supports {major_of(supported)}.x)",
            field="schema_version",
        )
    return minor_of(version) > minor_of(supported)


def type_name(cls: type[Envelope]) -> str:
    """The `type` value of a message class, e.g. `objects.detected`."""
    return str(cls.model_fields["type"].default)


def partition_key(message: Envelope) -> bytes:
    """Kafka key: where the image is stored (its uri, or `s3://bucket/key`), else its id.

    Keying by the stored object puts every event about it in one partition, so a bucket delete
    (which names only the uri) stays behind that image's vectors, and each partition (one
    FAISS shard) holds all of an image's objects."""
    uri = getattr(message, "image_uri", None)
    if uri:
        return str(uri).encode("utf-8")
    bucket, key = getattr(message, "bucket", None), getattr(message, "key", None)
    if bucket and key:
        return s3_uri(bucket, key).encode("utf-8")
    return str(getattr(message, "image_id", "")).encode("utf-8")
