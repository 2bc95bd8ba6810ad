"""Each batch check of `schemas.pattern_batch` decides every value as its schema pattern does."""

from __future__ import annotations

import random
import re

import pytest

from schemas.base import ID_PATTERN, URI_PATTERN
from schemas.embedded_reader import TIME_PATTERN
from schemas.envelope import EVENT_ID_PATTERN, TRACEPARENT_PATTERN, new_traceparent
from schemas.view_reader import _CHECKS

VALID = {
    "event_id": ("6f1d5a1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f", EVENT_ID_PATTERN),
    "traceparent": (new_traceparent(), TRACEPARENT_PATTERN),
    "time": ("2026-11-30T20:15:18.491001Z", TIME_PATTERN),
    "id": ("img-00000001:o2", ID_PATTERN),
    "uri": ("s3://bucket/images/a%20b.jpg", URI_PATTERN),
}
ALPHABET = "0123456789abcdefABCDEFxyzXYZ-_.:/%+ \n\tTZé\x00"


def mutated(value: str, rng: random.Random) -> str:
    chars = list(value)
    for _ in range(rng.randint(1, 2)):
        roll, i = rng.random(), rng.randrange(len(chars) + 1)
        if roll < 0.5 and chars:
            chars[min(i, len(chars) - 1)] = rng.choice(ALPHABET)
        elif roll < 0.75:
            chars.insert(i, rng.choice(ALPHABET))
        elif chars:
            del chars[min(i, len(chars) - 1)]
    return "".join(chars)


@pytest.mark.parametrize("kind", VALID)
def test_a_batch_check_agrees_with_the_pattern_on_every_value(kind: str) -> None:
    value, pattern = VALID[kind]
    whole = re.compile(rf"\A(?:{pattern[1:-1]})\Z")
    check, rng = _CHECKS[kind], random.Random(kind)
    values = [value] + [mutated(value, rng) for _ in range(3000)]
    values += ["2026-11-30T20:15:18Z", "2026-11-30T20:15:18.5Z", "a" * 128, "a" * 129, ""]
    for v in values:
        assert check.all_match([v]) == bool(whole.search(v)), (kind, v)
    good = [v for v in values if whole.search(v)]
    bad = [v for v in values if not whole.search(v)]
    assert check.all_match(good) and check.all_match([])
    for v in bad[:200]:  # one bad value spoils the batch, wherever it is
        assert not check.all_match([*good[:50], v, *good[50:100]])
