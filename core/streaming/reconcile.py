"""The reconciler: every object in the bucket whose bucket event never arrived gets one.

MinIO sends each bucket event at once (no queue dir, `minio.notify_queue` off) and drops an
event it cannot send, so a Kafka outage would lose uploads. The reconciler lists the bucket a
page at a time, asks the catalog which of the listed versions it holds (image ids are ids of
versions: `image_id_from_object(bucket, key, etag)`), and publishes for the rest the very
ImageUploaded a bucket event makes (`s3_events.uploaded_event`: same id, same partition key).

Decisions (`decide`) are pure; the listing, the catalog and the publisher are ports
(`ReconcilePorts`, opened by `reconcile_io.open_reconciler`). An object younger than the grace
period is left to its own event, still on its way. A re-emitted version the catalog already
holds (its event and ours both arrive) changes nothing downstream: the detector's tombstone
supersedes only *other* versions of the key, and every write is an upsert by id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge

from core.streaming.s3_events import uploaded_event
from schemas import ImageUploaded, image_id_from_object

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listed:
    """One object of a bucket listing (its current version)."""

    key: str
    etag: str
    size: int
    last_modified: datetime
    content_type: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class Tally:
    """What one pass saw and did."""

    listed: int = 0
    young: int = 0  # inside the grace period: left to their own event
    known: int = 0  # already in the catalog (or published by an earlier pass)
    emitted: int = 0
    seconds: float = 0.0

    def add(self, other: Tally) -> None:
        self.listed += other.listed
        self.young += other.young
        self.known += other.known
        self.emitted += other.emitted


def decide(
    bucket: str,
    page: Sequence[Listed],
    known: set[str],
    now: datetime,
    grace_s: float,
) -> tuple[list[ImageUploaded], Tally]:
    """The events to publish for one page: versions the catalog lacks that are older than the
    grace period (folder markers, keys ending in `/`, are not objects)."""
    tally, events = Tally(), []
    cutoff = now - timedelta(seconds=grace_s)
    for obj in page:
        if obj.key.endswith("/"):
            continue
        tally.listed += 1
        if image_id_from_object(bucket, obj.key, obj.etag) in known:
            tally.known += 1
        elif obj.last_modified > cutoff:
            tally.young += 1
        else:
            events.append(
                uploaded_event(bucket, obj.key, obj.etag, obj.size, obj.content_type, obj.metadata)
            )
    tally.emitted = len(events)
    return events, tally


def image_ids(bucket: str, page: Sequence[Listed]) -> list[str]:
    """The ids the catalog is asked about for a page (the ids `decide` compares)."""
    return [image_id_from_object(bucket, o.key, o.etag) for o in page if not o.key.endswith("/")]


@dataclass
class ReconcilePorts:
    bucket: str
    pages: Callable[[], AsyncIterator[list[Listed]]]  # the bucket's objects, a page at a time
    known: Callable[[list[str]], Awaitable[set[str]]]  # which of these image ids the catalog has
    publish: Callable[[list[ImageUploaded]], Awaitable[None]]  # to the images topic, keyed
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # ids this process published already: an image that never reaches the catalog (one that
    # does not decode is dead-lettered) is sent once per process, not once per pass
    emitted: set[str] = field(default_factory=set)


class ReconcileMetrics:
    """Prometheus counters of the reconciler, in a registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = reg = registry or CollectorRegistry()
        prefix = "catalens_reconciler"
        self.listed = Counter(f"{prefix}_listed", "bucket objects listed", registry=reg)
        self.emitted = Counter(
            f"{prefix}_emitted",
            "ImageUploaded events published for objects the catalog lacked",
            registry=reg,
        )
        self.young = Counter(f"{prefix}_young", "objects left to their own event", registry=reg)
        self.last_pass = Gauge(
            f"{prefix}_last_pass_timestamp_seconds", "when the last pass ended", registry=reg
        )

    def record(self, tally: Tally) -> None:
        self.listed.inc(tally.listed)
        self.emitted.inc(tally.emitted)
        self.young.inc(tally.young)
        self.last_pass.set(time.time())


async def reconcile_once(
    ports: ReconcilePorts, grace_s: float, metrics: ReconcileMetrics | None = None
) -> Tally:
    """One pass over the bucket; publishes each page's missing versions before the next page."""
    start, total = time.monotonic(), Tally()
    async for page in ports.pages():
        known = await ports.known(image_ids(ports.bucket, page))
        events, tally = decide(ports.bucket, page, known | ports.emitted, ports.now(), grace_s)
        if events:
            await ports.publish(events)
            ports.emitted.update(e.image_id for e in events)
            for event in events:
                log.info(
                    "reconcile: %s/%s had no event: emitted %s",
                    event.bucket,
                    event.key,
                    event.image_id,
                )
        total.add(tally)
    total.seconds = time.monotonic() - start
    if metrics is not None:
        metrics.record(total)
    log.info(
        "reconcile: %d objects listed, %d in the catalog, %d younger than %.0f s, %d emitted "
        "(%.2f s)",
        total.listed,
        total.known,
        total.young,
        grace_s,
        total.emitted,
        total.seconds,
    )
    return total


async def reconcile_forever(
    ports: ReconcilePorts, every_s: float, grace_s: float, metrics: ReconcileMetrics | None = None
) -> None:
    """A pass every `every_s`; a pass that fails (Kafka or the catalog away) is logged and the
    next one tries again: the bucket is the truth, so nothing is lost by waiting."""
    while True:
        try:
            await reconcile_once(ports, grace_s, metrics)
        except Exception:  # any failure: log it, try again next interval
            log.exception("reconcile: the pass failed; next try in %.0f s", every_s)
        await asyncio.sleep(every_s)
