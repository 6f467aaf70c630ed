"""Snapshots: versioned, checksummed, signed engine state in SQLite, and when to take them.

See ``docs/snapshots.md``. The pieces: :mod:`~stream_ml.snapshots.codec` (bytes, no SQLite),
:class:`SnapshotStore` (SQLite file), :mod:`~stream_ml.snapshots.head` (the head file that makes
lost snapshots visible), :class:`SnapshotPolicy` (when), :func:`state_digest` (canonical hash of
a state for equality checks).
"""

from __future__ import annotations

from stream_ml.snapshots.codec import KEY_ENV_VAR, decode, encode
from stream_ml.snapshots.digest import StateDigestError, state_digest
from stream_ml.snapshots.info import (
    AuditRecord,
    Recovered,
    SkippedSnapshot,
    SnapshotCheck,
    SnapshotInfo,
    SnapshotLoss,
    StoreReport,
)
from stream_ml.snapshots.policy import SnapshotPolicy, SnapshotPolicyConfig
from stream_ml.snapshots.store import SnapshotLost, SnapshotNotFound, SnapshotStore

__all__ = [
    "KEY_ENV_VAR",
    "AuditRecord",
    "Recovered",
    "SkippedSnapshot",
    "SnapshotCheck",
    "SnapshotInfo",
    "SnapshotLoss",
    "SnapshotLost",
    "SnapshotNotFound",
    "SnapshotPolicy",
    "SnapshotPolicyConfig",
    "SnapshotStore",
    "StateDigestError",
    "StoreReport",
    "decode",
    "encode",
    "state_digest",
]
