"""Ranking feedback with ``shown``: the models learn only from the candidates the user saw
(a recommender can send its whole catalogue as candidates and show the top few, without every
unseen item becoming a negative: the degenerate feedback loop of the feedback-loop scenario)."""

from __future__ import annotations

import pickle

import pytest
from river import linear_model

from stream_ml import Engine
from stream_ml.errors import EventError, FeedbackError

CANDS = [{"id": c, "q": q} for c, q in (("x", 1.0), ("y", 2.0), ("z", -1.0), ("w", 0.5))]


def _ranking_engine() -> Engine:
    return Engine({"ranker": linear_model.LinearRegression()})


def test_the_model_learns_the_shown_rows_only() -> None:
    engine = _ranking_engine()
    for i in range(30):
        engine.predict({"u": 1.0}, id=str(i), candidates=CANDS)
        engine.learn(str(i), clicks=["y"], shown=["x", "y"])
    by_hand = linear_model.LinearRegression()
    for _ in range(30):
        for c in CANDS[:2]:  # x then y, in the candidates' order
            by_hand.learn_one({"u": 1.0, "q": c["q"]}, c["id"] == "y")
    assert engine.model("ranker").weights == by_hand.weights
    everything = _ranking_engine()  # without shown: every candidate is learned (as before)
    for i in range(30):
        everything.predict({"u": 1.0}, id=str(i), candidates=CANDS)
        everything.learn(str(i), clicks=["y"])
    assert everything.model("ranker").weights != by_hand.weights


@pytest.mark.parametrize(
    ("clicks", "shown", "field"),
    [(["y"], ["y", "nope"], "shown"), (["z"], ["x", "y"], "clicks")],
)
def test_a_bad_shown_list_is_refused_and_changes_nothing(clicks, shown, field) -> None:
    engine = _ranking_engine()
    engine.predict({"u": 1.0}, id="r", candidates=CANDS)
    before = pickle.dumps(engine)
    with pytest.raises(EventError) as info:
        engine.learn("r", clicks=clicks, shown=shown)
    assert info.value.field == field and engine.errors[info.value.code] == 1
    engine.errors.clear()
    engine.error_samples.clear()
    assert pickle.dumps(engine) == before
    engine.learn("r", clicks=["y"], shown=["y", "x"])  # and a good one is then taken


def test_shown_on_a_prediction_that_is_not_a_ranking_is_a_typed_error() -> None:
    engine = Engine({"lr": linear_model.LogisticRegression()})
    engine.predict({"u": 1.0}, id="p")
    with pytest.raises(FeedbackError) as info:
        engine.learn("p", True, shown=["x"])
    assert info.value.field == "shown"
    engine.learn("p", True)  # the prediction is still pending


def test_shown_through_a_message() -> None:
    engine = _ranking_engine()
    engine.process({"id": "m", "features": {"u": 1.0}, "candidates": CANDS})
    ack = engine.process({"id": "m", "clicks": ["x"], "shown": ["x", "w"]})
    assert ack.id == "m" and engine.summary()["feedback"] == 1


def test_messages_built_by_the_quick_path_have_every_field() -> None:
    """parse_message builds plain messages without pydantic's validators: the objects carry the
    same fields (a field added to Feedback or Observation, such as ``shown``, must be there)."""
    from stream_ml.events import Feedback, Observation, parse_message

    fb, obs = parse_message({"id": "a", "label": 1}), parse_message({"features": {"u": 1.0}})
    assert fb.__dict__.keys() == Feedback(id="a", label=1).__dict__.keys()
    assert obs.__dict__.keys() == Observation(features={"u": 1.0}).__dict__.keys()
