"""The embedded engine: predict, learn, process, the delayed-label join, errors."""

from __future__ import annotations

import pickle

import pytest
from river import linear_model, preprocessing, tree

from stream_ml import Engine
from stream_ml.errors import (
    ConfigError,
    DuplicateIdError,
    ExpiredIdError,
    MalformedMessageError,
    ModelError,
    UnknownIdError,
)
from stream_ml.events import Ack, Feedback, Observation, Prediction


def make_engine(**kw):
    return Engine(
        models={
            "lr": preprocessing.StandardScaler() | linear_model.LogisticRegression(),
            "tree": tree.HoeffdingTreeClassifier(),
        },
        **kw,
    )


def state(engine: Engine) -> bytes:
    return pickle.dumps(engine)


def test_issue_example_predict_then_learn_later():
    engine = make_engine()
    p = engine.predict({"x1": 0.3, "x2": 1.0}, id="e1", key="user-7", ts=1700000000.0)
    assert isinstance(p, Prediction)
    assert (p.id, p.model, p.key, p.ts) == ("e1", "lr", "user-7", 1700000000.0)
    assert p.proba is not None and set(p.proba) == {False, True}
    assert p.shadow is not None and set(p.shadow) == {"tree"}
    for i in range(1000):  # thousands of events later
        engine.predict({"x1": i / 1000, "x2": 1.0}, id=f"o{i}", ts=1700000001.0 + i)
    engine.learn("e1", True)
    summary = engine.summary()
    assert summary["feedback"] == 1
    assert summary["models"]["lr"]["scored"] == 1
    assert summary["labels"]["pending"] == 1000


def test_learn_uses_features_seen_at_prediction_time():
    ref = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    engine = Engine(models={"lr": ref.clone()})
    x = {"a": 1.0, "b": 2.0}
    engine.predict(x, id="e1")
    x["a"] = 1000.0  # the caller mutates its dict after the prediction
    engine.learn("e1", True)
    ref.learn_one({"a": 1.0, "b": 2.0}, True)
    probe = {"a": 0.5, "b": 0.5}
    assert engine.model("lr").predict_proba_one(probe) == ref.predict_proba_one(probe)


def test_every_model_predicts_learns_and_is_scored():
    engine = make_engine()
    for i in range(50):
        engine.predict({"x": float(i % 7)}, id=str(i))
        engine.learn(str(i), i % 7 > 3)
    m = engine.metrics()
    assert m["lr"]["role"] == "primary" and m["tree"]["role"] == "shadow"
    assert m["lr"]["scored"] == 50
    # the empty tree's first answer is None: not scored (River's rule), as it did not answer
    assert m["tree"]["scored"] == m["tree"]["answered"] == 49
    assert m["lr"]["learned"] == m["tree"]["learned"] == 50


def test_process_mixed_dicts_json_and_pydantic():
    engine = make_engine()
    out = engine.process({"id": "a", "key": "k", "ts": 5, "features": {"x": 1.0}})
    assert isinstance(out, Prediction) and out.id == "a"
    out = engine.process(Observation(id="b", features={"x": 2.0}))
    assert isinstance(out, Prediction) and out.id == "b"
    ack = engine.process('{"kind": "feedback", "id": "a", "label": true}')
    assert isinstance(ack, Ack) and ack.learned
    ack = engine.process(Feedback(id="b", label=False))
    assert ack.id == "b"
    assert engine.summary()["feedback"] == 2


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"features": {"x": [1, 2]}}, "features.x"),
        ({"features": "nope"}, "features"),
        ({"id": "z", "features": {"x": 1.0}, "colour": "red"}, "colour"),
        ({"kind": "observation", "ts": "not a time", "features": {}}, "ts"),
        ({"kind": "feedback"}, "id"),
        ("{not json", None),
        (b"\x00\xff", None),
        ({"kind": "telemetry", "id": "x"}, None),
    ],
)
def test_malformed_messages_are_typed_counted_and_change_nothing(message, field):
    engine = make_engine()
    engine.process({"id": "a", "features": {"x": 1.0}})
    before = state(engine)
    with pytest.raises(MalformedMessageError) as info:
        engine.process(message)
    if field is not None:
        assert info.value.field == field
    after_errors = engine.summary()["errors"]
    assert after_errors["by_code"] == {"malformed_message": 1}
    engine.errors.clear()
    engine.error_samples.clear()
    assert state(engine) == before


def test_unknown_duplicate_and_expired_ids():
    engine = make_engine(max_pending=128, label_ttl=10.0)
    engine.predict({"x": 1.0}, id="a", ts=0.0)
    with pytest.raises(DuplicateIdError):
        engine.predict({"x": 1.0}, id="a", ts=0.5)
    with pytest.raises(UnknownIdError):
        engine.learn("never-seen", True)
    # push event time forward: "a" expires at the next sweep
    for i in range(engine.pending.check_every):
        engine.predict({"x": 1.0}, id=f"n{i}", ts=100.0 + i)
    with pytest.raises(ExpiredIdError):
        engine.learn("a", True)
    counts = engine.summary()["labels"]
    assert counts["expired"] >= 1 and counts["evicted"] > 0
    assert counts["pending"] <= 128
    codes = engine.summary()["errors"]["by_code"]
    assert codes == {"duplicate_id": 1, "unknown_id": 1, "expired_id": 1}


def test_capacity_eviction_is_counted_and_bounded():
    engine = Engine(models={"m": tree.HoeffdingTreeClassifier()}, max_pending=100)
    for i in range(1000):
        engine.predict({"x": float(i)}, id=str(i))
        assert len(engine.pending) <= 100
    counts = engine.pending.counts()
    assert counts["pending"] + counts["evicted"] == 1000
    with pytest.raises(ExpiredIdError):
        engine.learn("0", True)
    engine.learn("999", True)


def test_model_failure_is_a_model_error_naming_the_model():
    engine = Engine(models={"lr": linear_model.LogisticRegression()})
    with pytest.raises(ModelError) as info:
        engine.predict({"x": "a string"}, id="s")
    assert info.value.model == "lr"
    assert "s" not in engine.pending
    assert engine.summary()["errors"]["by_code"] == {"model_error": 1}


def test_regressors_get_regression_metrics_by_default():
    engine = Engine(models={"lin": linear_model.LinearRegression()})
    p = engine.predict({"x": 1.0}, id="a")
    assert p.proba is None
    engine.learn("a", 2.0)
    assert set(engine.metrics()["lin"]["metrics"]) == {"MAE"}


def test_config_errors():
    with pytest.raises(ConfigError):
        Engine(models={})
    with pytest.raises(ConfigError, match="not a River estimator"):
        Engine(models={"x": object()})
    with pytest.raises(ConfigError, match="for classifiers"):
        Engine(models={"lin": linear_model.LinearRegression()}, metrics=["Accuracy"])


def test_engine_pickles_and_continues_identically():
    a = make_engine()
    for i in range(200):
        a.predict({"x": float(i % 5)}, id=str(i))
        if i >= 3:
            a.learn(str(i - 3), i % 2 == 0)
    b = pickle.loads(pickle.dumps(a))
    outs = []
    for eng in (a, b):
        seq = []
        for i in range(200, 300):
            seq.append(eng.predict({"x": float(i % 5)}, id=str(i)).to_dict())
            eng.learn(str(i - 3), i % 2 == 0)
        outs.append((seq, eng.summary()))
    assert outs[0] == outs[1]
