"""The one-model hot path builds what the slow paths build (overhead issue, #12)."""

from __future__ import annotations

import dataclasses
import math
import pickle
import random

from river import base, metrics

from stream_ml import Engine
from stream_ml.evaluation.prequential import Prequential
from stream_ml.events import Prediction


class Fixed(base.Classifier):
    """Answers the probabilities it is given, in turn; learns nothing."""

    def __init__(self, answers: list[dict]) -> None:
        self.answers = answers
        self.i = 0

    def learn_one(self, x: dict, y: object) -> None:
        pass

    def predict_proba_one(self, x: dict) -> dict:
        p = self.answers[self.i % len(self.answers)]
        self.i += 1
        return p


def test_every_field_of_the_one_model_prediction_is_set_as_the_constructor_sets_it():
    engine = Engine({"m": Fixed([{True: 0.25, False: 0.75}])})
    p = engine.predict({"a": 1.0}, key="k", ts=5.0)
    for f in dataclasses.fields(Prediction):  # a field added later must be set here too
        assert hasattr(p, f.name), f.name
    built = Prediction("1", "m", False, {True: 0.25, False: 0.75}, "k", 5.0, 1, 1.0, 0)
    assert p == built and p.to_dict() == built.to_dict()
    assert p.x == {"a": 1.0} and pickle.loads(pickle.dumps(p)) == p
    assert engine.predict({"a": 2.0}).ts == 2.0 and type(engine.predict({}).ts) is float


def test_the_label_is_max_of_the_probabilities_ties_and_nan_included():
    rng = random.Random(7)
    answers = [{0: 0.5, 1: 0.5}, {"b": 0.2, "a": 0.2, "c": 0.6}, {1: math.nan, 0: 0.9}]
    answers += [{0: 0.9, 1: math.nan}, {"x": 1.0}]
    for _ in range(300):
        k = rng.randint(1, 5)
        answers.append({i: rng.choice([0.0, 0.1, 0.5, 0.5, math.nan]) for i in range(k)})
    engine = Engine({"m": Fixed(answers)})
    for proba in answers:
        p = engine.predict({})
        assert p.proba is proba
        assert p.y_pred == max(proba, key=proba.get)
        engine.learn(p.id, 0)


def test_a_lone_label_metric_scores_as_the_general_path_and_old_states_load():
    ys = [random.Random(3).randint(0, 2) for _ in range(500)]
    preds = [(y + i % 3) % 3 if i % 4 else None for i, y in enumerate(ys)]
    one = Prequential(["Accuracy"], window=50, is_classifier=True)
    two = Prequential(["Accuracy", "MacroF1"], window=50, is_classifier=True)
    acc = metrics.Accuracy()
    assert one._single is not None and two._single is None
    state = dict(one.__dict__)
    del state["_single"]  # a Prequential pickled before the fast path
    old = Prequential.__new__(Prequential)
    old.__setstate__(state)
    for y, y_pred in zip(ys, preds):
        for pq in (one, two, old):
            pq.update(y, y_pred, None)
        if y_pred is not None:
            acc.update(y, y_pred)
    assert one.values()["Accuracy"] == two.values()["Accuracy"] == acc.get()
    assert old.values() == one.values() and old.rolling() == one.rolling()
    assert one.rolling()["Accuracy"] == two.rolling()["Accuracy"]
    scored = sum(p is not None for p in preds)  # a non-answer is not scored
    assert one._ring == two._ring and one.n == two.n == old.n == scored


def test_options_still_go_by_keyword():
    engine = Engine({"m": Fixed([{True: 0.6, False: 0.4}])})
    p = engine.predict({"a": 1.0}, id="e1", key="u", ts=3.0, copy=False)
    assert (p.id, p.key, p.ts, p.y_pred) == ("e1", "u", 3.0, True)
    engine.learn("e1", True, ts=4.0)
    assert engine.summary()["labels"]["lag_mean"] == 1.0
