"""state_digest (canonical hash) and SnapshotPolicy (when to snapshot)."""

from __future__ import annotations

import collections
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from river import linear_model, preprocessing, tree
from river.datasets import synth

from stream_ml.snapshots import (
    SnapshotPolicy,
    SnapshotPolicyConfig,
    StateDigestError,
    state_digest,
)

ROOT = Path(__file__).resolve().parents[2]


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(), st.integers() | st.floats(allow_nan=False) | st.text()))
def test_dict_order_does_not_matter(d: dict[str, object]) -> None:
    reordered = dict(reversed(list(d.items())))
    assert state_digest(d) == state_digest(reordered)
    assert state_digest(d) == state_digest(pickle.loads(pickle.dumps(d)))


def test_values_types_and_structure_matter() -> None:
    base = state_digest({"a": [1.0, 2.0]})
    assert base != state_digest({"a": [1.0, 2.5]})
    assert base != state_digest({"a": (1.0, 2.0)})
    assert base != state_digest({"a": [1, 2]})
    assert state_digest(0.0) != state_digest(-0.0)
    assert state_digest(float("nan")) == state_digest(float("-nan"))
    assert state_digest(np.arange(3.0)) != state_digest(np.arange(3))
    shared = [1]
    assert state_digest([shared, shared]) != state_digest([[1], [1]])
    cyclic: list[object] = []
    cyclic.append(cyclic)
    assert len(state_digest(cyclic)) == 64
    counts = collections.defaultdict(int, {"b": 2, "a": 1})
    assert state_digest(counts) == state_digest(collections.defaultdict(int, {"a": 1, "b": 2}))
    with pytest.raises(StateDigestError):
        state_digest({"gen": (x for x in [1])})


def _train(model: object, n: int) -> object:
    for x, y in synth.Agrawal(seed=7).take(n):
        model.learn_one(x, y)  # type: ignore[attr-defined]
    return model


def test_river_models_digest_stable_across_copies() -> None:
    def linear() -> object:
        return preprocessing.StandardScaler() | linear_model.LogisticRegression()

    a, b = _train(linear(), 500), _train(linear(), 500)
    assert state_digest(a) == state_digest(b) == state_digest(pickle.loads(pickle.dumps(a)))
    assert state_digest(a) != state_digest(_train(linear(), 501))
    # A Hoeffding tree's Gaussian observers hold an *unseeded* random.Random (river.proba), so
    # two trainings differ in RNG state; a copy of one tree digests the same.
    t = _train(tree.HoeffdingTreeClassifier(grace_period=50), 500)
    assert state_digest(t) == state_digest(pickle.loads(pickle.dumps(t)))
    other = _train(tree.HoeffdingTreeClassifier(grace_period=50), 500)
    assert state_digest(t) != state_digest(other)


def test_digest_is_the_same_in_another_process() -> None:
    code = textwrap.dedent(
        """
        from stream_ml.snapshots import state_digest
        print(state_digest({"s": {"x", "y", "z"}, "f": frozenset({"a", "b"}), "n": [1.5, None]}))
        """
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1


def test_policy_every_events_and_seconds() -> None:
    policy = SnapshotPolicy(every_events=100, every_seconds=60.0)
    taken = []
    t = 1000.0
    for n in range(1, 1001):
        t += 0.5 if n < 500 else 5.0  # time speeds up halfway
        if policy.due(n, t):
            policy.mark(n, t)
            taken.append(n)
    assert taken[:4] == [100, 200, 300, 400]
    gaps = np.diff(taken[5:])
    assert set(gaps.tolist()) == {12}  # 60 s / 5 s per event
    assert policy.last[0] == taken[-1]


def test_policy_on_demand_and_pickle() -> None:
    policy = SnapshotPolicy(every_events=None, every_seconds=None)
    assert not any(policy.due(n, float(n)) for n in range(1, 10_000, 97))
    events = SnapshotPolicy(every_events=10)
    events.mark(7, None)  # an on-demand snapshot restarts the count
    assert not events.due(16) and events.due(17)
    copy = pickle.loads(pickle.dumps(events))
    assert copy.last == events.last and copy.due(17)
    backwards = SnapshotPolicy(every_events=None, every_seconds=10.0)
    assert not backwards.due(1, 100.0) and not backwards.due(2, 50.0) and backwards.due(3, 110.0)
    with pytest.raises(ValueError):
        SnapshotPolicy(every_events=0)


def test_policy_config() -> None:
    cfg = SnapshotPolicyConfig.model_validate({"every_seconds": 30, "keep_last": 5})
    policy = cfg.build()
    assert (policy.every_events, policy.every_seconds, cfg.kind) == (1000, 30.0, "snapshot_policy")
    with pytest.raises(ValidationError):
        SnapshotPolicyConfig(every_event=10)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        SnapshotPolicyConfig(keep_last=0)
