"""Calibration (#15): the reliability curve and top-label ECE over the Prequential ring, and the
ECE monitor's episodes, with synthetic predictors whose calibration is known."""

from __future__ import annotations

import csv
import gzip
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from river import base, linear_model, preprocessing

from stream_ml import Engine
from stream_ml.errors import ConfigError
from stream_ml.evaluation.calibration import reliability

ROOT = Path(__file__).resolve().parents[2]


class KnownProba(base.Classifier):
    """A real River classifier that says ``P(True) = x["p"]`` pushed by ``power`` toward 0 or
    1 (``power = 1``: the true probability; above 1: overconfident). It learns nothing."""

    def __init__(self, power: float = 1.0) -> None:
        self.power = power

    def learn_one(self, x: dict, y: bool) -> None:
        pass

    def predict_proba_one(self, x: dict) -> dict:
        p = x["p"]
        a, b = p**self.power, (1 - p) ** self.power
        q = a / (a + b)
        return {False: 1 - q, True: q}


def numpy_ece(ys: np.ndarray, probas: list[dict], bins: int = 10) -> float:
    """ECE straight from its definition, vectorised (the reference)."""
    keys = [max(p, key=p.get) for p in probas]
    conf = np.array([p[k] for p, k in zip(probas, keys, strict=True)])
    correct = np.array([k == y for k, y in zip(keys, ys, strict=True)], dtype=float)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def run(power: float, seed: int, n: int = 3000, window: int = 2000, **kw) -> tuple:
    rng = np.random.default_rng(seed)
    engine = Engine({"m": KnownProba(power)}, window=window, seed=seed, **kw)
    ys, probas, records = [], [], []
    for i in range(n):
        p = float(rng.uniform(0.02, 0.98))
        y = bool(rng.random() < p)
        pred = engine.predict({"p": p}, id=str(i))
        engine.learn(str(i), y)
        ys.append(y)
        probas.append(pred.proba)
        records += [r for r in engine.drain_events() if r.get("kind") == "calibration_alarm"]
    return engine, np.array(ys), probas, records


# A calibrated predictor's ECE on 2,000 events over 10 bins is about 0.02 (the sampling error
# of each bin's accuracy, module docstring of stream_ml.evaluation.calibration): margin 0.045.
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_calibrated_predictor_has_ece_near_zero(seed: int) -> None:
    engine, ys, probas, _ = run(1.0, seed)
    cal = engine.summary()["models"]["m"]["calibration"]
    assert cal["window"] == 2000 and cal["n"] == 2000
    assert 0 <= cal["ece"] < 0.045
    # the same window by numpy: the last 2,000 scored events
    assert cal["ece"] == pytest.approx(numpy_ece(ys[-2000:], probas[-2000:]), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_overconfident_predictor_has_a_large_ece(seed: int) -> None:
    engine, ys, probas, _ = run(4.0, seed)
    cal = engine.summary()["models"]["m"]["calibration"]
    assert cal["ece"] > 0.15
    assert cal["ece"] == pytest.approx(numpy_ece(ys[-2000:], probas[-2000:]), abs=1e-12)
    top = cal["bins"][-1]  # confident answers are right less often than they say
    assert top["n"] > 0 and top["accuracy"] < top["confidence"] - 0.1


def test_bins_shape_and_partial_window() -> None:
    engine, ys, probas, _ = run(1.0, 7, n=300, window=1000)
    cal = engine.summary()["models"]["m"]["calibration"]
    assert cal["window"] == 1000 and cal["n"] == 300
    assert [(b["lo"], b["hi"]) for b in cal["bins"]] == [(i / 10, (i + 1) / 10) for i in range(10)]
    assert sum(b["n"] for b in cal["bins"]) == 300
    for b in cal["bins"]:
        if b["n"]:
            assert b["lo"] <= b["confidence"] <= b["hi"] and 0 <= b["accuracy"] <= 1
        else:
            assert b["confidence"] is None and b["accuracy"] is None
    assert cal["ece"] == pytest.approx(numpy_ece(ys, probas), abs=1e-12)
    json.dumps(cal)


def test_ece_alarm_one_record_per_episode() -> None:
    _, _, _, records = run(4.0, 0, n=3000, ece_alarm=0.1, ece_check_every=500)
    assert len(records) == 1
    r = records[0]
    assert r["type"] == "calibration_alarm" and r["model"] == "m" and r["threshold"] == 0.1
    assert r["ece"] > 0.1 and r["event"] == 500
    for seed in (0, 1, 2):
        engine, _, _, records = run(1.0, seed, n=3000, ece_alarm=0.1, ece_check_every=500)
        assert records == []
        assert engine.summary()["models"]["m"]["calibration"]["alarms"] == []


def test_regressor_has_no_calibration_and_weather_lr_has_one() -> None:
    engine = Engine({"lm": linear_model.LinearRegression()})
    engine.predict({"x": 1.0}, id="a")
    engine.learn("a", 2.0)
    assert "calibration" not in engine.summary()["models"]["lm"]
    # the logistic regression on 3,000 weather days: a ring of 1,000 real probabilities
    engine = Engine({"lr": preprocessing.StandardScaler() | linear_model.LogisticRegression()})
    ys, probas = [], []
    with gzip.open(ROOT / "data" / "weather.csv.gz", "rt") as f:
        for i, row in enumerate(csv.DictReader(f)):
            if i == 3000:
                break
            y = int(row.pop("target"))
            p = engine.predict({k: float(v) for k, v in row.items()}, id=str(i))
            engine.learn(str(i), y)
            ys.append(y)
            probas.append(p.proba)
    cal = engine.summary()["models"]["lr"]["calibration"]
    assert cal["n"] == 1000
    assert cal["ece"] == pytest.approx(numpy_ece(np.array(ys[-1000:]), probas[-1000:]))
    assert cal["ece"] < 0.1  # a logistic regression is close to calibrated here
    restored = pickle.loads(pickle.dumps(engine))
    assert restored.summary()["models"]["lr"]["calibration"] == cal


def test_reliability_skips_events_without_probabilities() -> None:
    assert reliability([(True, None, None), (True, None, {})])["ece"] is None
    r = reliability([(True, True, {True: 1.0, False: 0.0})])
    assert r["bins"][-1]["n"] == 1 and r["ece"] == 0.0


class BadProba(base.Classifier):
    """A real River classifier whose probabilities are ``x["p"]`` as given: NaN, inf or out
    of [0, 1] on the events that say so, 0.9 for True otherwise. It learns nothing."""

    def learn_one(self, x: dict, y: bool) -> None:
        pass

    def predict_proba_one(self, x: dict) -> dict:
        p = x["p"]
        return {True: p, False: 1 - p if p == p else p}


def test_reliability_skips_nan_inf_and_out_of_range_confidences() -> None:
    good = [(True, True, {True: 0.9, False: 0.1})] * 4
    bad = [
        (True, True, {True: float("nan"), False: float("nan")}),
        (True, True, {True: float("inf"), False: 0.0}),
        (True, False, {True: float("-inf"), False: float("-inf")}),
        (True, True, {True: 1.5, False: -0.5}),
        (True, True, {True: "x", False: "y"}),  # not numbers
    ]
    r = reliability(good + bad)
    assert r == reliability(good)  # counted nowhere
    assert r["n"] == 4 and r["bins"][9]["n"] == 4
    assert reliability(bad) == {**reliability([]), "n": 0}
    assert reliability(bad)["ece"] is None


def test_a_nan_probability_does_not_break_metrics_or_learn() -> None:
    """Review B2: one NaN and one inf confidence in the ring; learn() (with the ECE monitor
    checking at that label), metrics() and summary() answer, and the labels are consumed."""
    engine = Engine({"m": BadProba()}, ece_alarm=0.05, ece_check_every=10, ece_min_n=1)
    for i in range(20):
        p = {3: float("nan"), 5: float("inf"), 7: 1.5}.get(i, 0.9)
        engine.predict({"p": p}, id=str(i))
        engine.learn(str(i), True)
        assert str(i) not in engine.pending.records
    (alarm,) = [r for r in engine.drain_events() if r.get("kind") == "calibration_alarm"]
    assert alarm["n"] == 7 and alarm["event"] == 10  # the check at label 10: 7 valid events
    cal = engine.metrics()["m"]["calibration"]
    assert cal["n"] == 17 and cal["bins"][9]["n"] == 17
    assert cal["ece"] == pytest.approx(0.1, abs=1e-12)  # 0.9 confident, always right
    summary = engine.summary()
    assert summary["models"]["m"]["calibration"]["n"] == 17
    json.dumps(summary["models"]["m"]["calibration"])


def test_ece_min_n_holds_the_alarm_on_a_small_window() -> None:
    """Review R3: a perfectly calibrated predictor on a 20-event window has an ECE above 0.1
    most of the time (86 % of 400 trials in the review). With the default ece_min_n (200) no
    episode opens; with ece_min_n = 20 most seeds raise one. The overconfident predictor still
    alarms once the window holds 200 events."""
    noisy = 0
    for seed in range(5):
        _, _, _, records = run(1.0, seed, n=400, window=20, ece_alarm=0.1, ece_check_every=20)
        assert records == []
        _, _, _, records = run(
            1.0, seed, n=400, window=20, ece_alarm=0.1, ece_check_every=20, ece_min_n=20
        )
        noisy += bool(records)
    assert noisy >= 3
    _, _, _, records = run(4.0, 0, n=400, window=1000, ece_alarm=0.1, ece_check_every=50)
    assert [r["n"] for r in records] == [200] and records[0]["event"] == 200
    with pytest.raises(ConfigError):
        Engine({"m": KnownProba()}, ece_alarm=0.1, ece_min_n=0)


def test_ece_min_n_from_the_config() -> None:
    cfg = {"models": {"m": {"model": "linear_model.LogisticRegression()"}},
           "evaluation": {"ece_alarm": 0.1, "ece_min_n": 50}}  # fmt: skip
    assert Engine.from_config(cfg).evaluation.ece_min_n == 50
    cfg["evaluation"] = {"ece_alarm": 0.1}
    assert Engine.from_config(cfg).evaluation.ece_min_n == 200
    old = Engine({"m": KnownProba()}, ece_alarm=0.1).evaluation
    state = old.__getstate__()
    del state["ece_min_n"]  # a stage pickled before ece_min_n existed
    restored = pickle.loads(pickle.dumps(old))
    restored.__dict__.pop("ece_min_n")
    restored.__setstate__(state)
    assert restored.ece_min_n == 200


def test_ring_counters_equal_the_direct_computation_through_wraps() -> None:
    """Review R4: per-bin counters kept for the ring, brought up to date at each read from
    the events written since the previous one (the new one added, the overwritten one
    subtracted), so a read is O(bins + new events), nothing per event. Reads at irregular
    gaps (shorter and longer than the ring) through 12 wraps of a 250-event ring, with
    non-answers and invalid probabilities mixed in: every read equals the direct computation
    over the ring (exactly: the same integer sums) and numpy's ECE to 1e-12. The counters are
    a cache: not pickled, so a read changes neither the pickle nor the digest."""
    from stream_ml.evaluation.prequential import Prequential
    from stream_ml.snapshots.digest import state_digest

    rng = np.random.default_rng(7)
    pq = Prequential(["Accuracy"], window=250, is_classifier=True)
    twin = Prequential(["Accuracy"], window=250, is_classifier=True)  # never read
    events = []
    reads = {int(v) for v in np.cumsum(rng.integers(1, 400, 40))}
    for i in range(3000):
        p = float(rng.uniform(0.0, 1.0))
        y = bool(rng.random() < p)
        r = rng.random()
        proba = (
            {} if r < 0.05 else {True: float("nan"), False: 0.5} if r < 0.07
            else {False: 1 - p, True: p}
        )  # fmt: skip
        # the engine's argmax; without probabilities: a non-answer, or a label alone
        y_pred = max(proba, key=proba.get) if proba else (None if r < 0.025 else True)
        pq.update(y, y_pred, proba)
        twin.update(y, y_pred, proba)
        if y_pred is not None:  # a non-answer is not scored
            events.append((y, y_pred, proba))
        if i in reads or i == 2999:
            last = events[-250:]
            got = pq.calibration()
            assert got == {"window": 250, **reliability(last)}
            valid = [(e[0], e[2]) for e in last if e[2] and e[2][True] == e[2][True]]
            ys = np.array([v[0] for v in valid])
            assert got["n"] == len(valid)
            assert got["ece"] == pytest.approx(numpy_ece(ys, [v[1] for v in valid]), abs=1e-12)
    assert pickle.dumps(pq) == pickle.dumps(twin)
    assert state_digest(pq) == state_digest(twin)
    restored = pickle.loads(pickle.dumps(pq))
    assert restored.calibration() == pq.calibration() == twin.calibration()
    assert pq.calibration(bins=5)["n"] == pq.calibration()["n"]  # other bins: from the ring
    reg = Prequential(["MAE"], window=10, is_classifier=False)
    reg.update(1.0, 2.0, None)
    assert reg._cal is None


def test_engine_digest_does_not_depend_on_reads() -> None:
    a, _, _, _ = run(1.0, 0, n=600, window=200)
    b, _, _, _ = run(1.0, 0, n=600, window=200)
    a.metrics()
    a.summary()
    assert a.digest() == b.digest()


def test_the_calibration_episode_of_a_removed_model_ends() -> None:
    from stream_ml.models.slot import ModelSlot

    rng = np.random.default_rng(0)
    engine = Engine({"m": KnownProba(1.0)}, ece_alarm=0.1, ece_check_every=50, ece_min_n=50)
    engine.add_slot(ModelSlot("c", KnownProba(4.0), metrics=["Accuracy"], window=1000))
    for i in range(400):
        p = float(rng.uniform(0.02, 0.98))
        engine.predict({"p": p}, id=str(i))
        engine.learn(str(i), bool(rng.random() < p))
    assert list(engine.evaluation.ece_open) == ["c"]
    engine.remove_slot("c")
    for i in range(400, 450):
        engine.predict({"p": 0.5}, id=str(i))
        engine.learn(str(i), True)
    assert engine.evaluation.ece_open == {}
    (ep,) = engine.evaluation.calibration_alarms("c")
    assert ep["end"] == engine.seq and ep["reason"] == "model removed"
