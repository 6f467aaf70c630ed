"""Snapshots: versioned, checksummed, signed engine state in SQLite, and when to take them.

See ``docs/snapshots.md``. The pieces: :mod:`~stream_ml.snapshots.codec` (bytes, no SQLite),
:class:`SnapshotStore` (SQLite file), :class:`SnapshotPolicy` (when), :func:`state_digest`
(canonical hash of a state for equality checks).
"""

from __future__ import annotations

from stream_ml.snapshots.codec import KEY_ENV_VAR, decode, encode
from stream_ml.snapshots.digest import StateDigestError, state_digest
from stream_ml.snapshots.info import AuditRecord, Recovered, SkippedSnapshot, SnapshotInfo
from stream_ml.snapshots.policy import SnapshotPolicy, SnapshotPolicyConfig
from stream_ml.snapshots.store import SnapshotNotFound, SnapshotStore

__all__ = [
    "KEY_ENV_VAR",
    "AuditRecord",
    "Recovered",
    "SkippedSnapshot",
    "SnapshotInfo",
    "SnapshotNotFound",
    "SnapshotPolicy",
    "SnapshotPolicyConfig",
    "SnapshotStore",
    "StateDigestError",
    "decode",
    "encode",
    "state_digest",
]
