"""SnapshotStore on real SQLite files: round trip, corruption fallback, signatures, retention."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import river

from stream_ml.errors import (
    SnapshotCorrupt,
    SnapshotError,
    SnapshotSignatureError,
    SnapshotVersionError,
)
from stream_ml.snapshots import SnapshotNotFound, SnapshotStore, codec
from tests.snapshots.conftest import KEY, OTHER_KEY, edit_payload, read_row, replace_signed, save
from tests.snapshots.test_codec import WritesMarker

ROOT = Path(__file__).resolve().parents[2]


def test_round_trip_and_metadata(store: SnapshotStore) -> None:
    v1 = save(store, {"w": [0.5, 1.5]}, 10, tags=("first",), note="hello")
    v2 = save(store, {"w": [0.7, 1.1]}, 20, parent=v1)
    state, info = store.load(v1)
    assert state == {"w": [0.5, 1.5]}
    assert (info.version, info.engine, info.offset, info.events) == (v1, "e", {"line": 10}, 10)
    assert info.event_time == 10.0 and info.created_at == 1_700_000_000.0
    assert info.tags == ("first",) and info.note == "hello" and info.signed
    assert info.river_version == river.__version__ and info.size == len(
        read_row(store.path, v1)["payload"]
    )
    assert store.info(v1) == info
    assert [i.version for i in store.list()] == [v1, v2]
    recovered = store.latest_valid()
    assert recovered is not None and recovered.info.version == v2 and recovered.skipped == ()
    diff = store.diff(v1, v2)
    assert diff["changed"]["events"] == (10, 20) and diff["ancestor"] is True
    assert diff["metrics"]["acc"]["from"] == 0.1 and diff["metrics"]["acc"]["to"] == 0.2
    with pytest.raises(SnapshotNotFound):
        store.load(99)


def test_empty_store_has_no_latest(store: SnapshotStore) -> None:
    assert store.latest_valid() is None and store.list() == []


@pytest.mark.parametrize("damage", ["flip", "truncate", "zero", "empty"])
def test_damaged_row_falls_back(store: SnapshotStore, damage: str) -> None:
    v1 = save(store, {"n": 1}, 1)
    v2 = save(store, {"n": 2, "pad": list(range(500))}, 2)
    payload = bytearray(read_row(store.path, v2)["payload"])
    if damage == "flip":
        payload[len(payload) // 2] ^= 0x80
    elif damage == "truncate":
        del payload[len(payload) // 3 :]
    elif damage == "zero":
        payload[-64:] = bytes(64)
    else:
        payload = bytearray()
    edit_payload(store.path, v2, bytes(payload))
    with pytest.raises(SnapshotCorrupt, match=f"snapshot {v2}"):
        store.load(v2)
    recovered = store.latest_valid()
    assert recovered is not None
    assert recovered.state == {"n": 1} and recovered.info.version == v1
    assert [(s.version, s.code) for s in recovered.skipped] == [(v2, "snapshot_corrupt")]


def _find_in_file(data: bytes, payload: bytes) -> int:
    """Position in the raw file of a 64-byte run from the middle of the payload."""
    for start in range(len(payload) // 2, len(payload) - 64, 997):
        pos = data.find(payload[start : start + 64])
        if pos >= 0:
            return pos
    raise AssertionError("payload bytes not found in the file")


@pytest.mark.parametrize("damage", ["flip", "zero"])
def test_damaged_file_bytes_fall_back(db_path: Path, damage: str) -> None:
    with SnapshotStore(db_path, key=KEY) as store:
        save(store, {"n": 1}, 1)
        v2 = save(store, {"n": 2, "blob": os.urandom(20_000)}, 2)  # random: stored uncompressed
        payload = read_row(db_path, v2)["payload"]
    assert not Path(f"{db_path}-wal").exists()  # closed: everything is in the main file
    data = bytearray(db_path.read_bytes())
    pos = _find_in_file(bytes(data), payload)
    if damage == "flip":
        data[pos + 10] ^= 0xFF
    else:
        data[pos : pos + 64] = bytes(64)
    db_path.write_bytes(bytes(data))
    with SnapshotStore(db_path, key=KEY) as store:
        recovered = store.latest_valid()
        assert recovered is not None and recovered.state == {"n": 1}
        assert [s.version for s in recovered.skipped] == [v2]


def test_truncated_file_is_refused_clearly(db_path: Path) -> None:
    with SnapshotStore(db_path, key=KEY) as store:
        save(store, {"n": 1}, 1)
        save(store, {"blob": os.urandom(30_000)}, 2)
        store.backup(db_path.with_suffix(".bak"))
    os.truncate(db_path, db_path.stat().st_size - 3 * 4096)
    with pytest.raises(SnapshotCorrupt, match="damaged"):
        SnapshotStore(db_path, key=KEY)
    with SnapshotStore(db_path.with_suffix(".bak"), key=KEY) as store:
        recovered = store.latest_valid()
        assert recovered is not None and recovered.info.version == 2


WRITER = textwrap.dedent(
    """
    import sys, time
    from stream_ml.snapshots import SnapshotStore
    store = SnapshotStore(sys.argv[1], key=sys.argv[2])
    def snap(n):
        store.save({"n": n}, engine="e", offset=n, events=n, event_time=n, config_hash="c")
    snap(1); snap(2)
    store.checkpoint()
    snap(3); snap(4)
    print("ready", flush=True)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("delete_wal", [False, True])
def test_killed_writer_and_deleted_wal(db_path: Path, delete_wal: bool) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db_path), KEY.decode()],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    finally:
        proc.kill()  # SIGKILL: no clean close, the WAL stays behind
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
    wal = Path(f"{db_path}-wal")
    assert wal.exists() and wal.stat().st_size > 0
    if delete_wal:
        wal.unlink()
        Path(f"{db_path}-shm").unlink(missing_ok=True)
    with SnapshotStore(db_path, key=KEY) as store:
        recovered = store.latest_valid()
        assert recovered is not None
        expected = 2 if delete_wal else 4  # without the WAL, only checkpointed snapshots remain
        assert recovered.state == {"n": expected} and recovered.info.version == expected
        assert [i.version for i in store.list()] == list(range(1, expected + 1))
        if delete_wal:  # ... and the loss is reported, not silent
            assert store.lost is not None and list(store.lost.versions) == [3, 4]
            assert [(s.version, s.code) for s in recovered.skipped] == [
                (4, "snapshot_lost"),
                (3, "snapshot_lost"),
            ]
        else:
            assert store.lost is None and recovered.skipped == ()


def test_foreign_and_unsigned_snapshots_refused(db_path: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    with SnapshotStore(db_path, key=KEY) as ours:
        v1 = save(ours, {"n": 1}, 1)
    with SnapshotStore(db_path, key=OTHER_KEY) as theirs:
        v2 = save(theirs, WritesMarker(marker), 2)
    with SnapshotStore(db_path, trust_unsigned=True) as nokey:
        v3 = save(nokey, WritesMarker(marker), 3)
        assert not nokey.info(v3).signed
    with SnapshotStore(db_path, key=KEY) as ours:
        for version in (v2, v3):
            with pytest.raises(SnapshotSignatureError):
                ours.load(version)
        recovered = ours.latest_valid()
        assert recovered is not None and recovered.info.version == v1
        assert [s.code for s in recovered.skipped] == ["snapshot_signature"] * 2
    assert not marker.exists()


def test_no_key_refuses_to_save_or_load(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(codec.KEY_ENV_VAR, raising=False)
    with (
        SnapshotStore(db_path) as store,
        pytest.raises(SnapshotSignatureError, match="no snapshot key"),
    ):
        save(store, {"n": 1}, 1)
    monkeypatch.setenv(codec.KEY_ENV_VAR, KEY.decode())
    with SnapshotStore(db_path) as store:  # key from the environment
        v = save(store, {"n": 1}, 1)
    with SnapshotStore(db_path, key=KEY) as store:
        assert store.load(v)[0] == {"n": 1}


def test_tampered_metadata_is_refused(store: SnapshotStore) -> None:
    v1 = save(store, {"n": 1}, 1)
    v2 = save(store, {"n": 2}, 2)
    con = sqlite3.connect(store.path)
    with con:
        con.execute("UPDATE snapshots SET source_offset = ? WHERE version = ?", ['{"line": 0}', v2])
    con.close()
    with pytest.raises(SnapshotSignatureError):
        store.load(v2)
    recovered = store.latest_valid()
    assert recovered is not None and recovered.info.version == v1


def test_other_river_version_refused(store: SnapshotStore, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    v1 = save(store, {"n": 1}, 1)
    v2 = save(store, WritesMarker(marker), 2)
    payload = read_row(store.path, v2)["payload"]
    here = f'"river":"{river.__version__}"'.encode()
    major, minor, _ = river.__version__.split(".")
    there = f'"river":"{int(major) + 1}.{minor}.0"'.encode()
    replace_signed(store.path, v2, payload.replace(here, there), KEY)
    with pytest.raises(SnapshotVersionError, match=r"River major\.minor"):
        store.load(v2)
    with pytest.raises(SnapshotVersionError):  # not skipped: an environment problem
        store.latest_valid()
    assert store.load(v1)[0] == {"n": 1}
    assert not marker.exists()


def test_retention_keeps_last_k_and_tagged(db_path: Path) -> None:
    with SnapshotStore(db_path, key=KEY, keep_last=3) as store:
        for n in range(1, 8):
            save(store, {"n": n}, n, tags=("golden",) if n == 2 else ())
        assert [i.version for i in store.list()] == [2, 5, 6, 7]
        store.tag(5, "keep")
        save(store, {"n": 8}, 8)
        assert [i.version for i in store.list()] == [2, 5, 6, 7, 8]
        assert [i.version for i in store.list(tag="golden")] == [2]
        store.untag(5, "keep")
        assert store.prune() == [5]
        assert store.prune(keep_last=1) == [6, 7]
        assert save(store, {"n": 9}, 9) == 9
        assert [i.version for i in store.list()] == [2, 8, 9]
        assert store.load(2)[0] == {"n": 2}
    with pytest.raises(SnapshotError):
        SnapshotStore(db_path, key=KEY, keep_last=0)


def test_audit_records_restores_and_rollbacks(db_path: Path) -> None:
    times = iter([10.0, 20.0, 30.0, 40.0])
    with SnapshotStore(db_path, key=KEY, clock=lambda: next(times)) as store:
        v1 = save(store, {"n": 1}, 1)
        v2 = save(store, {"n": 2}, 2)
        state, info = store.restore(v1, from_version=v2, reason="drift alarm", action="rollback")
        assert state == {"n": 1} and info.version == v1
        store.record_audit("restore", to_version=v2, reason="operator")
    with SnapshotStore(db_path, key=KEY) as store:
        audit = store.audit()
    assert [(a.at, a.action, a.from_version, a.to_version, a.reason) for a in audit] == [
        (30.0, "rollback", v2, v1, "drift alarm"),
        (40.0, "restore", None, v2, "operator"),
    ]


def test_bad_metadata_arguments(store: SnapshotStore) -> None:
    with pytest.raises(SnapshotError, match="JSON"):
        store.save({}, engine="e", offset=object(), events=1, event_time=None, config_hash="c")
    from datetime import datetime

    with pytest.raises(SnapshotError, match="timezone-aware"):
        store.save(
            {}, engine="e", offset=1, events=1, event_time=datetime(2024, 1, 1), config_hash="c"
        )
    assert store.list() == []
    info = store.save({}, engine="e", offset=[1, "a"], events=1, event_time=None, config_hash="c")
    assert json.dumps(info.offset) == '[1, "a"]' and info.event_time is None


def test_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database" * 300)
    with pytest.raises(SnapshotCorrupt, match="damaged or not SQLite"):
        SnapshotStore(path, key=KEY)


def test_synchronous_normal_and_bad_value(db_path: Path) -> None:
    with SnapshotStore(db_path, key=KEY, synchronous="NORMAL") as store:
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        v = save(store, {"n": 1}, 1)
    with SnapshotStore(db_path, key=KEY) as store:
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert store.load(v)[0] == {"n": 1}
    with pytest.raises(SnapshotError, match="synchronous"):
        SnapshotStore(db_path, key=KEY, synchronous="OFF")  # type: ignore[arg-type]


def test_docs_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    text = (ROOT / "docs" / "snapshots.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 2
    expected = [
        ["3 {'line': 300} ()", "(100, 300) ['rollback']"],
        ["[3, 4, 5] 2 {'line': 5}", "2 [5, 4, 3]", "[('lost', 2, 5)]"],
    ]
    for code, out in zip(blocks, expected, strict=True):
        exec(compile(code, "docs/snapshots.md", "exec"), {})
        assert capsys.readouterr().out.splitlines() == out
