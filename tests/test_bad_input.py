"""Bad rows and messages: a typed error naming the field, counted with the line; no state change."""

from __future__ import annotations

import gzip
import json
import subprocess

import pytest

from stream_ml.config import parse_config
from stream_ml.runtime.build import run_config
from tests.conftest import WEATHER

MODELS = {
    "tree": {"model": "tree.HoeffdingTreeClassifier()"},
    "lr": {"model": "preprocessing.StandardScaler() | linear_model.LogisticRegression()"},
}


def weather_lines(n=600):
    with gzip.open(WEATHER, "rt") as f:
        return [next(f) for _ in range(n + 1)]


def config(path, **evaluation):
    return parse_config(
        {
            "source": {"kind": "csv", "path": str(path), "target": "target"},
            "models": MODELS,
            "evaluation": {"metrics": ["Accuracy", "F1"], **evaluation},
        }
    )


def strip_summary(s):
    return {k: s[k] for k in ("events", "feedback", "models", "labels")}


@pytest.mark.parametrize("delay", [0, 5])
def test_bad_rows_are_counted_named_and_change_nothing(tmp_path, delay):
    lines = weather_lines()
    clean = tmp_path / "clean.csv"
    clean.write_text("".join(lines))
    bad_lines = list(lines)
    # line numbers are 1-based with the header on line 1
    bad_lines.insert(11, "19.8,14.0,1019.6,8.4,9.9,15.9,28.9,14.0,\n")  # missing target
    bad_lines.insert(21, "19.8,abc,1019.6,8.4,9.9,15.9,28.9,14.0,0\n")  # not a number
    bad_lines.insert(31, "19.8,nan,1019.6,8.4,9.9,15.9,28.9,14.0,0\n")  # not finite
    bad = tmp_path / "bad.csv"
    bad.write_text("".join(bad_lines))
    ref = run_config(config(clean, delay=delay))
    got = run_config(config(bad, delay=delay))
    errors = got["errors"]
    assert errors["total"] == 3
    assert errors["by_code"] == {"missing_field": 1, "not_a_number": 2}
    by_line = {e["offset"]: (e["code"], e["field"]) for e in errors["samples"]}
    assert by_line == {
        "bad.csv:12": ("missing_field", "target"),
        "bad.csv:22": ("not_a_number", "feat_2"),
        "bad.csv:32": ("not_a_number", "feat_2"),
    }
    # the good rows give exactly what the clean file gives: the bad ones changed no state
    assert strip_summary(got)["models"] == strip_summary(ref)["models"]
    assert got["events"] == ref["events"] == 600


def test_message_stream_with_unknown_ids_and_malformed_lines(tmp_path):
    msgs = tmp_path / "msgs.jsonl"
    rows = [
        {"id": "a", "features": {"x": 1.0}},
        {"id": "a", "label": True},
        {"id": "ghost", "label": True},
        "this is not json",
        {"id": "b", "features": {"x": "1.0", "y": {"deep": 1}}},
        {"id": "b", "features": {"x": 2.0}},
        {"kind": "feedback", "id": "b", "label": False},
    ]
    msgs.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    cfg = parse_config(
        {
            "source": {"kind": "jsonl", "path": str(msgs)},
            "models": {"tree": MODELS["tree"]},
        }
    )
    s = run_config(cfg)
    assert s["events"] == 2 and s["feedback"] == 2
    assert s["errors"]["by_code"] == {"malformed_message": 2, "unknown_id": 1}
    offsets = sorted(e["offset"] for e in s["errors"]["samples"])
    # file:line, 1-based (record 2 is on line 3)
    assert offsets == ["msgs.jsonl:3", "msgs.jsonl:4", "msgs.jsonl:5"]


def test_strict_stops_at_the_first_bad_row(tmp_path, cli_env, python):
    lines = weather_lines(50)
    lines.insert(6, "1,2,3,4,5,6,seven,8,0\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("".join(lines))
    toml = tmp_path / "c.toml"
    toml.write_text(
        f'[source]\nkind = "csv"\npath = "{bad}"\ntarget = "target"\n'
        '[models.tree]\nmodel = "tree.HoeffdingTreeClassifier()"\n'
    )
    run = subprocess.run(
        [python, "-m", "stream_ml.cli", "run", str(toml), "--strict"],
        capture_output=True,
        text=True,
        env=cli_env,
    )
    assert run.returncode == 2
    assert "feat_7" in run.stderr and "bad.csv:7" in run.stderr
    lenient = subprocess.run(
        [python, "-m", "stream_ml.cli", "run", str(toml), "--json"],
        capture_output=True,
        text=True,
        env=cli_env,
        check=True,
    )
    s = json.loads(lenient.stdout)
    assert s["errors"]["by_code"] == {"not_a_number": 1} and s["events"] == 50
