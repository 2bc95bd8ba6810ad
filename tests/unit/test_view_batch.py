"""A replay's usual poll of views applied at once (`core.index.view_batch`) ends exactly where
the record loop over the same messages does: vectors, positions and every image map."""

from __future__ import annotations

import random

import numpy as np
import pytest

from core.index.log_index import LogIndex, Record
from core.index.view_batch import apply_views
from schemas import ObjectsDeleted, ObjectsEmbedded
from schemas.frames import encode_frame
from schemas.view_reader import read_embedded
from tests.unit.test_log_index import (
    assert_same,
    flat,
    random_log,
    replay,
    truth,
    unit,
    vectors_event,
)


def as_views(records: list[Record]) -> list[Record]:
    """Every ObjectsEmbedded as the follower reads it from a vector frame (in one batch, as a
    poll's views share their embedder)."""
    embedded = [i for i, (_, _, m) in enumerate(records) if isinstance(m, ObjectsEmbedded)]
    frames = [encode_frame(records[i][2]) for i in embedded]  # type: ignore[arg-type]
    out = list(records)
    for i, view in zip(embedded, read_embedded(frames), strict=True):
        assert view is not None
        out[i] = (records[i][0], records[i][1], view)
    return out


def assert_same_state(a: LogIndex, b: LogIndex) -> None:
    assert a.positions == b.positions and a.applied == b.applied
    assert_same(flat(a), flat(b))
    for ma, mb in zip(a.maps, b.maps, strict=True):
        assert {k: v for k, v in ma.objects_of_image.items() if v} == {
            k: v for k, v in mb.objects_of_image.items() if v
        }
        assert dict(ma.images_at_uri) == dict(mb.images_at_uri)
        assert ma.uri_of_image == mb.uri_of_image and ma.removed == mb.removed


@pytest.mark.parametrize("seed", range(6))
def test_views_in_polls_end_where_the_messages_one_by_one_do(seed: int) -> None:
    records = random_log(seed, images=90)
    np_rng = np.random.default_rng(seed)
    # an object re-put from another partition, in the same poll as its first write
    extra = vectors_event("img-moved", {"img000-o2": unit(np_rng)})
    first_free = max(o for p, o, _ in records if p == 1) + 1
    records.append((1, first_free, extra))
    one_by_one = replay(records, LogIndex("t", 3))
    views = as_views(records)
    batched, rng, start, fast = LogIndex("t", 3), random.Random(seed), 0, 0
    while start < len(views):
        end = start + rng.choice([1, 3, 8, 25])
        poll = views[start:end]
        fast += apply_views(batched, poll)
        batched.apply_many(poll)  # what apply_views took is behind the positions now
        start = end
    assert fast > 0  # some polls took the batch path
    assert_same_state(batched, one_by_one)
    assert_same(flat(batched), truth(records))


def test_a_poll_of_views_is_applied_at_once_and_one_with_a_tombstone_is_not() -> None:
    records = as_views(random_log(1, images=12))
    views = [r for r in records if not isinstance(r[2], ObjectsDeleted)]
    tombstone = next(r for r in records if isinstance(r[2], ObjectsDeleted))
    log = LogIndex("t", 3)
    assert not apply_views(log, [views[0], tombstone])
    assert log.positions == [0, 0, 0] and len(log) == 0  # declined: nothing changed
    first_three = [views[0], views[1], views[2]]
    assert apply_views(log, first_three)
    assert len(log) == sum(len(r[2].object_ids) for r in first_three)  # type: ignore[union-attr]
    assert not apply_views(log, first_three)  # behind the positions now: the loop skips them
