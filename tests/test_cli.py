"""The stream-ml command: run (table and --json), scenario list, scenario run."""

from __future__ import annotations

import gzip
import json
import subprocess

from tests.conftest import ROOT


def cli(args, env, python, check=True):
    return subprocess.run(
        [python, "-m", "stream_ml.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=check,
    )


def test_run_prints_a_table_of_final_metrics(cli_env, python):
    out = cli(["run", "examples/weather.toml", "--limit", "2000"], cli_env, python)
    assert "Accuracy" in out.stdout and "tree" in out.stdout and "lr" in out.stdout
    assert "primary" in out.stdout and "no bad records" in out.stdout


def test_run_json_shape(cli_env, python):
    out = cli(["run", "examples/weather.toml", "--json", "--limit", "3000"], cli_env, python)
    s = json.loads(out.stdout)
    assert s["events"] == 3000
    assert set(s["models"]["tree"]["metrics"]) == {"Accuracy", "F1"}
    assert s["errors"] == {"total": 0, "by_code": {}, "samples": []}


def test_missing_config_is_a_clean_error(cli_env, python, tmp_path):
    out = cli(["run", str(tmp_path / "nope.toml")], cli_env, python, check=False)
    assert out.returncode == 1 and "cannot read config" in out.stderr
    assert "Traceback" not in out.stderr


def test_scenario_list_and_run(cli_env, python):
    out = cli(["scenario", "list"], cli_env, python)
    assert "sea-drift" in out.stdout
    out = cli(
        ["scenario", "run", "sea-drift", "--events", "3000", "--seed", "3", "--json"],
        cli_env,
        python,
    )
    r = json.loads(out.stdout)
    assert r["summary"]["events"] == 3000 and r["summary"]["feedback"] == 3000
    assert r["report"]["truth"]["drift_points"] == [1500]
    assert set(r["report"]["phases"]) == {"lr", "hat", "tree"}
    human = cli(["scenario", "run", "sea-drift", "--events", "2000"], cli_env, python)
    assert "rolling Accuracy over time" in human.stdout


def test_unknown_scenario(cli_env, python):
    out = cli(["scenario", "run", "nope"], cli_env, python, check=False)
    assert out.returncode == 1 and "no scenario 'nope'" in out.stderr


def test_run_on_bytewax_equals_the_embedded_run(cli_env, python, tmp_path):
    """Bytewax (2 workers) on the first 3,000 weather rows ends with the metrics of the
    embedded run cut there by ``--limit 3000`` (a copy of those rows: the Bytewax runtime
    reads a source to its end). Two runs of 3,000 rows; before, a third run and two of them
    on all 18,159 rows."""
    with gzip.open(ROOT / "data" / "weather.csv.gz", "rt") as f:
        (tmp_path / "weather.csv").write_text("".join(line for _, line in zip(range(3001), f)))
    cfg = tmp_path / "weather.toml"
    cfg.write_text((ROOT / "examples" / "weather.toml").read_text().replace(
        'path = "data/weather.csv.gz"', f'path = "{tmp_path / "weather.csv"}"'))  # fmt: skip
    args = ["run", "examples/weather.toml", "--json", "--limit", "3000"]
    embedded = json.loads(cli(args, cli_env, python).stdout)
    bw = json.loads(cli(["run", str(cfg), "--json", "--runtime", "bytewax", "--workers", "2"],
                        cli_env, python).stdout)  # fmt: skip
    assert bw["runtime"]["kind"] == "bytewax" and embedded["runtime"]["kind"] == "embedded"
    assert bw["events"] == embedded["events"] == 3000
    for name in ("tree", "lr"):
        assert bw["models"][name]["metrics"] == embedded["models"][name]["metrics"]


def test_run_report_shows_drift_episodes_and_snapshots(cli_env, python, tmp_path):
    """The report names each monitor's alerts, episodes and state, and the snapshots written;
    a monitor with no detector given gets the default KS (its default dict is validated)."""
    cfg = tmp_path / "drift.toml"
    cfg.write_text(
        f'[source]\nkind = "csv"\npath = "{ROOT / "data" / "weather.csv.gz"}"\ntarget = "target"\n'
        '[models.lr]\nmodel = "preprocessing.StandardScaler() | linear_model.LogisticRegression()"\n'
        "[evaluation]\ndelay = 10\n"
        '[[drift]]\nname = "inputs"\non = "features"\nfields = ["feat_1", "feat_2", "feat_3"]\n'
        f'[snapshots]\npath = "{tmp_path / "s.db"}"\ntrust_unsigned = true\nevery_events = 2000\n'
    )
    out = cli(["run", str(cfg), "--limit", "6000"], cli_env, python).stdout
    assert "drift inputs (features: feat_1, feat_2, feat_3): 1 alert(s), 1 episode(s)" in out
    assert "episode 1: events" in out
    assert f"snapshots: 3 written to {tmp_path / 's.db'}, last version 3 (event 6,000" in out
    assert "scored" in out and "learned" in out


def test_source_limit_is_applied_and_bytewax_refuses_a_limit(cli_env, python, tmp_path):
    """``[source] limit`` stops a csv replay there (it was ignored: only River datasets applied
    it); ``--limit`` and ``[source] limit`` with ``--runtime bytewax``, which reads the whole
    source, are refused with a message (exit 2 and 1), not silently ignored."""
    cfg = (ROOT / "examples" / "weather.toml").read_text()
    cfg = cfg.replace('path = "data/weather.csv.gz"', f'path = "{ROOT}/data/weather.csv.gz"\nlimit = 700')
    assert "limit = 700" in cfg
    path = tmp_path / "limited.toml"
    path.write_text(cfg)
    out = cli(["run", str(path), "--json"], cli_env, python)
    assert json.loads(out.stdout)["events"] == 700
    out = cli(["run", str(path), "--json", "--limit", "300"], cli_env, python)
    assert json.loads(out.stdout)["events"] == 300  # the command line wins
    bad = cli(["run", "examples/weather.toml", "--runtime", "bytewax", "--limit", "10"], cli_env,
              python, check=False)  # fmt: skip
    assert bad.returncode == 2 and "--limit is not supported with --runtime bytewax" in bad.stderr
    bad = cli(["run", str(path), "--runtime", "bytewax"], cli_env, python, check=False)
    assert bad.returncode == 1 and "source.limit is not supported" in bad.stderr
