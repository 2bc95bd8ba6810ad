"""Many strings checked against one of the schemas' patterns at once, for `view_reader`.

Python's `re` spends microseconds on each id, uuid or timestamp. These checks make the same
decision per value with a few C calls per batch: a fixed-width pattern (a uuid4, a traceparent,
a timestamp of one length) becomes a table of the bytes each position admits, looked up for all
values in one numpy gather; a character class with a length range (an id) becomes a length
check and one `bytes.translate`. Values that fit neither shape (say, timestamps of mixed
lengths) go to the pattern itself, one joined string per batch.
tests/unit/test_pattern_batch.py holds each check to its regular expression.
"""

from __future__ import annotations

import re

import numpy as np

_CLASSES = {"h": b"0123456789abcdef", "d": b"0123456789", "V": b"89ab"}


def _table(spec: str) -> np.ndarray:
    """(len(spec), 256): the bytes each position admits; in `spec`, h is a lowercase hex digit,
    d a digit, V one of 89ab, any other character itself."""
    table = np.zeros((len(spec), 256), dtype=bool)
    for i, char in enumerate(spec):
        table[i, list(_CLASSES.get(char, char.encode("ascii")))] = True
    return table


def _ascii(values: list[str]) -> bytes | None:
    try:
        return "".join(values).encode("ascii")
    except UnicodeEncodeError:
        return None


class FixedWidth:
    """A pattern whose values have one of a few layouts, a fixed width each (`specs`)."""

    def __init__(self, pattern: str, *specs: str) -> None:
        one = pattern.removeprefix("^").removesuffix("$")
        self.joined = re.compile(rf"(?:{one})(?:\n(?:{one}))*")
        self.tables = {len(spec): _table(spec) for spec in specs}

    def all_match(self, values: list[str]) -> bool:
        if not values:
            return True
        widths = set(map(len, values))
        width = widths.pop()
        if widths or width not in self.tables:  # mixed or unusual widths: the pattern decides
            joined = "\n".join(values)  # a value holding a newline would split: count them
            return joined.count("\n") == len(values) - 1 and bool(self.joined.fullmatch(joined))
        raw = _ascii(values)
        if raw is None:
            return False
        rows = np.frombuffer(raw, dtype=np.uint8).reshape(len(values), width)
        return bool(self.tables[width][np.arange(width), rows].all())


class CharClass:
    """A pattern `^[chars]{low,high}$`."""

    def __init__(self, chars: bytes, low: int, high: int) -> None:
        self.chars, self.low, self.high = chars, low, high

    def all_match(self, values: list[str]) -> bool:
        if not values:
            return True
        lengths = list(map(len, values))
        if min(lengths) < self.low or max(lengths) > self.high:
            return False
        raw = _ascii(values)
        return raw is not None and not raw.translate(None, self.chars)


_TIME_HEAD = "dddd-dd-ddTdd:dd:dd"
UUID4 = "hhhhhhhh-hhhh-4hhh-Vhhh-hhhhhhhhhhhh"
TRACEPARENT = "00-" + "h" * 32 + "-" + "h" * 16 + "-hh"
TIMES = [_TIME_HEAD + "Z"] + [f"{_TIME_HEAD}.{'d' * n}Z" for n in range(1, 7)]
ID_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
