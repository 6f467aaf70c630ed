"""Drift monitors inside the engine: alarms as records, and the actions on alarm."""

from __future__ import annotations

import numpy as np
import pytest
from river import linear_model, preprocessing

from connectors import IterableSource, MemorySink
from stream_ml import Engine
from stream_ml.config import parse_config
from stream_ml.errors import ConfigError
from stream_ml.runtime.replay import Replay
from stream_ml.stages.monitoring import MonitorConfig
from stream_ml.stages.snapshotting import SnapshotStage

KS = {
    "kind": "ks",
    "reference_size": 300,
    "window_size": 100,
    "check_every": 10,
    "ert": 3000,
    "calibration": "uniform",
}


def lr():
    return preprocessing.StandardScaler() | linear_model.LogisticRegression()


def shifted(seed, n, at, shift=1.5, concept_at=None):
    rng = np.random.default_rng(seed)
    for i in range(n):
        x = {"a": float(rng.normal() + (shift if i >= at else 0.0)), "b": float(rng.normal())}
        cut = 2.0 if concept_at is not None and i >= concept_at else 0.0
        yield x, (x["a"] - x["b"] > cut) if cut else (x["a"] + x["b"] > 0)


def test_feature_shift_raises_one_alarm_near_the_shift_and_no_exception():
    # 5 seeds; margins stated: in at least 4 seeds the first alarm after the shift at 2000
    # comes within 300 events (a false alarm just before the shift refreshes the reference
    # across it and can hide it); the other alarms (false ones: ~2,700 stationary events per seed at ERT 3000, so
    # about 4.5 expected over 5 seeds) number at most 10 in all.
    extra = detected = 0
    a = None
    for seed in range(5):
        engine = Engine(
            {"lr": lr()}, drift=[MonitorConfig(on="features", fields=["a"], detector=KS)]
        )
        for i, (x, y) in enumerate(shifted(seed, 3000, 2000)):
            engine.predict(x, id=str(i))
            engine.learn(str(i), y)
        alarms = [e for e in engine.drain_events() if e["kind"] == "drift"]
        after = [a for a in alarms if a["engine_event"] >= 2000]
        if after and after[0]["engine_event"] < 2300:
            detected += 1
            a = after[0]
            assert a["field"] == "a" and a["statistic"] > a["threshold"]
            assert a["window_end"] > a["window_start"] and a["monitor"] == "features-0"
        extra += len(alarms) - (1 if after else 0)
    assert detected >= 4 and extra <= 10
    summary = engine.summary()["drift"][0]
    assert summary["detectors"][0]["calibration"]["method"] in ("uniform", "exact")


def test_drift_snapshot_action_through_the_replay(tmp_path):
    cfg = parse_config(
        {
            "models": {
                "lr": {
                    "model": "preprocessing.StandardScaler() | linear_model.LogisticRegression()"
                }
            },
            "drift": [{"on": "features", "fields": ["a"], "detector": KS, "action": "snapshot"}],
        }
    )
    engine = Engine.from_config(cfg)
    stage = SnapshotStage.open(str(tmp_path / "s.db"), key="k")
    msgs = []
    for i, (x, y) in enumerate(shifted(1, 2600, 2000)):
        msgs.append({"id": str(i), "features": x})
        msgs.append({"kind": "feedback", "id": str(i), "label": y})
    sink = MemorySink()
    Replay(engine, IterableSource(msgs), snapshots=stage, sinks=[sink]).run()
    tagged = stage.store.list(tag="drift")
    alarms = [o["engine_event"] for o in sink.outputs if o["kind"] == "drift"]
    # one snapshot per alarm, taken at the first record boundary after it
    assert len(tagged) == len(alarms) >= 1
    assert all(a <= t.events <= a + 1 for t, a in zip(tagged, alarms))
    assert any(t.events >= 2000 for t in tagged)
    stage.close()


def test_challenger_takes_over_after_a_concept_change():
    engine = Engine(
        {"lr": lr()},
        drift=[
            MonitorConfig(
                on="error",
                detector={"kind": "adwin"},
                action="challenger",
                challenger_min_labels=300,
            )
        ],
    )
    for i, (x, y) in enumerate(shifted(3, 8000, 10**9, concept_at=3000)):
        engine.predict(x, id=str(i))
        engine.learn(str(i), y)
    kinds = [e["kind"] for e in engine.drain_events()]
    assert "drift" in kinds and "challenger" in kinds and "promotion" in kinds
    assert engine.metrics()["lr"]["version"] >= 1  # the primary now holds the challenger's model
    assert engine.metrics()["lr"]["rolling"]["Accuracy"] > 0.9


def test_rollback_action_restores_pre_drift_models(tmp_path):
    engine = Engine(
        {"lr": lr()},
        drift=[MonitorConfig(on="features", fields=["a"], detector=KS, action="rollback")],
    )
    engine.snapshots = SnapshotStage.open(str(tmp_path / "s.db"), key="k")
    for i, (x, y) in enumerate(shifted(2, 2600, 2000)):
        if i == 1500:
            engine.snapshot(tags=("good",))
        engine.predict(x, id=str(i))
        engine.learn(str(i), y)
    audit = engine.snapshots.store.audit()
    assert any(r.action == "rollback" for r in audit)
    assert engine.metrics()["lr"]["version"] == 1
    engine.snapshots.close()


def test_monitor_config_errors():
    with pytest.raises(ConfigError, match="fields"):
        parse_config(
            {
                "models": {"m": {"model": "tree.HoeffdingTreeClassifier()"}},
                "drift": [{"on": "features"}],
            }
        )
    with pytest.raises(ConfigError, match="detector"):
        parse_config(
            {
                "models": {"m": {"model": "tree.HoeffdingTreeClassifier()"}},
                "drift": [{"on": "error", "detector": {"kind": "magic"}}],
            }
        )
    with pytest.raises(ConfigError, match="nope"):
        parse_config(
            {
                "models": {"m": {"model": "tree.HoeffdingTreeClassifier()"}},
                "drift": [{"on": "error", "model": "nope"}],
            }
        )


def test_a_drift_alarm_can_reset_the_router_from_toml() -> None:
    """``router = "reset"`` on a monitor: each alarm returns the bandit's statistics to the
    prior (on_drift), so it re-learns which model is best after the change."""
    import numpy as np

    from stream_ml import Engine
    from stream_ml.config import parse_config

    def run(router: str) -> tuple[int, float]:
        cfg = parse_config({
            "seed": 5,
            "models": {"a": {"model": "linear_model.LogisticRegression()"},
                       "b": {"model": "linear_model.LogisticRegression()"}},
            "router": {"kind": "thompson"},
            "drift": [{"on": "features", "fields": ["x"], "router": router,
                       "detector": {"kind": "ks", "reference_size": 100, "window_size": 50,
                                    "check_every": 10, "ert": 1000, "calibration": "uniform"}}],
        })  # fmt: skip
        engine = Engine.from_config(cfg)
        rng = np.random.default_rng(1)
        served = []
        for i in range(1500):
            x = rng.normal() + (3.0 if i >= 1000 else 0.0)
            served.append(engine.predict({"x": x}, id=str(i)).model)
            engine.learn(str(i), x > 0)
        alarms = sum(r.get("kind") == "drift" for r in engine.drain_events())
        return alarms, "".join(served[1000:])

    alarms, _ = run("reset")
    assert alarms >= 1
    assert run("reset") == run("reset")  # deterministic
    assert run("reset") != run("keep")  # the reset changed the router's course
