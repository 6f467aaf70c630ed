"""The Redis group consumer's snapshots: ordinary signed snapshots of a SQLite store.

They list with ``stream-ml snapshots list``, record the last applied entry id as the source
offset, cover exactly the pending entries a restart skips, and a store whose newest snapshot does
not verify (unsigned, tampered, corrupt, another key) or that belongs to another consumer is
refused before anything is read, written or acknowledged.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from river import linear_model

from connectors.redis_streams import RedisGroupReader, RedisStreamSink, parse_id
from stream_ml import Engine
from stream_ml.errors import ConfigError, SnapshotCorrupt, SnapshotSignatureError
from stream_ml.runtime.bytewax.group_consumer import consume, main
from stream_ml.snapshots import SnapshotStore
from stream_ml.stages.snapshotting import SnapshotStage
from tests.conftest import ROOT

KEY = "consumer-snapshots-test-key"


def _engine() -> Engine:
    return Engine({"lr": linear_model.LogisticRegression()})


def _messages(start: int, n: int) -> list[dict]:
    out: list[dict] = []
    for i in range(start, start + n):
        out.append({"id": f"e{i}", "features": {"x": float(i % 5)}})
        out.append({"kind": "feedback", "id": f"e{i}", "label": i % 2 == 0})
    return out


def _produce(r, stream: str, messages: list) -> list[str]:
    return [r.xadd(stream, {"data": json.dumps(m)}).decode() for m in messages]


def _outputs(r, stream: str) -> list[dict]:
    return [json.loads(f[b"data"]) for _, f in r.xrange(stream)]


def _run(r, names, store: Path, *, key: str | None = KEY, trust: bool = False, reader=None,
         consumer: dict | None = None, every: int = 3) -> dict:  # fmt: skip
    stage = SnapshotStage.open(str(store), key=key, trust_unsigned=trust)
    try:
        return consume(
            _engine,
            reader or RedisGroupReader(names("in"), "g", "c1", client=r, count=4, block_ms=20),
            RedisStreamSink(names("out"), client=r, buffer=1),
            RedisStreamSink(names("dlq"), client=r),
            stage,
            snapshot_every=every,
            idle_exit=0.1,
            order=parse_id,
            consumer=consumer,
        )
    finally:
        stage.close()


def _reference(messages: list) -> tuple[dict, dict]:
    eng = _engine()
    outs = {}
    for m in messages:
        o = eng.process(m).to_dict()
        outs[f"{o['kind']}:{o['id']}"] = o
    return outs, eng.summary()


def test_snapshots_are_signed_and_listed_by_the_cli(redis_client, names, tmp_path, cli_env):
    msgs = _messages(0, 5)
    ids = _produce(redis_client, names("in"), msgs)
    store = tmp_path / "c1.db"
    summary = _run(redis_client, names, store, consumer={"stream": names("in"), "name": "c1"})
    assert summary["offset"] == ids[-1] and summary["events"] == 5
    with SnapshotStore(store, key=KEY) as s:
        infos = s.list()
        assert len(infos) >= 3 and all(i.signed and i.engine == "engine" for i in infos)
        assert infos[-1].version == summary["snapshot"] and infos[-1].offset == ids[-1]
        assert {i.offset for i in infos} <= set(ids)  # every offset is a broker entry id
        state, _ = s.load(infos[-1].version)  # checksum and signature verify
        assert state["extra"] == {
            "dead_letters": 0,
            "consumer": {"stream": names("in"), "name": "c1"},
            "held": [],  # the driver's part: no rows, no held labels
            "records": len(ids),
            "recorded": False,  # the consumer's checkpoint, not a snapshot the stream asked for
        }
        assert state["engine"].summary()["models"] == summary["models"]
    with SnapshotStore(store, key="another-key") as s, pytest.raises(SnapshotSignatureError):
        s.load(infos[-1].version)

    def cli(*args: str, key: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "stream_ml.cli", "snapshots", *args],
            capture_output=True,
            text=True,
            env={**cli_env, "STREAM_ML_SNAPSHOT_KEY": key},
            cwd=ROOT,
        )

    listed = json.loads(cli("list", str(store), "--json", key=KEY).stdout)
    assert [(d["version"], d["offset"]) for d in listed] == [(i.version, i.offset) for i in infos]
    shown = cli("show", str(store), str(infos[-1].version), "--verify", key=KEY)
    assert json.loads(shown.stdout)["verified"] is True
    refused = cli("list", str(store), key="")
    assert refused.returncode != 0 and "--trust-unsigned" in refused.stderr


class _Killed(Exception):
    """Stands for SIGKILL at a chosen point of the loop."""


class _AckDies(RedisGroupReader):
    """Dies on its first acknowledgement: after a snapshot is committed, before the XACK."""

    def ack(self, ids: list[str]) -> None:
        raise _Killed


class _SecondReadDies(RedisGroupReader):
    """Dies on its second read: outputs of applied entries are written, no snapshot has them."""

    reads = 0

    def new(self) -> list:
        self.reads += 1
        if self.reads == 2:
            raise _Killed
        return super().new()


@pytest.mark.parametrize(("reader_cls", "pending"), [(_AckDies, 4), (_SecondReadDies, 1)])
def test_restart_skips_what_the_snapshot_covers(redis_client, names, tmp_path, reader_cls, pending):
    """Killed between snapshot and ack, or between output and snapshot: the same final state."""
    msgs = _messages(0, 6)  # 12 entries; reads of 4; a snapshot every 3 applied
    _produce(redis_client, names("in"), msgs)
    store = tmp_path / "c1.db"
    dying = reader_cls(names("in"), "g", "c1", client=redis_client, count=4, block_ms=20)
    with pytest.raises(_Killed):
        _run(redis_client, names, store, reader=dying)
    with SnapshotStore(store, key=KEY) as s:
        (first,) = s.list()
    assert first.events == 2  # entries 0-2: two observations and one feedback
    assert redis_client.xpending(names("in"), "g")["pending"] == pending
    summary = _run(redis_client, names, store)
    want, ref = _reference(msgs)
    outs = _outputs(redis_client, names("out"))
    assert {f"{o['kind']}:{o['id']}": o for o in outs} == want and len(outs) == len(want)
    assert summary["models"] == ref["models"] and summary["labels"] == ref["labels"]
    assert summary["events"] == 6 and summary["feedback"] == 6
    assert redis_client.xpending(names("in"), "g")["pending"] == 0


def _state(r, names) -> tuple:
    group = r.xinfo_groups(names("in"))[0]
    return r.xlen(names("out")), group["pending"], group["last-delivered-id"]


def _refused(r, names, store: Path, error: type[Exception], **kw) -> Exception:
    """The consumer refuses the store and changes nothing on the broker."""
    before = _state(r, names)
    with pytest.raises(error) as exc:
        _run(r, names, store, **kw)
    assert _state(r, names) == before
    return exc.value


def test_unsigned_store_is_refused(redis_client, names, tmp_path, monkeypatch):
    monkeypatch.delenv("STREAM_ML_SNAPSHOT_KEY", raising=False)
    _produce(redis_client, names("in"), _messages(0, 3))
    store = tmp_path / "c1.db"
    _run(redis_client, names, store, key=None, trust=True)  # local, explicit opt-in
    with SnapshotStore(store, trust_unsigned=True) as s:
        assert s.list() and not any(i.signed for i in s.list())
    _produce(redis_client, names("in"), _messages(3, 2))
    err = _refused(redis_client, names, store, SnapshotSignatureError)
    assert "do not verify" in str(err)
    with pytest.raises(ConfigError, match="signing key"):  # no key and no opt-in: not opened
        _run(redis_client, names, store, key=None)
    summary = _run(redis_client, names, store, key=None, trust=True)  # the opt-in resumes
    assert summary["events"] == 5 and redis_client.xpending(names("in"), "g")["pending"] == 0


def _signed_store(r, names, tmp_path) -> tuple[Path, int]:
    _produce(r, names("in"), _messages(0, 3))
    store = tmp_path / "c1.db"
    _run(r, names, store)
    _produce(r, names("in"), _messages(3, 2))  # more work for the restart
    with SnapshotStore(store, key=KEY) as s:
        infos = s.list()
    assert len(infos) >= 2  # an older snapshot verifies: the consumer must not fall back to it
    return store, infos[-1].version


def _tamper(store: Path, sql: str, version: int) -> None:
    db = sqlite3.connect(store)
    with db:
        db.execute(sql, [version])
    db.close()


def test_tampered_offset_is_refused(redis_client, names, tmp_path):
    store, newest = _signed_store(redis_client, names, tmp_path)
    far = json.dumps("99999999999999-0")  # would make a restart skip every pending entry
    _tamper(store, f"UPDATE snapshots SET source_offset = '{far}' WHERE version = ?", newest)
    err = _refused(redis_client, names, store, SnapshotSignatureError)
    assert f"{newest} (snapshot_signature)" in str(err)


def test_corrupt_payload_is_refused(redis_client, names, tmp_path):
    store, newest = _signed_store(redis_client, names, tmp_path)
    _tamper(store, "UPDATE snapshots SET payload = zeroblob(64) WHERE version = ?", newest)
    _refused(redis_client, names, store, SnapshotCorrupt)


def test_another_key_is_refused(redis_client, names, tmp_path):
    store, _ = _signed_store(redis_client, names, tmp_path)
    _refused(redis_client, names, store, SnapshotSignatureError, key="not-the-key")


def test_another_consumers_store_is_refused(redis_client, names, tmp_path):
    store, _ = _signed_store(redis_client, names, tmp_path)
    err = _refused(redis_client, names, store, ConfigError, consumer={"name": "c2"})
    assert "its own snapshot store" in str(err)


def test_cli_needs_a_key_or_the_opt_in(redis_client, names, tmp_path, monkeypatch):
    monkeypatch.delenv("STREAM_ML_SNAPSHOT_KEY", raising=False)
    cfg = tmp_path / "engine.toml"
    cfg.write_text('[models.lr]\nmodel = "linear_model.LogisticRegression()"\n')
    args = ["--config", str(cfg), "--stream", names("in"), "--group", "g", "--consumer", "c1"]
    args += ["--output", names("out"), "--dead-letters", names("dlq"), "--idle-exit", "0.1"]
    args += ["--snapshot", str(tmp_path / "c1.db")]
    with pytest.raises(SystemExit, match="signing key"):
        main(args)
    _produce(redis_client, names("in"), _messages(0, 2))
    monkeypatch.setenv("STREAM_ML_SNAPSHOT_KEY", KEY)
    main(args)
    with SnapshotStore(tmp_path / "c1.db", key=KEY) as s:
        (info,) = s.list()  # one snapshot when the stream went idle
    assert info.signed and info.events == 2


def test_resumes_from_a_cli_rollback(redis_client, names, tmp_path, cli_env):
    """`stream-ml snapshots rollback` writes the newest snapshot; the consumer resumes from it."""
    store, newest = _signed_store(redis_client, names, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "stream_ml.cli", "snapshots", "rollback", str(store), "1"],
        capture_output=True,
        text=True,
        env={**cli_env, "STREAM_ML_SNAPSHOT_KEY": KEY},
        cwd=ROOT,
        check=True,
    )
    assert json.loads(done.stdout)["new_version"] == newest + 1
    summary = _run(redis_client, names, store)
    assert summary["events"] == 5 and redis_client.xpending(names("in"), "g")["pending"] == 0
    with SnapshotStore(store, key=KEY) as s:
        assert [(a.action, a.to_version) for a in s.audit()][-1] == ("restore", newest + 1)
        assert s.info(newest + 2).parent == newest + 1  # lineage goes on from the rollback
        assert s.info(newest + 1).tags == ("rollback",)


def test_engine_records_go_to_the_output_stream_not_into_the_snapshots(
    redis_client, names, tmp_path
):
    """Drift alarms the engine makes are outputs (ids keep them unique), never carried state."""
    import numpy as np

    from stream_ml.stages.monitoring import MonitorConfig

    ks = {"kind": "ks", "reference_size": 200, "window_size": 100, "check_every": 10,
          "ert": 3000, "calibration": "uniform"}  # fmt: skip

    def drifting() -> Engine:
        return Engine(
            {"lr": linear_model.LogisticRegression()},
            drift=[MonitorConfig(on="features", fields=["x"], detector=ks)],
        )

    rng = np.random.default_rng(3)
    msgs = []
    for i in range(800):
        x = float(rng.normal() + (3.0 if i >= 400 else 0.0))
        msgs.append({"id": f"e{i}", "features": {"x": x}})
        msgs.append({"kind": "feedback", "id": f"e{i}", "label": x > 0})
    _produce(redis_client, names("in"), msgs)
    store = tmp_path / "c.db"
    stage = SnapshotStage.open(str(store), key=KEY)
    try:
        consume(
            drifting,
            RedisGroupReader(names("in"), "g", "c1", client=redis_client, count=50, block_ms=20),
            RedisStreamSink(names("out"), client=redis_client, buffer=10),
            RedisStreamSink(names("dlq"), client=redis_client),
            stage,
            snapshot_every=100,
            idle_exit=0.1,
            order=parse_id,
        )
    finally:
        stage.close()
    reference = drifting()
    for m in msgs:
        reference.process(m)
    want = [e["id"] for e in reference.drain_events() if e["kind"] == "drift"]
    got = [o["id"] for o in _outputs(redis_client, names("out")) if o["kind"] == "drift"]
    assert want and got == want  # the same alarms, once each, in order
    with SnapshotStore(store, key=KEY) as s:
        for info in s.list():
            state, _ = s.load(info.version)
            assert state["engine"].outbox == []  # type: ignore[index]
