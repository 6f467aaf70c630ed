"""``stream-ml snapshots``: a list that fits 80 columns (``--wide`` for every column), ISO 8601
times in ``audit``, real metric deltas in ``diff``; scenario reports rounded for people."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys

import pytest
from river import linear_model, preprocessing, tree

from scenarios.runner import human_report, round_sig
from stream_ml import Engine
from stream_ml.cli_snapshots import iso, metric_deltas
from stream_ml.stages.snapshotting import SnapshotStage
from tests.conftest import ROOT

KEY = "cli-snapshots-key"
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _engine() -> Engine:
    return Engine(
        {
            "a_rather_long_model_name": preprocessing.StandardScaler()
            | linear_model.LogisticRegression(),
            "tree": tree.HoeffdingTreeClassifier(grace_period=50),
        },
        seed=3,
    )


@pytest.fixture
def store(tmp_path):
    """A store with three snapshots of an engine that learned in between, and one restore."""
    import numpy as np

    db = tmp_path / "s.db"
    engine = _engine()
    engine.snapshots = SnapshotStage.open(str(db), key=KEY)
    rng = np.random.default_rng(5)
    infos = []
    for batch in range(3):
        for i in range(300):
            x = {"x1": float(rng.normal()), "x2": float(rng.normal())}
            engine.predict(x, id=f"{batch}-{i}")
            engine.learn(f"{batch}-{i}", bool(x["x1"] + 0.3 * x["x2"] > 0))
        infos.append(engine.snapshot(offset=300 * (batch + 1), tags=("nightly",)))
    engine.snapshots.store.record_audit("restore", to_version=infos[0].version, reason="test")
    engine.snapshots.close()
    return db, infos


def cli(args, cli_env, columns=80):
    env = {**cli_env, "STREAM_ML_SNAPSHOT_KEY": KEY, "COLUMNS": str(columns)}
    out = subprocess.run([sys.executable, "-m", "stream_ml.cli", "snapshots", *args],
                         capture_output=True, text=True, env=env, cwd=ROOT)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_list_fits_80_columns_and_wide_has_every_column(store, cli_env):
    db, infos = store
    table = cli(["list", str(db)], cli_env)
    lines = table.splitlines()
    assert max(map(len, lines)) <= 80
    assert "…" not in table  # no cell cut short
    header = next(line for line in lines if "version" in line)
    assert header.split() == ["version", "parent", "events", "created", "size", "tags", "check"]
    rows = [line.split() for line in lines if line.strip().split(" ")[0].isdigit()]
    assert [int(r[0]) for r in rows] == [i.version for i in infos]
    for r in rows:
        assert ISO.match(r[3]) and r[-1] == "verified" and r[-2] == "nightly"
    wide = cli(["list", str(db), "--wide"], cli_env)
    assert "offset" in wide and "event time" in wide and "metrics" in wide
    assert "a_rather_long_model_name: Accuracy=" in wide and "…" not in wide


def test_audit_prints_iso_8601_times(store, cli_env):
    db, infos = store
    (entry,) = [json.loads(line) for line in cli(["audit", str(db)], cli_env).splitlines()]
    assert entry["action"] == "restore" and entry["to_version"] == infos[0].version
    assert ISO.match(entry["at"])
    at = dt.datetime.strptime(entry["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert abs(at.timestamp() - entry["at_unix"]) < 1


def test_diff_shows_a_delta_for_every_metric(store, cli_env):
    db, infos = store
    a, b = infos[0], infos[2]
    d = json.loads(cli(["diff", str(db), str(a.version), str(b.version)], cli_env))
    assert d["changed"]["events"] == [a.events, b.events]
    assert set(d["metrics"]) == {"a_rather_long_model_name", "tree"}
    for name, m in d["metrics"].items():
        assert set(m["delta"]) == set(m["from"]) == {"Accuracy"}
        for metric, delta in m["delta"].items():
            assert delta == pytest.approx(m["to"][metric] - m["from"][metric])
            assert delta == pytest.approx(b.metrics[name][metric] - a.metrics[name][metric])
    show = json.loads(cli(["show", str(db), str(b.version)], cli_env))
    assert ISO.match(show["created_at_iso"]) and show["created_at"] == b.created_at


def test_iso_and_metric_deltas():
    assert iso(1.5) == "1970-01-01T00:00:01Z" and iso(None) is None
    assert metric_deltas(0.5, 0.25) == -0.25
    assert metric_deltas({"a": {"m": 1.0}}, {"a": {"m": 3.0}, "b": {"m": 1.0}}) == {
        "a": {"m": 2.0},
        "b": None,  # a model with no earlier metrics: no delta
    }
    assert metric_deltas(True, 1.0) is None and metric_deltas("x", 1.0) is None


def test_scenario_reports_round_floats_for_people_and_keep_json_exact(cli_env):
    assert round_sig(0.123456789) == 0.1235 and round_sig(98765.4321) == 98770.0
    assert round_sig(float("nan")) != round_sig(float("nan"))  # NaN stays NaN
    assert human_report({"a": [0.666666666, 3], "b": "x"}) == {"a": [0.6667, 3], "b": "x"}
    args = ["scenario", "run", "drift-abrupt", "--events", "2000", "--seed", "1"]
    run = lambda extra: subprocess.run([sys.executable, "-m", "stream_ml.cli", *args, *extra],  # noqa: E731
                                       capture_output=True, text=True, env=cli_env, cwd=ROOT,
                                       check=True).stdout  # fmt: skip
    exact = json.loads(run(["--json"]))
    floats = re.findall(r"-?\d+\.\d+(?:e-?\d+)?", json.dumps(exact["report"]))
    assert any(len(f.lstrip("-0.").replace(".", "")) > 6 for f in floats)  # full precision
    human = run([])
    report_part = human[human.rindex("\n{") :]  # the report comes last, after the tables
    numbers = re.findall(r"-?\d+\.\d+(?:e-?\d+)?", report_part)
    assert numbers
    for f in numbers:
        mantissa = f.lstrip("-").split("e")[0].lstrip("0.").replace(".", "").rstrip("0")
        assert len(mantissa) <= 4, f
