"""Freshness experiments on the weather stream and the drift scenarios.

The policies are engine slots: continual learning in a freshness run scores exactly what a plain
run of the same config scores (same label join, same prequential metrics). On an abrupt concept
drift the frozen model's accuracy after the drift is visibly lower; on a stationary stream every
policy converges to continual learning. Fixed seeds, three trials, stated margins.
"""

from __future__ import annotations

import math

import pytest

from stream_ml.config import load_config
from stream_ml.continual.freshness import LR, run_freshness, run_freshness_scenario
from stream_ml.errors import ConfigError
from stream_ml.runtime.build import run_config

WEATHER = "examples/weather.toml"
POLICIES = ["continual", "every:1", "every:100", "frozen:500", "stateless:500:100"]


@pytest.fixture(scope="module")
def weather():
    return run_freshness(WEATHER, policies=POLICIES, limit=2000, points=20)


def test_weather_continual_scores_what_a_plain_run_scores(weather):
    plain = run_config(load_config(WEATHER), limit=2000)["models"]
    for model in ("tree", "lr"):
        row = weather.row(f"{model}@continual")
        assert row["metrics"] == plain[model]["metrics"]
        assert row["rolling"] == plain[model]["rolling"]
        assert row["scored"] == plain[model]["scored"]
        # the empty tree's first answers (before its first label) are None: not scored
        assert plain[model]["scored"] == plain[model]["answered"] > 1900
        # every:1 is continual learning too
        assert weather.row(f"{model}@every_1")["metrics"] == row["metrics"]


def test_weather_report_rows_costs_and_timeline(weather):
    assert [r["slot"] for r in weather.rows] == [f"{m}@{p}" for m in ("tree", "lr") for p in
        ("continual", "every_1", "every_100", "frozen_500", "stateless_w500_k100")]  # fmt: skip
    assert weather.events == 2000 and weather.labels == 2000
    for model in ("tree", "lr"):
        assert weather.row(f"{model}@continual")["updates"] == 2000
        assert weather.row(f"{model}@every_100")["publishes"] == 20
        assert weather.row(f"{model}@frozen_500")["updates"] == 500
        stateless = weather.row(f"{model}@stateless_w500_k100")
        # a 500-label window every 100 labels: each label goes to the 5 models in training
        assert stateless["updates"] == 5 * 2000 and stateless["publishes"] == 20
        assert stateless["stateful_peer"] == "every_100"
        assert weather.row(f"{model}@continual")["gap"] == {"Accuracy": 0.0, "F1": 0.0}
        for r in weather.rows:
            assert r["seconds"] >= 0.0
    # an empty Hoeffding tree has no answer: every:100 serves one for its first 100 events
    assert weather.row("tree@every_100")["unanswered"] >= 100
    assert weather.row("tree@continual")["unanswered"] < weather.row("tree@every_100")["unanswered"]
    assert all(weather.row(f"lr@{p}")["unanswered"] == 0 for p in ("continual", "every_100"))
    assert len(weather.timeline) == 20
    xs, ys = weather.series("lr@frozen_500")
    assert xs == list(range(100, 2001, 100)) and all(0.0 <= y <= 1.0 for y in ys)
    # no value before a slot's first answer (a rolling metric over nothing is not 0)
    first = weather.row("tree@every_100")["first_answer"]
    assert first >= 100
    _, ys = weather.series("tree@every_100")
    assert [y is None for y in ys] == [x <= first for x in xs]
    table = weather.markdown(seconds=False)
    assert table.count("\n") == 1 + len(weather.rows) and "learn s" not in table


def test_freshness_runs_are_deterministic_but_for_wall_time():
    def strip(report):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in report.rows]

    a = run_freshness_scenario("drift-abrupt", events=1500, seed=3, models={"lr": LR},
                               policies=["continual", "stateless:300:50"])  # fmt: skip
    b = run_freshness_scenario("drift-abrupt", events=1500, seed=3, models={"lr": LR},
                               policies=["continual", "stateless:300:50"])  # fmt: skip
    assert strip(a) == strip(b) and a.timeline == b.timeline


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_abrupt_drift_the_frozen_model_loses_after_the_drift(seed: int):
    report = run_freshness_scenario(
        "drift-abrupt", events=4000, seed=seed, models={"lr": LR},
        policies=["continual", "every:100", "frozen:1000", "stateless:1000:100"],
    )  # fmt: skip
    assert report.drift_points == [2000]
    after = {r["policy"]: r["after_drift"][0]["Accuracy"] for r in report.rows}
    before = {p: report.series(f"lr@{p}")[1][report.timeline_index(2000)] for p in after}
    # half the space flips its label: frozen on the old concept is near chance afterwards
    assert after["frozen_1000"] < 0.62
    assert after["frozen_1000"] < after["continual"] - 0.2
    assert after["frozen_1000"] < before["frozen_1000"] - 0.3
    # the policies that learn recover
    for p in ("continual", "every_100", "stateless_w1000_k100"):
        assert after[p] > 0.75, (p, after)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stationary_stream_every_policy_converges(seed: int):
    report = run_freshness_scenario(
        "stationary", events=4000, seed=seed, models={"lr": LR},
        policies=["continual", "every:100", "every:1000", "frozen:1000", "stateless:1000:100"],
    )  # fmt: skip
    assert report.drift_points == []
    final = {r["policy"]: r["rolling"]["Accuracy"] for r in report.rows}
    assert final["continual"] > 0.9
    for p, acc in final.items():  # within 2 points of continual learning at the end
        assert abs(acc - final["continual"]) < 0.02, (p, final)


def test_bad_freshness_requests_are_config_errors():
    with pytest.raises(ConfigError, match="repeat"):
        run_freshness(WEATHER, policies=["every:5", "every:5"], limit=10)
    with pytest.raises(ConfigError, match="at least one policy"):
        run_freshness(WEATHER, policies=[], limit=10)


def test_after_drift_is_nan_without_points_after(weather):
    assert all(r["after_drift"] == [] for r in weather.rows)
    assert not math.isnan(weather.row("lr@continual")["rolling"]["Accuracy"])
