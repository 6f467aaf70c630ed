"""The router stage inside the engine: decisions, propensities, rewards, rankings, OPE."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from river import linear_model, preprocessing, tree

from stream_ml import Engine
from stream_ml.config import parse_config
from stream_ml.errors import EventError
from stream_ml.experiments import (
    ABConfig,
    CanaryConfig,
    InterleavingConfig,
    ShadowConfig,
    ThompsonConfig,
)


def two_models():
    return {
        "lr": preprocessing.StandardScaler() | linear_model.LogisticRegression(),
        "tree": tree.HoeffdingTreeClassifier(),
    }


class Inverted(linear_model.LogisticRegression):
    """A broken model (module level, so that it pickles into snapshots): always wrong."""

    def predict_proba_one(self, x, **kw):
        return {True: 0.0, False: 1.0} if x["a"] + x["b"] > 0 else {True: 1.0, False: 0.0}


def feed(engine, n, seed=0, key=lambda i: f"u{i % 40}"):
    rng = np.random.default_rng(seed)
    preds = []
    for i in range(n):
        x = {"a": float(rng.normal()), "b": float(rng.normal())}
        p = engine.predict(x, id=str(i), key=key(i))
        preds.append(p)
        engine.learn(str(i), x["a"] + x["b"] > 0)
    return preds


def test_thompson_from_toml_logs_propensities_and_learns_every_model():
    cfg = parse_config(
        {
            "models": {
                "lr": {
                    "model": "preprocessing.StandardScaler() | linear_model.LogisticRegression()"
                },
                "tree": {"model": "tree.HoeffdingTreeClassifier()"},
            },
            "router": {"kind": "thompson"},
        }
    )
    engine = Engine.from_config(cfg)
    preds = feed(engine, 600)
    assert all(0 < p.propensity <= 1 for p in preds)
    assert {p.model for p in preds} <= {"lr", "tree"}
    s = engine.summary()
    # labels do not depend on the arm: every model learns from every label
    assert s["models"]["lr"]["learned"] == s["models"]["tree"]["learned"] == 600
    exp = s["experiment"]
    assert exp["decisions"] == 600 and exp["rewards"] == 600
    assert set(exp["off_policy"]) == {"lr", "tree"}
    assert set(exp["off_policy"]["lr"]) == {"ips", "snips", "dr"}


def test_ab_is_sticky_by_key_and_served_model_is_scored():
    engine = Engine(two_models(), router=ABConfig(weights={"lr": 1, "tree": 1}))
    preds = feed(engine, 400)
    by_key = {}
    for p in preds:
        by_key.setdefault(p.key, set()).add(p.model)
    assert all(len(v) == 1 for v in by_key.values())
    assert all(p.propensity == 0.5 for p in preds)
    m = engine.metrics()
    # every served answer is scored, except a None answer (the empty tree's first one)
    none = sum(p.y_pred is None for p in preds)
    assert none <= 1 and m["lr"]["scored"] + m["tree"]["scored"] == 400 - none


def test_shadow_scores_candidates_on_every_event():
    engine = Engine(two_models(), router=ShadowConfig(primary="lr", candidates=["tree"]))
    preds = feed(engine, 300)
    assert {p.model for p in preds} == {"lr"} and all(p.shadow for p in preds)
    exp = engine.summary()["experiment"]
    # the empty tree's first answer is None: no score (not a zero), as in its prequential metric
    assert exp["arms"]["lr"]["n"] == 300 and exp["arms"]["tree"]["n"] == 299


def test_a_model_that_cannot_answer_yet_is_not_punished():
    """Thompson over a logistic regression and an empty Hoeffding tree, labels 48 events late:
    the tree's early non-answers (y_pred None) earn no reward, so its arm is not driven to 0
    before it has answered: it is served with an answer at least 200 times (the issue's bar: no
    arm's share collapses before it has answered 200 times) in each of 3 seeds (3,000 events;
    before this rule, it was served 24 times in 45k events)."""
    from river import linear_model, tree

    from stream_ml.experiments import ThompsonConfig

    for seed in (0, 1, 2):
        engine = Engine(
            {"lr": linear_model.LogisticRegression(), "tree": tree.HoeffdingTreeClassifier()},
            router=ThompsonConfig(),
            seed=seed,
        )
        rng = np.random.default_rng(seed)
        answered, held = 0, []
        for i in range(3000):
            x = {"a": float(rng.normal()), "b": float(rng.normal())}
            held.append((str(i), x["a"] + 0.5 * x["b"] > 0))
            p = engine.predict(x, id=str(i))
            answered += p.model == "tree" and p.y_pred is not None
            if len(held) > 48:
                engine.learn(*held.pop(0))
        assert answered >= 200, (seed, answered)


def test_canary_guard_aborts_a_broken_candidate():
    class Broken(linear_model.LogisticRegression):
        def predict_proba_one(self, x, **kw):
            return {True: 0.0, False: 1.0} if x["a"] + x["b"] > 0 else {True: 1.0, False: 0.0}

    engine = Engine(
        {
            "stable": preprocessing.StandardScaler() | linear_model.LogisticRegression(),
            "broken": Broken(),
        },
        router=CanaryConfig(primary="stable", candidate="broken"),
    )
    feed(engine, 6000, key=lambda i: f"user-{i}")
    router = engine.router.router
    assert router.state == "aborted"
    events = engine.drain_events()
    assert any(e["kind"] == "promotion" and e["winner"] == "stable" for e in events)
    tail = feed(engine, 50, seed=9, key=lambda i: f"late-{i}")
    assert {p.model for p in tail} == {"stable"}


def test_interleaving_rankings_and_click_credit():
    engine = Engine(
        {"good": linear_model.LinearRegression(), "bad": linear_model.LinearRegression()},
        router=InterleavingConfig(method="team_draft", length=4),
    )
    rng = np.random.default_rng(1)
    for i in range(50):
        cands = [{"id": f"d{j}", "q": float(rng.normal())} for j in range(6)]
        p = engine.predict({"u": 1.0}, id=str(i), candidates=cands)
        assert len(p.y_pred) == 4 and set(p.y_pred) <= {c["id"] for c in cands}
        engine.learn(str(i), clicks=p.y_pred[:1])
    pair = engine.summary()["experiment"]["pairs"]["good>bad"]
    assert pair["wins"] + pair["losses"] + pair["ties"] == 50


def test_click_on_an_item_not_shown_is_refused_and_changes_nothing():
    engine = Engine(
        {"a": linear_model.LinearRegression(), "b": linear_model.LinearRegression()},
        router=InterleavingConfig(method="team_draft", length=2),
    )
    engine.predict(
        {"u": 1.0},
        id="r",
        candidates=[{"id": "x", "q": 1.0}, {"id": "y", "q": 2.0}, {"id": "z", "q": 0.0}],
    )
    before = pickle.dumps(engine)
    with pytest.raises(EventError) as info:
        engine.learn("r", clicks=["nope"])
    assert info.value.field == "clicks"
    engine.errors.clear()
    engine.error_samples.clear()
    assert pickle.dumps(engine) == before
    engine.learn("r", clicks=[])


def test_candidates_need_ids():
    engine = Engine({"a": linear_model.LinearRegression()})
    with pytest.raises(EventError, match="candidates"):
        engine.predict({"u": 1.0}, candidates=[{"q": 1.0}])
    p = engine.predict({"u": 1.0}, candidates=[{"id": "x", "q": 1.0}, {"id": "y", "q": 2.0}])
    assert sorted(p.y_pred) == ["x", "y"]


def test_routed_engine_is_deterministic_and_pickles():
    def run(engine):
        return [p.to_dict() for p in feed(engine, 300)], engine.summary()

    a = Engine(two_models(), router=ThompsonConfig(), seed=5)
    b = Engine(two_models(), router=ThompsonConfig(), seed=5)
    assert run(a) == run(b)
    c = pickle.loads(pickle.dumps(a))
    assert run(a) == run(c)


def test_a_promotion_is_snapshotted_at_the_next_record_boundary(tmp_path):
    from connectors import IterableSource
    from stream_ml.runtime.replay import Replay
    from stream_ml.stages.snapshotting import SnapshotStage

    engine = Engine(
        {
            "stable": preprocessing.StandardScaler() | linear_model.LogisticRegression(),
            "broken": Inverted(),
        },
        router=CanaryConfig(primary="stable", candidate="broken"),
    )
    rng = np.random.default_rng(4)
    msgs = []
    for i in range(6000):
        x = {"a": float(rng.normal()), "b": float(rng.normal())}
        msgs.append({"id": str(i), "key": f"user-{i}", "features": x})
        msgs.append({"kind": "feedback", "id": str(i), "label": x["a"] + x["b"] > 0})
    stage = SnapshotStage.open(str(tmp_path / "s.db"), key="k")
    Replay(engine, IterableSource(msgs), snapshots=stage).run()
    assert engine.router.router.state == "aborted"
    tagged = stage.store.list(tag="promotion")
    assert len(tagged) == 1 and "stable" in (tagged[0].note or "")
    stage.close()


def test_a_model_added_at_run_time_is_shadow_scored_then_an_arm_that_wins() -> None:
    """A model from ``add_slot`` joins the experiment: in shadow (role challenger, never
    served, scored from its first label) until ``join_after`` shadow rewards, then an arm of
    its own (role candidate) that wins the traffic when it is the better model. Counts are per
    model from its creation. Three seeds; margin: >= 80% of the last 1,000 events on it (the
    two configured models are coin flips, it is right ~100% of the time)."""
    from river import dummy, linear_model

    from stream_ml import Engine
    from stream_ml.models.slot import ModelSlot
    from stream_ml.stages.routing import RouterStage

    for seed in range(3):
        engine = Engine(
            {"a": dummy.NoChangeClassifier(), "b": dummy.NoChangeClassifier()},
            router={"kind": "thompson"},
            metrics=["Accuracy"],
            seed=seed,
        )
        rng = np.random.default_rng(seed)
        served: list[str] = []
        for i in range(3000):
            if i == 200:
                engine.add_slot(ModelSlot("c", linear_model.LogisticRegression(),
                                          metrics=["Accuracy"]))  # fmt: skip
            x = float(rng.normal())
            p = engine.predict({"x": x}, id=str(i))
            served.append(p.model)
            if 200 <= i < 200 + RouterStage.join_after:
                assert p.model != "c" and "c" in (p.shadow or {})
                assert engine.metrics()["c"]["role"] == "challenger"
            engine.learn(str(i), x > 0)
        models = engine.metrics()
        c = models["c"]
        assert c["learned"] == c["scored"] == 2800 and c["answered"] == 2800
        assert c["created"] == 200 and models["a"]["created"] == 0
        assert c["role"] == "candidate" and "c" in engine.router.router.arms
        assert sum(m["served"] for m in models.values()) == 3000
        assert c["served"] == served.count("c")
        assert served[-1000:].count("c") >= 800, (seed, served[-1000:].count("c"))


@pytest.mark.parametrize(
    ("router", "roles"),
    [
        (None, {"a": "primary", "b": "shadow"}),
        ({"kind": "fixed"}, {"a": "primary", "b": "shadow"}),
        ({"kind": "shadow"}, {"a": "primary", "b": "shadow"}),
        ({"kind": "thompson"}, {"a": "candidate", "b": "candidate"}),
        ({"kind": "canary", "candidate": "b"}, {"a": "primary", "b": "candidate"}),
    ],
)
def test_roles_and_served_counts(router, roles) -> None:
    """Roles per router (primary / candidate / shadow), and served adding up to the events
    with answered = served for models that always answer."""
    engine = Engine(
        {"a": linear_model.LogisticRegression(), "b": linear_model.LogisticRegression()},
        router=router,
        metrics=["Accuracy"],
        seed=3,
    )
    for i in range(200):
        engine.predict({"x": float(i % 5)}, id=str(i))
        engine.learn(str(i), i % 5 > 2)
    m = engine.metrics()
    assert {n: v["role"] for n, v in m.items()} == roles
    assert m["a"]["served"] + m["b"]["served"] == 200
    assert all(v["answered"] >= v["served"] and v["created"] == 0 for v in m.values())
