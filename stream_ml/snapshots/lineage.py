"""Lineage and differences between two snapshots' metadata (``SnapshotStore.diff``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stream_ml.snapshots.info import SnapshotInfo

__all__ = ["diff_infos", "is_ancestor"]

DIFF_FIELDS = (
    "engine",
    "offset",
    "events",
    "event_time",
    "config_hash",
    "size",
    "tags",
    "note",
    "python_version",
    "river_version",
    "stream_ml_version",
)


def is_ancestor(version: int, parent: int | None, parents: Mapping[int, int | None]) -> bool:
    """Whether ``version`` is on the parent chain starting at ``parent`` (cycles end the walk).

    >>> is_ancestor(1, 3, {3: 2, 2: 1, 1: None}), is_ancestor(4, 3, {3: 2, 2: 1, 1: None})
    (True, False)
    """
    seen: set[int] = set()
    while parent is not None and parent not in seen:
        if parent == version:
            return True
        seen.add(parent)
        parent = parents.get(parent)
    return False


def diff_infos(a: SnapshotInfo, b: SnapshotInfo, *, ancestor: bool) -> dict[str, Any]:
    """The ``diff`` of two snapshots' metadata: changed fields and metric deltas."""
    changed = {
        f: (getattr(a, f), getattr(b, f)) for f in DIFF_FIELDS if getattr(a, f) != getattr(b, f)
    }
    metrics: dict[str, dict[str, Any]] = {}
    for name in sorted(set(a.metrics) | set(b.metrics)):
        old, new = a.metrics.get(name), b.metrics.get(name)
        if old == new:
            continue
        numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (old, new))
        delta = new - old if numeric else None  # type: ignore[operator]
        metrics[name] = {"from": old, "to": new, "delta": delta}
    return {"from": a.version, "to": b.version, "changed": changed, "metrics": metrics,
            "ancestor": ancestor}  # fmt: skip
