"""Backtests of stored snapshots and model cards, on real SQLite stores written by real runs:
the weather stream (backtests) and the abrupt-drift scenario with a challenger promotion and a
rollback (cards)."""

from __future__ import annotations

import csv
import gzip
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from river import metrics

import scenarios
from connectors import IterableSource
from stream_ml.cli import main
from stream_ml.config import SnapshotsConfig, parse_config
from stream_ml.continual.backtest import backtest
from stream_ml.continual.card import card_facts, card_html, card_markdown
from stream_ml.engine import Engine
from stream_ml.errors import ConfigError, StreamMLError
from stream_ml.runtime.build import open_snapshots, run_config
from stream_ml.runtime.replay import Replay
from stream_ml.snapshots import SnapshotStore

WEATHER = "data/weather.csv.gz"


@pytest.fixture(scope="module")
def weather_db(tmp_path_factory) -> str:
    db = str(tmp_path_factory.mktemp("bt") / "weather.db")
    cfg = parse_config({
        "source": {"kind": "csv", "path": WEATHER, "target": "target"},
        "models": {"tree": {"model": "tree.HoeffdingTreeClassifier()"},
                   "lr": {"model": "preprocessing.StandardScaler() | "
                                   "linear_model.LogisticRegression()"}},
        "evaluation": {"metrics": ["Accuracy", "F1"], "delay": 10},
        "snapshots": {"path": db, "every_events": 500, "trust_unsigned": True},
    })  # fmt: skip
    run_config(cfg, limit=2000)
    return db


def _rows(start: int, n: int) -> list[tuple[dict, int]]:
    with gzip.open(WEATHER, "rt") as f:
        rows = list(csv.DictReader(f))[start : start + n]
    return [({k: float(v) for k, v in r.items() if k != "target"}, int(r["target"])) for r in rows]


def test_backtest_scores_each_version_as_a_predict_only_loop(weather_db):
    rows = backtest(weather_db, [1, 4], WEATHER, start=2000, limit=500, trust_unsigned=True)
    assert [(r["version"], r["model"]) for r in rows] == [(1, "tree"), (1, "lr"), (4, "tree"),
                                                          (4, "lr")]  # fmt: skip
    window = _rows(2000, 500)
    with SnapshotStore(weather_db, trust_unsigned=True) as store:
        for r in rows:
            model = store.load(r["version"])[0]["engine"].model(r["model"])
            acc, f1 = metrics.Accuracy(), metrics.F1()
            for x, y in window:
                y_pred = model.predict_one(x)
                acc.update(y, y_pred)
                f1.update(y, y_pred)
            assert r["metrics"]["Accuracy"] == pytest.approx(acc.get(), abs=1e-12)
            assert r["metrics"]["F1"] == pytest.approx(f1.get(), abs=1e-12)
            assert r["scored"] == 500 and r["learned"] == 0 and r["records"] == 500
    assert rows[0]["snapshot_events"] == 500 and rows[2]["snapshot_events"] == 2000
    assert rows[0]["metrics"] != rows[2]["metrics"]  # more training, another model


def test_backtest_on_a_config_window(weather_db, tmp_path):
    config = tmp_path / "window.toml"
    config.write_text(f'[source]\nkind = "csv"\npath = "{Path(WEATHER).resolve()}"\n'
                      'target = "target"\n[models.lr]\nmodel = "linear_model.LogisticRegression()"\n'
                      "[evaluation]\ndelay = 3\n")  # fmt: skip
    by_config = backtest(weather_db, [2], str(config), start=100, limit=200, trust_unsigned=True)
    by_file = backtest(weather_db, [2], WEATHER, start=100, limit=200, trust_unsigned=True)
    # nothing learns: the label delay does not change a single prediction
    assert [r["metrics"] for r in by_config] == [r["metrics"] for r in by_file]


def test_backtest_errors_are_typed(weather_db, tmp_path):
    with pytest.raises(StreamMLError, match="no snapshot version 99"):
        backtest(weather_db, [99], WEATHER, trust_unsigned=True)
    with pytest.raises(ConfigError, match="no snapshot store"):
        backtest(str(tmp_path / "none.db"), [1], WEATHER, trust_unsigned=True)
    with pytest.raises(ConfigError, match="no signing key"):
        backtest(weather_db, [1], WEATHER, key_env="STREAM_ML_NO_SUCH_KEY")
    with pytest.raises(ConfigError, match="no data file"):
        backtest(weather_db, [1], str(tmp_path / "missing.csv"), trust_unsigned=True)


def test_backtest_cli(weather_db):
    runner = CliRunner()
    res = runner.invoke(main, ["backtest", weather_db, "--versions", "1,2", "--on", WEATHER,
                               "--start", "2000", "--limit", "300", "--trust-unsigned", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [(r["version"], r["model"], r["scored"]) for r in rows] == [
        (1, "tree", 300), (1, "lr", 300), (2, "tree", 300), (2, "lr", 300)]  # fmt: skip
    res = runner.invoke(main, ["backtest", weather_db, "--versions", "2", "--on", WEATHER,
                               "--limit", "100", "--trust-unsigned"])  # fmt: skip
    assert res.exit_code == 0 and "backtest on" in res.output and "lr" in res.output
    res = runner.invoke(main, ["backtest", weather_db, "--versions", "7x", "--on", WEATHER])
    assert res.exit_code == 2 and "integers" in res.output


# -- model cards ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def drift_db(tmp_path_factory) -> tuple[str, int]:
    """The abrupt-drift scenario (ADWIN starts a challenger, which is promoted) with snapshots
    every 1000 events, then a rollback to version 2 and a snapshot after it."""
    db = str(tmp_path_factory.mktemp("card") / "drift.db")
    sc = scenarios.get("drift-abrupt")
    cfg = sc.engine_config(0).model_copy(update={"snapshots": SnapshotsConfig(
        path=db, every_events=1000, trust_unsigned=True)})  # fmt: skip
    engine = Engine.from_config(cfg)
    stage = open_snapshots(cfg, engine)
    replay = Replay(engine, IterableSource(sc.messages(6000, 0)), None, snapshots=stage)
    replay.run()
    engine.rollback(2, reason="back to the pre-drift model")
    info = replay.snapshot(tags=("rollback",), note="after the rollback to 2")
    stage.close()
    return db, info.version


def test_card_facts_from_the_store(drift_db):
    db, version = drift_db
    with SnapshotStore(db, trust_unsigned=True) as store:
        facts = card_facts(store, version)
        infos = store.list()
    assert facts["snapshot"]["version"] == version and facts["snapshot"]["tags"] == ["rollback"]
    assert facts["config"]["matches"] is True and facts["config"]["metrics"] == ["Accuracy"]
    models = {m["name"]: m for m in facts["models"]}
    assert models["model"]["expression"] == "tree.HoeffdingTreeClassifier()"
    assert models["model"]["replaced"] == 2  # the promotion, then the rollback
    assert models["control"]["role"] == "shadow"
    assert facts["training"]["events"] == 6000 and facts["training"]["labels"] == 6000
    assert facts["training"]["last_event_time"] == 5999.0
    assert facts["lineage"]["chain"] == [i.version for i in infos]
    promotions = [m for m in facts["lineage"]["marked"] if "promotion" in m["tags"]]
    assert promotions and "promoted" in promotions[0]["note"]
    rollbacks = [a for a in facts["lineage"]["audit"] if a["action"] == "rollback"]
    assert [(a["to_version"], a["reason"]) for a in rollbacks] == [
        (2, "back to the pre-drift model")]  # fmt: skip
    drift = {d["name"]: d for d in facts["drift"]}
    assert set(drift) == {"features", "error"} and drift["error"]["alerts"] >= 1
    assert drift["error"]["recent_episodes"]
    assert facts["experiment"] is None
    # the same facts again: nothing is recomputed on data
    with SnapshotStore(db, trust_unsigned=True) as store:
        again = card_facts(store, version)
    assert json.dumps(again, default=str) == json.dumps(facts, default=str)  # (NaN != NaN)


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def test_card_markdown_and_html(drift_db):
    db, version = drift_db
    with SnapshotStore(db, trust_unsigned=True) as store:
        facts = card_facts(store, version)
    text = card_markdown(facts)
    for heading in ("## Configuration", "## Models", "## Training data", "## Lineage",
                    "## Drift", "## Experiment"):  # fmt: skip
        assert heading in text
    assert "| rollback | " in text and "back to the pre-drift model" in text
    assert "`tree.HoeffdingTreeClassifier()`" in text
    parser = _Tables()
    parser.feed(card_html(facts))
    assert parser.tags.count("table") == 2 and parser.tags.count("h2") == 6


def test_card_cli_writes_markdown_and_html(drift_db, tmp_path):
    db, version = drift_db
    md, page = tmp_path / "card.md", tmp_path / "card.html"
    res = CliRunner().invoke(main, ["card", db, str(version), "--markdown", str(md), "--html",
                                    str(page), "--trust-unsigned"])  # fmt: skip
    assert res.exit_code == 0, res.output
    with SnapshotStore(db, trust_unsigned=True) as store:
        assert md.read_text() == card_markdown(card_facts(store, version))
    assert page.read_text().startswith("<!DOCTYPE html>")
    res = CliRunner().invoke(main, ["card", db, "1", "--trust-unsigned"])
    assert res.exit_code == 0 and res.output.startswith("# Model card: drift-abrupt, snapshot 1")
    res = CliRunner().invoke(main, ["card", db, "404", "--trust-unsigned"])
    assert res.exit_code == 1 and "no snapshot version 404" in res.output


def test_card_of_an_experiment_lists_its_arms(tmp_path):
    db = str(tmp_path / "bandit.db")
    sc = scenarios.get("bandit-variants")
    cfg = sc.engine_config(0).model_copy(update={"snapshots": SnapshotsConfig(
        path=db, every_events=500, trust_unsigned=True)})  # fmt: skip
    engine = Engine.from_config(cfg)
    stage = open_snapshots(cfg, engine)
    Replay(engine, IterableSource(sc.messages(1000, 0)), None, snapshots=stage).run()
    stage.close()
    with SnapshotStore(db, trust_unsigned=True) as store:
        version = store.list()[-1].version
        facts = card_facts(store, version)
    e = facts["experiment"]
    assert set(e["arms"]) == set(cfg.models) and e["decisions"] > 0
    text = card_markdown(facts)
    for arm in cfg.models:
        assert f"- {arm}: n {e['arms'][arm]['n']}" in text
