"""The embedded default's one bootstrap: every service's handlers in one process, on an
in-process bus, over a folder object store, an embedded Postgres + pgvector and in-memory FAISS.

`open_stack(settings)` builds the adapters (models load once), rebuilds FAISS from the stored
vectors so later starts take seconds, wires the handlers, and closes everything on exit."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import faiss

from catalens.adapters.folder_store import FolderObjectStore
from catalens.bus import DeadLetter, Handler, InProcessBus
from catalens.inference import ModelRunner, close_quietly
from catalens.ports import Captioner, Detector, Embedder
from catalens.settings import Settings
from schemas import IMAGES, OBJECTS_CAPTIONED, OBJECTS_DETECTED, OBJECTS_EMBEDDED
from services.captioner import handler as captioner_handler
from services.detector import handler as detector_handler
from services.embedder import handler as embedder_handler
from services.indexer import handler as indexer_handler
from services.indexer.faiss_params import FaissParams
from services.indexer.pg_open import open_pg
from services.indexer.pg_server import EmbeddedPostgres
from services.indexer.pg_store import PgStore
from services.indexer.registry import IndexRegistry

log = logging.getLogger(__name__)


@dataclass
class EmbeddedStack:
    settings: Settings
    bus: InProcessBus
    pg: PgStore
    store: FolderObjectStore
    indexes: IndexRegistry
    detector: Detector
    embedder: Embedder
    captioner: Captioner
    embed_runner: ModelRunner
    pg_server: EmbeddedPostgres | None


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
        indexes = IndexRegistry(
            settings.index.n_shards,
            settings.index.index_type,
            FaissParams(device=settings.index.device),
        )
        captioner_in_use: Captioner | None = captioner
        try:
            the_detector = (
                detector if detector else await detect_runner.run(_load_detector, settings)
            )
            the_embedder = (
                embedder if embedder else await embed_runner.run(_load_embedder, settings)
            )
            captioner_in_use = captioner or _load_captioner(settings, the_embedder)
            await rebuild_indexes(pg, indexes, the_embedder)
            bus = InProcessBus()
            bus.on_dead_letter = functools.partial(_record_dead_letter, settings)
            stack = EmbeddedStack(
                settings, bus, pg, FolderObjectStore(settings.data_dir / "objects"), indexes,
                the_detector, the_embedder, captioner_in_use, embed_runner, server,
            )  # fmt: skip
            _wire(stack, detect_runner)
            yield stack
        finally:
            await close_quietly(captioner_in_use)
            detect_runner.close()
            embed_runner.close()
            indexes.close()


def _load_detector(settings: Settings) -> Detector:
    from services.detector.yolo import YoloDetector

    return YoloDetector.from_settings(settings.detector)


def _load_embedder(settings: Settings) -> Embedder:
    from services.embedder.factory import build_embedder

    return build_embedder(settings.embedder, settings.data_dir)


def _load_captioner(settings: Settings, embedder: Embedder) -> Captioner:
    from services.captioner.factory import build_captioner

    return build_captioner(settings.captioner, embedder)


async def rebuild_indexes(pg: PgStore, indexes: IndexRegistry, embedder: Embedder) -> int:
    """Load the stored vectors of the current model into FAISS; returns how many."""
    key, total = embedder.identity.key, 0
    for modality in ("image", "caption"):
        ids, vectors = await pg.vectors(key, modality)
        if ids:
            index = indexes.get_or_create(key, modality, vectors.shape[1])
            await asyncio.to_thread(index.upsert, ids, vectors)
            total += len(ids)
    log.info("FAISS rebuilt from pgvector: %d vectors of %s", total, key)
    return total


def _wire(stack: EmbeddedStack, detect_runner: ModelRunner) -> None:
    crop = stack.settings.detector.crop
    detector_ports = detector_handler.DetectorPorts(
        stack.store, stack.store, stack.detector, detect_runner, crop
    )
    embedder_ports = embedder_handler.EmbedderPorts(stack.store, stack.embedder, stack.embed_runner)
    captioner_ports = captioner_handler.CaptionerPorts(stack.store, stack.captioner)
    indexer_ports = indexer_handler.IndexerPorts(stack.pg, stack.indexes)
    batch = stack.settings.detector.batch_size
    routes = [
        (IMAGES, "detector", detector_handler.handle_images, detector_ports, batch),
        (OBJECTS_DETECTED, "indexer", indexer_handler.handle_detected, indexer_ports, 64),
        (OBJECTS_DETECTED, "embedder", embedder_handler.handle_detected, embedder_ports, batch),
        (OBJECTS_DETECTED, "captioner", captioner_handler.handle_detected, captioner_ports, batch),
        (OBJECTS_CAPTIONED, "indexer", indexer_handler.handle_captioned, indexer_ports, 256),
        (OBJECTS_CAPTIONED, "embedder", embedder_handler.handle_captioned, embedder_ports, 64),
        (OBJECTS_EMBEDDED, "indexer", indexer_handler.handle_embedded, indexer_ports, 64),
    ]
    for topic, name, handler, ports, size in routes:
        bound: Handler = functools.partial(handler, ports=ports)  # type: ignore[misc,arg-type,operator]
        stack.bus.subscribe(topic, name, bound, size)


def _record_dead_letter(settings: Settings, topic: str, dead: DeadLetter) -> None:
    """Embedded mode keeps its dead letters in `<data_dir>/dlq.jsonl` (one JSON object a line)."""
    message = dead.message
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
