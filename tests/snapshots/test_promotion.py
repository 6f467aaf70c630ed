"""Snapshot on promotion, through the engine and the replay runner, with a real SQLite store.

A router's promotion takes effect when the engine routes its next observation; the runner handles the engine's
snapshot request before that event, so the snapshot tagged ``promotion`` holds the router
*before* the promotion (decided, ``pending_promotion`` set, ``promoted`` still None). Restored,
it resumes exactly; with ``cancel_promotion()`` the experiment goes on instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from river import linear_model, preprocessing

from connectors import IterableSource, MemorySink, RowDecoder
from stream_ml import Engine
from stream_ml.config import parse_config
from stream_ml.experiments import ABConfig, CanaryConfig, InterleavingConfig
from stream_ml.runtime.build import open_snapshots
from stream_ml.runtime.replay import Replay
from stream_ml.snapshots import SnapshotPolicy, SnapshotPolicyConfig
from stream_ml.stages.snapshotting import SnapshotStage

KEY = "promotion-test-key"


class Inverted(linear_model.LogisticRegression):
    """Always wrong (module level, so that it pickles into snapshots)."""

    def predict_proba_one(self, x: dict, **kw: Any) -> dict:
        return {True: 0.0, False: 1.0} if x["a"] + x["b"] > 0 else {True: 1.0, False: 0.0}


class Frozen(linear_model.LinearRegression):
    """Never learns: every candidate scores 0, so it ranks them in the request's order."""

    def learn_one(self, x: dict, y: Any, **kw: Any) -> None:
        pass


def good() -> Any:
    return preprocessing.StandardScaler() | linear_model.LogisticRegression()


def ab_engine(**kw: Any) -> Engine:
    router = ABConfig(control="broken", promote_when_decided=True, **kw)
    return Engine({"broken": Inverted(), "stable": good()}, router=router, seed=1)


def messages(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out: list[dict[str, Any]] = []
    for i in range(n):
        x = {"a": float(rng.normal()), "b": float(rng.normal())}
        out.append({"id": str(i), "key": f"user-{i % 97}", "features": x})
        out.append({"kind": "feedback", "id": str(i), "label": x["a"] + x["b"] > 0})
    return out


def run(engine: Engine, source: Any, stage: SnapshotStage, **kw: Any) -> tuple[dict, MemorySink]:
    sink = MemorySink()
    summary = Replay(engine, source, sinks=[sink], snapshots=stage, **kw).run()
    return summary, sink


def resume_from(info: Any, state: dict, tmp: Path, engine: Engine, source: Any, **kw: Any):
    """Continue from one snapshot only: copy it into a fresh store and resume from there."""
    stage = SnapshotStage.open(str(tmp), key=KEY)
    stage.save(state["engine"], offset=info.offset, extra=state["extra"], tags=info.tags)
    replay = Replay(engine, source, sinks=[MemorySink()], snapshots=stage, **kw)
    assert replay.resume() is not None
    summary = replay.run()
    stage.close()
    return summary, replay.sinks[0]


def test_ab_promotion_snapshot_holds_the_router_before_the_promotion(tmp_path: Path) -> None:
    msgs = messages(1500)
    stage = SnapshotStage.open(str(tmp_path / "s.db"), key=KEY)
    engine = ab_engine()
    summary, sink = run(engine, IterableSource(msgs), stage)
    router = engine.router.router
    assert router.promoted == "stable" and router.pending_promotion is None
    promos = [o for o in sink.outputs if o.get("kind") == "promotion"]
    assert len(promos) == 1 and promos[0]["winner"] == "stable"

    tagged = stage.store.list(tag="promotion")
    assert len(tagged) == 1
    info = tagged[0]
    assert info.note == "experiment: stable promoted (betting test decided)"
    state, _ = stage.load(info.version)
    before = state["engine"].router.router
    assert before.promoted is None and before.pending_promotion.winner == "stable"
    assert before.decisions == promos[0]["decisions"] == info.events
    assert state["engine"].summary()["experiment"]["pending_promotion"] == "stable"
    # the snapshot sits exactly between the split and the winner serving everything
    served = [o["model"] for o in sink.outputs if o.get("kind") == "prediction"]
    assert set(served[: info.events]) == {"broken", "stable"}
    assert set(served[info.events :]) == {"stable"}

    # restored, it resumes exactly: the promotion takes effect at the first event
    again, again_sink = resume_from(
        info, state, tmp_path / "r.db", ab_engine(), IterableSource(msgs)
    )
    assert again["digest"] == summary["digest"]
    preds = [o for o in again_sink.outputs if o.get("kind") == "prediction"]
    assert preds == [o for o in sink.outputs if o.get("kind") == "prediction"][info.events :]

    # ... or it undoes the promotion: roll back to it and cancel; the A/B split goes on
    engine.rollback(info.version, scope="engine", reason="undo promotion")
    assert engine.router.router.cancel_promotion().winner == "stable"
    rng = np.random.default_rng(7)
    later = [
        engine.predict({"a": float(rng.normal()), "b": 0.0}, id=f"late-{i}", key=f"new-{i}")
        for i in range(200)
    ]
    assert {p.model for p in later} == {"broken", "stable"}
    assert engine.router.router.promoted is None
    stage.close()


def rows(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        a, b = float(rng.normal()), float(rng.normal())
        out.append({"a": a, "b": b, "user": f"user-{i}", "y": a + b > 0})
    return out


def canary_engine() -> Engine:
    router = CanaryConfig(primary="stable", candidate="broken", schedule=[0.2, 0.5, 1.0])
    return Engine({"stable": good(), "broken": Inverted()}, router=router, seed=2)


def test_canary_abort_with_delayed_labels_is_snapshotted_between_two_labels(
    tmp_path: Path,
) -> None:
    # rows with labels 7 observations late: the label that makes the guard fail is released
    # just before the next prediction, and the snapshot is taken between the two
    data, decoder = rows(1500), RowDecoder(target="y", target_type="bool", key="user")
    stage = SnapshotStage.open(str(tmp_path / "s.db"), key=KEY)
    engine = canary_engine()
    summary, sink = run(engine, IterableSource(data), stage, decoder=decoder, delay=7)
    assert engine.router.router.state == "aborted"
    (info,) = stage.store.list(tag="promotion")
    assert "stable promoted (guard failed" in (info.note or "")
    state, _ = stage.load(info.version)
    before = state["engine"].router.router
    assert before.state == "ramping" and before.share == 0.2
    assert before.pending_promotion.winner == "stable"
    # resumes from the record whose prediction had not been made yet, labels still held
    assert info.offset == info.events and state["extra"]["records"] == info.offset
    assert state["extra"]["held"]
    again, again_sink = resume_from(
        info, state, tmp_path / "r.db", canary_engine(), IterableSource(data), decoder=decoder,
        delay=7,
    )  # fmt: skip
    assert again["digest"] == summary["digest"]
    tail = [o for o in sink.outputs if o.get("kind") == "prediction"][info.events :]
    assert [o for o in again_sink.outputs if o.get("kind") == "prediction"] == tail
    assert {o["model"] for o in tail} == {"stable"}
    stage.close()


def test_interleaving_promotion_in_the_engine_is_snapshotted(tmp_path: Path) -> None:
    # the router checks itself every check_every credits, so promote_when_decided acts in the
    # engine without anyone asking for a summary
    rng = np.random.default_rng(3)
    msgs: list[dict[str, Any]] = []
    for i in range(1500):
        cands = [{"id": f"d{j}", "q": float(rng.random())} for j in range(6)]
        msgs.append({"id": f"r{i}", "features": {"u": 1.0}, "candidates": cands})
        best = max(cands, key=lambda c: c["q"])["id"]
        msgs.append({"kind": "feedback", "id": f"r{i}", "clicks": [best]})
    engine = Engine(
        {"by_q": linear_model.LinearRegression(), "worst": Frozen()},
        router=InterleavingConfig(burn_in=200, promote_when_decided=True),
    )
    stage = SnapshotStage.open(str(tmp_path / "s.db"), key=KEY)
    run(engine, IterableSource(msgs), stage)
    router = engine.router.router
    assert router.promoted == "by_q"
    (info,) = stage.store.list(tag="promotion")
    before = stage.load(info.version)[0]["engine"].router.router
    assert before.promoted is None and before.pending_promotion.winner == "by_q"
    assert before.compared > 200
    stage.close()


def test_on_promotion_false_takes_no_promotion_snapshot(tmp_path: Path) -> None:
    stage = SnapshotStage.open(str(tmp_path / "s.db"), key=KEY)
    engine = ab_engine()
    engine.snapshot_policy = SnapshotPolicyConfig(every_events=None, on_promotion=False).build()
    run(engine, IterableSource(messages(1500)), stage)
    assert engine.router.router.promoted == "stable"
    assert stage.store.list(tag="promotion") == []
    assert [i.note for i in stage.store.list()] == ["end of source"]
    stage.close()


def test_no_store_no_requests() -> None:
    from stream_ml.runtime.driver import Driver

    engine = ab_engine()
    driver, out = Driver(engine), []
    for i, m in enumerate(messages(1500)):
        driver.apply(i, m, out)
    assert engine.router.router.promoted == "stable"
    assert engine.outbox == []  # the driver took the request: nothing piles up without a store
    assert [o["kind"] for o in out if type(o) is dict] == ["promotion"]


def test_on_promotion_from_toml_snapshots_table(tmp_path: Path) -> None:
    data = {
        "models": {"lr": {"model": "linear_model.LogisticRegression()"}},
        "snapshots": {"path": str(tmp_path / "s.db"), "trust_unsigned": True},
    }
    assert parse_config(data).snapshots.on_promotion is True
    data["snapshots"]["on_promotion"] = False
    cfg = parse_config(data)
    engine = Engine.from_config(cfg)
    stage = open_snapshots(cfg, engine)
    assert stage is not None
    assert engine.snapshot_policy.on_promotion is False
    stage.close()


def test_policy_pickled_before_on_promotion_defaults_to_true() -> None:
    policy = SnapshotPolicy(every_events=10)
    state = policy.__getstate__()
    del state["on_promotion"]
    old = SnapshotPolicy.__new__(SnapshotPolicy)
    old.__setstate__(state)
    assert old.on_promotion is True and old.every_events == 10


@pytest.mark.parametrize("periodic", [True, False])
def test_promotion_record_is_written_once_across_a_resume(tmp_path: Path, periodic: bool):
    # the runner drains the engine's records before each snapshot: a resumed run does not
    # write the promotion record again
    msgs = messages(1500)
    stage = SnapshotStage.open(str(tmp_path / "s.db"), key=KEY)
    engine = ab_engine()
    if periodic:
        engine.snapshot_policy = SnapshotPolicy(every_events=50)
    run(engine, IterableSource(msgs), stage)
    (info,) = stage.store.list(tag="promotion")
    state, _ = stage.load(info.version)
    assert state["engine"].outbox == []
    _, sink = resume_from(info, state, tmp_path / "r.db", ab_engine(), IterableSource(msgs))
    assert not any(o.get("kind") == "promotion" for o in sink.outputs)
    stage.close()
