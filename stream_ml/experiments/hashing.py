"""A stable hash of entity keys to [0, 1), the same in every process and on every machine.

Python's ``hash()`` is salted per process, so it would send one user to different arms in two
workers. This uses BLAKE2b (``hashlib``), salted by the experiment name so that two experiments
split the same users independently.

>>> unit_hash("user-1", "exp") == unit_hash("user-1", "exp")
True
>>> 0.0 <= unit_hash("user-1", "exp") < 1.0
True
"""

from __future__ import annotations

import hashlib

_SCALE = float(2**64)


def unit_hash(key: str, salt: str) -> float:
    """Map ``key`` to a float in [0, 1), uniform over keys, stable across processes."""
    digest = hashlib.blake2b(key.encode(), digest_size=8, person=salt.encode()[:16]).digest()
    return int.from_bytes(digest, "big") / _SCALE


def bucket(u: float, cumulative: list[float]) -> int:
    """Index of the first cumulative weight strictly above ``u`` (the last one if none is).

    >>> bucket(0.3, [0.5, 1.0]), bucket(0.7, [0.5, 1.0]), bucket(1.0, [0.5, 1.0])
    (0, 1, 1)
    """
    for i, c in enumerate(cumulative):
        if u < c:
            return i
    # Round-off left the total a hair under 1: the last arm with positive weight.
    i = len(cumulative) - 1
    while i > 0 and cumulative[i] == cumulative[i - 1]:
        i -= 1
    return i
