"""Shared helpers for the snapshot tests: a key, a store factory and raw-row editing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stream_ml.snapshots import SnapshotStore, codec
from stream_ml.snapshots.schema import signed_context

KEY = b"test-key-0123456789"
OTHER_KEY = b"someone-else's-key"


def save(store: SnapshotStore, state: object, n: int, **kw: Any) -> int:
    """Save ``state`` as the n-th snapshot of engine 'e'; returns its version."""
    info = store.save(
        state,
        engine="e",
        offset={"line": n},
        events=n,
        event_time=float(n),
        config_hash="cfg",
        metrics={"acc": n / 100},
        **kw,
    )
    return info.version


def edit_payload(path: Path, version: int, payload: bytes) -> None:
    """Overwrite a snapshot's payload in place with plain sqlite3 (checksum left as it was)."""
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE snapshots SET payload = ? WHERE version = ?", [payload, version])
    con.close()


def read_row(path: Path, version: int) -> dict[str, Any]:
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    row = dict(con.execute("SELECT * FROM snapshots WHERE version = ?", [version]).fetchone())
    con.close()
    return row


def replace_signed(path: Path, version: int, payload: bytes, key: bytes) -> None:
    """Replace a payload *and* re-checksum and re-sign it with ``key`` (a legitimate rewrite)."""
    row = read_row(path, version)
    row.update(payload=payload, sha256=codec.sha256_hex(payload), size=len(payload))
    signature = codec.sign_digest(key, row["sha256"], signed_context(row))
    con = sqlite3.connect(path)
    with con:
        con.execute(
            "UPDATE snapshots SET payload = ?, sha256 = ?, signature = ?, size = ? "
            "WHERE version = ?",
            [payload, row["sha256"], signature, len(payload), version],
        )
    con.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "snapshots.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SnapshotStore]:
    with SnapshotStore(db_path, key=KEY, clock=lambda: 1_700_000_000.0) as s:
        yield s
