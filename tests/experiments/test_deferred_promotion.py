"""Deferred promotions (what the engine uses to snapshot the state before a promotion): the
decision is held in ``pending_promotion`` until ``apply_promotion``; rewards in between are
recorded and never promote twice; ``cancel_promotion`` drops it."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from stream_ml.experiments import ABConfig, CanaryConfig, ShadowConfig

MEANS = {"m0": 0.3, "m1": 0.7, "m2": 0.6}


def deferred(config):
    router = config.build(list(MEANS))
    router.defer_promotions = True
    return router


def feed(router, rng, n, *, until_pending=False):
    for i in range(n):
        d = router.route(f"k{i}", rng)
        for arm in d.answering:
            r = float(rng.random() < MEANS[arm])
            if arm == d.served:
                router.reward(d, r)
            else:
                router.record_outcome(arm, r)
        if until_pending and router.pending_promotion is not None:
            return


def test_ab_promotion_waits_for_apply_and_happens_once():
    router = deferred(ABConfig(control="m0", promote_when_decided=True))
    rng = np.random.default_rng(0)
    feed(router, rng, 5000, until_pending=True)
    assert router.pending_promotion is not None and router.promoted is None
    served = {router.route(f"x{i}", rng).served for i in range(50)}
    assert len(served) > 1  # still the split
    feed(router, rng, 500)
    assert len(router.pop_events()) == 1  # the rewards in between did not promote again
    winner = router.pending_promotion.winner
    assert router.apply_promotion().winner == winner and router.promoted == winner
    assert router.apply_promotion() is None
    assert {router.route(f"y{i}", rng).served for i in range(50)} == {winner}


def test_shadow_primary_changes_when_the_promotion_takes_effect():
    router = deferred(ShadowConfig(primary="m0", promote_when_decided=True))
    rng = np.random.default_rng(1)
    feed(router, rng, 5000, until_pending=True)
    winner = router.pending_promotion.winner
    assert winner in ("m1", "m2") and router.primary == "m0"
    feed(router, rng, 300)  # two candidates keep reporting: still one promotion
    assert len(router.pop_events()) == 1 and router.primary == "m0"
    router.apply_promotion()
    assert router.primary == router.promoted == winner
    assert router.route("k", rng).served == winner


def test_canary_abort_is_ramping_until_it_takes_effect():
    cfg = CanaryConfig(primary="m1", candidate="m0", schedule=[0.3, 1.0], step_outcomes=5000)
    router = deferred(cfg)
    rng = np.random.default_rng(2)
    feed(router, rng, 5000, until_pending=True)
    assert router.pending_promotion.winner == "m1"
    assert router.state == "ramping" and router.share == 0.3
    snapshot = pickle.loads(pickle.dumps(router))
    feed(router, rng, 200)
    assert len(router.pop_events()) == 1 and router.state == "ramping"
    router.apply_promotion()
    assert router.state == "aborted" and router.share == 0.0
    assert {router.route(f"z{i}", rng).served for i in range(100)} == {"m1"}
    # the pickled pre-promotion router takes the same step when applied
    snapshot.apply_promotion()
    assert snapshot.state == "aborted" and snapshot.promoted == "m1"


def test_canary_completion_with_promotion():
    cfg = CanaryConfig(
        primary="m0", candidate="m1", schedule=[0.5], step_outcomes=50, promote_when_decided=True,
        margin=1.0,
    )  # fmt: skip
    router = deferred(cfg)
    rng = np.random.default_rng(3)
    feed(router, rng, 1000, until_pending=True)
    assert router.pending_promotion.reason == "ramp completed, guard held"
    assert router.state == "ramping"
    router.apply_promotion()
    assert router.state == "completed" and router.share == 1.0 and router.promoted == "m1"


def test_cancel_promotion_keeps_the_experiment_running():
    router = deferred(ABConfig(control="m0", promote_when_decided=True))
    rng = np.random.default_rng(4)
    feed(router, rng, 5000, until_pending=True)
    assert router.cancel_promotion() is not None
    assert router.pending_promotion is None and router.promote_when_decided is False
    feed(router, rng, 1000)
    assert router.promoted is None and router.pending_promotion is None
    assert router.summary()["test"]["status"] == "decided"  # the verdict stays, as evidence
    assert router.cancel_promotion() is None


@pytest.mark.parametrize("defer", [False, True])
def test_standalone_routers_promote_at_once(defer):
    router = ABConfig(control="m0", promote_when_decided=True).build(list(MEANS))
    router.defer_promotions = defer
    feed(router, np.random.default_rng(5), 5000, until_pending=defer)
    assert (router.promoted is None) is defer
    pending = router.summary()["pending_promotion"]
    assert pending == (router.pending_promotion.winner if defer else None)
    assert pending in ((None,) if not defer else ("m1", "m2"))
