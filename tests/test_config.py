"""TOML configs: validated by pydantic, errors name the key; model expressions parsed safely."""

from __future__ import annotations

import json
import subprocess

import pytest

from stream_ml import Engine
from stream_ml.config import load_config, parse_config
from stream_ml.errors import ConfigError, ModelExpressionError
from stream_ml.models.expr import parse_model
from tests.conftest import ROOT, SHARED


def write(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


BASE = '[models.m]\nmodel = "tree.HoeffdingTreeClassifier()"\n'


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (BASE + "[evaluation]\nmetrcs = ['Accuracy']\n", "evaluation.metrcs: unknown key"),
        (BASE + "[evaluation]\ndelay = 'soon'\n", "evaluation.delay"),
        (BASE + "[evaluation]\ndelay = -1\n", "evaluation.delay"),
        (BASE + "[evaluation]\nmetrics = ['Acuracy']\n", "Acuracy"),
        (BASE + "[labels]\nmax_pending = 0\n", "labels.max_pending"),
        ('[models.m]\nmodle = "x"\n', "models.m.modle: unknown key"),
        ("[models]\n", "models"),
        (BASE + '[source]\nkind = "parquet"\npath = "x"\n', "source"),
        (BASE + "colour = 'red'\n", "colour: unknown key"),
        ("[models.m\n", "not valid TOML"),
    ],
)
def test_config_errors_name_the_key(tmp_path, text, needle):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert needle in str(info.value)


@pytest.mark.parametrize(
    ("expr", "needle"),
    [
        ("__import__('os').system('echo hacked')", "only River classes"),
        ("os.system('x')", "not a River module"),
        ("tree.HoeffdingTreeClassifier", "is a class; call it"),
        ("tree.NoSuchTree()", "has no 'NoSuchTree'"),
        ("tree.HoeffdingTreeClassifier(grace_period=open('x'))", "open is not a River module"),
        ("tree.HoeffdingTreeClassifier(gracep=1)", "unexpected keyword"),
        ("tree.HoeffdingTreeClassifier(", "syntax error"),
        ("linear_model.LogisticRegression() - tree.HoeffdingTreeClassifier()", "only |"),
        ("tree.HoeffdingTreeClassifier().__class__", "private names"),
        ("[x for x in ()]", "not allowed"),
        ("datasets.Phishing()", "not a River module"),
        ("lambda: 1", "not allowed"),
        ("metrics.Accuracy()", "not a River estimator"),
        ("", "empty"),
    ],
)
def test_bad_model_expressions_say_what_is_wrong(expr, needle):
    with pytest.raises(ModelExpressionError) as info:
        parse_model(expr)
    assert needle in str(info.value)


def test_good_model_expressions():
    m = parse_model(
        "preprocessing.StandardScaler() | linear_model.LogisticRegression("
        "optimizer=optim.SGD(0.05), l2=1e-4)"
    )
    assert type(m).__name__ == "Pipeline"
    u = parse_model("compose.Select('a') + compose.Select('b') | tree.HoeffdingTreeClassifier()")
    assert type(u).__name__ == "Pipeline"
    neg = parse_model("linear_model.LinearRegression(intercept_init=-1.5)")
    assert neg.intercept_init == -1.5
    nested = parse_model(
        "river.tree.HoeffdingTreeClassifier(splitter=tree.splitter.GaussianSplitter())"
    )
    assert type(nested.splitter).__name__ == "GaussianSplitter"


def test_toml_and_python_build_the_same_engine(tmp_path):
    p = write(
        tmp_path,
        '[models.lr]\nmodel = "preprocessing.StandardScaler() | '
        'linear_model.LogisticRegression()"\n[models.tree]\n'
        'model = "tree.HoeffdingTreeClassifier()"\n'
        '[evaluation]\nmetrics = ["Accuracy", "F1"]\n',
    )
    from river import linear_model, preprocessing, tree

    a = Engine.from_config(p)
    b = Engine(
        models={
            "lr": preprocessing.StandardScaler() | linear_model.LogisticRegression(),
            "tree": tree.HoeffdingTreeClassifier(),
        },
        metrics=["Accuracy", "F1"],
    )
    for eng in (a, b):
        for i in range(300):
            eng.predict({"x": float(i % 11), "y": float(i % 3)}, id=str(i))
            eng.learn(str(i), (i % 11) > 4)
    assert a.summary()["models"] == b.summary()["models"]
    assert [s.name for s in a.slots] == ["lr", "tree"]


def test_the_issue_toml_runs_as_written_from_the_repo_root(cli_env, python):
    if not (SHARED / "data" / "weather.csv.gz").exists():
        pytest.skip("../shared is not next to this checkout (it is in CI)")
    out = subprocess.run(
        [python, "-m", "stream_ml.cli", "run", "examples/weather_shared.toml", "--json"],
        capture_output=True,
        text=True,
        env=cli_env,
        cwd=ROOT,
        check=True,
    )
    s = json.loads(out.stdout)
    assert s["events"] == 18159 and s["errors"]["total"] == 0
    assert set(s["models"]) == {"tree", "lr"}
    assert s["models"]["tree"]["role"] == "primary"
    for m in s["models"].values():
        assert set(m["metrics"]) == {"Accuracy", "F1"}
        assert 0.6 < m["metrics"]["Accuracy"] < 0.9


@pytest.mark.parametrize(
    "path", sorted(ROOT.glob("examples/*.toml")), ids=lambda p: p.name
)
def test_a_dumped_config_parses_again_to_the_same_digest(path) -> None:
    """Every example config survives model_dump -> parse (as a snapshot's or a card's stored
    config must), and its digest counts only what differs from the defaults."""
    cfg = load_config(path)
    again = parse_config(cfg.model_dump(mode="json"))
    assert again == cfg and again.digest() == cfg.digest()
    assert parse_config({**cfg.model_dump(mode="json"), "seed": cfg.seed + 1}).digest() != cfg.digest()
