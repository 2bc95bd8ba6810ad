"""The reconciler's decisions: which listed objects get the bucket event they never had."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from core.inference import ModelRunner
from core.settings import CropSettings
from core.streaming.reconcile import (
    Listed,
    ReconcileMetrics,
    ReconcilePorts,
    decide,
    reconcile_forever,
    reconcile_once,
)
from core.streaming.s3_events import parse_s3_event
from schemas import ImageUploaded, ObjectsDeleted, ObjectsDetected, partition_key
from services.detector.handler import DetectorPorts, handle_images
from tests.fakes.ports import DictStore, OneBoxDetector
from tests.unit.test_s3_events import minio_record

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(minutes=5)
GRACE_S = 30.0
PER_MESSAGE = {"event_id", "traceparent", "tracestate", "time"}


def listed(key: str, etag: str = "a" * 32, when: datetime = OLD, **meta: str) -> Listed:
    return Listed(key, etag, 1234, when, "image/jpeg", dict(meta))


def ids(events: list[ImageUploaded]) -> list[str]:
    return [e.key for e in events]


def test_a_version_the_catalog_lacks_gets_the_very_event_minio_would_have_sent() -> None:
    obj = listed("shop/a photo.jpg", **{"X-Amz-Meta-Source": "ui"})
    events, tally = decide("catalens", [obj], set(), NOW, GRACE_S)
    record = minio_record(
        "s3:ObjectCreated:Put",
        "shop/a+photo.jpg",
        eTag=obj.etag,
        size=1234,
        contentType="image/jpeg",
        userMetadata={"X-Amz-Meta-Source": "ui"},
    )
    (from_minio,) = parse_s3_event({"Records": [record]})
    (event,) = events
    assert event.model_dump(exclude=PER_MESSAGE) == (from_minio.model_dump(exclude=PER_MESSAGE))
    assert partition_key(event) == partition_key(from_minio) == event.uri.encode()
    assert (tally.listed, tally.known, tally.young, tally.emitted) == (1, 0, 0, 1)


def test_a_version_the_catalog_holds_is_not_emitted() -> None:
    obj = listed("shop/1.jpg")
    (event,), _ = decide("catalens", [obj], set(), NOW, GRACE_S)
    events, tally = decide("catalens", [obj], {event.image_id}, NOW, GRACE_S)
    assert events == [] and tally.known == 1


def test_a_new_version_of_a_key_whose_old_version_is_in_the_catalog_is_emitted() -> None:
    old, new = listed("shop/1.jpg", etag="a" * 32), listed("shop/1.jpg", etag="b" * 32)
    (held,), _ = decide("catalens", [old], set(), NOW, GRACE_S)
    events, _ = decide("catalens", [new], {held.image_id}, NOW, GRACE_S)
    assert [e.etag for e in events] == ["b" * 32]


def test_an_object_younger_than_the_grace_period_is_left_to_its_own_event() -> None:
    young = listed("shop/new.jpg", when=NOW - timedelta(seconds=GRACE_S - 1))
    due = listed("shop/due.jpg", when=NOW - timedelta(seconds=GRACE_S + 1))
    events, tally = decide("catalens", [young, due], set(), NOW, GRACE_S)
    assert ids(events) == ["shop/due.jpg"] and tally.young == 1


def test_folder_markers_are_not_objects() -> None:
    events, tally = decide("catalens", [listed("shop/")], set(), NOW, GRACE_S)
    assert events == [] and tally.listed == 0


class FakeBucket:
    """Pages of a listing, a catalog of ids and a publisher that may fail."""

    def __init__(self, pages: list[list[Listed]], fail_publish: bool = False) -> None:
        self.listing = pages
        self.catalog: set[str] = set()
        self.asked: list[list[str]] = []
        self.published: list[list[ImageUploaded]] = []
        self.fail_publish = fail_publish

    def ports(self) -> ReconcilePorts:
        return ReconcilePorts("catalens", self.pages, self.known, self.publish, now=lambda: NOW)

    async def pages(self) -> AsyncIterator[list[Listed]]:
        for page in self.listing:
            yield page

    async def known(self, image_ids: list[str]) -> set[str]:
        self.asked.append(image_ids)
        return self.catalog & set(image_ids)

    async def publish(self, events: list[ImageUploaded]) -> None:
        if self.fail_publish:
            raise ConnectionError("kafka is down")
        self.published.append(events)


async def test_a_pass_asks_the_catalog_once_a_page_and_publishes_what_each_page_lacks() -> None:
    bucket = FakeBucket([[listed("a.jpg"), listed("b.jpg")], [listed("c.jpg")]])
    (held,), _ = decide("catalens", [listed("b.jpg")], set(), NOW, GRACE_S)
    bucket.catalog.add(held.image_id)
    tally = await reconcile_once(bucket.ports(), GRACE_S)
    assert [len(asked) for asked in bucket.asked] == [2, 1]
    assert [ids(page) for page in bucket.published] == [["a.jpg"], ["c.jpg"]]
    assert (tally.listed, tally.known, tally.emitted) == (3, 1, 2)


async def test_a_version_published_by_an_earlier_pass_is_not_sent_again_by_the_same_process() -> (
    None
):
    bucket = FakeBucket([[listed("never-decodes.jpg")]])  # dead-lettered: never in the catalog
    ports = bucket.ports()
    await reconcile_once(ports, GRACE_S)
    again = await reconcile_once(ports, GRACE_S)
    assert len(bucket.published) == 1 and again.emitted == 0


async def test_a_pass_whose_publish_fails_raises_and_the_next_pass_sends_it() -> None:
    bucket = FakeBucket([[listed("a.jpg")]], fail_publish=True)
    ports = bucket.ports()
    with pytest.raises(ConnectionError):
        await reconcile_once(ports, GRACE_S)
    bucket.fail_publish = False
    assert (await reconcile_once(ports, GRACE_S)).emitted == 1


async def test_a_re_emitted_version_the_catalog_holds_keeps_itself_downstream() -> None:
    """Its event and ours can both arrive: the detector's tombstone keeps the version it names
    and its detections are the same ids again (upserts), so nothing changes."""
    store = DictStore()
    buffer = io.BytesIO()
    Image.new("RGB", (200, 160), "red").save(buffer, "JPEG")
    data = buffer.getvalue()
    await store.put("shop/1.jpg", data)
    obj = Listed("shop/1.jpg", hashlib.md5(data).hexdigest(), len(data), OLD)
    (event,), _ = decide("b", [obj], set(), NOW, GRACE_S)
    again = event.model_copy(update={"event_id": "0" * 32})
    ports = DetectorPorts(store, store, OneBoxDetector(), ModelRunner("t"), CropSettings())
    first, second = [await handle_images([m], ports) for m in (event, again)]
    for out in (first, second):
        tombstone, detected = (m for _, m in out.publish)
        assert isinstance(tombstone, ObjectsDeleted) and isinstance(detected, ObjectsDetected)
        assert tombstone.superseded_by == event.image_id
    assert first.publish[1][1].objects == second.publish[1][1].objects


async def test_the_loop_logs_a_failed_pass_counts_each_pass_and_tries_again() -> None:
    bucket = FakeBucket([[listed("a.jpg")]], fail_publish=True)
    metrics = ReconcileMetrics()
    loop = asyncio.create_task(reconcile_forever(bucket.ports(), 0.01, GRACE_S, metrics))
    await asyncio.sleep(0.05)
    bucket.fail_publish = False
    while not bucket.published:
        await asyncio.sleep(0.01)
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop
    sample = metrics.registry.get_sample_value
    assert sample("catalens_reconciler_emitted_total") == 1
    assert (sample("catalens_reconciler_listed_total") or 0) >= 1
