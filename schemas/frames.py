"""Vector frames: an `ObjectsEmbedded` as a small JSON header followed by its raw vector bytes.

`encode` writes every message as JSON, vectors as base64 strings: a third more bytes, and a
reader that must parse and decode text for every vector. A frame carries the same message with
the vectors outside the JSON, so a replay takes them as one matrix without touching them:

    offset  size  what
    0       4     b"\\x00CVF" (a JSON text never starts with a NUL byte: the first byte tells
                  a frame from a JSON record)
    4       1     frame version, 1
    5       4     H, the header's length in bytes (unsigned, little-endian)
    9       H     the header: the message's JSON as `encode` writes it, except that no `vector`
                  object has `data` (schema: schemas/json/objects.embedded.frame.json)
    9 + H   rest  every vector's data in the order of `vectors`, `dim` little-endian values of
                  its `dtype` each, nothing after the last

The header keeps the message's own `schema_version`, so the message's versioning is unchanged;
the frame version changes only with this layout. `schemas.decode` reads both encodings (a topic
may hold JSON records written before frames), and refuses a malformed frame with a SchemaError
naming what is wrong (a consumer dead-letters it). Writers choose by a setting
(`StreamingSettings.vector_frames`): upgrade every reader before turning it on.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

from schemas.errors import SchemaError
from schemas.events import ObjectsEmbedded

MAGIC = b"\x00CVF"
FRAME_VERSION = 1
_HEAD = struct.Struct("<4sBI")  # magic, version, header length
HEAD_SIZE = _HEAD.size
ITEMSIZE = {"float32": 4, "float16": 2}
_NO_DATA = {"vectors": {"__all__": {"vector": {"data"}}}}


def is_frame(data: bytes | bytearray | memoryview | str) -> bool:
    return not isinstance(data, str) and bytes(data[:4]) == MAGIC


def encode_frame(message: ObjectsEmbedded) -> bytes:
    """The frame of `message` (see the module's layout)."""
    header = message.model_dump_json(exclude=_NO_DATA).encode("utf-8")
    body = b"".join(item.vector.data for item in message.vectors)
    return _HEAD.pack(MAGIC, FRAME_VERSION, len(header)) + header + body


def split_frame(data: bytes) -> tuple[memoryview, int]:
    """(the header's bytes, where the vectors start); SchemaError for a frame that is cut
    short or of another frame version."""
    if len(data) < HEAD_SIZE or not is_frame(data):
        raise SchemaError("not a vector frame (no b'\\x00CVF' head)")
    _, version, size = _HEAD.unpack_from(data)
    if version != FRAME_VERSION:
        raise SchemaError(
            f"vector frame version {version} (this reader reads {FRAME_VERSION})", field="frame"
        )
    if HEAD_SIZE + size > len(data):
        raise SchemaError(
            f"vector frame header of {size} bytes in a frame of {len(data)}", field="frame"
        )
    return memoryview(data)[HEAD_SIZE : HEAD_SIZE + size], HEAD_SIZE + size


def frame_json(data: bytes) -> bytes:
    """The JSON record that `encode` writes for the frame's message (vectors back in base64),
    for `decode` to check and read; SchemaError where the layout itself is wrong."""
    header, start = split_frame(data)
    try:
        raw = json.loads(bytes(header))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SchemaError(f"vector frame header is not UTF-8 JSON ({exc})", field="frame") from None
    if not isinstance(raw, dict) or raw.get("type") != "objects.embedded":
        raise SchemaError("a vector frame holds an objects.embedded message", field="type")
    items = raw.get("vectors")
    if not isinstance(items, list):
        raise SchemaError("missing or not a list", field="vectors")
    at = start
    for i, item in enumerate(items):
        vector = item.get("vector") if isinstance(item, dict) else None
        where = f"vectors.{i}.vector"
        if not isinstance(vector, dict) or "data" in vector:
            raise SchemaError("a frame's vector is an object without `data`", field=where)
        size = _size_of(vector, where)
        if at + size > len(data):
            raise SchemaError(
                f"frame ends at byte {len(data)}, {where} would end at {at + size}", field=where
            )
        vector["data"] = base64.b64encode(data[at : at + size]).decode("ascii")
        at += size
    if at != len(data):
        raise SchemaError(f"{len(data) - at} bytes after the frame's last vector", field="frame")
    return json.dumps(raw, separators=(",", ":")).encode("utf-8")


def _size_of(vector: dict[str, Any], where: str) -> int:
    dim, dtype = vector.get("dim"), vector.get("dtype", "float32")
    if type(dim) is not int or not 1 <= dim <= 65536:
        raise SchemaError(f"expected an integer in 1..65536, got {dim!r}", field=f"{where}.dim")
    if not isinstance(dtype, str) or dtype not in ITEMSIZE:
        raise SchemaError(f"expected one of {list(ITEMSIZE)}, got {dtype!r}", field=where)
    return dim * ITEMSIZE[dtype]
