"""Reading a summary changes nothing: the off-policy estimates of a routed engine are cached
between rewards (their small-sample intervals are bootstrapped), and the cache is not state."""

from __future__ import annotations

import numpy as np
from river import linear_model, tree

from stream_ml import Engine


def _routed_engine() -> Engine:
    return Engine(
        {"a": linear_model.LogisticRegression(), "b": tree.HoeffdingTreeClassifier()},
        router={"kind": "thompson"},
        seed=3,
    )


def _feed(engine: Engine, rng: np.random.Generator, n: int) -> None:
    for _ in range(n):
        x = {"f": float(rng.normal())}
        p = engine.predict(x)
        engine.learn(p.id, x["f"] > 0)


def test_summary_calls_leave_the_digest_and_the_estimates_alone() -> None:
    quiet, chatty = _routed_engine(), _routed_engine()
    rq, rc = np.random.default_rng(0), np.random.default_rng(0)
    for _ in range(4):
        _feed(quiet, rq, 150)
        _feed(chatty, rc, 150)
        first = chatty.summary()["experiment"]["off_policy"]
        assert chatty.summary()["experiment"]["off_policy"] is first  # cached: no new reward
        assert chatty.digest() == quiet.digest()
    fresh = quiet.summary()["experiment"]["off_policy"]
    assert fresh == chatty.summary()["experiment"]["off_policy"]
    est = fresh["a"]["ips"]
    assert est["low"] <= est["value"] <= est["high"] and est["interval"] in ("bootstrap-t", "normal")
    _feed(chatty, rc, 1)  # a new reward: recomputed
    assert chatty.summary()["experiment"]["off_policy"] is not first
