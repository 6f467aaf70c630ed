"""The run report of ``stream-ml run``: what it shows, strict JSON with one shape for every
runtime, the progress bar, Ctrl-C (a snapshot, exit 130) and the resume point."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import time

import pytest

from stream_ml.cli import REPORT_KEYS, count_lines, dumps, source_total, strict_json
from tests.acceptance.streams import weather_messages, write_jsonl
from tests.conftest import ROOT, WEATHER


def _no_constants(name: str) -> None:
    raise AssertionError(f"not strict JSON: {name}")


def strict_loads(text: str) -> dict:
    """json.loads that refuses NaN / Infinity (Python's json accepts them by default)."""
    return json.loads(text, parse_constant=_no_constants)


def run_cli(args, env, cwd=ROOT, check=True, timeout=300):
    out = subprocess.run([sys.executable, "-m", "stream_ml.cli", *args], capture_output=True,
                         text=True, env=env, cwd=cwd, timeout=timeout)  # fmt: skip
    if check and out.returncode != 0:
        raise AssertionError(f"exit {out.returncode}: {out.stderr[-2000:]}")
    return out


@pytest.fixture
def everything_on(tmp_path, cli_env):
    """examples/everything_on.toml on 1,500 weather rows (3,000 messages), in tmp_path."""
    write_jsonl(weather_messages(1500), tmp_path / "everything_on.messages.jsonl")
    (tmp_path / "everything_on.toml").write_text(
        (ROOT / "examples" / "everything_on.toml").read_text()
    )
    cli_env["STREAM_ML_SNAPSHOT_KEY"] = "test-key"
    return tmp_path, cli_env


def test_strict_json_turns_nan_and_infinity_into_null():
    data = {"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5], "c": (1, 2), 3: None}
    assert strict_json(data) == {"a": None, "b": [None, None, 1.5], "c": [1, 2], "3": None}
    assert strict_loads(dumps(data)) == {"a": None, "b": [None, None, 1.5], "c": [1, 2], "3": None}
    with pytest.raises(ValueError):  # the sanitiser is what makes it pass, not a lenient dump
        json.dumps(data, allow_nan=False)


def test_everything_on_report_json_and_table(everything_on):
    """Every part of the report is there: counts per model (served adds up to the events),
    the experiment's arms, drift episodes (whose NaN peaks of ADWIN are null), features,
    snapshots written and where, timing."""
    cwd, env = everything_on
    r = strict_loads(run_cli(["run", "everything_on.toml", "--json"], env, cwd=cwd).stdout)
    assert set(r) == set(REPORT_KEYS)
    assert r["runtime"] == {"kind": "embedded", "workers": 1, "processes": 1, "keyed": False,
                            "engines": 1}  # fmt: skip
    models = r["models"]
    # the engine's counts run from each model's creation (a restarted challenger is a new model:
    # its counts start again), so served adds up to the events less those served by challengers
    # before their restart
    assert r["events"] == 1500
    assert 0 < sum(m["served"] for m in models.values()) <= 1500
    for m in models.values():
        lived = 1500 - m["created"]
        assert m["served"] <= lived and m["answered"] <= lived and m["scored"] <= m["learned"]
    configured = [m for m in models.values() if m["created"] == 0]
    assert sum(m["served"] for m in configured) > 0 and all(m["answered"] for m in configured)
    assert set(r["experiment"]["arms"]) == set(models) and r["experiment"]["kind"] == "thompson"
    episodes = [e for m in r["drift"] for e in m["recent_episodes"]]
    assert episodes and any(e["peak_statistic"] is None for e in episodes)  # ADWIN: no statistic
    assert r["features"]["keys"] == 3 and r["features"]["events"] == 1500
    snaps = r["snapshots"]
    assert snaps["path"] == "everything_on.db" and snaps["written"] >= 3
    assert snaps["last"]["version"] == snaps["last_version"] and snaps["last"]["offset"] == 3000
    assert r["run"]["records"] == 3000 and r["run"]["events"] == 1500
    assert r["run"]["elapsed_s"] > 0 and r["run"]["records_per_s"] > 0
    assert r["run"]["resumed"] is None

    # the second run resumes from the last snapshot and says so
    again = run_cli(["run", "everything_on.toml"], env, cwd=cwd).stdout
    assert f"resumed from snapshot {snaps['last_version']} at record 3,000" in again
    env80 = {**env, "COLUMNS": "80"}
    (cwd / "everything_on.db").unlink()
    table = run_cli(["run", "everything_on.toml"], env80, cwd=cwd).stdout
    assert max(len(line) for line in table.splitlines()) <= 80
    for text in ("served", "scored", "learned", "experiment experiment (thompson)",
                 "verdict: no sequential test", "drift inputs", "episode 1: events",
                 "features: 3 keys", "snapshots: ", "written to everything_on.db",
                 "records/s (embedded)"):  # fmt: skip
        assert text in table, text
    head = table.splitlines()[2]
    assert "Accuracy" in head and "LogLoss" in head and "…" not in table.split("experiment")[0]


def test_ab_verdict_names_the_sequential_test(tmp_path, cli_env):
    cfg = tmp_path / "ab.toml"
    cfg.write_text(
        f'[source]\nkind = "csv"\npath = "{WEATHER}"\ntarget = "target"\n'
        '[models.lr]\nmodel = "preprocessing.StandardScaler() | linear_model.LogisticRegression()"\n'
        '[models.tree]\nmodel = "tree.HoeffdingTreeClassifier()"\n'
        '[router]\nkind = "ab"\n[evaluation]\ndelay = 10\n'
    )
    r = strict_loads(run_cli(["run", str(cfg), "--json", "--limit", "3000"], cli_env).stdout)
    test = r["experiment"]["test"]
    assert test["status"] in ("decided", "not yet")
    served = {n: m["served"] for n, m in r["models"].items()}
    assert sum(served.values()) == 3000 and min(served.values()) > 1000  # an even split
    human = run_cli(["run", str(cfg), "--limit", "3000"], cli_env).stdout
    name = test["tests"]["tree"]["test"]  # the always-valid test the router runs
    assert f"{name}, tree vs lr: difference" in human
    assert f"verdict: {test['status']}" in human


def test_progress_bar_has_a_total_a_rate_and_an_eta(cli_env):
    out = run_cli(["run", "examples/weather.toml", "--limit", "3000", "--progress"], cli_env)
    bar = out.stderr
    assert "3000/3000" in bar and "100%" in bar and "rec/s" in bar and "eta" in bar


def test_source_total_counts_rows_cheaply(tmp_path):
    from stream_ml.config import CsvSourceConfig, JsonlSourceConfig

    assert source_total(CsvSourceConfig(kind="csv", path=str(WEATHER), target="target")) == 18159
    assert (
        source_total(CsvSourceConfig(kind="csv", path=str(WEATHER), target="target"), limit=100)
        == 100
    )
    p = tmp_path / "m.jsonl"
    p.write_text('{"a": 1}\n{"a": 2}\n{"a": 3}')  # no newline at the end
    assert (
        count_lines(str(p)) == 3 and source_total(JsonlSourceConfig(kind="jsonl", path=str(p))) == 3
    )
    assert count_lines(str(tmp_path / "missing.csv")) is None


def _weather_with_snapshots(tmp_path, name):
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(
        f'[source]\nkind = "csv"\npath = "{WEATHER}"\ntarget = "target"\n'
        '[models.lr]\nmodel = "preprocessing.StandardScaler() | linear_model.LogisticRegression()"\n'
        '[models.tree]\nmodel = "tree.HoeffdingTreeClassifier()"\n'
        "[evaluation]\ndelay = 10\n"
        f'[snapshots]\npath = "{tmp_path / name}.db"\ntrust_unsigned = true\nevery_events = 1000\n'
        f'[[sinks]]\nkind = "jsonl"\npath = "{tmp_path / name}.jsonl"\n'
    )
    return cfg


def test_ctrl_c_takes_a_snapshot_exits_130_and_the_next_run_resumes_exactly(tmp_path, cli_env):
    cfg = _weather_with_snapshots(tmp_path, "stopped")
    args = ["run", str(cfg), "--limit", "12000"]
    proc = subprocess.Popen([sys.executable, "-m", "stream_ml.cli", *args], env=cli_env,
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    sink = tmp_path / "stopped.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait for the first scheduled snapshot: mid-run
        if sink.exists() and '"kind":"snapshot"' in sink.read_text().replace(" ", ""):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        proc.communicate()
        pytest.fail("no snapshot record within 120 s")
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted: at record "), stderr
    assert "Aborted" not in stderr and "Traceback" not in stderr and stdout == ""
    assert "written to" in lines[0] and "run the same command to resume" in lines[0]
    stopped_at = int(lines[0].split("at record ")[1].split(" ")[0].replace(",", ""))
    version = int(lines[0].split("snapshot ")[1].split(" ")[0])
    assert 1000 <= stopped_at < 12000

    resumed = strict_loads(run_cli([*args, "--json"], cli_env).stdout)
    assert resumed["run"]["resumed"]["version"] == version
    assert resumed["run"]["resumed"]["records"] == stopped_at
    assert resumed["run"]["records"] == 12000 - stopped_at

    clean = strict_loads(run_cli(["run", str(_weather_with_snapshots(tmp_path, "clean")),
                                  "--limit", "12000", "--json"], cli_env).stdout)  # fmt: skip
    assert resumed["digest"] == clean["digest"]
    assert resumed["models"]["lr"]["metrics"] == clean["models"]["lr"]["metrics"]


def test_ctrl_c_without_snapshots_says_nothing_was_saved(tmp_path, cli_env):
    cfg = tmp_path / "w.toml"
    out = tmp_path / "w.jsonl"
    cfg.write_text((ROOT / "examples" / "weather.toml").read_text().replace(
        'path = "data/weather.csv.gz"', f'path = "{WEATHER}"')
        + f'[[sinks]]\nkind = "jsonl"\npath = "{out}"\n')  # fmt: skip
    with subprocess.Popen([sys.executable, "-m", "stream_ml.cli", "run", str(cfg)],
                          env=cli_env, cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # predictions written: the run is under way
            if out.exists() and out.stat().st_size > 0:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.strip().startswith("interrupted: at record ") and stdout == ""
    assert stderr.strip().endswith("no [snapshots] in the config, nothing saved")
    assert "Aborted" not in stderr and len(stderr.strip().splitlines()) == 1


def _weather_rows(tmp_path, rows=3000):
    """examples/weather.toml on a copy of the first ``rows`` rows of its CSV (a copy: the
    ``python -m bytewax.run`` entry point has no ``--limit``)."""
    with gzip.open(WEATHER, "rt") as f:
        head = [line for _, line in zip(range(rows + 1), f)]
    (tmp_path / "weather.csv").write_text("".join(head))
    cfg = tmp_path / "weather.toml"
    cfg.write_text((ROOT / "examples" / "weather.toml").read_text().replace(
        'path = "data/weather.csv.gz"', f'path = "{tmp_path / "weather.csv"}"'))  # fmt: skip
    return cfg


def test_bytewax_report_has_the_embedded_shape_and_table(tmp_path, cli_env):
    """The same report from both runtimes, on the weather example's first 3,000 rows (the whole
    18,159 before: the comparison needs a stream, not that one)."""
    args = ["run", str(_weather_rows(tmp_path)), "--json"]
    embedded = strict_loads(run_cli(args, cli_env).stdout)
    bw = strict_loads(run_cli([*args, "--runtime", "bytewax", "--workers", "2"], cli_env).stdout)
    assert set(bw) == set(embedded) == set(REPORT_KEYS)
    assert bw["runtime"]["kind"] == "bytewax" and bw["runtime"]["workers"] == 2
    assert bw["events"] == embedded["events"] == 3000
    for name in ("tree", "lr"):
        for k in ("metrics", "served", "answered", "scored", "learned"):
            assert bw["models"][name][k] == embedded["models"][name][k], (name, k)
    assert bw["digest"] == embedded["digest"]
    human_e = run_cli(args[:-1], cli_env).stdout.splitlines()
    human_b = run_cli([*args[:-1], "--runtime", "bytewax"], cli_env).stdout.splitlines()
    assert human_b[:-1] == human_e[:-1]  # the same table; the last line has the timing
    assert human_b[-1].endswith("(bytewax, 1 worker(s) x 1 process(es))")


def test_python_m_bytewax_run_without_a_sink_prints_the_report(tmp_path, cli_env):
    """``python -m bytewax.run`` on the weather example's first 3,000 rows (was all 18,159)."""
    env = {**cli_env, "STREAM_ML_CONFIG": str(_weather_rows(tmp_path))}
    out = subprocess.run([sys.executable, "-m", "bytewax.run",
                          "stream_ml.runtime.bytewax_flow:flow"], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "engine: 3,000 events, 3,000 labels" in out.stdout
    assert "Accuracy" in out.stdout and "no bad records" in out.stdout
    env["STREAM_ML_REPORT"] = "json"
    out = subprocess.run([sys.executable, "-m", "bytewax.run",
                          "stream_ml.runtime.bytewax_flow:flow"], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=300)  # fmt: skip
    r = strict_loads(out.stdout)
    assert set(r) == set(REPORT_KEYS) and r["events"] == 3000


def test_keyed_bytewax_report_adds_up_the_engines(tmp_path, cli_env):
    from tests.acceptance.streams import keyed_messages

    write_jsonl(keyed_messages(600), tmp_path / "k.jsonl")
    cfg = tmp_path / "k.toml"
    cfg.write_text(
        f'[source]\nkind = "jsonl"\npath = "{tmp_path / "k.jsonl"}"\n'
        "[models.lr]\nmodel = \"compose.Discard('store') | linear_model.LinearRegression()\"\n"
        '[evaluation]\nmetrics = ["MAE"]\n'
    )
    r = strict_loads(run_cli(["run", str(cfg), "--json", "--runtime", "bytewax", "--keyed"],
                             cli_env).stdout)  # fmt: skip
    assert set(r) == set(REPORT_KEYS) and r["runtime"]["keyed"] is True
    engines = r["engines"]
    assert len(engines) == r["runtime"]["engines"] > 1
    assert r["events"] == sum(s["events"] for s in engines.values()) == 600
    assert r["models"]["lr"]["served"] == 600 and r["models"]["lr"]["metrics"] == {"MAE": None}
    human = run_cli(["run", str(cfg), "--runtime", "bytewax", "--keyed"], cli_env).stdout
    assert f"{len(engines)} engines (one per key)" in human


def test_two_process_bytewax_report_collects_every_process(tmp_path, cli_env):
    """With --processes 2 each process writes its engines' summaries and tally to a file that
    run_bytewax reads back: the report counts every key (it used to hold no key at all)."""
    from tests.acceptance.streams import keyed_messages

    write_jsonl(keyed_messages(600), tmp_path / "k.jsonl")
    cfg = tmp_path / "k.toml"
    cfg.write_text(
        f'[source]\nkind = "jsonl"\npath = "{tmp_path / "k.jsonl"}"\n'
        "[models.lr]\nmodel = \"compose.Discard('store') | linear_model.LinearRegression()\"\n"
        '[evaluation]\nmetrics = ["MAE"]\n'
    )
    args = ["run", str(cfg), "--json", "--runtime", "bytewax", "--keyed", "--processes", "2"]
    r = strict_loads(run_cli(args, cli_env).stdout)
    assert r["runtime"]["processes"] == 2 and set(r) == set(REPORT_KEYS)
    assert r["events"] == 600 and r["models"]["lr"]["served"] == 600
    assert len(r["engines"]) == r["runtime"]["engines"] == 20
