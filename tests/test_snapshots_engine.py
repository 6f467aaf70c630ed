"""Snapshots of a whole engine: rollback to the bit, corruption fallback, refusals, CLI, and a
state machine checking the engine against a reference fed the same effective history."""

from __future__ import annotations

import json
import pickle
import sqlite3
import subprocess

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from river import linear_model, preprocessing, tree

from stream_ml import Engine
from stream_ml.errors import ConfigError, SnapshotError, SnapshotSignatureError
from stream_ml.stages.snapshotting import SnapshotStage
from tests.conftest import ROOT

KEY = "engine-test-key"


def make_engine():
    return Engine(
        {
            "lr": preprocessing.StandardScaler() | linear_model.LogisticRegression(),
            "tree": tree.HoeffdingTreeClassifier(grace_period=50),
        },
        seed=3,
    )


def events(seed, n):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        x = {"a": float(rng.normal()), "b": float(rng.normal()), "c": float(rng.uniform())}
        yield x, bool(x["a"] * 0.7 + x["b"] > 0.2)


def ingest(engine, seed, n, start=0):
    for i, (x, y) in enumerate(events(seed, n), start=start):
        engine.predict(x, id=str(i))
        engine.learn(str(i), y)


PROBE = [x for x, _ in events(99, 50)]


def probe(engine):
    return [[s.model.predict_proba_one(x) for x in PROBE] for s in engine.slots]


def test_rollback_predictions_equal_those_recorded_at_snapshot_time(tmp_path):
    engine = make_engine()
    engine.snapshots = SnapshotStage.open(str(tmp_path / "s.db"), key=KEY)
    ingest(engine, 1, 800)
    recorded = probe(engine)
    info = engine.snapshot(tags=("good",))
    ingest(engine, 2, 1500, start=800)  # the models move on
    assert probe(engine) != recorded
    engine.rollback(info.version, reason="test")
    assert probe(engine) == recorded  # to the bit
    assert [s.version for s in engine.slots] == [1, 1]
    audit = engine.snapshots.store.audit()
    assert audit[-1].action == "rollback" and audit[-1].to_version == info.version
    kinds = [e["kind"] for e in engine.drain_events()]
    assert kinds == ["snapshot", "rollback"]
    # the whole engine, too
    ingest(engine, 3, 100, start=5000)
    engine.rollback(info.version, scope="engine")
    assert engine.seq == 800 and probe(engine) == recorded


def test_corrupt_latest_falls_back_to_previous(tmp_path):
    db = tmp_path / "s.db"
    engine = make_engine()
    engine.snapshots = SnapshotStage.open(str(db), key=KEY)
    ingest(engine, 1, 300)
    first = engine.snapshot()
    digest_first = engine.digest()
    ingest(engine, 2, 300, start=300)
    second = engine.snapshot()
    engine.snapshots.close()
    con = sqlite3.connect(db)
    payload = bytearray(
        con.execute("SELECT payload FROM snapshots WHERE version = ?", [second.version]).fetchone()[
            0
        ]
    )
    payload[len(payload) // 2] ^= 0xFF
    con.execute(
        "UPDATE snapshots SET payload = ? WHERE version = ?", [bytes(payload), second.version]
    )
    con.commit()
    con.close()
    stage = SnapshotStage.open(str(db), key=KEY)
    rec = stage.latest()
    assert rec.info.version == first.version
    assert [s.version for s in rec.skipped] == [second.version]
    assert rec.state["engine"].digest() == digest_first
    stage.close()


def test_foreign_and_unsigned_snapshots_are_refused(tmp_path, monkeypatch):
    db = str(tmp_path / "s.db")
    engine = make_engine()
    engine.snapshots = SnapshotStage.open(db, key=KEY)
    ingest(engine, 1, 50)
    engine.snapshot()
    engine.snapshots.close()
    other = SnapshotStage.open(db, key="another-key")
    with pytest.raises(SnapshotError, match="snapshot_signature"):
        other.latest()  # every snapshot is refused before unpickling: none is usable
    with pytest.raises(SnapshotSignatureError):
        other.load(1)
    other.close()
    monkeypatch.delenv("STREAM_ML_SNAPSHOT_KEY", raising=False)
    with pytest.raises(ConfigError, match="signing key"):
        SnapshotStage.open(db)


def test_snapshot_needs_a_store():
    with pytest.raises(ConfigError, match="no snapshot store"):
        make_engine().snapshot()


def test_cli_list_show_diff_rollback_audit(tmp_path, cli_env, python):
    db = tmp_path / "s.db"
    engine = make_engine()
    engine.snapshots = SnapshotStage.open(str(db), key=KEY)
    ingest(engine, 1, 200)
    a = engine.snapshot(offset=200)
    ingest(engine, 2, 200, start=200)
    b = engine.snapshot(offset=400, note="later")
    engine.snapshots.close()
    env = {**cli_env, "STREAM_ML_SNAPSHOT_KEY": KEY}

    def cli(*args):
        return subprocess.run(
            [python, "-m", "stream_ml.cli", "snapshots", *args, str(db)]
            if not args[1:]
            else [python, "-m", "stream_ml.cli", "snapshots", args[0], str(db), *args[1:]],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=True,
        )

    listed = json.loads(cli("list", "--json").stdout)
    assert [i["version"] for i in listed] == [a.version, b.version]
    shown = json.loads(cli("show", str(b.version), "--verify").stdout)
    assert shown["note"] == "later" and shown["verified"] is True
    d = json.loads(cli("diff", str(a.version), str(b.version)).stdout)
    assert d["changed"]["events"] == [200, 400] and d["ancestor"] is True
    rb = json.loads(cli("rollback", str(a.version)).stdout)
    assert rb["offset"] == 400 and rb["new_version"] > b.version
    audit = [json.loads(line) for line in cli("audit").stdout.splitlines()]
    assert audit[-1]["action"] == "rollback" and audit[-1]["to_version"] == a.version
    stage = SnapshotStage.open(str(db), key=KEY)
    rec = stage.latest()
    restored = rec.state["engine"]
    assert [s.version for s in restored.slots] == [1, 1]
    stage.close()
    refused = subprocess.run(
        [python, "-m", "stream_ml.cli", "snapshots", "list", str(db)],
        capture_output=True,
        text=True,
        env={**cli_env, "STREAM_ML_SNAPSHOT_KEY": ""},
        cwd=ROOT,
    )
    assert refused.returncode != 0 and "signing key" in refused.stderr


class EngineMachine(RuleBasedStateMachine):
    """Rules: ingest, snapshot, restart in a new engine, rollback, corrupt the latest snapshot.

    The reference engine is fed the effective history: what the engine under test has learned
    (a restart resumes from the newest valid snapshot, a rollback replaces the models).
    """

    def __init__(self):
        super().__init__()
        import tempfile

        self.dir = tempfile.mkdtemp()
        self.db = f"{self.dir}/s.db"
        self.engine = make_engine()
        self.engine.snapshots = SnapshotStage.open(self.db, key=KEY)
        self.reference = make_engine()
        self.saved: dict[int, bytes] = {}  # version -> pickled reference at that point
        self.corrupted: set[int] = set()
        self.batch = 0

    @rule(n=st.integers(1, 40))
    def ingest(self, n):
        self.batch += 1
        start = self.engine.seq
        ingest(self.engine, self.batch, n, start=start)
        ingest(self.reference, self.batch, n, start=start)

    @rule()
    def snapshot(self):
        info = self.engine.snapshot()
        self.saved[info.version] = pickle.dumps(self.reference)

    @rule()
    def restart(self):
        self.engine.snapshots.close()
        stage = SnapshotStage.open(self.db, key=KEY)
        rec = stage.latest()
        if rec is None:
            self.engine = make_engine()
            self.reference = make_engine()
        else:
            self.engine = rec.state["engine"]
            self.reference = pickle.loads(self.saved[rec.info.version])
        self.engine.snapshots = stage

    @precondition(lambda self: any(v not in self.corrupted for v in self.saved))
    @rule(data=st.data())
    def rollback(self, data):
        good = sorted(v for v in self.saved if v not in self.corrupted)
        version = data.draw(st.sampled_from(good))
        self.engine.rollback(version)
        old = pickle.loads(self.saved[version])
        for slot, saved in zip(self.reference.slots, old.slots):
            slot.replace(saved.model)

    @precondition(lambda self: bool(self.saved))
    @rule()
    def corrupt_latest(self):
        latest = max(self.saved)
        con = sqlite3.connect(self.db)
        con.execute(
            "UPDATE snapshots SET payload = zeroblob(length(payload)) WHERE version = ?", [latest]
        )
        con.commit()
        con.close()
        self.corrupted.add(latest)

    @invariant()
    def same_as_reference(self):
        assert self.engine.digest() == self.reference.digest()
        assert probe(self.engine) == probe(self.reference)

    def teardown(self):
        self.engine.snapshots.close()


TestEngineMachine = EngineMachine.TestCase
TestEngineMachine.settings = settings(max_examples=12, stateful_step_count=12, deadline=None)
