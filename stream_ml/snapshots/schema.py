"""SQLite schema of the snapshot store, the pragmas it runs under, and row <-> record helpers."""

from __future__ import annotations

import json
from typing import Any

from stream_ml.snapshots.info import SnapshotInfo

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    version INTEGER PRIMARY KEY AUTOINCREMENT,
    engine TEXT NOT NULL,
    source_offset TEXT NOT NULL,
    events INTEGER NOT NULL,
    event_time REAL,
    created_at REAL NOT NULL,
    config_hash TEXT NOT NULL,
    metrics TEXT NOT NULL,
    parent INTEGER,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    signature TEXT,
    note TEXT,
    codec TEXT NOT NULL,
    python_version TEXT NOT NULL,
    river_version TEXT NOT NULL,
    stream_ml_version TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot_tags (
    version INTEGER NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (version, tag)
);
CREATE INDEX IF NOT EXISTS snapshot_tags_by_tag ON snapshot_tags (tag);
CREATE TABLE IF NOT EXISTS snapshot_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    action TEXT NOT NULL,
    from_version INTEGER,
    to_version INTEGER,
    reason TEXT
);
CREATE TABLE IF NOT EXISTS snapshot_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# WAL (set by the store): readers never block the writer and a commit is one append. The store
# then sets synchronous (FULL by default: the WAL is fsynced at every commit, so a committed
# snapshot survives a killed process *and* a power loss on storage that honours fsync).
PRAGMAS = ("PRAGMA busy_timeout = 5000",)

INFO_COLUMNS = (
    "version, engine, source_offset, events, event_time, created_at, config_hash, metrics, "
    "parent, size, sha256, signature, note, codec, python_version, river_version, "
    "stream_ml_version, (SELECT json_group_array(tag) FROM (SELECT tag FROM snapshot_tags t "
    "WHERE t.version = s.version ORDER BY tag)) AS tags"
)


def signed_context(row: dict[str, Any]) -> bytes:
    """The immutable metadata the signature binds to the payload (as stored in the row)."""
    fields = [
        row["version"],
        row["engine"],
        row["source_offset"],
        row["events"],
        row["event_time"],
        row["created_at"],
        row["config_hash"],
        row["metrics"],
        row["parent"],
    ]
    return json.dumps(fields, separators=(",", ":")).encode()


def info_from_row(row: dict[str, Any]) -> SnapshotInfo:
    """Build a SnapshotInfo from a row selected with INFO_COLUMNS."""
    return SnapshotInfo(
        version=row["version"],
        engine=row["engine"],
        offset=json.loads(row["source_offset"]),
        events=row["events"],
        event_time=row["event_time"],
        created_at=row["created_at"],
        config_hash=row["config_hash"],
        metrics=json.loads(row["metrics"]),
        parent=row["parent"],
        size=row["size"],
        sha256=row["sha256"],
        signature=row["signature"],
        tags=tuple(json.loads(row["tags"] or "[]")),
        note=row["note"],
        codec=row["codec"],
        python_version=row["python_version"],
        river_version=row["river_version"],
        stream_ml_version=row["stream_ml_version"],
    )
