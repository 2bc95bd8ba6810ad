"""LogIndex and its per-partition snapshots: a pure function of the log, restorable per shard."""

from __future__ import annotations

import random

import numpy as np
import pytest

from core.index.faiss_params import FaissParams
from core.index.log_index import LogIndex
from core.index.partition_snapshot import (
    SnapshotError,
    encode_partition,
    restore_partition,
)
from core.wire import identity_of
from schemas import EmbeddedVector, EmbedderRef, ObjectsDeleted, ObjectsEmbedded, Vector

DIM = 8
REF = EmbedderRef(backend="aligned", name="test", version="1", dim=DIM)
Record = tuple[int, int, ObjectsEmbedded | ObjectsDeleted]


def unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def vectors_event(image: str, objects: dict[str, np.ndarray]) -> ObjectsEmbedded:
    return ObjectsEmbedded(
        producer="test",
        image_id=image,
        image_uri=f"s3://b/{image}.jpg",
        embedder=REF,
        vectors=[
            EmbeddedVector(object_id=oid, modality="image", vector=Vector.from_numpy(v))
            for oid, v in objects.items()
        ],
    )


def random_log(seed: int, partitions: int = 3, images: int = 60) -> list[Record]:
    """Puts, re-puts with new vectors, deletes by image id, by uri and by object id."""
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    offsets = [0] * partitions
    out: list[Record] = []

    def emit(partition: int, message: ObjectsEmbedded | ObjectsDeleted) -> None:
        out.append((partition, offsets[partition], message))
        offsets[partition] += 1

    for i in range(images):
        image, p = f"img{i:03d}", i % partitions
        objects = {f"{image}-o{j}": unit(np_rng) for j in range(3)}
        emit(p, vectors_event(image, objects))
        roll = rng.random()
        if roll < 0.15:
            emit(p, ObjectsDeleted(producer="test", image_id=image))
        elif roll < 0.3:
            emit(p, ObjectsDeleted(producer="test", image_uri=f"s3://b/{image}.jpg"))
        elif roll < 0.4:
            emit(p, ObjectsDeleted(producer="test", image_id=image, object_ids=[f"{image}-o0"]))
        elif roll < 0.55:
            emit(p, vectors_event(image, {f"{image}-o1": unit(np_rng)}))
    return out


def replay(records: list[Record], log: LogIndex) -> LogIndex:
    for partition, offset, message in records:
        log.apply(partition, offset, message)
    return log


def truth(records: list[Record]) -> dict[str, np.ndarray]:
    """Last write wins per object, tombstones remove: what the index must hold."""
    live: dict[str, np.ndarray] = {}
    for _, _, message in records:
        if isinstance(message, ObjectsEmbedded):
            live.update({v.object_id: v.vector.to_numpy() for v in message.vectors})
        else:
            image = message.image_id or str(message.image_uri).rsplit("/", 1)[1][:-4]
            wanted = set(message.object_ids or [k for k in live if k.startswith(image)])
            live = {k: v for k, v in live.items() if k not in wanted}
    return live


def flat(log: LogIndex) -> dict[str, np.ndarray]:
    return log.live().get(f"{identity_of(REF).key}:image", {})


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-6)


@pytest.mark.parametrize("index_type", ["Flat", "HNSW", "IVF-SQ8"])
def test_replaying_the_log_holds_exactly_the_live_objects_with_their_latest_vectors(
    index_type: str,
) -> None:
    records = random_log(seed=1)
    params = FaissParams(nlist=4, train_size=40)
    with_index = replay(records, LogIndex("t", 3, index_type, params))
    expected = truth(records)
    assert 0 < len(expected) < 3 * 60
    if index_type == "IVF-SQ8":  # SQ8 stores vectors quantised (clipped to the trained range)
        assert sorted(flat(with_index)) == sorted(expected)
    else:
        assert_same(flat(with_index), expected)


def test_a_redelivered_record_changes_nothing() -> None:
    records = random_log(seed=2)
    log = replay(records, LogIndex("t", 3))
    before = flat(log)
    replay(records[: len(records) // 2], log)  # offsets behind the positions: ignored
    assert_same(flat(log), before)


@pytest.mark.parametrize("seed", range(5))
def test_snapshots_taken_at_random_points_plus_their_tails_equal_a_replay_from_offset_zero(
    seed: int,
) -> None:
    records = random_log(seed)
    rng = random.Random(seed)
    live = LogIndex("t", 3)
    snapshots: dict[int, bytes] = {}
    for record in records:
        live.apply(*record)
        if rng.random() < 0.1:  # like the follower: partitions snapshot at different offsets
            p = rng.randrange(3)
            snapshots[p] = encode_partition(live, p)
    restarted = LogIndex("t", 3)
    for data in snapshots.values():
        restore_partition(restarted, data)
    assert restarted.positions != [0, 0, 0] and restarted.positions != live.positions
    tail = [r for r in records if r[1] >= restarted.positions[r[0]]]
    assert len(tail) < len(records)
    replay(tail, restarted)
    assert restarted.positions == live.positions
    assert_same(flat(restarted), flat(replay(records, LogIndex("t", 3))))
    assert_same(flat(restarted), truth(records))


def test_a_snapshot_of_another_topic_or_partition_count_is_refused() -> None:
    log = replay(random_log(seed=3), LogIndex("t", 3))
    data = encode_partition(log, 0)
    with pytest.raises(SnapshotError, match="does not fit"):
        restore_partition(LogIndex("other", 3), data)
    with pytest.raises(SnapshotError, match="does not fit"):
        restore_partition(LogIndex("t", 4), data)
    with pytest.raises(SnapshotError, match="index type"):
        restore_partition(LogIndex("t", 3, "HNSW"), data)
    with pytest.raises(SnapshotError, match="not a catalens"):
        restore_partition(LogIndex("t", 3), b"garbage")


def test_a_partitioned_index_keeps_an_object_in_one_shard_when_its_partition_changes() -> None:
    log = LogIndex("t", 2)
    v = np.ones(DIM, dtype=np.float32) / np.sqrt(DIM)
    log.apply(0, 0, vectors_event("a", {"a-o0": v}))
    log.apply(1, 0, vectors_event("a", {"a-o0": -v}))
    index = log.indexes.all()[0]
    assert len(index) == 1 and [len(s) for s in index.shards] == [0, 1]
    np.testing.assert_allclose(flat(log)["a-o0"], -v)


def test_deleting_every_image_leaves_no_vectors_and_no_bookkeeping_behind() -> None:
    records = random_log(seed=4)
    log = replay(records, LogIndex("t", 3))
    offsets = [max(o for p, o, _ in records if p == q) + 1 for q in range(3)]
    for i in range(60):
        image = f"img{i:03d}"
        log.apply(
            i % 3, offsets[i % 3], ObjectsDeleted(producer="t", image_uri=f"s3://b/{image}.jpg")
        )
        offsets[i % 3] += 1
    assert len(log) == 0
    assert all(not m.images_at_uri and not m.uri_of_image for m in log.maps)
    assert all(not m.objects_of_image for m in log.maps)


@pytest.mark.parametrize("seed", range(4))
def test_applying_records_in_batches_ends_exactly_where_applying_them_one_by_one_does(
    seed: int,
) -> None:
    records = random_log(seed, images=80)
    one_by_one = replay(records, LogIndex("t", 3))
    batched = LogIndex("t", 3)
    rng = random.Random(seed)
    start = 0
    while start < len(records):  # batches of random sizes, as the follower's polls give them
        end = start + rng.randint(1, 40)
        batched.apply_many(records[start:end])
        start = end
    assert batched.positions == one_by_one.positions
    assert_same(flat(batched), flat(one_by_one))
    assert_same(flat(batched), truth(records))


def test_a_record_that_cannot_be_applied_is_reported_and_the_batch_goes_on() -> None:
    log = LogIndex("t", 1)
    good = vectors_event("a", {"a-o0": np.ones(DIM, dtype=np.float32) / np.sqrt(DIM)})
    other = EmbedderRef(backend="aligned", name="test", version="1", dim=4)  # same key, dim 4
    bad = good.model_copy(
        update={
            "embedder": other,
            "vectors": [
                EmbeddedVector(
                    object_id="b-o0", modality="image", vector=Vector.from_numpy(np.ones(4))
                )
            ],
        }
    )
    errors: list[tuple[int, int]] = []
    log.apply_many([(0, 0, good), (0, 1, bad)], on_error=lambda p, o, e: errors.append((p, o)))
    assert errors == [(0, 1)] and log.positions == [2]
    assert sorted(flat(log)) == ["a-o0"]


def test_float16_and_float32_vectors_of_one_poll_are_stored_as_their_float32_values() -> None:
    log = LogIndex("t", 1)
    rng = np.random.default_rng(3)
    mixed = ObjectsEmbedded(
        producer="test",
        image_id="h",
        embedder=REF,
        vectors=[
            EmbeddedVector(
                object_id=f"h-o{i}",
                modality="image",
                vector=Vector.from_numpy(unit(rng), dtype="float16" if i % 2 else "float32"),
            )
            for i in range(3)
        ],
    )
    log.apply_many([(0, 0, mixed)])
    assert_same(flat(log), {v.object_id: v.vector.to_numpy() for v in mixed.vectors})
