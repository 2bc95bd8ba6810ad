"""A bucket key holds one version at a time, downstream of the handlers: what the FAISS view and the
indexer keep when a tombstone names the version that replaced the others (the detector and the
embedder: test_overwrite.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from core.index.log_index import LogIndex
from schemas import EmbeddedVector, EmbedderRef, ObjectsDeleted, ObjectsEmbedded, Vector
from services.indexer.handler import IndexerPorts, handle_detected, handle_embedded
from tests.unit.test_overwrite import URI

# -- the FAISS view ----------------------------------------------------------------------------
REF = EmbedderRef(backend="t", name="t", version="1", dim=4)


def _vectors(image_id: str, uri: str, objects: Sequence[str]) -> ObjectsEmbedded:
    rng = np.random.default_rng(len(objects))
    return ObjectsEmbedded(
        producer="t",
        image_id=image_id,
        image_uri=uri,
        embedder=REF,
        vectors=[
            EmbeddedVector(
                object_id=oid,
                modality="image",
                vector=Vector.from_numpy(rng.normal(size=4).astype(np.float32)),
            )
            for oid in objects
        ],
    )


def _live(log: LogIndex) -> set[str]:
    return {oid for vectors in log.live().values() for oid in vectors}


def test_the_faiss_view_keeps_only_the_version_an_overwrite_names() -> None:
    log = LogIndex("t", 1)
    records: list[ObjectsEmbedded | ObjectsDeleted] = [
        _vectors("old", URI, ["old-1", "old-2"]),
        _vectors("other", "s3://b/other.jpg", ["other-1"]),
        ObjectsDeleted(producer="t", image_uri=URI, superseded_by="new"),
        _vectors("new", URI, ["new-1"]),
    ]
    log.apply_many((0, offset, message) for offset, message in enumerate(records))
    assert _live(log) == {"other-1", "new-1"}
    again = ObjectsDeleted(producer="t", image_uri=URI, superseded_by="new")  # the same bytes
    log.apply(0, len(records), again)
    assert _live(log) == {"other-1", "new-1"}
    assert log.maps[0].images_at_uri[URI] == {"new"}
    log.apply(0, len(records) + 1, ObjectsDeleted(producer="t", image_uri=URI))  # the key goes
    assert _live(log) == {"other-1"} and URI not in log.maps[0].images_at_uri


def _captions(image_id: str, uri: str, objects: Sequence[str]) -> ObjectsEmbedded:
    message = _vectors(image_id, uri, objects)
    vectors = [v.model_copy(update={"modality": "caption"}) for v in message.vectors]
    return message.model_copy(update={"vectors": vectors})


def test_late_caption_vectors_of_a_replaced_version_are_dropped_even_after_a_restore() -> None:
    """Captions take the longer path (captioner, embedder): the old version's can reach the log
    after the tombstone that replaced it; they are late, and a snapshot remembers that."""
    from core.index.partition_snapshot import encode_partition, restore_partition

    log = LogIndex("t", 1)
    records: list[ObjectsEmbedded | ObjectsDeleted] = [
        _vectors("old", URI, ["old-1"]),
        ObjectsDeleted(producer="t", image_uri=URI, superseded_by="new"),
        _vectors("new", URI, ["new-1"]),
    ]
    log.apply_many((0, offset, message) for offset, message in enumerate(records))
    restored = LogIndex("t", 1)
    restore_partition(restored, encode_partition(log, 0))
    for view in (log, restored):
        view.apply(0, 3, _captions("old", URI, ["old-1"]))  # late
        view.apply(0, 4, _captions("new", URI, ["new-1"]))
        assert _live(view) == {"new-1"}
        assert view.live()[f"{_key()}:caption"].keys() == {"new-1"}
        view.apply(0, 5, ObjectsDeleted(producer="t", image_uri=URI, superseded_by="old"))
        view.apply(0, 6, _vectors("old", URI, ["old-1"]))  # the old bytes stored again
        view.apply(0, 7, _captions("old", URI, ["old-1"]))
        assert view.live()[f"{_key()}:caption"].keys() == {"old-1"}


def _key() -> str:
    from core.wire import identity_of

    return identity_of(REF).key


# -- the indexer's decision: which versions at the key go, on each route -----------------------
class _RecordingPg:
    def __init__(self, at_uri: list[str]) -> None:
        self.at_uri, self.calls = at_uri, []  # type: ignore[var-annotated]

    async def image_ids_by_uri(self, uri: str) -> list[str]:
        self.calls.append(("rows at", uri))
        return list(self.at_uri)

    async def delete_rows(self, image_id: str, also: Sequence[str] = ()) -> list[str]:
        self.calls.append(("rows", image_id))
        return []

    async def delete_vectors(self, image_id: Any, object_ids: Any, uri: Any, keep: Any) -> set[str]:
        self.calls.append(("vectors", image_id, uri, keep))
        return {"old"}

    async def mark_removed(self, route: str, image_ids: Sequence[str], keep: Any) -> None:
        self.calls.append(("removed", route, list(image_ids), keep))


OVERWRITE = ObjectsDeleted(producer="t", image_uri=URI, superseded_by="new")


async def test_the_rows_route_removes_every_other_version_whose_rows_are_at_the_key() -> None:
    pg = _RecordingPg(["old", "older", "new"])
    await handle_detected([OVERWRITE], IndexerPorts(pg))  # type: ignore[arg-type]
    assert pg.calls == [
        ("rows at", URI),
        ("rows", "old"),
        ("rows", "older"),
        ("removed", "rows", ["old", "older"], "new"),
    ]
    again = _RecordingPg(["new"])  # the same bytes uploaded again: nothing goes
    await handle_detected([OVERWRITE], IndexerPorts(again))  # type: ignore[arg-type]
    assert again.calls == [("rows at", URI), ("removed", "rows", [], "new")]


async def test_the_vectors_route_removes_by_its_own_rows_at_the_key_and_keeps_the_new_one() -> None:
    pg = _RecordingPg(["newer"])  # what the rows' route, ahead of this one, already wrote
    await handle_embedded([OVERWRITE], IndexerPorts(pg))  # type: ignore[arg-type]
    assert pg.calls == [  # never the rows' table
        ("vectors", None, URI, "new"),
        ("removed", "vectors", ["old"], "new"),
    ]
