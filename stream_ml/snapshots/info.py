"""Records returned by the snapshot store: snapshot metadata, skipped snapshots, audit entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["AuditRecord", "Recovered", "SkippedSnapshot", "SnapshotInfo"]


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
    """A snapshot passed over by ``latest_valid`` and why (``code`` is the error's code)."""

    version: int
    code: str
    reason: str


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
    """What ``latest_valid`` returns: the state, its metadata, and the newer snapshots skipped."""

    state: object
    info: SnapshotInfo
    skipped: tuple[SkippedSnapshot, ...]
