"""Records returned by the snapshot store: snapshot metadata, skipped and lost snapshots, audit
entries and verification reports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

__all__ = [
    "AuditRecord",
    "Recovered",
    "SkippedSnapshot",
    "SnapshotCheck",
    "SnapshotInfo",
    "SnapshotLoss",
    "StoreReport",
]


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """Metadata of one stored snapshot (everything but the payload).

    ``offset`` and ``metrics`` are the JSON values given to ``save``; ``event_time`` is event time
    (seconds) and ``created_at`` wall-clock time from the store's clock (metadata only).
    ``parent`` is the version this state was restored from or continued after (lineage).

    Examples:
        >>> info = SnapshotInfo(version=3, engine="fraud", offset={"line": 10}, events=10,
        ...     event_time=5.0, created_at=0.0, config_hash="abc", metrics={}, parent=2,
        ...     size=120, sha256="00", signature=None, tags=("prod",), note=None, codec="zlib",
        ...     python_version="3.11.7", river_version="0.26.1", stream_ml_version="0.1.0")
        >>> info.signed, info.version
        (False, 3)
    """

    version: int
    engine: str
    offset: Any
    events: int
    event_time: float | None
    created_at: float
    config_hash: str
    metrics: dict[str, Any] = field(hash=False)
    parent: int | None
    size: int
    sha256: str
    signature: str | None
    tags: tuple[str, ...]
    note: str | None
    codec: str
    python_version: str
    river_version: str
    stream_ml_version: str

    @property
    def signed(self) -> bool:
        """Whether the snapshot carries a signature (not whether it verifies)."""
        return bool(self.signature)


@dataclass(frozen=True, slots=True)
class SkippedSnapshot:
    """A snapshot passed over by ``latest_valid`` and why (``code`` is the error's code).

    Code ``snapshot_lost``: the snapshot was committed but the store no longer holds it.
    """

    version: int
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class SnapshotLoss:
    """Committed snapshots the store no longer holds, found by comparing it with its head file.

    ``first``..``last`` are the versions missing after the newest one the store still holds
    (``newest_found``, None when none is left); ``offset``, ``events`` and ``created_at`` are
    those of ``last``, the newest snapshot ever committed, as the head file recorded them.

    Examples:
        >>> loss = SnapshotLoss(first=6, last=8, newest_found=5, offset={"line": 800},
        ...     events=800, created_at=0.0, reason="the -wal file was missing")
        >>> list(loss.versions)
        [6, 7, 8]
        >>> print(loss.describe())  # doctest: +NORMALIZE_WHITESPACE
        snapshots 6-8 were lost: the -wal file was missing; the newest committed was 8
        (offset {"line": 800}, 800 events); the store now ends at 5
    """

    first: int
    last: int
    newest_found: int | None
    offset: Any
    events: int
    created_at: float
    reason: str

    @property
    def versions(self) -> range:
        """The lost versions, oldest first."""
        return range(self.first, self.last + 1)

    def describe(self) -> str:
        """One line: which versions were lost, why, and what the newest of them held."""
        if self.first == self.last:
            span = f"snapshot {self.first} was"
        else:
            span = f"snapshots {self.first}-{self.last} were"
        now = (
            "the store is now empty"
            if self.newest_found is None
            else f"the store now ends at {self.newest_found}"
        )
        return (
            f"{span} lost: {self.reason}; the newest committed was {self.last} "
            f"(offset {json.dumps(self.offset)}, {self.events} events); {now}"
        )


@dataclass(frozen=True, slots=True)
class SnapshotCheck:
    """How far one snapshot was verified (``status``) and, when refused, why.

    ``status``: ``"verified"`` (signature and metadata check out), ``"unsigned"`` (no signature;
    accepted with trust_unsigned only), ``"unverified"`` (signed, but no key to check it),
    ``"unchecked"`` (format-1 signature: only a full ``verify`` or a load can check it) or
    ``"refused"`` (``code`` and ``reason`` say why: a bad signature, a damaged payload, an edited
    column or tag). ``unsigned_tags`` are tags written without a key (or before schema 2).
    """

    version: int
    status: Literal["verified", "unsigned", "unverified", "unchecked", "refused"]
    code: str | None = None
    reason: str | None = None
    signature_format: int | None = None
    unsigned_tags: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Not refused (unsigned and unverified snapshots are ok only under trust_unsigned)."""
        return self.status != "refused"


@dataclass(frozen=True, slots=True)
class StoreReport:
    """What ``SnapshotStore.verify()`` found: SQLite integrity, lost snapshots, every row."""

    path: str
    integrity: tuple[str, ...]
    lost: SnapshotLoss | None
    head_problem: str | None
    snapshots: tuple[SnapshotCheck, ...]

    @property
    def ok(self) -> bool:
        """No integrity problem, no loss, no damaged head file, no refused snapshot."""
        return (
            not self.integrity
            and self.lost is None
            and self.head_problem is None
            and all(c.ok for c in self.snapshots)
        )


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit entry: a restore or rollback from one version to another, and why."""

    id: int
    at: float
    action: str
    from_version: int | None
    to_version: int | None
    reason: str | None


class Recovered(NamedTuple):
    """What ``latest_valid`` returns: the state, its metadata, and the newer snapshots skipped.

    ``skipped`` lists, newest first, the snapshots lost (code ``snapshot_lost``, see
    ``SnapshotStore.lost``) and then those that did not verify.
    """

    state: object
    info: SnapshotInfo
    skipped: tuple[SkippedSnapshot, ...]
