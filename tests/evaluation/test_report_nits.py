"""The review's nits on the slices' and calibration's reports (N1-N3): /v1/slices keeps
``window`` and its schema describes ``window`` and ``recent``; ``overall`` is None before any
scored event; the CLI heading says "above" for an error metric; the card's last bin is closed."""

from __future__ import annotations

from river import base, compose, linear_model

from stream_ml import Engine
from stream_ml.cli_report import slices_tables
from stream_ml.continual.card import _calibration_md
from stream_ml.serve import introspect
from stream_ml.serve.schemas import SlicesOut


class _Sure(base.Classifier):
    def learn_one(self, x: dict, y: bool) -> None:
        pass

    def predict_proba_one(self, x: dict) -> dict:
        return {True: 1.0, False: 0.0} if x["r"] == "a" else {True: 0.75, False: 0.25}


def test_v1_slices_keeps_window_and_its_schema_holds_window_and_recent() -> None:
    engine = Engine({"m": _Sure()}, slices={"by": ["r"], "window": 50, "check_every": 10})
    for i in range(120):
        engine.predict({"r": "ab"[i % 2]}, id=str(i))
        engine.learn(str(i), True)
    out = introspect.slices(engine.summary())
    assert out["window"] == 50
    parsed = SlicesOut.model_validate(out)
    assert parsed.window == 50
    row = parsed.models["m"].slices[0]
    assert row.recent is not None and row.recent.n == out["models"]["m"]["slices"][0]["recent"]["n"]
    assert {"window"} <= set(SlicesOut.model_json_schema()["properties"])
    off = introspect.slices({"models": {}})
    assert off["configured"] is False and off["window"] is None
    SlicesOut.model_validate(off)


def test_overall_is_none_before_any_scored_event() -> None:
    engine = Engine({"m": compose.Discard("r") | linear_model.LinearRegression()}, slices=["r"])
    assert engine.summary()["slices"]["models"]["m"]["overall"] is None
    engine.predict({"r": "a", "x": 1.0}, id="0")
    engine.learn("0", 1.0)
    assert engine.summary()["slices"]["models"]["m"]["overall"] == 1.0  # MAE of a 0 answer


def test_cli_heading_says_above_for_an_error_metric() -> None:
    reg = Engine({"m": compose.Discard("r") | linear_model.LinearRegression()}, slices=["r"])
    clf = Engine({"m": _Sure()}, slices=["r"])
    for i in range(20):
        reg.predict({"r": "ab"[i % 2], "x": 1.0}, id=str(i))
        reg.learn(str(i), 2.0)
        clf.predict({"r": "ab"[i % 2]}, id=str(i))
        clf.learn(str(i), True)
    ((heading, _, _),) = slices_tables(reg.summary()["slices"])
    assert heading.startswith("worst slices of m by r: MAE") and heading.endswith("above)")
    ((heading, _, _),) = slices_tables(clf.summary()["slices"])
    assert heading.endswith("0.0500 below)")


def test_card_closes_the_last_bin() -> None:
    engine = Engine({"m": _Sure()})
    for i in range(20):
        engine.predict({"r": "ab"[i % 2]}, id=str(i))
        engine.learn(str(i), True)
    cal = engine.metrics()["m"]["calibration"]
    lines = _calibration_md([{"name": "m", "calibration": cal}])
    bins = [line for line in lines if line.startswith("  - confidence")]
    assert bins[0].startswith("  - confidence [0.7, 0.8): 10 events")
    assert bins[1].startswith("  - confidence [0.9, 1.0]: 10 events")
