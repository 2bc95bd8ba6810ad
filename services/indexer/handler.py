"""Indexer handlers: keep the Postgres catalog (rows + pgvector) and the FAISS view current.

- `objects.detected` → image + object rows (visible as soon as a vector arrives)
- `objects.captioned` → caption and attributes merged into the object's record
- `objects.embedded` → vectors upserted into pgvector
- `ObjectsDeleted` (on either topic) → each route removes what it wrote: `objects.detected`
  the image, object and caption rows, the embeddings topic the vectors (an overwrite's keeps
  the version that replaced them; `core.catalog.pg_deletes` says why routes never cross), and
  notes the images it removed, so their captions and caption vectors that arrive late (their
  path is longer than the tombstone's) are dropped, the rule `LogIndex` keeps for FAISS
- the FAISS view: `handle_view` applies `objects.embedded` to a `LogIndex`, the one FAISS
  writer of both runtimes (on Kafka a `LogFollower` applies the topic by offset; in-process the
  bus is a one-partition log whose offsets `LogView` counts)
Every write is an upsert keyed by id, so redelivery changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.catalog.pg_store import PgStore
from core.catalog.pg_views import ObjectRecord
from core.index.log_index import LogIndex, is_late
from core.routes import Outcome
from core.wire import identity_of
from schemas import ObjectsCaptioned, ObjectsDeleted, ObjectsDetected, ObjectsEmbedded

ROWS, VECTORS = "rows", "vectors"  # whose record of removed images a route keeps and reads


@dataclass
class IndexerPorts:
    pg: PgStore


@dataclass
class LogView:
    """A `LogIndex` fed in-process: partition 0, offsets counted from `next_offset`."""

    index: LogIndex
    next_offset: int = 0


async def handle_view(
    messages: Sequence[ObjectsEmbedded | ObjectsDeleted], view: LogView
) -> Outcome:
    """Apply the messages in order, as the next records of partition 0 (idempotent per offset;
    a tombstone removes what its image had, as on the real stack)."""
    records = [(0, view.next_offset + i, message) for i, message in enumerate(messages)]
    view.index.apply_many(records)
    view.next_offset += len(records)
    return Outcome()


def model_key(message: ObjectsEmbedded) -> str:
    return identity_of(message.embedder).key


async def handle_detected(
    messages: Sequence[ObjectsDetected | ObjectsDeleted], ports: IndexerPorts
) -> Outcome:
    for message in messages:
        if isinstance(message, ObjectsDeleted):
            await _delete_rows(message, ports)
            continue
        await ports.pg.unmark_removed(ROWS, message.image_id)  # stored (again): not removed
        detector = f"{message.detector.name}@{message.detector.version}"
        records = [
            ObjectRecord(o.object_id, o.kind, o.label, o.score, o.box, o.crop_uri, detector)
            for o in message.objects
        ]
        await ports.pg.upsert_detected(
            message.image_id,
            message.image_uri,
            message.width,
            message.height,
            records,
            source=message.source,
            filename=message.filename,
        )
    return Outcome()


async def handle_captioned(messages: Sequence[ObjectsCaptioned], ports: IndexerPorts) -> Outcome:
    for message in messages:
        if await ports.pg.is_removed(ROWS, message.image_id):
            continue  # late: a tombstone removed its image while it was being captioned
        attributes = message.attributes.model_dump(exclude_none=True)
        await ports.pg.merge_caption(
            message.object_id, message.caption, attributes, message.captioner
        )
    return Outcome()


async def handle_embedded(
    messages: Sequence[ObjectsEmbedded | ObjectsDeleted], ports: IndexerPorts
) -> Outcome:
    for message in messages:
        if isinstance(message, ObjectsDeleted):
            await _delete_vectors(message, ports)
            continue
        removed = await ports.pg.is_removed(VECTORS, message.image_id)
        if is_late(message, removed):
            continue
        if removed:
            await ports.pg.unmark_removed(VECTORS, message.image_id)
        key = model_key(message)
        for modality in ("image", "caption"):
            items = [v for v in message.vectors if v.modality == modality]
            if not items:
                continue
            ids = [v.object_id for v in items]
            vectors = np.stack([v.vector.to_numpy() for v in items])
            uri = str(message.image_uri) if message.image_uri else None
            await ports.pg.upsert_vectors(key, ids, modality, vectors, (message.image_id, uri))
    return Outcome()


async def _delete_rows(message: ObjectsDeleted, ports: IndexerPorts) -> None:
    """The rows' route: the image named, or every image whose rows are at the uri (a bucket
    delete names only the key) but the one an overwrite keeps."""
    if message.image_id is not None:
        image_ids = [message.image_id]
    else:
        found = await ports.pg.image_ids_by_uri(str(message.image_uri))
        image_ids = [image_id for image_id in found if image_id != message.superseded_by]
    for image_id in image_ids:
        await ports.pg.delete_rows(image_id, also=message.object_ids or ())
    if message.object_ids is None:
        await ports.pg.mark_removed(ROWS, image_ids, keep=message.superseded_by)


async def _delete_vectors(message: ObjectsDeleted, ports: IndexerPorts) -> None:
    """The vectors' route: by the vector rows' own image columns, in this topic's order."""
    uri, keep = (str(message.image_uri) if message.image_uri else None), message.superseded_by
    gone = await ports.pg.delete_vectors(message.image_id, message.object_ids or (), uri, keep)
    if message.object_ids is None:
        named = {message.image_id} if message.image_id is not None else set()
        await ports.pg.mark_removed(VECTORS, sorted((gone | named) - {keep}), keep)
