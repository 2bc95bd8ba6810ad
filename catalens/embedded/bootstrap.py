"""The embedded default's composition root: every service's routes (`services/*/routes.py`, the
same lists the Kafka apps run) subscribed on an in-process bus, over a folder object store, an
embedded Postgres + pgvector and an in-memory FAISS view (`LogIndex`, the real stack's writer,
fed as a one-partition log).

`open_stack(settings)` builds the adapters (models load once), rebuilds the FAISS view from the
stored vectors so later starts take seconds, subscribes the routes, and closes everything on
exit."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import faiss

from catalens.embedded.aside import AsideWork
from core.bus import InProcessBus, RetryPolicy
from core.catalog.pg_open import open_pg
from core.catalog.pg_server import EmbeddedPostgres
from core.catalog.pg_store import PgStore
from core.embedding.memo import MemoEmbedder
from core.handoff import DecodedImages
from core.index.faiss_params import params_from_settings
from core.index.log_index import LogIndex
from core.inference import ModelRunner, close_quietly
from core.ports import Captioner, Detector, Embedder
from core.routes import DeadLetter
from core.settings import Settings
from core.storage.folder_store import FolderObjectStore
from core.wire import embedder_ref
from schemas import EmbeddedVector, ObjectsEmbedded, Vector
from services.captioner import routes as captioner_routes
from services.captioner.handler import CaptionerPorts
from services.detector import routes as detector_routes
from services.detector.handler import DetectorPorts
from services.embedder import routes as embedder_routes
from services.embedder.handler import EmbedderPorts
from services.indexer import routes as indexer_routes
from services.indexer.handler import IndexerPorts, LogView, handle_view

log = logging.getLogger(__name__)


@dataclass
class EmbeddedStack:
    settings: Settings
    bus: InProcessBus
    pg: PgStore
    store: FolderObjectStore
    view: LogView  # the FAISS view searches read (`view.index.indexes`)
    detector: Detector
    embedder: Embedder
    captioner: Captioner
    embed_runner: ModelRunner
    detect_runner: ModelRunner  # the detector's one model thread (pipeline and query photos)
    pg_server: EmbeddedPostgres | None
    aside: AsideWork  # what gave up on a transient failure, to be finished later
    decoded: DecodedImages = field(default_factory=DecodedImages)  # ingest → detector


@asynccontextmanager
async def open_stack(
    settings: Settings,
    *,
    detector: Detector | None = None,
    embedder: Embedder | None = None,
    captioner: Captioner | None = None,
) -> AsyncIterator[EmbeddedStack]:
    """Models may be passed in (tests share one loaded model); otherwise they load here."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    faiss.omp_set_num_threads(1)  # shards already search in parallel; nested OpenMP thrashes
    async with open_pg(settings) as (pg, server):
        detect_runner, embed_runner = ModelRunner("detector"), ModelRunner("embedder")
        view = LogView(
            LogIndex(
                settings.streaming.embedded_topic,
                partitions=1,
                index_type=settings.index.index_type,
                params=params_from_settings(settings.index),
            )
        )
        captioner_in_use: Captioner | None = captioner
        try:
            the_detector = (
                detector if detector else await detect_runner.run(_load_detector, settings)
            )
            the_embedder = (
                embedder if embedder else await embed_runner.run(_load_embedder, settings)
            )
            if settings.embedder.reuse_vectors:  # the captioner's tags reuse the crop vectors
                the_embedder = MemoEmbedder(the_embedder)
            captioner_in_use = captioner or _load_captioner(settings, the_embedder)
            await rebuild_view(pg, view, the_embedder)
            streaming = settings.streaming
            bus = InProcessBus(
                RetryPolicy(
                    streaming.retry_attempts,
                    streaming.retry_backoff_s,
                    streaming.retry_backoff_max_s,
                )
            )
            aside = AsideWork(settings.data_dir / "aside")
            bus.on_dead_letter = functools.partial(_record_dead_letter, settings, aside)
            stack = EmbeddedStack(
                settings,
                bus,
                pg,
                FolderObjectStore(settings.data_dir / "objects"),
                view,
                the_detector,
                the_embedder,
                captioner_in_use,
                embed_runner,
                detect_runner,
                server,
                aside,
            )
            _subscribe(stack)
            retrying = asyncio.create_task(_look_after(stack), name="look-after")
            try:
                yield stack
            finally:
                retrying.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await retrying
        finally:
            await close_quietly(captioner_in_use)
            detect_runner.close()
            embed_runner.close()
            view.index.close()


async def _look_after(stack: EmbeddedStack) -> None:
    """Every `streaming.aside_retry_s` seconds, until cancelled: start the embedded Postgres
    again if it died (same data dir and port), then retry the work set aside."""
    while True:
        await asyncio.sleep(stack.settings.streaming.aside_retry_s)
        server = stack.pg_server
        try:
            if server is not None and server.running_port() is None:
                log.warning("the embedded Postgres is not running: starting it again")
                await asyncio.to_thread(server.start)
            if len(stack.aside):
                await stack.aside.retry(stack.bus)
        except Exception:  # the next pass tries again
            log.exception("looking after the embedded stack failed; trying again later")


def _load_detector(settings: Settings) -> Detector:
    from core.detection.yolo import YoloDetector

    return YoloDetector.from_settings(settings.detector)


def _load_embedder(settings: Settings) -> Embedder:
    from core.embedding.factory import build_embedder

    return build_embedder(settings.embedder, settings.data_dir)


def _load_captioner(settings: Settings, embedder: Embedder) -> Captioner:
    from services.captioner.factory import build_captioner

    return build_captioner(settings.captioner, embedder)


async def rebuild_view(pg: PgStore, view: LogView, embedder: Embedder) -> int:
    """Replay the stored vectors of the current model into the FAISS view, one message per
    image as the embedder would have sent them; returns how many vectors."""
    identity, total = embedder.identity, 0
    ref = embedder_ref(identity)
    rows = await pg.vector_rows(identity.key)
    for image_id, group in itertools.groupby(rows, key=lambda r: r["image_id"]):
        items = list(group)
        message = ObjectsEmbedded(
            producer="indexer",
            image_id=image_id,
            image_uri=items[0]["image_uri"],
            embedder=ref,
            vectors=[
                EmbeddedVector(
                    object_id=r["object_id"],
                    modality=r["modality"],
                    vector=Vector.from_numpy(r["embedding"]),
                )
                for r in items
            ],
        )
        await handle_view([message], view)
        total += len(items)
    log.info("FAISS view rebuilt from pgvector: %d vectors of %s", total, identity.key)
    return total


def _subscribe(stack: EmbeddedStack) -> None:
    """Every service's routes, exactly as its Kafka app declares them, on the bus."""
    settings = stack.settings
    detector = DetectorPorts(
        stack.store,
        stack.store,
        stack.detector,
        stack.detect_runner,
        settings.detector.crop,
        decoded=stack.decoded,
        max_side=settings.detector.max_side,
    )
    embedder = EmbedderPorts(
        stack.store, stack.embedder, stack.embed_runner, settings.streaming.embedded_topic
    )
    routes = [
        *detector_routes.routes(settings, detector),
        *indexer_routes.routes(settings, IndexerPorts(stack.pg)),
        *embedder_routes.routes(settings, embedder),
        *captioner_routes.routes(settings, CaptionerPorts(stack.store, stack.captioner)),
        indexer_routes.view_route(settings, stack.view),
    ]
    for route in routes:
        stack.bus.subscribe(route)


def _record_dead_letter(settings: Settings, aside: AsideWork, topic: str, dead: DeadLetter) -> None:
    """Embedded mode keeps its dead letters in `<data_dir>/dlq.jsonl` (one JSON object a line);
    the ones that gave up on a transient failure are also kept aside to be finished later."""
    message = dead.message
    aside.on_dead_letter(topic, dead.reason, message)
    body = message.model_dump(mode="json") if hasattr(message, "model_dump") else repr(message)
    record = {
        "time": datetime.now(UTC).isoformat(),
        "topic": topic,
        "reason": dead.reason,
        "detail": dead.detail,
        "message": body,
    }
    with (settings.data_dir / "dlq.jsonl").open("a") as handle:
        handle.write(json.dumps(record) + "\n")
