"""The replay's reader of objects.embedded agrees with `schemas.decode`: the same message for
every record it vouches for, and no vouching for any record `decode` refuses."""

from __future__ import annotations

import base64
import json
import logging
import random
from typing import Any

import numpy as np
import pytest

from core.errors import CatalensError
from core.index.log_follower import decode_records
from schemas import (
    EmbeddedVector,
    EmbedderRef,
    Envelope,
    ObjectsDeleted,
    ObjectsEmbedded,
    Vector,
    decode,
    encode,
)
from schemas.embedded_reader import decode_embedded
from schemas.embedded_view import EmbeddedView
from schemas.view_reader import read_embedded

REF = EmbedderRef(backend="aligned", name="lite0", version="3", dim=4)


def embedded(n: int = 3, dtype: Any = "float32", **changes: Any) -> ObjectsEmbedded:
    rng = np.random.default_rng(n)
    fields: dict[str, Any] = dict(
        producer="embedder",
        image_id="img-1",
        image_uri="s3://bucket/images/a%20b.jpg",
        embedder=REF,
        vectors=[
            EmbeddedVector(
                object_id=f"img-1:o{i}",
                modality="image" if i % 2 == 0 else "caption",
                vector=Vector.from_numpy(rng.standard_normal(4), dtype=dtype),
            )
            for i in range(n)
        ],
    )
    return ObjectsEmbedded(**(fields | changes))


def as_dict(message: Envelope) -> dict[str, Any]:
    return json.loads(encode(message))


def dumped(raw: Any) -> bytes:
    return json.dumps(raw, separators=(",", ":")).encode()


def slow(data: bytes | None) -> Envelope | None:
    """What the follower did before: `decode`, or None for a record it skips."""
    if data is None:
        return None
    try:
        return decode(data, (ObjectsEmbedded, ObjectsDeleted))
    except CatalensError:
        return None


def assert_same(fast: Envelope, reference: Envelope) -> None:
    assert fast == reference
    assert encode(fast) == encode(reference)
    assert fast.model_fields_set == reference.model_fields_set
    assert isinstance(fast, ObjectsEmbedded) and isinstance(reference, ObjectsEmbedded)
    assert fast.embedder.model_fields_set == reference.embedder.model_fields_set
    for a, b in zip(fast.vectors, reference.vectors, strict=True):
        assert a.model_fields_set == b.model_fields_set
        assert a.vector.model_fields_set == b.vector.model_fields_set
        np.testing.assert_array_equal(a.vector.to_numpy(), b.vector.to_numpy())


def assert_view_same(view: EmbeddedView, reference: Envelope) -> None:
    """A replay's view holds what the message holds."""
    assert isinstance(reference, ObjectsEmbedded)
    assert view.image_id == reference.image_id and view.image_uri == reference.image_uri
    assert view.embedder == reference.embedder
    assert view.object_ids == [v.object_id for v in reference.vectors]
    assert view.modalities == [v.modality for v in reference.vectors]
    assert view.matrix.dtype == np.float32
    np.testing.assert_array_equal(view.matrix, [v.vector.to_numpy() for v in reference.vectors])
    assert_same(view.message(), reference)


def assert_agrees(data: bytes | None) -> ObjectsEmbedded | None:
    """The property: vouched for → `decode` returns an equal message (both readers; the
    view reader vouches for what the model reader vouches for, and no more)."""
    fast = decode_embedded([data])[0]
    view = read_embedded([data])[0]
    assert (fast is None) == (view is None), f"the readers disagree on {data!r}"
    if fast is not None and view is not None:
        reference = slow(data)
        assert reference is not None, f"vouched for a record decode refuses: {data!r}"
        assert_same(fast, reference)
        assert_view_same(view, reference)
    return fast


def with_field(path: str, value: Any, base: ObjectsEmbedded | None = None) -> bytes:
    """The encoded record with the field at `path` (dots; `-` deletes it) set to `value`."""
    raw = as_dict(base or embedded())
    *parents, last = path.split(".")
    node: Any = raw
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key: Any = int(last) if last.isdigit() else last
    if value == "-":
        del node[key]
    else:
        node[key] = value
    return dumped(raw)


VALID = [
    embedded(),
    embedded(1),
    embedded(5, dtype="float16"),
    embedded(image_uri=None),
    embedded(tracestate="vendor=abc"),
    embedded(producer="p" * 64),
    embedded(image_id="i" * 128),
]


@pytest.mark.parametrize("message", VALID, ids=range(len(VALID)))
def test_what_encode_writes_is_read_to_the_message_decode_returns(message: ObjectsEmbedded) -> None:
    data = encode(message)
    fast = decode_embedded([data])[0]
    assert fast is not None  # the fast path vouches for what encode writes
    reference = decode(data)
    assert_same(fast, reference)
    assert fast == message
    view = read_embedded([data])[0]
    assert view is not None
    assert_view_same(view, reference)


def test_other_layouts_of_a_valid_record_are_read_alike() -> None:
    raw = as_dict(embedded())
    reordered = dict(reversed(list(raw.items())))
    del raw["vectors"][0]["vector"]["dtype"]  # the default, left out
    spaced = json.dumps(raw, indent=2).encode()
    older = with_field("image_uri", "-", embedded().model_copy(update={"schema_version": "1.0"}))
    for data in (dumped(reordered), spaced, older, with_field("tracestate", "-")):
        assert assert_agrees(data) is not None
    twice = encode(embedded()).replace(b'"image_id":"img-1"', b'"image_id":"x","image_id":"img-1"')
    assert_agrees(twice)  # a repeated key: both readers keep the last, or this one declines


BAD = {
    "event id not uuid4": ("event_id", "0000"),
    "event id with a newline": ("event_id", "6f1d5a1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f\n"),
    "major version 2": ("schema_version", "2.0"),
    "version with a newline": ("schema_version", "1.1\n"),
    "an unknown type": ("type", "objects.unknown"),
    "empty producer": ("producer", ""),
    "producer too long": ("producer", "p" * 65),
    "producer missing": ("producer", "-"),
    "time without zone": ("time", "2026-01-01T00:00:00"),
    "time on no day": ("time", "2026-02-30T00:00:00Z"),
    "time a number": ("time", 1700000000),
    "bad traceparent": ("traceparent", "00-abc-def-01"),
    "tracestate too long": ("tracestate", "t" * 513),
    "image id with a space": ("image_id", "img 1"),
    "image id too long": ("image_id", "i" * 129),
    "image id with a newline": ("image_id", "img-1\n"),
    "uri not a uri": ("image_uri", "images/a.jpg"),
    "uri with a space": ("image_uri", "s3://b/a b.jpg"),
    "uri with a newline": ("image_uri", "s3://b/a.jpg\n"),
    "uri too long": ("image_uri", "s3://b/" + "a" * 2042),
    "embedder dim 0": ("embedder.dim", 0),
    "embedder dim too big": ("embedder.dim", 65537),
    "embedder dim a string": ("embedder.dim", "4"),
    "embedder dim a float": ("embedder.dim", 4.0),
    "embedder dim a bool": ("embedder.dim", True),
    "embedder name empty": ("embedder.name", ""),
    "embedder name missing": ("embedder.name", "-"),
    "embedder extra field": ("embedder.extra", 1),
    "no vectors": ("vectors", []),
    "vectors not a list": ("vectors", {}),
    "vector dim against embedder": ("vectors.0.vector.dim", 3),
    "vector bytes short": ("vectors.0.vector.data", base64.b64encode(b"\0" * 12).decode()),
    "vector not base64": ("vectors.0.vector.data", "@@@@"),
    "vector base64 unpadded": ("vectors.0.vector.data", base64.b64encode(b"\0" * 16)[:-2].decode()),
    "vector base64 urlsafe": ("vectors.0.vector.data", "-_-_" * 5 + "-_-="),
    "vector NaN": (
        "vectors.1.vector.data",
        base64.b64encode(np.full(4, np.nan, "<f4").tobytes()).decode(),
    ),
    "vector inf": (
        "vectors.2.vector.data",
        base64.b64encode(np.full(4, np.inf, "<f4").tobytes()).decode(),
    ),
    "vector dtype float64": ("vectors.0.vector.dtype", "float64"),
    "vector extra field": ("vectors.0.vector.scale", 1.0),
    "modality text": ("vectors.0.modality", "text"),
    "object id with a slash": ("vectors.0.object_id", "a/b"),
    "item extra field": ("vectors.0.score", 1.0),
    "top-level extra field": ("extra", 1),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_record_decode_refuses_is_never_vouched_for(case: str) -> None:
    path, value = BAD[case]
    data = with_field(path, value)
    assert slow(data) is None  # the case is bad
    assert decode_embedded([data]) == [None]
    assert read_embedded([data]) == [None]


def test_records_decode_reads_by_its_own_rules_are_left_to_it() -> None:
    """Valid for `decode`, not the layout this reader knows: it answers None, decode reads."""
    newer = as_dict(embedded()) | {"schema_version": "1.2", "added_later": 1}
    cases = [
        dumped(newer),
        with_field("time", "2026-01-01T02:00:00+02:00"),
        with_field("time", "-"),  # decode's one-pass path fills the default
        # deleted 1.2: a newer minor than this reader's ObjectsDeleted 1.1, extras dropped
        dumped(as_dict(embedded()) | {"type": "objects.deleted", "schema_version": "1.2"}),
        encode(ObjectsDeleted(producer="detector", image_id="img-1")),
    ]
    for data in cases:
        assert decode_embedded([data]) == [None]
        assert read_embedded([data]) == [None]
        assert slow(data) is not None


def test_not_json_not_an_object_or_no_value_is_not_vouched_for() -> None:
    assert decode_embedded([b"", b"[]", b"{", b"\xff", b"null", None]) == [None] * 6
    assert read_embedded([b"", b"[]", b"{", b"\xff", b"null", None]) == [None] * 6


def test_a_float16_infinity_spoils_only_its_own_record() -> None:
    good = encode(embedded(2, dtype="float16"))
    bad = with_field(
        "vectors.0.vector.data",
        base64.b64encode(np.full(4, np.inf, "<f2").tobytes()).decode(),
        embedded(2, dtype="float16"),
    )
    fast = decode_embedded([good, bad, encode(embedded())])
    assert fast[0] is not None and fast[1] is None and fast[2] is not None
    views = read_embedded([good, bad, encode(embedded())])
    assert views[0] is not None and views[1] is None and views[2] is not None


def test_a_bad_id_in_a_batch_spoils_only_its_own_record() -> None:
    """`read_embedded` checks a batch's patterns at once; a failure falls back per record."""
    good = encode(embedded())
    bad = [with_field(path, value) for path, value in (BAD["image id with a newline"],)]
    bad += [with_field("vectors.1.object_id", "a/b"), with_field("image_uri", "x" * 3000)]
    for record in bad:
        views = read_embedded([good, record, good, None])
        assert [v is not None for v in views] == [True, False, True, False]


def corrupted(base: bytes, rng: random.Random) -> bytearray:
    """`base` with 1 to 3 bytes replaced, mostly by JSON punctuation and id characters."""
    data = bytearray(base)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(data))
        data[i] = rng.choice(b'"{}[],:0129aAzZ-._/+= \n\\') if rng.random() < 0.8 else 0xFF
    return data


def test_random_corruptions_never_make_the_two_readers_disagree() -> None:
    rng = random.Random(7)
    base = encode(embedded())
    for _ in range(3000):
        assert_agrees(bytes(corrupted(base, rng)))


def test_the_follower_skips_what_decode_refuses_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good, tombstone = encode(embedded()), encode(ObjectsDeleted(producer="d", image_id="img-1"))
    bad = with_field("vectors.0.vector.dim", 3)
    with caplog.at_level(logging.WARNING, logger="core.index.log_follower"):
        records = decode_records([(0, 0, good), (0, 1, bad), (1, 0, tombstone), (1, 1, None)])
    assert [(p, o) for p, o, _ in records] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    view = records[0][2]
    assert isinstance(view, EmbeddedView)  # what the follower applies: no model per vector
    assert_view_same(view, decode(good))
    assert records[2][2] == decode(tombstone)
    assert records[1][2] is None and records[3][2] is None
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["skipping p0@1"]
    assert "vector" in caplog.records[0].getMessage()
