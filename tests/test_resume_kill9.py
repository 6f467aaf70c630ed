"""Exact resume after SIGKILL: a 20k-event replay killed at random points, and during snapshot
writes, then restarted until it finishes, ends in the same state as a run that never stopped;
the output sink holds each output exactly once (byte-identical to the uninterrupted run's).

20k events (100k before: most of the suite's time, for nothing the assertions need) still hold
20 snapshots (every 1000 events), five random kills between events 3,000 and 15,000, and three
kills inside a snapshot write whose positions add up to at most 18 writes (each killed run resumes
from the write before, so every one of the three is killed before the stream ends)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

N = 20_000

CONFIG = """
name = "kill9"
[source]
kind = "river"
dataset = "synth.SEA"
params = {{seed = 7, noise = 0.05}}
limit = {n}
[models.lr]
model = "preprocessing.StandardScaler() | linear_model.LogisticRegression()"
[models.tree]
model = "tree.HoeffdingTreeClassifier(grace_period=500)"
[evaluation]
metrics = ["Accuracy", "LogLoss"]
delay = 25
[snapshots]
path = "{db}"
every_events = 1000
keep_last = 3
[[sinks]]
kind = "jsonl"
path = "{out}"
"""

# a child that dies (SIGKILL) inside the n-th snapshot write, after the row is inserted and
# before the transaction commits
KILL_IN_WRITE = """
import contextlib, os, signal, sys
from stream_ml.snapshots import store as store_mod
n = int(sys.argv[2]); calls = [0]
original = store_mod.SnapshotStore._write
@contextlib.contextmanager
def dying_write(self):
    with original(self):
        yield
        calls[0] += 1
        if calls[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
store_mod.SnapshotStore._write = dying_write
from stream_ml.cli import main
sys.argv = ["stream-ml", "run", sys.argv[1], "--json"]
main()
"""


def write_config(tmp_path, name):
    db, out = tmp_path / f"{name}.db", tmp_path / f"{name}.jsonl"
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(CONFIG.format(n=N, db=db, out=out))
    return cfg, out


def env():
    e = dict(os.environ)
    e["STREAM_ML_SNAPSHOT_KEY"] = "kill-9-test-key"
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def run_to_end(cfg):
    out = subprocess.run(
        [sys.executable, "-m", "stream_ml.cli", "run", str(cfg), "--json"],
        capture_output=True,
        text=True,
        env=env(),
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout)


def final(summary):
    keep = ("events", "feedback", "models", "labels", "errors", "digest")
    return {k: summary[k] for k in keep}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    cfg, out = write_config(tmp, "ref")
    summary = run_to_end(cfg)
    assert summary["events"] == N and summary["snapshots"]["resumed_from"] is None
    return final(summary), out.read_bytes()


def check(summary, out, reference):
    ref_state, ref_bytes = reference
    assert final(summary) == ref_state
    got = out.read_bytes()
    outputs = [json.loads(line) for line in got.splitlines()]
    ids = [(o["kind"], o["id"]) for o in outputs]
    assert len(ids) == len(set(ids))
    assert sum(o["kind"] == "prediction" for o in outputs) == N
    assert sum(o["kind"] == "snapshot" for o in outputs) == N // 1000  # every_events = 1000
    assert got == ref_bytes


def _lines(path) -> int:
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


@pytest.mark.slow
def test_random_sigkills_then_resume(tmp_path, reference):
    # kill points are random positions in the stream (not wall-clock sleeps, which a busy
    # machine turns into "killed before the first snapshot"): each run is killed once its
    # output file has passed the next random line count
    rng = random.Random(20261126)
    cfg, out = write_config(tmp_path, "random")
    targets = sorted(rng.sample(range(3_000, N - 5_000), 5))
    kills = 0
    for target in targets:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stream_ml.cli", "run", str(cfg), "--json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env(),
            cwd=ROOT,
        )
        deadline = time.monotonic() + 120
        while proc.poll() is None and _lines(out) < target and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 3
    summary = run_to_end(cfg)
    assert summary["snapshots"]["resumed_from"] is not None
    check(summary, out, reference)


@pytest.mark.slow
def test_sigkill_during_snapshot_writes_then_resume(tmp_path, reference):
    rng = random.Random(7)
    cfg, out = write_config(tmp_path, "inwrite")
    script = tmp_path / "dying.py"
    script.write_text(KILL_IN_WRITE)
    for _ in range(3):
        n = rng.randint(2, 6)  # 3 runs x at most 6 writes < N // 1000 writes
        proc = subprocess.run(
            [sys.executable, str(script), str(cfg), str(n)],
            capture_output=True,
            env=env(),
            cwd=ROOT,
        )
        assert proc.returncode == -signal.SIGKILL
    summary = run_to_end(cfg)
    check(summary, out, reference)
