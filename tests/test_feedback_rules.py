"""The feedback rules (README, "Feedback"): refused feedback changes nothing, order included;
``ts`` gives the label lag; reward and clicks need what they are for."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import linear_model, preprocessing, tree

from stream_ml import Engine
from stream_ml.errors import FeedbackError, ModelError, UnknownIdError


def lr_engine(**kw) -> Engine:
    return Engine({"lr": preprocessing.StandardScaler() | linear_model.LogisticRegression()}, **kw)


def two_models(**kw) -> Engine:
    return Engine(
        {"lr": linear_model.LogisticRegression(), "tree": tree.HoeffdingTreeClassifier()}, **kw
    )


def routed(**kw) -> Engine:
    return Engine(
        {"a": linear_model.LogisticRegression(), "b": linear_model.LogisticRegression()},
        router={"kind": "thompson"},
        **kw,
    )


def state(engine: Engine) -> tuple:
    """What a refused feedback must leave as it was: pending records in order, and the digest."""
    return list(engine.pending.records), engine.digest()


ENGINES = {"one model": lr_engine, "two models": two_models, "routed": routed}


@pytest.mark.parametrize("make", ENGINES.values(), ids=list(ENGINES))
def test_empty_feedback_is_an_error_that_changes_nothing(make) -> None:
    engine = make()
    for i in range(3):
        engine.predict({"x": float(i)}, id=f"p{i}")
    before = state(engine)
    with pytest.raises(FeedbackError, match="needs a label, a reward or clicks") as info:
        engine.learn("p1")
    assert info.value.code == "bad_feedback"
    after_errors = engine.summary()["errors"]["by_code"]
    assert after_errors == {"bad_feedback": 1}
    engine.errors.clear()
    assert state(engine) == before
    engine.learn("p1", True)  # the real label sent after it still joins
    assert engine.n_labels == 1 and "p1" not in engine.pending


@pytest.mark.parametrize("make", [lr_engine, two_models], ids=["one model", "two models"])
def test_reward_or_clicks_without_a_router_is_a_typed_error(make) -> None:
    engine = make()
    engine.predict({"x": 1.0}, id="p0")
    engine.predict({"x": 2.0}, id="p1")
    before = state(engine)
    with pytest.raises(FeedbackError, match="router") as info:
        engine.learn("p0", True, reward=1.0)
    assert info.value.field == "reward"
    with pytest.raises(FeedbackError, match="ranking") as info:
        engine.learn("p0", clicks=["a"])
    assert info.value.field == "clicks"
    engine.errors.clear()
    assert state(engine) == before


def test_a_router_takes_a_reward_alone() -> None:
    engine = routed(seed=3)
    engine.predict({"x": 1.0}, id="p0")
    engine.learn("p0", reward=1.0)
    assert engine.n_feedback == 1 and engine.n_labels == 0  # rewarded, nothing to learn


def test_refused_clicks_leave_the_pending_order_as_it_was() -> None:
    # an unknown item clicked on a ranking: refused; the eviction order must not change
    engine = Engine({"lr": linear_model.LogisticRegression()}, max_pending=64)
    cands = [{"id": "a", "x": 1.0}, {"id": "b", "x": 2.0}]
    for i in range(4):
        engine.predict({"u": 1.0}, id=f"r{i}", candidates=cands)
    before = state(engine)
    with pytest.raises(Exception, match="not shown"):
        engine.learn("r0", clicks=["zzz"])
    engine.errors.clear()
    engine.error_samples.clear()
    assert state(engine)[0] == before[0]  # r0 is still the oldest: evicted first
    for i in range(4, 64):
        engine.predict({"u": 1.0}, id=f"r{i}", candidates=cands)
    engine.predict({"u": 1.0}, id="r64", candidates=cands)  # full: the oldest batch goes
    assert "r0" not in engine.pending and "r1" in engine.pending


def test_feedback_ts_gives_the_label_lag() -> None:
    engine = lr_engine()
    engine.predict({"x": 1.0}, id="a", ts=100.0)
    engine.predict({"x": 2.0}, id="b", ts=110.0)
    engine.learn("a", True, ts=130.0)
    engine.learn("b", False, ts=125.0)
    labels = engine.summary()["labels"]
    assert labels["lag_mean"] == pytest.approx(22.5) and labels["lag_max"] == 30.0
    # a message without ts is measured to the newest event time seen
    engine.process({"id": "c", "ts": 200.0, "features": {"x": 1.0}})
    engine.process({"id": "c", "label": True})
    assert engine.summary()["labels"]["lag_max"] == 30.0  # 0 s: the newest event is c itself


def test_a_model_error_in_learn_leaves_the_prediction_pending_and_the_metrics() -> None:
    class Breaks(linear_model.LogisticRegression):
        def learn_one(self, x, y):
            raise ValueError("boom")

    engine = Engine({"m": Breaks()}, metrics=["Accuracy"])
    engine.predict({"x": 1.0}, id="a")
    with pytest.raises(ModelError):
        engine.learn("a", True)
    assert "a" in engine.pending and engine.slots[0].prequential.n == 0
    assert engine.n_labels == 0 and engine.n_feedback == 0


def test_per_model_learned_counts_from_creation() -> None:
    engine = two_models()
    for i in range(5):
        engine.predict({"x": float(i)}, id=str(i))
        engine.learn(str(i), i % 2 == 0)
    assert {n: m["learned"] for n, m in engine.metrics().items()} == {"lr": 5, "tree": 5}


@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["predict", "label", "empty", "reward", "unknown"]),
            st.integers(0, 15),
        ),
        max_size=60,
    )
)
def test_refused_feedback_never_changes_the_engine(ops) -> None:
    """Property: after any mix of good and refused feedback, the engine equals one that saw the
    good calls only (refusals change nothing but the error counts)."""
    live, ref = lr_engine(), lr_engine()
    for op, i in ops:
        id = f"p{i}"
        if op == "predict":
            for e in (live, ref):
                if id not in e.pending:
                    e.predict({"x": float(i)}, id=id)
        elif op == "label":
            for e in (live, ref):
                if id in e.pending:
                    e.learn(id, i % 2 == 0)
        else:
            kwargs = {"reward": 1.0} if op == "reward" else {}
            target = id if op != "unknown" else "nope"
            with pytest.raises((FeedbackError, UnknownIdError)):
                live.learn(target, True if op == "reward" else None, **kwargs)
    live.errors.clear()
    live.error_samples.clear()
    assert list(live.pending.records) == list(ref.pending.records)
    assert live.digest() == ref.digest()
    assert pickle.loads(pickle.dumps(live)).digest() == live.digest()
