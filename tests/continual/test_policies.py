"""Update policies: each one serves exactly the model its definition says (against naive
references that buffer or retrain in one go), counts its cost, pickles and continues."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import dummy, linear_model, preprocessing, tree

from stream_ml.continual.policies import (
    EveryPolicy,
    FrozenPolicy,
    StatelessPolicy,
    parse_policy,
    policy_model,
)
from stream_ml.errors import ConfigError
from stream_ml.models.slot import ModelSlot


def _stream(n: int, seed: int) -> list[tuple[dict, float]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    return [({"a": float(a), "b": float(b)}, float(2 * a - b + 0.1 * e))
            for (a, b), e in zip(x, rng.normal(size=n))]  # fmt: skip


PROBE = {"a": 0.7, "b": -1.3}


def _reg() -> linear_model.LinearRegression:
    return linear_model.LinearRegression()


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 15), n=st.integers(1, 60), seed=st.integers(0, 10_000))
def test_every_k_serves_the_model_that_buffering_k_labels_gives(k: int, n: int, seed: int):
    wrapped = policy_model(_reg(), EveryPolicy(k=k))
    reference, buffer = _reg(), []
    for x, y in _stream(n, seed):
        wrapped.learn_one(x, y)
        buffer.append((x, y))
        if len(buffer) == k:
            for bx, by in buffer:
                reference.learn_one(bx, by)
            buffer.clear()
        assert wrapped.predict_one(PROBE) == reference.predict_one(PROBE)
    assert wrapped.publishes == (n // k if k > 1 else 0)
    # after the first k labels, two learns per label: the new one and one the model missed
    assert wrapped.updates == (2 * n - min(n, k) if k > 1 else n)


@settings(max_examples=30, deadline=None)
@given(window=st.integers(1, 25), every=st.integers(1, 8), n=st.integers(1, 70),
       seed=st.integers(0, 10_000))  # fmt: skip
def test_stateless_serves_a_fresh_model_trained_on_the_last_window(window, every, n, seed):
    wrapped = policy_model(_reg(), StatelessPolicy(window=window, every=every))
    seen: list[tuple[dict, float]] = []
    reference = _reg()  # what serves before the first retraining: the untrained model
    for x, y in _stream(n, seed):
        wrapped.learn_one(x, y)
        seen.append((x, y))
        if len(seen) % every == 0:
            reference = _reg()
            for bx, by in seen[-window:]:
                reference.learn_one(bx, by)
        assert wrapped.predict_one(PROBE) == reference.predict_one(PROBE)
    assert wrapped.publishes == n // every
    # every label goes to each model in training whose window holds it
    expected = sum(min(c, window) for c in range(every, n + 1, every))
    expected += sum(max(0, n - max(c - window, 0)) for c in range(every * (n // every + 1),
                    n + window, every))  # models started but not yet due  # fmt: skip
    assert wrapped.updates == expected


def test_frozen_learns_the_first_labels_only():
    wrapped = policy_model(_reg(), FrozenPolicy(after=20))
    reference = _reg()
    for i, (x, y) in enumerate(_stream(100, 3)):
        wrapped.learn_one(x, y)
        if i < 20:
            reference.learn_one(x, y)
    assert wrapped.predict_one(PROBE) == reference.predict_one(PROBE)
    assert wrapped.cost()["labels"] == 100 and wrapped.updates == 20


@pytest.mark.parametrize("policy", ["continual", "every:7", "frozen:30", "stateless:20:6"])
def test_pickled_mid_stream_continues_exactly(policy: str):
    data = _stream(120, 5)
    run = policy_model(preprocessing.StandardScaler() | _reg(), policy)
    for x, y in data[:50]:
        run.learn_one(x, y)
    resumed = pickle.loads(pickle.dumps(run))
    for x, y in data[50:]:
        run.learn_one(x, y)
        resumed.learn_one(x, y)
        assert run.predict_one(x) == resumed.predict_one(x)
    assert run.updates == resumed.updates


def test_learn_one_does_not_mutate_its_input_and_the_slot_sees_a_classifier():
    wrapped = policy_model(tree.HoeffdingTreeClassifier(), "every:3")
    slot = ModelSlot("t", wrapped, metrics=["Accuracy"])
    assert slot.is_classifier and slot.proba_one is not None
    x = {"a": 1.0}
    before = copy.deepcopy(x)
    for _ in range(3):
        slot.learn_one(x, True)
    assert x == before and slot.predict(x)[0] is True


def test_a_classifier_with_its_own_predict_one_keeps_it():
    wrapped = policy_model(dummy.NoChangeClassifier(), "continual")
    slot = ModelSlot("n", wrapped, metrics=["Accuracy"])
    assert slot.proba_one is None  # the slot asks predict_one, as for the bare model
    slot.learn_one({"a": 1.0}, "b")
    assert slot.predict({"a": 1.0})[0] == "b"


def test_the_clock_is_injected():
    ticks = iter(range(100))
    wrapped = policy_model(_reg(), "continual", clock=lambda: float(next(ticks)))
    for x, y in _stream(3, 0):
        wrapped.learn_one(x, y)
    assert wrapped.seconds == 3.0


@pytest.mark.parametrize(
    ("spec", "words"),
    [("every:0", "field 'k'"), ("sometimes", "expected continual"), ("frozen:x", "integers"),
     ({"kind": "stateless", "window": 10}, "field 'every'"),
     ({"kind": "every", "k": 2, "typo": 1}, "field 'typo'")],
)  # fmt: skip
def test_bad_policies_are_config_errors_naming_the_field(spec, words):
    with pytest.raises(ConfigError, match=words):
        parse_policy(spec)


def test_too_many_models_in_training_is_refused():
    with pytest.raises(ConfigError, match="field 'window'"):
        policy_model(_reg(), "stateless:100000:10")


def test_not_an_estimator_is_refused():
    with pytest.raises(ConfigError, match="River estimator"):
        policy_model(object(), "continual")
