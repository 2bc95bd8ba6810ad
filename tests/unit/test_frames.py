"""Vector frames (`schemas.frames`): an `ObjectsEmbedded` written as a frame reads back as the
same message through `decode` and as the same view through the replay's reader; a topic's old
JSON records stay readable beside frames; a corrupt frame is a SchemaError naming the problem
(a consumer dead-letters it) and is never vouched for, never a crash."""

from __future__ import annotations

import json
import random
import struct
from typing import Any

import numpy as np
import pytest

from core.errors import CatalensError
from core.index.log_follower import decode_records
from core.index.log_index import LogIndex
from schemas import ObjectsDeleted, ObjectsEmbedded, SchemaError, decode, encode, encode_wire
from schemas.embedded_view import EmbeddedView
from schemas.frames import HEAD_SIZE, MAGIC, encode_frame, frame_json, is_frame
from schemas.view_reader import read_embedded
from tests.unit.test_embedded_reader import (
    VALID,
    assert_same,
    assert_view_same,
    corrupted,
    embedded,
)


def header_of(frame: bytes) -> dict[str, Any]:
    (size,) = struct.unpack_from("<I", frame, 5)
    raw = json.loads(frame[HEAD_SIZE : HEAD_SIZE + size])
    assert isinstance(raw, dict)
    return raw


def reframed(
    frame: bytes, header: dict[str, Any] | None = None, body: bytes | None = None
) -> bytes:
    """`frame` with another header and/or vector bytes, its length field kept right."""
    (size,) = struct.unpack_from("<I", frame, 5)
    head = frame[HEAD_SIZE : HEAD_SIZE + size] if header is None else json.dumps(header).encode()
    rest = frame[HEAD_SIZE + size :] if body is None else body
    return MAGIC + bytes([1]) + struct.pack("<I", len(head)) + head + rest


@pytest.mark.parametrize("message", VALID, ids=range(len(VALID)))
def test_a_frame_reads_back_as_the_message_it_was_written_from(message: ObjectsEmbedded) -> None:
    frame = encode_frame(message)
    assert is_frame(frame) and not is_frame(encode(message))
    reference = decode(encode(message))  # as read from JSON: every field set
    assert_same(decode(frame), reference)
    assert decode(frame, ObjectsEmbedded) == message
    view = read_embedded([frame])[0]
    assert view is not None
    assert_view_same(view, reference)


def test_a_frame_carries_the_vectors_as_raw_bytes_after_a_header_without_them() -> None:
    message = embedded(3)
    frame = encode_frame(message)
    header = header_of(frame)
    assert header["schema_version"] == "1.1" and header["type"] == "objects.embedded"
    assert all("data" not in item["vector"] for item in header["vectors"])
    assert frame.endswith(b"".join(v.vector.data for v in message.vectors))
    assert len(frame) < len(encode(message))


def test_the_wire_encoding_is_a_frame_only_for_embedded_messages_when_asked() -> None:
    message, tombstone = embedded(), ObjectsDeleted(producer="d", image_id="img-1")
    assert encode_wire(message, frames=True) == encode_frame(message)
    assert encode_wire(message, frames=False) == encode(message)
    assert encode_wire(tombstone, frames=True) == encode(tombstone)


def test_old_json_records_and_frames_replay_alike_in_one_poll() -> None:
    """A topic written before frames holds JSON; the follower reads both kinds side by side."""
    first, second = embedded(3), embedded(2, image_id="img-2", image_uri="s3://b/2.jpg")
    tombstone = ObjectsDeleted(producer="d", image_id="img-2")
    raw = [(0, 0, encode(first)), (0, 1, encode_frame(second)), (0, 2, encode(tombstone))]
    records = decode_records(raw)
    assert all(isinstance(r[2], EmbeddedView) for r in records[:2])
    index, reference = LogIndex("t", 1), LogIndex("t", 1)
    index.apply_many(records)
    reference.apply_many([(0, 0, first), (0, 1, second), (0, 2, tombstone)])
    assert index.positions == reference.positions == [3]
    live, want = index.live(), reference.live()
    assert live.keys() == want.keys()
    for name, vectors in want.items():
        assert live[name].keys() == vectors.keys()
        for oid, vector in vectors.items():
            np.testing.assert_array_equal(live[name][oid], vector)


def test_a_float16_frame_is_read_as_float32_rows() -> None:
    message = embedded(4, dtype="float16")
    view = read_embedded([encode_frame(message)])[0]
    assert view is not None and view.matrix.dtype == np.float32
    assert_view_same(view, decode(encode(message)))


def _corrupt() -> dict[str, bytes]:
    frame = encode_frame(embedded())
    header = header_of(frame)
    with_data = json.loads(json.dumps(header))
    with_data["vectors"][0]["vector"]["data"] = "AAAA"
    nan = bytearray(frame)
    nan[-4:] = np.float32(np.nan).tobytes()
    detected = dict(header, type="objects.detected")
    return {
        "cut inside the head": frame[:6],
        "cut inside the header": frame[: HEAD_SIZE + 10],
        "cut inside the vectors": frame[:-3],
        "bytes after the last vector": frame + b"\0\0\0\0",
        "another frame version": frame[:4] + bytes([2]) + frame[5:],
        "header not JSON": MAGIC + bytes([1]) + struct.pack("<I", 20) + b"{" * 20 + frame[-48:],
        "header length past the end": frame[:5] + struct.pack("<I", 1 << 30) + frame[9:],
        "data inside the header": reframed(frame, with_data),
        "a vector without dim": reframed(frame, _without(header, "dim")),
        "a dim against the embedder": reframed(frame, _with_dim(header, 3)),
        "a dtype unknown": reframed(frame, _with(header, "dtype", "float64")),
        "a dtype not a string": reframed(frame, _with(header, "dtype", ["float32"])),
        "a NaN": bytes(nan),
        "not an embedded message": reframed(frame, detected),
    }


def _with(header: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(header))
    out["vectors"][0]["vector"][key] = value
    return out


def _without(header: dict[str, Any], key: str) -> dict[str, Any]:
    out = json.loads(json.dumps(header))
    del out["vectors"][0]["vector"][key]
    return out


def _with_dim(header: dict[str, Any], dim: int) -> dict[str, Any]:
    return _with(header, "dim", dim)


CORRUPT = _corrupt()


@pytest.mark.parametrize("case", CORRUPT, ids=list(CORRUPT))
def test_a_corrupt_frame_is_a_schema_error_and_never_vouched_for(case: str) -> None:
    data = CORRUPT[case]
    with pytest.raises(SchemaError) as info:
        decode(data)
    assert str(info.value)  # says what is wrong; a consumer dead-letters it with this reason
    assert read_embedded([data]) == [None]


def test_a_corrupt_frame_is_skipped_by_the_follower_and_the_rest_applies() -> None:
    good = encode_frame(embedded())
    records = decode_records([(0, 0, CORRUPT["cut inside the vectors"]), (0, 1, good)])
    assert records[0][2] is None and isinstance(records[1][2], EmbeddedView)


def test_random_corruptions_of_a_frame_never_crash_or_disagree_with_decode() -> None:
    rng = random.Random(11)
    base = encode_frame(embedded())
    for _ in range(3000):
        data = corrupted(base, rng)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        try:
            reference: Any = decode(bytes(data), (ObjectsEmbedded, ObjectsDeleted))
        except CatalensError:
            reference = None
        view = read_embedded([bytes(data)])[0]
        if view is not None:
            assert reference is not None, f"vouched for a frame decode refuses: {bytes(data)!r}"
            assert_view_same(view, reference)


def test_frame_json_is_what_encode_writes_for_the_same_message() -> None:
    message = embedded(3)
    assert decode(frame_json(encode_frame(message))) == decode(encode(message))
