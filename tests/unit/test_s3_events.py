"""MinIO's bucket notifications on Kafka `images` become our image contracts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.streaming.s3_events import decode_images_record, parse_s3_event
from schemas import ImageDeleted, ImageUploaded, SchemaError, encode, image_id_from_object

ETAG = "d41d8cd98f00b204e9800998ecf8427e"


def minio_record(event: str, key: str, **obj: Any) -> dict[str, Any]:
    """One record as MinIO writes it (keys query-escaped, as MinIO does)."""
    return {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": "",
        "eventTime": "2025-01-07T10:11:12.345Z",
        "eventName": event,
        "userIdentity": {"principalId": "catalens"},
        "requestParameters": {"principalId": "catalens", "region": "", "sourceIPAddress": "::1"},
        "responseElements": {"x-amz-id-2": "dd9025ba", "x-minio-origin-endpoint": "http://::1"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "catalens-kafka",
            "bucket": {
                "name": "catalens",
                "ownerIdentity": {"principalId": "catalens"},
                "arn": "arn:aws:s3:::catalens",
            },
            "object": {"key": key, "sequencer": "1813B6E1A4F2C2A0", **obj},
        },
        "source": {"host": "::1", "port": "", "userAgent": "MinIO (linux; amd64) minio-py/7.2"},
    }


def minio_event(*records: dict[str, Any]) -> bytes:
    first = records[0]
    key = f"{first['s3']['bucket']['name']}/{first['s3']['object']['key']}"
    return json.dumps(
        {"EventName": first["eventName"], "Key": key, "Records": list(records)}
    ).encode()


def put(key: str, etag: str = ETAG) -> dict[str, Any]:
    return minio_record(
        "s3:ObjectCreated:Put",
        key,
        size=48213,
        eTag=etag,
        contentType="image/jpeg",
        userMetadata={"content-type": "image/jpeg"},
    )


def test_a_put_becomes_an_upload_identified_by_bucket_key_and_etag() -> None:
    [message] = decode_images_record(minio_event(put("shoes/red.jpg")))
    assert isinstance(message, ImageUploaded)
    assert (message.bucket, message.key, message.etag) == ("catalens", "shoes/red.jpg", ETAG)
    assert message.image_id == image_id_from_object("catalens", "shoes/red.jpg", ETAG)
    assert message.size == 48213 and message.content_type == "image/jpeg"
    assert message.filename == "red.jpg" and message.uri == "s3://catalens/shoes/red.jpg"


def test_a_new_version_of_the_same_key_is_a_new_image() -> None:
    [first] = decode_images_record(minio_event(put("a.jpg", etag="1" * 32)))
    [second] = decode_images_record(minio_event(put("a.jpg", etag="2" * 32)))
    assert first.image_id != second.image_id  # type: ignore[union-attr]


def test_url_encoded_keys_are_decoded() -> None:
    [message] = decode_images_record(minio_event(put("summer+2025%2Fblue+dress+%281%29.jpg")))
    assert isinstance(message, ImageUploaded)
    assert message.key == "summer 2025/blue dress (1).jpg"


def test_a_delete_names_the_image_by_bucket_and_key() -> None:
    [message] = decode_images_record(
        minio_event(minio_record("s3:ObjectRemoved:Delete", "shoes%2Fred.jpg"))
    )
    assert isinstance(message, ImageDeleted)
    assert (message.bucket, message.key, message.image_id) == ("catalens", "shoes/red.jpg", None)


def test_every_record_of_an_event_becomes_a_message() -> None:
    messages = decode_images_record(
        minio_event(put("a.jpg"), minio_record("s3:ObjectRemoved:Delete", "b.jpg"), put("c.jpg"))
    )
    assert [type(m) for m in messages] == [ImageUploaded, ImageDeleted, ImageUploaded]
    assert [m.key for m in messages] == ["a.jpg", "b.jpg", "c.jpg"]


def test_our_own_upload_contract_is_accepted_on_the_same_topic() -> None:
    sent = ImageUploaded(
        producer="ui", image_id="a" * 32, bucket="catalens", key="k.jpg", etag=ETAG, size=1
    )
    assert decode_images_record(encode(sent)) == [sent]


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe not json",
        b"[1, 2]",
        b'{"hello": "world"}',
        b'{"EventName": "s3:ObjectCreated:Put", "Records": []}',
        json.dumps({"Records": [{"eventName": "s3:ObjectCreated:Put"}]}).encode(),
    ],
    ids=["bytes", "array", "not-s3", "no-records", "record-without-s3"],
)
def test_a_message_that_is_not_an_s3_event_is_a_schema_error(data: bytes) -> None:
    with pytest.raises(SchemaError):
        decode_images_record(data)


def test_a_put_without_an_etag_is_a_schema_error() -> None:
    record = minio_record("s3:ObjectCreated:Put", "a.jpg", size=3)
    with pytest.raises(SchemaError, match="eTag"):
        parse_s3_event(minio_event(record))


def test_an_event_we_did_not_ask_for_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="unsupported"):
        parse_s3_event(minio_event(minio_record("s3:ObjectAccessed:Get", "a.jpg")))
