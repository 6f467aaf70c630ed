"""What a reader trusts is signed: every metadata column, every tag; the trust_unsigned rule;
stores written before schema 2; a verified payload that is not an engine."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import river
from click.testing import CliRunner
from river import linear_model

from stream_ml import Engine
from stream_ml.cli_snapshots import snapshots
from stream_ml.errors import SnapshotCorrupt, SnapshotError, SnapshotSignatureError
from stream_ml.snapshots import SnapshotStore, codec, decode, encode
from stream_ml.snapshots.schema import SCHEMA, signed_context_v1
from stream_ml.stages.snapshotting import NotAnEngineSnapshot, SnapshotStage
from tests.snapshots.conftest import KEY, OTHER_KEY, read_row, save
from tests.snapshots.test_codec import WritesMarker


def _sql(path: Path, sql: str, params: list[object] | None = None) -> None:
    con = sqlite3.connect(path)
    with con:
        con.execute(sql, params or [])
    con.close()


EDITS = {
    "river_version": "0.0.1",
    "python_version": "2.7.18",
    "stream_ml_version": "9.9.9",
    "codec": "lzma",
    "size": 1,
    "note": "approved by ops",
    "created_at": 1.0,
    "config_hash": "other-config",
    "metrics": '{"acc": 0.99}',
    "parent": 42,
}


@pytest.mark.parametrize("column", sorted(EDITS))
def test_edited_metadata_column_is_refused(store: SnapshotStore, column: str) -> None:
    v1 = save(store, {"n": 1}, 1)
    v2 = save(store, {"n": 2}, 2, note="n2")
    _sql(store.path, f"UPDATE snapshots SET {column} = ? WHERE version = ?", [EDITS[column], v2])
    with pytest.raises(SnapshotSignatureError, match=f"snapshot {v2}") as err:
        store.load(v2)
    assert err.value.code == "snapshot_signature"
    checks = {c.version: c for c in store.checks()}  # metadata only, no payload read
    assert checks[v1].status == "verified" and checks[v1].signature_format == 2
    assert checks[v2].status == "refused" and checks[v2].code == "snapshot_signature"
    assert not store.verify().ok
    recovered = store.latest_valid()
    assert recovered is not None and recovered.info.version == v1
    assert [(s.version, s.code) for s in recovered.skipped] == [(v2, "snapshot_signature")]


def test_edited_column_is_refused_even_with_trust_unsigned(db_path: Path) -> None:
    with SnapshotStore(db_path, key=KEY) as s:
        v = save(s, {"n": 1}, 1)
    _sql(db_path, "UPDATE snapshots SET river_version = '0.0.1' WHERE version = ?", [v])
    with SnapshotStore(db_path, key=KEY, trust_unsigned=True) as s:
        with pytest.raises(SnapshotSignatureError):
            s.load(v)
        assert s.checks()[0].status == "refused"


def test_cli_list_flags_an_edited_column(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with SnapshotStore(db_path, key=KEY) as s:
        save(s, {"n": 1}, 1)
        v2 = save(s, {"n": 2}, 2)
    _sql(db_path, "UPDATE snapshots SET size = 10 WHERE version = ?", [v2])
    monkeypatch.setenv("STREAM_ML_SNAPSHOT_KEY", KEY.decode())
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()
    listed = runner.invoke(snapshots, ["list", str(db_path), "--json"])
    assert listed.exit_code == 0, listed.output
    checks = [i["check"]["status"] for i in json.loads(listed.stdout)]
    assert checks == ["verified", "refused"]
    # --wide: one line per snapshot (in an xdist worker the table is 80 columns whatever
    # COLUMNS says, and the longer temporary path cut the check to "REFUSED (snapshot_signatur…")
    table = runner.invoke(snapshots, ["list", str(db_path), "--wide"])
    assert "REFUSED (snapshot_signature)" in table.stdout
    assert f"refused: {v2}: snapshot signature does not match" in table.stderr
    verified = runner.invoke(snapshots, ["verify", str(db_path)])
    assert verified.exit_code == 1 and "PROBLEMS FOUND" in verified.stdout


def test_tags_are_signed(store: SnapshotStore) -> None:
    v1 = save(store, {"n": 1}, 1, tags=("rollback",))
    v2 = save(store, {"n": 2}, 2)
    store.tag(v2, "candidate")
    assert [c.status for c in store.checks()] == ["verified", "verified"]
    _sql(store.path, "UPDATE snapshot_tags SET tag = 'release' WHERE version = ?", [v1])
    _sql(store.path, "INSERT INTO snapshot_tags (version, tag) VALUES (?, 'golden')", [v2])
    _sql(store.path, "UPDATE snapshot_tags SET version = ? WHERE tag = 'candidate'", [v1])
    checks = {c.version: c for c in store.checks()}
    assert checks[v1].status == "refused" and "does not verify" in (checks[v1].reason or "")
    assert checks[v2].status == "verified" and checks[v2].unsigned_tags == ("golden",)
    assert store.load(v1)[0] == {"n": 1}  # the payload and its metadata are still good


def test_wrong_signature_under_trust_unsigned_is_refused(db_path: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    with SnapshotStore(db_path, key=KEY) as ours:
        v1 = save(ours, {"n": 1}, 1)
    with SnapshotStore(db_path, key=OTHER_KEY) as theirs:
        v2 = save(theirs, WritesMarker(marker), 2)
    with SnapshotStore(db_path, key=KEY, trust_unsigned=True) as trusting:
        with pytest.raises(SnapshotSignatureError, match="even with trust_unsigned"):
            trusting.load(v2)
        recovered = trusting.latest_valid()
        assert recovered is not None and recovered.info.version == v1
        assert [(s.version, s.code) for s in recovered.skipped] == [(v2, "snapshot_signature")]
    assert not marker.exists()  # refused before unpickling
    payload, digest, sig = encode(WritesMarker(marker), OTHER_KEY)
    with pytest.raises(SnapshotSignatureError):
        decode(payload, digest, sig, key=KEY, trust_unsigned=True)
    assert not marker.exists()


def test_unsigned_accepted_only_under_trust_unsigned(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(codec.KEY_ENV_VAR, raising=False)
    with SnapshotStore(db_path, trust_unsigned=True) as nokey:
        v1 = save(nokey, {"n": 1}, 1, tags=("t",))
        assert not nokey.info(v1).signed
    with SnapshotStore(db_path, key=KEY) as strict:
        with pytest.raises(SnapshotSignatureError, match="unsigned"):
            strict.load(v1)
        assert strict.checks()[0].status == "refused"
    with SnapshotStore(db_path, key=KEY, trust_unsigned=True) as trusting:
        assert trusting.load(v1)[0] == {"n": 1}
        (check,) = trusting.checks()
        assert (check.status, check.unsigned_tags) == ("unsigned", ("t",))
        v2 = save(trusting, {"n": 2}, 2)  # with a key, new snapshots are signed
        assert trusting.info(v2).signed
    with SnapshotStore(db_path, trust_unsigned=True) as nokey:  # signed, no key: unverified
        assert nokey.load(v2)[0] == {"n": 2}
        assert [c.status for c in nokey.checks()] == ["unsigned", "unverified"]


def test_an_edited_unsigned_row_is_corrupt_not_trusted(db_path: Path) -> None:
    with SnapshotStore(db_path, trust_unsigned=True) as s:
        v = save(s, {"n": 1}, 1)
        _sql(db_path, "UPDATE snapshots SET codec = 'lzma' WHERE version = ?", [v])
        with pytest.raises(SnapshotCorrupt, match="column codec says 'lzma'"):
            s.load(v)
        (check,) = s.verify().snapshots
        assert check.code == "snapshot_corrupt"


def _schema1_store(path: Path, states: list[object]) -> None:
    """A store as stream-ml wrote it before schema 2: format-1 signatures, tags without mac."""
    con = sqlite3.connect(path)
    con.executescript(SCHEMA.replace("    mac TEXT,\n", ""))
    con.execute("INSERT INTO snapshot_meta (key, value) VALUES ('schema', '1')")
    for n, state in enumerate(states, start=1):
        payload, digest, _ = codec.encode(state, None)
        header = codec.read_header(payload)[0]
        row = {
            "version": n,
            "engine": "e",
            "source_offset": json.dumps({"line": n}),
            "events": n,
            "event_time": float(n),
            "created_at": 0.0,
            "config_hash": "cfg",
            "metrics": "{}",
            "parent": None,
            "size": len(payload),
            "sha256": digest,
            "note": None,
            "codec": header["compression"],
            "python_version": header["python"],
            "river_version": header["river"],
            "stream_ml_version": header["stream_ml"],
            "payload": payload,
        }
        row["signature"] = codec.sign(KEY, payload, signed_context_v1(row))
        con.execute(
            f"INSERT INTO snapshots ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
        con.execute("INSERT INTO snapshot_tags (version, tag) VALUES (?, 'old')", [n])
    con.commit()
    con.close()


def test_schema1_store_still_loads_and_its_columns_are_checked(db_path: Path) -> None:
    _schema1_store(db_path, [{"n": 1}, {"n": 2}])
    with SnapshotStore(db_path, key=KEY) as s:
        assert (
            s.db.execute("SELECT value FROM snapshot_meta WHERE key = 'schema'").fetchone()[0]
            == "2"
        )
        assert s.load(1)[0] == {"n": 1} and s.load(2)[0] == {"n": 2}
        checks = s.checks()
        assert [(c.status, c.signature_format) for c in checks] == [("unchecked", 1)] * 2
        assert checks[0].unsigned_tags == ("old",)
        report = s.verify()
        assert [c.status for c in report.snapshots] == ["verified", "verified"] and report.ok
        v3 = save(s, {"n": 3}, 3)
        assert read_row(db_path, v3)["signature"].startswith("2:")
    _sql(
        db_path,
        "UPDATE snapshots SET river_version = ? WHERE version = 2",
        [river.__version__ + "x"],
    )
    _sql(db_path, "UPDATE snapshots SET note = 'edited' WHERE version = 1")  # unsigned in format 1
    with SnapshotStore(db_path, key=KEY) as s:
        with pytest.raises(SnapshotSignatureError, match="column river_version"):
            s.load(2)
        assert s.load(1)[1].note == "edited"  # documented: format 1 did not sign the note
        assert [c.status for c in s.verify().snapshots] == ["verified", "refused", "verified"]


def _engine() -> Engine:
    engine = Engine({"lr": linear_model.LogisticRegression()}, seed=2)
    for i in range(30):
        engine.predict({"a": i / 30}, id=str(i))
        engine.learn(str(i), i % 2 == 0)
    return engine


@pytest.mark.parametrize(
    ("payload", "found"),
    [
        ({"n": 1}, "a dict without an 'engine' key"),
        ({"engine": [1, 2]}, "'engine' is a list"),
        ([1, 2, 3], "found a list"),
    ],
)
def test_rollback_to_a_payload_that_is_not_an_engine(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, payload: object, found: str
) -> None:
    stage = SnapshotStage.open(str(db_path), key=KEY.decode())
    engine = _engine()
    engine.snapshots = stage
    good = engine.snapshot(offset=30)
    foreign = save(stage.store, payload, 31)
    with pytest.raises(NotAnEngineSnapshot, match=f"snapshot {foreign} in .*{found}") as err:
        engine.rollback(foreign)
    assert isinstance(err.value, SnapshotError) and err.value.code == "snapshot_not_engine"
    with pytest.raises(NotAnEngineSnapshot):
        stage.latest()  # the newest verifies but is not an engine: refused, not resumed from
    assert stage.load(good.version)[0]["engine"].seq == 30
    stage.close()
    monkeypatch.setenv("STREAM_ML_SNAPSHOT_KEY", KEY.decode())
    runner = CliRunner()
    done = runner.invoke(snapshots, ["rollback", str(db_path), str(foreign)])
    assert done.exit_code == 1 and isinstance(done.exception, SystemExit)  # not a traceback
    said = "".join(done.stderr.split())  # rich wraps long lines, a long path within itself
    assert "".join(f"error: snapshot {foreign} in {db_path} does not hold an engine".split()) in said
    assert "AttributeError" not in done.output
    current = runner.invoke(snapshots, ["rollback", str(db_path), str(good.version)])
    said = "".join(current.stderr.split())
    assert current.exit_code == 1 and f"snapshot{foreign}in" in said  # the newest is foreign
    with SnapshotStore(db_path, key=KEY) as s:
        assert [i.version for i in s.list()] == [good.version, foreign]  # nothing written
