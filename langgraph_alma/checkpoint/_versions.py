"""Channel versions AlmaSaver hands to LangGraph. Pure code, no I/O.

A version is a width class, a fixed-width counter and a random suffix, in an alphabet
whose characters sort as they count (`0-9A-Za-z`): `1` + 6 counter characters + 7
random ones, 14 characters in all (PostgresSaver's are 49, ours were 23: versions fill
most of a checkpoint row, 9 or so per checkpoint, and key every blob row).

- Versions order as strings as their counters do (LangGraph compares them with `>` and
  takes their `max`); a counter too large for 6 characters takes width class `2` (9
  characters), which sorts after every class `1` version.
- Every version of this format sorts after every version of the previous one
  (`000000000031.82a9db0a08`: 12 hex digits, a dot, 10 random hex digits), which start
  with `0`; `next_version` reads both, so a thread stored before goes on increasing.
- The random suffix (41 bits) keeps two forks of a thread from writing different
  values under one version.

>>> next_version(None)[:7], len(next_version(None))
('1000001', 14)
>>> counter(next_version("00000000031f.82a9db0a08")) == 0x320
True
"""

from __future__ import annotations

import random

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_WIDTHS = {"1": 6, "2": 9}  # width class -> counter characters
_SUFFIX = 7  # random characters: 62**7 > 2**41


def _digits(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, d = divmod(n, 62)
        out.append(ALPHABET[d])
    if n:
        raise OverflowError("a channel version counter beyond 62**9")
    return "".join(reversed(out))


def counter(version: str | int | None) -> int:
    """The counter of a version: ours (either format), or an int LangGraph gave."""
    if version is None:
        return 0
    if isinstance(version, int):
        return version
    text = str(version)
    width = _WIDTHS.get(text[:1])
    if width is not None and len(text) == 1 + width + _SUFFIX:
        n = 0
        for c in text[1 : 1 + width]:
            n = n * 62 + _VALUE[c]
        return n
    return int(text.split(".")[0], 16)  # the previous format, hex


def next_version(current: str | int | None) -> str:
    """The version after `current`."""
    n = counter(current) + 1
    suffix = _digits(random.getrandbits(41), _SUFFIX)
    if n < 62**6:
        return "1" + _digits(n, 6) + suffix
    return "2" + _digits(n, 9) + suffix
