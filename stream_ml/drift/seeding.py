"""Seeds for the drift detectors: every generator derives from a seed given from above.

Nothing in :mod:`stream_ml.drift` draws from OS entropy. A detector built with ``seed=None``
uses :data:`DEFAULT_SEED`; a monitor derives one child seed per detector it builds from its own
seed (the engine's, mixed with the monitor's index) and the names of the fields that detector
watches, so that adding a field or a monitor does not reshuffle the others' draws.
:func:`derive_seed` uses :class:`numpy.random.SeedSequence` spawn keys, with names mapped to
words by CRC-32 (stable across processes, unlike ``hash()``).

>>> derive_seed(7, "amount") == derive_seed(7, "amount"), derive_seed(7, "a") != derive_seed(7, "b")
(True, True)
>>> derive_seed(None, "x") == derive_seed(DEFAULT_SEED, "x")
True
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["DEFAULT_SEED", "SeedLike", "derive_seed"]

#: the seed of a detector or monitor given none: a fixed value, never OS entropy
DEFAULT_SEED = 0

SeedLike = int | np.random.SeedSequence | None


def _root(seed: SeedLike) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    return np.random.SeedSequence(DEFAULT_SEED if seed is None else int(seed))


def derive_seed(seed: SeedLike, *keys: str | int) -> int:
    """A 64-bit seed derived from ``seed`` and ``keys`` (strings hashed with CRC-32)."""
    root = _root(seed)
    words = tuple(zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in keys)
    child = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, *words))
    return int(child.generate_state(1, np.uint64)[0])
