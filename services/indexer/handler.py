"""Indexer handlers: keep pgvector rows and the FAISS indexes current.

- `objects.detected` → image + object rows (visible as soon as a vector arrives)
- `objects.captioned` → caption and attributes merged into the object's record
- `objects.embedded` → vectors upserted into pgvector (durable first) and then FAISS
- `ObjectsDeleted` (on either topic) → rows and vectors removed everywhere
Every write is an upsert keyed by id, so redelivery changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from catalens.bus import Outcome
from schemas import ObjectsCaptioned, ObjectsDeleted, ObjectsDetected, ObjectsEmbedded
from services.indexer.pg_store import PgStore
from services.indexer.pg_views import ObjectRecord
from services.indexer.registry import IndexRegistry


@dataclass
class IndexerPorts:
    """`indexes`: the in-process FAISS indexes to keep current (embedded mode); None on the
    real stack, where FAISS is a view of the log kept by `LiveIndex` (snapshots + tail)."""

    pg: PgStore
    indexes: IndexRegistry | None


def model_key(message: ObjectsEmbedded) -> str:
    return message.embedder.to_identity().key


async def handle_detected(
    messages: Sequence[ObjectsDetected | ObjectsDeleted], ports: IndexerPorts
) -> Outcome:
    for message in messages:
        if isinstance(message, ObjectsDeleted):
            await _delete(message, ports)
            continue
        await ports.pg.upsert_image(
            message.image_id,
            message.image_uri,
            message.width,
            message.height,
            source=message.source,
            filename=message.filename,
        )
        detector = f"{message.detector.name}@{message.detector.version}"
        records = [
            ObjectRecord(o.object_id, o.kind, o.label, o.score, o.box, o.crop_uri, detector)
            for o in message.objects
        ]
        await ports.pg.upsert_objects(message.image_id, records)
    return Outcome()


async def handle_captioned(messages: Sequence[ObjectsCaptioned], ports: IndexerPorts) -> Outcome:
    for message in messages:
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
            await _delete(message, ports)
            continue
        key = model_key(message)
        for modality in ("image", "caption"):
            items = [v for v in message.vectors if v.modality == modality]
            if not items:
                continue
            ids = [v.object_id for v in items]
            vectors = np.stack([v.vector.to_numpy() for v in items])
            uri = str(message.image_uri) if message.image_uri else None
            await ports.pg.upsert_vectors(key, ids, modality, vectors, (message.image_id, uri))
            if ports.indexes is not None:
                index = ports.indexes.get_or_create(key, modality, message.embedder.dim)
                index.upsert(ids, vectors)
    return Outcome()


async def _delete(message: ObjectsDeleted, ports: IndexerPorts) -> None:
    if message.image_id is not None:
        image_ids = [message.image_id]
    else:  # a bucket delete names only the object: every stored version at that uri goes
        image_ids = await ports.pg.image_ids_by_uri(str(message.image_uri))
    named = list(message.object_ids or ())
    uri = str(message.image_uri) if message.image_uri else None
    removed: list[str] = []
    targets: list[str | None] = [*image_ids] or ([None] if named or uri else [])
    for image_id in targets:
        removed += await ports.pg.delete_image(image_id, also=named, uri=uri)
    ids = named or removed
    for index in ports.indexes.all() if ports.indexes is not None else ():
        index.delete(ids)
