"""MinIO bucket notifications (S3 event JSON on Kafka `images`) → ImageUploaded / ImageDeleted.

MinIO sends one JSON object per event: `{"EventName": "s3:ObjectCreated:Put", "Key":
"bucket/key", "Records": [{"s3": {"bucket": {"name": ...}, "object": {"key": <URL-encoded>,
"size", "eTag", "contentType", "userMetadata"}}}]}`. Keys are query-escaped (`/` → `%2F`,
space → `+`). A delete carries no etag, so its ImageDeleted names the image by bucket and key.
Our own contracts (a JSON object with `type`) are accepted on the same topic.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from pydantic import ValidationError

from schemas import ImageDeleted, ImageUploaded, SchemaError, decode, image_id_from_object
from schemas.codec import json_object

PRODUCER = "minio"
ImageEvent = ImageUploaded | ImageDeleted


def decode_images_record(data: bytes) -> list[ImageEvent]:
    """One record of topic `images`: an S3 event (maybe several records) or one contract."""
    raw = json_object(data)
    if "type" in raw:
        return [decode(data, (ImageUploaded, ImageDeleted))]  # type: ignore[list-item]
    return parse_s3_event(raw)


def parse_s3_event(event: dict[str, Any] | bytes) -> list[ImageEvent]:
    raw = json_object(event) if isinstance(event, bytes) else event
    records = raw.get("Records")
    if not isinstance(records, list) or not records:
        raise SchemaError("not an S3 event: no Records", field="Records")
    return [_one(record, i) for i, record in enumerate(records)]


def _one(record: Any, i: int) -> ImageEvent:
    where = f"Records[{i}]"
    try:
        name = record["eventName"]
        bucket = record["s3"]["bucket"]["name"]
        obj = record["s3"]["object"]
        key = unquote_plus(obj["key"])
    except (KeyError, TypeError) as exc:
        raise SchemaError(f"S3 event record lacks {exc}", field=where) from None
    try:
        if name.startswith("s3:ObjectCreated:"):
            return _uploaded(bucket, key, obj)
        if name.startswith("s3:ObjectRemoved:"):
            return ImageDeleted(producer=PRODUCER, bucket=bucket, key=key)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(map(str, first["loc"])) or "event"
        raise SchemaError(f"{name}: {first['msg']}", field=f"{where}.{path}") from None
    raise SchemaError(f"unsupported S3 event {name!r}", field=f"{where}.eventName")


def _uploaded(bucket: str, key: str, obj: dict[str, Any]) -> ImageUploaded:
    etag = obj.get("eTag")
    if not etag:
        raise SchemaError("an ObjectCreated event without eTag", field="s3.object.eTag")
    return uploaded_event(
        bucket,
        key,
        etag,
        int(obj.get("size") or 0),
        obj.get("contentType"),
        obj.get("userMetadata") or {},
    )


def uploaded_event(
    bucket: str,
    key: str,
    etag: str,
    size: int,
    content_type: str | None,
    metadata: Mapping[str, str],
) -> ImageUploaded:
    """The ImageUploaded of one stored version: a bucket event's, or the reconciler's for an
    object whose event never arrived (the same message, so the same ids and partition)."""
    meta = {k.lower(): v for k, v in metadata.items()}
    return ImageUploaded(
        producer=PRODUCER,
        image_id=image_id_from_object(bucket, key, etag),
        bucket=bucket,
        key=key,
        etag=etag.strip('"'),
        size=size,
        content_type=content_type or meta.get("content-type"),
        source=meta.get("x-amz-meta-source", "s3"),
        filename=meta.get("x-amz-meta-filename", posixpath.basename(key)),
    )
