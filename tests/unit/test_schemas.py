"""The wire contracts: round trips, strictness, versioning, vectors, partition keys and the codec's
fast path (ids, URIs and the schema export: test_schemas_ids.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

import schemas
from core.errors import CatalensError
from schemas import (
    CaptionAttributes,
    DetectedObject,
    EmbeddedVector,
    EmbedderRef,
    ImageDeleted,
    ImageUploaded,
    ModelRef,
    ObjectsCaptioned,
    ObjectsDeleted,
    ObjectsDetected,
    ObjectsEmbedded,
    SchemaError,
    Vector,
    decode,
    encode,
)
from schemas.vector import VectorDType

IMAGE_ID = schemas.image_id_from_bytes(b"jpeg bytes")


def detected(**changes: Any) -> ObjectsDetected:
    obj = DetectedObject(
        object_id=schemas.object_id(IMAGE_ID, "object", (10, 20, 110, 220), "handbag"),
        kind="object",
        label="handbag",
        score=0.87,
        box=(10, 20, 110, 220),
        crop_uri="s3://crops/abc.jpg",
    )
    fields: dict[str, Any] = dict(
        producer="detector",
        image_id=IMAGE_ID,
        image_uri="s3://images/a.jpg",
        width=640,
        height=480,
        detector=ModelRef(backend="ultralytics", name="yolov8n", version="1"),
        objects=[obj],
    )
    return ObjectsDetected(**(fields | changes))


def embedded(vector: np.ndarray, dim: int = 4, dtype: VectorDType = "float32") -> ObjectsEmbedded:
    return ObjectsEmbedded(
        producer="embedder",
        image_id=IMAGE_ID,
        embedder=EmbedderRef(backend="open_clip", name="ViT-B-32", version="openai", dim=dim),
        vectors=[
            EmbeddedVector(
                object_id="o1", modality="image", vector=Vector.from_numpy(vector, dtype=dtype)
            )
        ],
    )


MESSAGES = [
    ImageUploaded(
        producer="uploader",
        image_id=IMAGE_ID,
        bucket="images",
        key="a/b.jpg",
        etag='"abc"',
        size=1234,
        content_type="image/jpeg",
        source="ui",
        filename="b.jpg",
    ),
    ImageDeleted(producer="minio", bucket="images", key="a/b.jpg"),
    detected(),
    ObjectsCaptioned(
        producer="captioner",
        image_id=IMAGE_ID,
        object_id="o1",
        caption="A red leather handbag.",
        captioner="gpt-4o",
        attributes=CaptionAttributes(category="bag", colours=["red"], material="leather"),
    ),
    embedded(np.array([0.5, -0.5, 0.5, -0.5])),
    ObjectsDeleted(producer="detector", image_id=IMAGE_ID),
]


def as_dict(message: schemas.Envelope) -> dict:
    return json.loads(encode(message))


def with_changes(message: schemas.Envelope, **changes: object) -> bytes:
    return json.dumps(as_dict(message) | changes).encode()


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.type)
def test_every_message_survives_encode_and_decode_unchanged(message: schemas.Envelope) -> None:
    assert decode(encode(message)) == message
    assert decode(encode(message), expected=type(message)) == message


def test_events_that_gained_image_uri_are_at_minor_version_one() -> None:
    assert ObjectsEmbedded.supported_version() == ObjectsCaptioned.supported_version() == "1.1"
    old = as_dict(embedded(np.ones(4))) | {"schema_version": "1.0"}
    assert decode(json.dumps(old), expected=ObjectsEmbedded).image_uri is None


def test_every_message_carries_the_envelope() -> None:
    for message in MESSAGES:
        raw = as_dict(message)
        assert raw["schema_version"] == type(message).supported_version()
        assert raw["type"] == message.type
        assert len(raw["event_id"]) == 36 and raw["time"].endswith("Z")
        assert raw["traceparent"].startswith("00-")


def test_vectors_travel_as_base64_bytes_not_number_lists() -> None:
    values = np.array([0.25, -1.0, 3.5, 0.0], dtype=np.float32)
    raw = as_dict(embedded(values))
    data = raw["vectors"][0]["vector"]["data"]
    assert isinstance(data, str)
    assert data == "AACAPgAAgL8AAGBAAAAAAA=="  # little-endian float32, standard base64
    decoded = decode(json.dumps(raw), expected=ObjectsEmbedded)
    np.testing.assert_array_equal(decoded.vectors[0].vector.to_numpy(), values)


def test_float16_vectors_take_half_the_bytes_and_come_back_as_float32() -> None:
    vector = Vector.from_numpy(np.array([1.0, 0.5, -2.0]), dtype="float16")
    assert len(vector.data) == 6
    out = vector.to_numpy()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [1.0, 0.5, -2.0])


def test_a_vector_whose_bytes_do_not_match_its_dim_is_refused() -> None:
    raw = as_dict(embedded(np.ones(4)))
    raw["vectors"][0]["vector"]["dim"] = 5
    raw["embedder"]["dim"] = 5
    with pytest.raises(SchemaError) as info:
        decode(json.dumps(raw))
    assert info.value.field == "vectors[0].vector"
    assert "16 bytes, expected 5 float32 values" in str(info.value)
    forged = Vector.model_construct(dtype="float32", dim=5, data=b"\0" * 16)
    with pytest.raises(SchemaError, match=r"vector\.dim"):
        forged.to_numpy()


def test_non_finite_or_wrongly_shaped_arrays_do_not_become_vectors() -> None:
    with pytest.raises(SchemaError, match="NaN or infinite"):
        Vector.from_numpy(np.array([1.0, np.nan]))
    with pytest.raises(SchemaError, match="NaN or infinite"):
        Vector.from_numpy(np.array([1e6]), dtype="float16")  # overflows float16
    with pytest.raises(SchemaError, match="1-d array"):
        Vector.from_numpy(np.ones((2, 2)))


def test_vector_dims_must_match_the_embedder() -> None:
    with pytest.raises(ValueError, match=r"vectors\[0\].vector.dim 3 does not match"):
        embedded(np.ones(3), dim=4)


def test_a_malformed_box_is_named_in_a_one_line_error() -> None:
    raw = as_dict(detected())
    raw["objects"][0]["box"] = [1, 2, 3]
    with pytest.raises(SchemaError) as info:
        decode(json.dumps(raw))
    error = info.value
    assert isinstance(error, CatalensError) and error.reason == "schema_error"
    assert error.field == "objects[0].box"
    assert str(error).startswith("objects[0].box: expected 4 integers")
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    ("box", "problem"),
    [
        ([1.5, 2, 3, 4], "expected 4 integers"),
        ([5, 5, 5, 9], "x1 < x2"),
        ([0, 0, 641, 10], "outside the 640x480 image"),
    ],
)
def test_boxes_must_be_integer_ordered_and_inside_the_image(box: list, problem: str) -> None:
    raw = as_dict(detected())
    raw["objects"][0]["box"] = box
    with pytest.raises(SchemaError, match=problem):
        decode(json.dumps(raw))


def test_types_are_strict_and_unknown_fields_are_refused() -> None:
    with pytest.raises(SchemaError, match=r"^width: "):
        decode(with_changes(detected(), width="640"))
    with pytest.raises(SchemaError, match=r"^colour: Extra inputs are not permitted"):
        decode(with_changes(MESSAGES[3], colour="red"))


def test_an_unknown_major_version_is_refused_naming_the_supported_one() -> None:
    with pytest.raises(SchemaError) as info:
        decode(with_changes(detected(), schema_version="2.0"))
    assert info.value.field == "schema_version"
    assert "unsupported major version 2.0" in str(info.value) and "1.x" in str(info.value)
    with pytest.raises(ValueError, match="unsupported major version"):
        detected(schema_version="2.1")


def test_a_newer_minor_version_is_accepted_and_its_new_fields_dropped() -> None:
    raw = as_dict(detected()) | {"schema_version": "1.4", "new_field": "x"}
    raw["objects"][0]["new_nested_field"] = [1, 2]
    raw["detector"]["licence"] = "agpl"
    message = decode(json.dumps(raw))
    assert isinstance(message, ObjectsDetected) and message.schema_version == "1.4"
    assert message.objects == detected().objects


def test_decode_names_missing_envelope_fields_and_unknown_or_unexpected_types() -> None:
    raw = as_dict(detected())
    del raw["traceparent"]
    with pytest.raises(SchemaError, match=r"^traceparent: missing"):
        decode(json.dumps(raw))
    with pytest.raises(SchemaError, match=r"^type: unknown message type 'objects.eaten'"):
        decode(with_changes(detected(), type="objects.eaten"))
    with pytest.raises(SchemaError, match=r"^type: expected objects.embedded, objects.deleted"):
        decode(encode(detected()), expected=(ObjectsEmbedded, ObjectsDeleted))
    with pytest.raises(SchemaError, match="not valid UTF-8 JSON"):
        decode(b"\xff{")
    with pytest.raises(SchemaError, match="must be a JSON object"):
        decode(b"[1]")


def test_times_must_carry_a_zone_and_are_kept_in_utc() -> None:
    with pytest.raises(SchemaError, match=r"^time: "):
        decode(with_changes(detected(), time="2025-01-01T10:00:00"))
    local = datetime(2025, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert detected(time=local).time == datetime(2025, 1, 1, 10, 0, tzinfo=UTC)


def test_messages_must_say_which_image_they_are_about() -> None:
    with pytest.raises(ValueError, match="give image_id or bucket and key"):
        ImageDeleted(producer="minio", bucket="images")
    with pytest.raises(ValueError, match="give etag or sha256"):
        ImageUploaded(producer="ui", image_id=IMAGE_ID, bucket="b", key="k", size=1)


def test_every_event_about_one_stored_image_shares_its_partition_key() -> None:
    uri = "s3://images/a/b.jpg"
    upload, bucket_delete = MESSAGES[0], MESSAGES[1]
    tombstone = ObjectsDeleted(producer="detector", image_uri=uri)
    vectors = embedded(np.ones(4)).model_copy(update={"image_uri": uri})
    keys = {
        schemas.partition_key(m)
        for m in (upload, bucket_delete, detected(image_uri=uri), tombstone, vectors)
    }
    assert keys == {uri.encode()}


def test_an_event_without_a_stored_uri_is_keyed_by_its_image_id() -> None:
    assert schemas.partition_key(embedded(np.ones(4))) == IMAGE_ID.encode()


def test_what_encode_wrote_decodes_in_one_pass_to_the_same_message() -> None:
    from schemas.codec import _fast_path

    for message in MESSAGES:
        fast = _fast_path(encode(message), None)
        assert fast == message == decode(encode(message))


def test_a_bad_message_in_encode_layout_still_gets_the_precise_error() -> None:
    from schemas.codec import _fast_path

    raw = as_dict(embedded(np.ones(4)))
    raw["vectors"][0]["vector"]["dim"] = 5  # the bytes hold 4 values
    data = json.dumps(raw, separators=(",", ":")).encode()
    assert _fast_path(data, None) is None  # fails validation: left to the checking path
    with pytest.raises(SchemaError) as error:
        decode(data)
    assert "vector" in str(error.value)
