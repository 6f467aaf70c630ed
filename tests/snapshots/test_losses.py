"""Lost snapshots are reported, never silent: a deleted or damaged -wal file, on real SQLite files.

Each test writes snapshots into a live store with automatic checkpoints off, then copies the
files as a killed process would leave them (main file as of the last checkpoint, the -wal file
holding the newer commits, the head file) and damages the copy.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from river import linear_model

from stream_ml import Engine
from stream_ml.cli_snapshots import snapshots
from stream_ml.snapshots import SnapshotLost, SnapshotStore
from stream_ml.snapshots.head import head_path
from stream_ml.stages.snapshotting import SnapshotStage
from tests.snapshots.conftest import KEY, save


def _crash_image(live: SnapshotStore, dest: Path) -> Path:
    """Copy the store's files as a SIGKILL would leave them (the connection stays open)."""
    dest.mkdir()
    copy = dest / live.path.name
    for suffix in ("", "-wal", "-head"):
        src = Path(f"{live.path}{suffix}")
        if src.exists():
            shutil.copyfile(src, f"{copy}{suffix}")
    return copy


def _wal(path: Path) -> Path:
    return Path(f"{path}-wal")


def _write_five(path: Path) -> tuple[SnapshotStore, dict[int, int]]:
    """v1, v2 checkpointed into the main file; v3..v5 only in the -wal file.

    Returns the open store and the -wal size after each commit of v3..v5.
    """
    store = SnapshotStore(path, key=KEY, clock=lambda: 1_700_000_000.0)
    store.db.execute("PRAGMA wal_autocheckpoint = 0")
    save(store, {"n": 1}, 1)
    save(store, {"n": 2}, 2)
    store.checkpoint()
    wal_after: dict[int, int] = {}
    for n in (3, 4, 5):
        assert save(store, {"n": n}, n) == n
        wal_after[n] = _wal(path).stat().st_size
    return store, wal_after


def _flip(path: Path, pos: int) -> None:
    data = bytearray(path.read_bytes())
    data[pos] ^= 0x04
    path.write_bytes(bytes(data))


def test_deleted_wal_is_reported_and_the_newest_valid_snapshot_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    live, _ = _write_five(tmp_path / "s.db")
    copy = _crash_image(live, tmp_path / "crash")
    live.close()
    _wal(copy).unlink()
    with caplog.at_level(logging.WARNING, "stream_ml.snapshots"), SnapshotStore(copy, key=KEY) as s:
        lost = s.lost
        assert lost is not None
        assert list(lost.versions) == [3, 4, 5] and lost.newest_found == 2
        assert (lost.offset, lost.events) == ({"line": 5}, 5)
        assert lost.created_at == 1_700_000_000.0
        assert "-wal file was missing" in lost.reason
        assert "snapshots 3-5 were lost" in caplog.text
        rec = s.latest_valid()
        assert rec is not None and rec.state == {"n": 2} and rec.info.version == 2
        assert [(k.version, k.code) for k in rec.skipped] == [
            (5, "snapshot_lost"),
            (4, "snapshot_lost"),
            (3, "snapshot_lost"),
        ]
        audit = [(a.action, a.from_version, a.to_version) for a in s.audit()]
        assert audit == [("lost", 2, 5)]
    with SnapshotStore(copy, key=KEY) as s:  # reported again, recorded once
        assert s.lost is not None and list(s.lost.versions) == [3, 4, 5]
        assert [a.action for a in s.audit()] == ["lost"]
        assert save(s, {"n": 6}, 6) == 6  # lost version numbers are never reused
    with SnapshotStore(copy, key=KEY) as s:  # the store is ahead of the head again
        assert s.lost is None
        rec = s.latest_valid()
        assert rec is not None and rec.info.version == 6 and rec.skipped == ()
        assert "snapshots 3-5 were lost" in (s.audit()[0].reason or "")


@pytest.mark.parametrize(
    ("where", "kept"),
    [("frame of v4", 3), ("wal header", 2), ("last frame", 4)],
)
def test_bit_flipped_wal_is_reported(tmp_path: Path, where: str, kept: int) -> None:
    live, wal_after = _write_five(tmp_path / "s.db")
    copy = _crash_image(live, tmp_path / "crash")
    live.close()
    if where == "frame of v4":
        pos = wal_after[3] + 24 + 1000  # page data of the first frame v4 appended
    elif where == "wal header":
        pos = 28  # its checksum: SQLite then ignores the whole file
    else:
        pos = wal_after[5] - 10  # inside the frame that commits v5
    _flip(_wal(copy), pos)
    with SnapshotStore(copy, key=KEY) as s:
        assert s.lost is not None
        assert list(s.lost.versions) == list(range(kept + 1, 6))
        assert "-wal file is damaged" in s.lost.reason
        rec = s.latest_valid()
        assert rec is not None and rec.state == {"n": kept} and rec.info.version == kept
        assert {k.version for k in rec.skipped} == set(range(kept + 1, 6))
        for n in range(1, kept + 1):  # what survived is intact
            assert s.load(n)[0] == {"n": n}


def test_intact_crash_image_reports_nothing(tmp_path: Path) -> None:
    live, _ = _write_five(tmp_path / "s.db")
    copy = _crash_image(live, tmp_path / "crash")
    live.close()
    with SnapshotStore(copy, key=KEY) as s:
        assert s.lost is None and s.integrity == () and s.head_problem is None
        rec = s.latest_valid()
        assert rec is not None and rec.info.version == 5 and rec.skipped == ()
        assert s.audit() == []
        assert s.verify().ok


def _engine() -> Engine:
    return Engine({"lr": linear_model.LogisticRegression()}, seed=1)


def _feed(engine: Engine, start: int, n: int) -> None:
    for i in range(start, start + n):
        x = {"a": (i % 7) / 7, "b": (i % 3) / 3}
        engine.predict(x, id=str(i))
        engine.learn(str(i), i % 2 == 0)


def test_stage_resumes_from_the_newest_valid_and_says_what_was_lost(tmp_path: Path) -> None:
    stage = SnapshotStage.open(str(tmp_path / "s.db"), key=KEY.decode())
    stage.store.db.execute("PRAGMA wal_autocheckpoint = 0")
    engine = _engine()
    engine.snapshots = stage
    for k in range(4):
        _feed(engine, k * 20, 20)
        engine.snapshot(offset=(k + 1) * 20)
        if k == 1:
            stage.store.checkpoint()
    digest_v2 = stage.load(2)[0]["engine"].digest()
    copy = _crash_image(stage.store, tmp_path / "crash")
    stage.close()
    _wal(copy).unlink()
    resumed = SnapshotStage.open(str(copy), key=KEY.decode())
    try:
        assert resumed.lost is not None  # known as soon as the store is open
        rec = resumed.latest()
        assert rec is not None and rec.info.version == 2 and rec.info.offset == 40
        assert rec.state["engine"].digest() == digest_v2  # type: ignore[index]
        assert resumed.parent == 2
        assert resumed.lost is not None and list(resumed.lost.versions) == [3, 4]
        assert resumed.lost.offset == 80 and resumed.lost.events == 80
        assert [k.code for k in resumed.skipped] == ["snapshot_lost"] * 2
        assert resumed.recovery is not None
        assert "resumed from 2; snapshots 3-4 were lost" in resumed.recovery
        engine = rec.state["engine"]  # type: ignore[index]
        engine.snapshots = resumed
        _feed(engine, 40, 5)
        assert engine.snapshot(offset=45).version == 5  # goes on after the lost ones
    finally:
        resumed.close()


def test_everything_lost_starts_over_loudly(tmp_path: Path) -> None:
    live = SnapshotStore(tmp_path / "s.db", key=KEY)
    live.db.execute("PRAGMA wal_autocheckpoint = 0")
    for n in (1, 2, 3):
        save(live, {"n": n}, n)
    copy = _crash_image(live, tmp_path / "crash")
    live.close()
    _wal(copy).unlink()
    with SnapshotStore(copy, key=KEY) as s:
        assert s.list() == [] and s.lost is not None and list(s.lost.versions) == [1, 2, 3]
        with pytest.raises(SnapshotLost, match="no snapshot left") as err:
            s.latest_valid()
        assert [k.version for k in err.value.skipped] == [3, 2, 1]  # type: ignore[attr-defined]
        assert err.value.code == "snapshot_lost"
    stage = SnapshotStage.open(str(copy), key=KEY.decode())
    try:
        assert stage.latest() is None and stage.parent is None
        assert stage.lost is not None and stage.recovery is not None
        assert (
            stage.recovery.endswith("starting from the beginning; " + stage.lost.describe())
            and "the store is now empty" in stage.recovery
        )
    finally:
        stage.close()


def test_damaged_head_is_reported_not_taken_for_a_loss(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SnapshotStore(path, key=KEY) as s:
        save(s, {"n": 1}, 1)
        save(s, {"n": 2}, 2)
    head = head_path(path)
    data = head.read_bytes()
    head.write_bytes(data.replace(b'\\"version\\": 2', b'\\"version\\": 9'))
    assert head.read_bytes() != data  # the version in the head now says 9
    with SnapshotStore(path, key=KEY) as s:
        assert s.lost is None and s.head_problem is not None
        assert "does not verify" in s.head_problem
        report = s.verify()
        assert not report.ok and report.lost is None
        assert save(s, {"n": 3}, 3) == 3  # the forged 9 was not trusted
    with SnapshotStore(path, key=KEY) as s:  # rewritten: usable again
        assert s.head_problem is None and s.lost is None


def test_backup_carries_a_head(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SnapshotStore(path, key=KEY) as s:
        for n in (1, 2):
            save(s, {"n": n}, n)
        s.backup(tmp_path / "b.db")
    assert head_path(tmp_path / "b.db").exists()
    with SnapshotStore(tmp_path / "b.db", key=KEY) as b:
        assert b.lost is None and b.head_problem is None


def test_cli_list_and_verify_print_the_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live, _ = _write_five(tmp_path / "s.db")
    copy = _crash_image(live, tmp_path / "crash")
    live.close()
    _wal(copy).unlink()
    monkeypatch.setenv("STREAM_ML_SNAPSHOT_KEY", KEY.decode())
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    listed = runner.invoke(snapshots, ["list", str(copy)])
    assert listed.exit_code == 0, listed.output
    assert "snapshots 3-5 were lost" in listed.stderr
    verified = runner.invoke(snapshots, ["verify", str(copy), "--json"])
    assert verified.exit_code == 1
    report = json.loads(verified.stdout)
    assert report["ok"] is False and report["lost"]["versions"] == [3, 4, 5]
    assert [c["status"] for c in report["snapshots"]] == ["verified", "verified"]
    healthy = runner.invoke(snapshots, ["verify", str(tmp_path / "s.db")])
    assert healthy.exit_code == 0 and healthy.stdout.strip().endswith("ok")
