"""SQLite schema of the snapshot store, the pragmas it runs under, and row <-> record helpers.

Schema 2 (this build) adds a ``mac`` to each tag and signs every metadata column a reader trusts
(:func:`signed_context`); a schema-1 store is migrated in place when opened (one ``ALTER TABLE``)
and its snapshots, signed with format 1 (:func:`signed_context_v1`), still load.
"""

from __future__ import annotations

import json
from typing import Any

from stream_ml.snapshots.codec import SIGNATURE_V2
from stream_ml.snapshots.info import SnapshotInfo

SCHEMA_VERSION = 2

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
    mac TEXT,
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


# Every column of a snapshot row but the payload (bound by sha256) and the signature itself:
# what ``list``, ``info``, ``diff`` and ``load`` show or use. Tags are signed one by one.
SIGNED_COLUMNS = (
    "version",
    "engine",
    "source_offset",
    "events",
    "event_time",
    "created_at",
    "config_hash",
    "metrics",
    "parent",
    "size",
    "sha256",
    "note",
    "codec",
    "python_version",
    "river_version",
    "stream_ml_version",
)
# Columns a format-1 signature does not cover but the (signed) payload proves: checked on load.
HEADER_COLUMNS = {
    "codec": "compression",
    "python_version": "python",
    "river_version": "river",
    "stream_ml_version": "stream_ml",
}


def signed_context(row: dict[str, Any]) -> bytes:
    """What a format-2 signature binds (with the payload's SHA-256): every column a reader trusts.

    >>> row = dict.fromkeys(SIGNED_COLUMNS, 1)
    >>> signed_context(row)[:28]
    b'["stream-ml/snapshot/2",1,1,'
    """
    fields = ["stream-ml/snapshot/2", *(row[c] for c in SIGNED_COLUMNS)]
    return json.dumps(fields, separators=(",", ":")).encode()


def signed_context_v1(row: dict[str, Any]) -> bytes:
    """The metadata a format-1 signature (schema 1, before format 2) binds to the payload."""
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


def context_for(row: dict[str, Any]) -> bytes:
    """The context the row's signature was made over (format 2, or format 1 for old rows)."""
    signature = row.get("signature") or ""
    if str(signature).startswith(SIGNATURE_V2) or not signature:
        return signed_context(row)
    return signed_context_v1(row)


def tag_context(version: int, tag: str, sha256: str) -> bytes:
    """What a tag's mac binds: the tag, its snapshot's version and that snapshot's SHA-256."""
    return json.dumps(["stream-ml/tag/1", version, tag, sha256], separators=(",", ":")).encode()


def migrate(db: Any) -> None:
    """Bring a schema-1 store to schema 2 (adds ``snapshot_tags.mac``); idempotent."""
    columns = {r[1] for r in db.execute("PRAGMA table_info(snapshot_tags)").fetchall()}
    if "mac" not in columns:
        db.execute("ALTER TABLE snapshot_tags ADD COLUMN mac TEXT")
    version = str(SCHEMA_VERSION)
    db.execute(
        "UPDATE snapshot_meta SET value = ? WHERE key = 'schema' AND value != ?", [version, version]
    )


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
