"""Final prequential metrics equal river.evaluate.progressive_val_score, to 1e-12.

Same models, same metric, same delay, same stream: on River's bundled Phishing dataset and on
the weather stream (the repo's copy of it), with delay 0 and delay > 0, through the public paths
(``run_config`` and the ``--json`` CLI).
"""

from __future__ import annotations

import json
import subprocess

import pytest
from river import datasets, evaluate, linear_model, metrics, preprocessing, stream, tree

from stream_ml.config import parse_config
from stream_ml.runtime.build import run_config
from tests.conftest import WEATHER

MODELS = {
    "lr": "preprocessing.StandardScaler() | linear_model.LogisticRegression()",
    "tree": "tree.HoeffdingTreeClassifier()",
}


def river_model(name):
    if name == "lr":
        return preprocessing.StandardScaler() | linear_model.LogisticRegression()
    return tree.HoeffdingTreeClassifier()


def weather_stream():
    conv = {f"feat_{i}": float for i in range(1, 9)}
    conv["target"] = int
    return stream.iter_csv(str(WEATHER), target="target", converters=conv, compression="gzip")


def river_value(dataset_fn, model_name, metric_name, delay):
    return evaluate.progressive_val_score(
        dataset_fn(), river_model(model_name), getattr(metrics, metric_name)(), delay=delay
    ).get()


@pytest.mark.parametrize("delay", [0, 7, 100])
def test_phishing_equals_river(delay):
    cfg = parse_config(
        {
            "source": {"kind": "river", "dataset": "Phishing", "target": "is_phishing"},
            "models": {k: {"model": v} for k, v in MODELS.items()},
            "evaluation": {"metrics": ["Accuracy", "F1", "ROCAUC", "LogLoss"], "delay": delay},
        }
    )
    summary = run_config(cfg)
    assert summary["events"] == 1250
    for name in MODELS:
        for metric in ("Accuracy", "F1", "ROCAUC", "LogLoss"):
            ref = river_value(datasets.Phishing, name, metric, delay)
            got = summary["models"][name]["metrics"][metric]
            assert got == pytest.approx(ref, abs=1e-12, rel=0), (name, metric)


@pytest.mark.parametrize("delay", [0, 25])
def test_weather_csv_equals_river_through_the_cli(delay, tmp_path, cli_env, python):
    cfg = tmp_path / "weather.toml"
    cfg.write_text(
        f'[source]\nkind = "csv"\npath = "{WEATHER}"\ntarget = "target"\n'
        f'[models.tree]\nmodel = "{MODELS["tree"]}"\n[models.lr]\nmodel = "{MODELS["lr"]}"\n'
        f'[evaluation]\nmetrics = ["Accuracy", "F1"]\ndelay = {delay}\n'
    )
    out = subprocess.run(
        [python, "-m", "stream_ml.cli", "run", str(cfg), "--json"],
        capture_output=True,
        text=True,
        env=cli_env,
        check=True,
    )
    summary = json.loads(out.stdout)
    assert summary["events"] == 18159
    assert summary["errors"]["total"] == 0
    for name in MODELS:
        for metric in ("Accuracy", "F1"):
            ref = river_value(weather_stream, name, metric, delay)
            got = summary["models"][name]["metrics"][metric]
            assert got == pytest.approx(ref, abs=1e-12, rel=0), (name, metric)
