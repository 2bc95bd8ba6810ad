"""A bucket key holds one version at a time: what the handlers decide when new bytes land on a
key (an overwrite), when the same bytes land again, and when the key is deleted (the FAISS view
and the indexer: test_overwrite_index.py)."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import pytest
from PIL import Image

from core.errors import VersionChanged
from core.inference import ModelRunner
from core.settings import CropSettings
from schemas import (
    OBJECTS_DETECTED,
    ImageDeleted,
    ImageUploaded,
    ObjectsDeleted,
    ObjectsDetected,
    SchemaError,
    decode,
    encode,
    image_id_from_bytes,
    image_id_from_object,
)
from services.detector.handler import DetectorPorts, handle_images
from services.embedder.handler import EmbedderPorts
from services.embedder.handler import handle_detected as embed_detected
from tests.fakes.ports import DictStore, MeanColourEmbedder, OneBoxDetector

KEY = "shop/photo.jpg"
URI = "s3://b/shop/photo.jpg"


def _jpeg(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 160), colour).save(buffer, "JPEG")
    return buffer.getvalue()


async def _put(store: DictStore, data: bytes, key: str = KEY) -> ImageUploaded:
    """What MinIO's event says of a put: a version of the key, named by its etag."""
    await store.put(key, data)
    etag = hashlib.md5(data).hexdigest()
    return ImageUploaded(
        producer="minio",
        image_id=image_id_from_object("b", key, etag),
        bucket="b",
        key=key,
        etag=etag,
        size=len(data),
    )


def _ports(store: DictStore) -> DetectorPorts:
    return DetectorPorts(
        store, store, OneBoxDetector(), ModelRunner("t"), CropSettings(min_size=10)
    )


def _shape(out: Any) -> list[tuple[str, str | None, str | None]]:
    """(type, image id, the version a tombstone keeps) of each published message, in order."""
    return [
        (type(m).__name__, m.image_id, getattr(m, "superseded_by", None)) for _, m in out.publish
    ]


# -- the detector: every new version of a key leads with a tombstone that keeps only it --------
async def test_a_new_version_of_a_key_is_preceded_by_a_tombstone_that_keeps_only_itself() -> None:
    store = DictStore()
    old = await _put(store, _jpeg("red"))
    new = await _put(store, _jpeg("blue"))
    out = await handle_images([new], _ports(store))
    assert [t for t, _ in out.publish] == [OBJECTS_DETECTED, OBJECTS_DETECTED]
    tombstone, detected = (m for _, m in out.publish)
    assert isinstance(tombstone, ObjectsDeleted) and isinstance(detected, ObjectsDetected)
    assert (tombstone.image_uri, tombstone.superseded_by) == (URI, new.image_id)
    assert tombstone.image_id is None and tombstone.object_ids is None
    assert detected.image_id == new.image_id != old.image_id


async def test_uploads_and_deletes_of_one_key_in_one_batch_keep_their_order() -> None:
    store = DictStore()
    first = await _put(store, _jpeg("red"))
    second = await _put(store, _jpeg("blue"))
    delete = ImageDeleted(producer="minio", bucket="b", key=KEY)
    out = await handle_images([first, delete, second], _ports(store))
    assert _shape(out) == [
        ("ObjectsDeleted", None, first.image_id),
        ("ObjectsDetected", first.image_id, None),
        ("ObjectsDeleted", None, None),  # the delete: after the first version, before the second
        ("ObjectsDeleted", None, second.image_id),
        ("ObjectsDetected", second.image_id, None),
    ]
    assert out.publish[2][1].image_uri == URI


class VersionedStore(DictStore):
    """A store that, like MinIO, reads conditionally on an etag (md5 of the bytes here)."""

    async def get(self, key: str, version: str | None = None) -> bytes:
        data = await super().get(key)
        if version is not None and hashlib.md5(data).hexdigest() != version:
            raise VersionChanged(key)
        return data


async def test_an_event_of_a_version_the_key_no_longer_holds_is_skipped_without_a_tombstone() -> (
    None
):
    """A reconciler's event that lost the race with a newer upload (or any event read after
    its key was overwritten) must not remove the newer version nor index its bytes."""
    store = VersionedStore()
    old = await _put(store, _jpeg("red"))
    new = await _put(store, _jpeg("blue"))
    out = await handle_images([old, new], _ports(store))
    assert _shape(out) == [
        ("ObjectsDeleted", None, new.image_id),
        ("ObjectsDetected", new.image_id, None),
    ]
    assert out.dead == []


async def test_a_new_version_that_does_not_decode_still_replaces_the_old_one() -> None:
    store = DictStore()
    broken = await _put(store, _jpeg("red")[:300])
    out = await handle_images([broken], _ports(store))
    assert _shape(out) == [("ObjectsDeleted", None, broken.image_id)]
    assert [d.reason for d in out.dead] == ["corrupt_image"]


async def test_a_content_addressed_upload_has_no_other_version_and_needs_no_tombstone() -> None:
    store, data = DictStore(), _jpeg("green")
    image_id = image_id_from_bytes(data)
    await store.put(f"images/{image_id}", data)
    upload = ImageUploaded(
        producer="embedded",
        image_id=image_id,
        bucket="b",
        key=f"images/{image_id}",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    out = await handle_images([upload], _ports(store))
    assert _shape(out) == [("ObjectsDetected", image_id, None)]


def test_a_superseding_tombstone_names_only_the_key_and_survives_the_wire() -> None:
    tombstone = ObjectsDeleted(producer="t", image_uri=URI, superseded_by="a" * 32)
    assert decode(encode(tombstone), ObjectsDeleted) == tombstone
    for wrong in ({"image_id": "b" * 32}, {"object_ids": ["c" * 32]}, {"image_uri": None}):
        raw = tombstone.model_dump(mode="json") | wrong
        with pytest.raises(SchemaError):
            decode(json.dumps(raw), ObjectsDeleted)


# -- the embedder: tombstones keep their place without splitting the batch ---------------------
async def test_a_tombstone_of_another_key_does_not_split_the_embedding_batch() -> None:
    store, embedder = DictStore(), MeanColourEmbedder()
    uploads = [await _put(store, _jpeg(c), f"k/{c}.jpg") for c in ("red", "blue", "white")]
    out = await handle_images(uploads, _ports(store))
    messages = [m for _, m in out.publish]  # (tombstone, detected) per upload
    embedded = await embed_detected(messages, EmbedderPorts(store, embedder, ModelRunner("e")))
    assert embedder.calls == [6]  # three images, two crops each: one model call
    assert [type(m).__name__ for _, m in embedded.publish] == ["ObjectsDeleted"] * 3 + [
        "ObjectsEmbedded"
    ] * 3


async def test_a_tombstone_of_a_key_stays_behind_the_vectors_of_that_key_before_it() -> None:
    store, embedder = DictStore(), MeanColourEmbedder()
    old = await _put(store, _jpeg("red"))
    old_out = await handle_images([old], _ports(store))
    new = await _put(store, _jpeg("blue"))
    new_out = await handle_images([new], _ports(store))
    batch = [m for _, m in old_out.publish + new_out.publish]
    out = await embed_detected(batch, EmbedderPorts(store, embedder, ModelRunner("e")))
    assert _shape(out) == [
        ("ObjectsDeleted", None, old.image_id),
        ("ObjectsEmbedded", old.image_id, None),
        ("ObjectsDeleted", None, new.image_id),
        ("ObjectsEmbedded", new.image_id, None),
    ]
