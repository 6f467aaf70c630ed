"""Bytewax recovery: an aborted or killed run, resumed (also on another worker count), equals
an uninterrupted one, and idempotent sinks hold no duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from bytewax.inputs import AbortExecution
from bytewax.recovery import RecoveryConfig
from bytewax.testing import run_main

from connectors import JsonlSink
from stream_ml.runtime.bytewax import build_flow
from stream_ml.runtime.bytewax.run import ensure_recovery_dir
from tests.runtime import workload
from tests.runtime.test_bytewax_equality import ListSink

ROOT = Path(__file__).resolve().parents[2]
DELAY = 2


class AbortingSource:
    """A list source that aborts the execution once, at offset ``at`` (like TestingSource.ABORT).

    The ``triggered`` flag lives on the object, so the resumed execution (same object) skips it.
    """

    def __init__(self, records: list, at: int) -> None:
        self.records, self.at, self.triggered, self._start = records, at, False, 0

    def seek(self, offset: int) -> None:
        self._start = offset

    def read(self):
        for i in range(self._start, len(self.records)):
            if i == self.at and not self.triggered:
                self.triggered = True
                raise AbortExecution()
            yield i, self.records[i]


def test_aborted_run_resumes_exactly(tmp_path: Path) -> None:
    data = workload.rows(n=1500, keys=20, seed=11)
    reference = workload.embedded(data, DELAY)
    source = AbortingSource(data, at=900)
    got: list = []
    rec = RecoveryConfig(ensure_recovery_dir(tmp_path / "rec", 2))
    jsonl = tmp_path / "out.jsonl"

    def flow():
        return build_flow(
            workload.engine,
            source=lambda: source,
            decoder=workload.decoder(),
            keyed=True,
            delay=DELAY,
            sinks=[lambda: ListSink(got), lambda: JsonlSink(jsonl)],
            batch_size=50,
        )

    run_main(flow(), epoch_interval=timedelta(0), recovery_config=rec)  # aborts at offset 900
    assert source.triggered
    n_first = len(got)
    assert 0 < n_first < len(reference[0])
    run_main(flow(), epoch_interval=timedelta(0), recovery_config=rec)
    preds, summaries = workload.split(got)  # asserts a replayed output is the same output
    assert preds == reference[0]
    assert summaries == reference[1]
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    ids = [f"{o['kind']}:{o['id']}" for o in lines]
    assert len(ids) == len(set(ids))  # the idempotent sink kept one copy of the replayed epoch
    assert len(ids) == len(preds) + len(summaries)


def _run(cfg: Path, rec: Path, workers: int) -> subprocess.Popen:
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        STREAM_ML_CONFIG=str(cfg),
        STREAM_ML_KEYED="1",
        STREAM_ML_BATCH_SIZE="100",
    )
    args = [sys.executable, "-m", "bytewax.run", "stream_ml.runtime.bytewax_flow:flow",
            "-w", str(workers), "-r", str(rec), "-s", "0", "-b", "0"]  # fmt: skip
    return subprocess.Popen(args, env=env, cwd=ROOT)


@pytest.mark.slow
@pytest.mark.parametrize(("first", "second"), [(2, 2), (2, 1), (1, 3)])
def test_killed_multiworker_run_resumes_exactly(tmp_path: Path, first: int, second: int) -> None:
    """SIGKILL a `python -m bytewax.run -w N -r DIR` process half way; resume with M workers."""
    data = workload.rows(n=12000, keys=25, seed=5)
    csv_path = workload.write_csv(tmp_path / "rows.csv", data)
    out = tmp_path / "out.jsonl"
    cfg = workload.config_toml(tmp_path / "keyed.toml", csv_path, out, DELAY)
    rec = ensure_recovery_dir(tmp_path / "rec", 3)
    proc = _run(cfg, rec, first)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_text().count("\n") > len(data) // 3:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.wait(timeout=120) != 0
    proc = _run(cfg, rec, second)
    assert proc.wait(timeout=120) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    ids = [f"{o['kind']}:{o['id']}" for o in lines]
    assert len(ids) == len(set(ids)), "duplicates in the output"
    preds, summaries = workload.split(lines)
    ref_preds, ref_summaries = workload.embedded(data, DELAY)
    assert preds == ref_preds
    assert summaries == ref_summaries
