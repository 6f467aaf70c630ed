"""Burn-in for the A/B, shadow and canary routers: each arm's first ``burn_in`` rewards are
counted in its statistics but not fed to the mSPRT (or the canary's guard).

The learning arm ("learner") simulates a model that learns online: its k-th reward is 1 with
probability ``0.1 + 0.5 * min(k / 500, 1)``, so it is worse than the control (0.5, constant) for
its first 400 rewards and better (0.6) from its 500th on.
"""

from __future__ import annotations

import pickle
import tomllib

import numpy as np
import pytest

from stream_ml.config import parse_config
from stream_ml.errors import ConfigError
from stream_ml.experiments import (
    ABConfig,
    ABRouter,
    CanaryConfig,
    ExperimentConfigError,
    ShadowConfig,
)
from stream_ml.experiments.stats import MixtureSPRT

SEEDS = range(6)
ARMS = ["control", "learner"]


def p_reward(arm: str, k: int) -> float:
    """Probability that ``arm``'s ``k``-th reward (from 0) is 1."""
    return 0.5 if arm == "control" else 0.1 + 0.5 * min(k / 500, 1.0)


def drive_ab(router, events: int, seed: int) -> int | None:
    """``events`` keyless events; returns the event at which the test first decided."""
    rng = np.random.default_rng(seed)
    count = dict.fromkeys(ARMS, 0)
    decided = None
    for i in range(events):
        d = router.route(None, rng)
        k, count[d.arm] = count[d.arm], count[d.arm] + 1
        router.reward(d, float(rng.random() < p_reward(d.arm, k)))
        if decided is None and router.comparison.winner is not None:
            decided = i
    return decided


def test_ab_without_burn_in_settles_on_the_control_against_a_learning_arm():
    # margin: wrong in at least 4 of 6 seeds (observed: 6 of 6, within the first 300 events)
    wrong = 0
    for seed in SEEDS:
        router = ABConfig(control="control").build(ARMS)
        drive_ab(router, 8000, seed)
        wrong += router.check() == "control"
    assert wrong >= 4


def test_ab_with_burn_in_declares_the_learning_arm_or_nothing():
    # margin: right or undecided in 6 of 6 seeds (observed: right in 6 of 6, after 1500-2600
    # events; the burn-in alone is about 1200)
    right = 0
    for seed in SEEDS:
        router = ABConfig(control="control", burn_in=600).build(ARMS)
        decided = drive_ab(router, 8000, seed)
        assert router.check() in ("learner", None), seed
        right += router.check() == "learner"
        assert decided is None or decided >= 1200
        s = router.summary()
        assert s["burn_in"]["rewards"] == 600
        assert s["burn_in"]["left"] == {"control": 0, "learner": 0}
        for arm in ARMS:  # the arm's totals count everything, the test saw what came after
            assert s["arms"][arm]["n"] == s["burn_in"]["tested"][arm]["n"] + 600
        assert s["burn_in"]["tested"]["learner"]["mean"] > s["arms"]["learner"]["mean"]
    assert right >= 5


def test_shadow_burn_in_keeps_a_learning_candidate_from_losing_for_good():
    # margin: without burn-in the primary wins in >= 4 of 6 seeds, with burn_in=600 the
    # candidate wins or nothing is decided in 6 of 6 (observed: 6 of 6 each way)
    wrong = 0
    for seed in SEEDS:
        outcomes = {}
        for burn_in in (0, 600):
            router = ShadowConfig(primary="control", burn_in=burn_in).build(ARMS)
            rng = np.random.default_rng(seed)
            for k in range(3000):
                d = router.route(None, rng)
                router.reward(d, float(rng.random() < p_reward("control", k)))
                router.record_outcome("learner", float(rng.random() < p_reward("learner", k)))
            outcomes[burn_in] = router.check()
            assert router.summary()["arms"]["learner"]["n"] == 3000
        wrong += outcomes[0] == "control"
        assert outcomes[600] in ("learner", None), seed
    assert wrong >= 4


def test_canary_burn_in_does_not_abort_a_learning_candidate():
    # margin: without burn-in the guard aborts in >= 4 of 6 seeds, with burn_in=600 in none
    # (observed: 6 of 6 and 0 of 6)
    aborted = 0
    for seed in SEEDS:
        states = {}
        for burn_in in (0, 600):
            router = CanaryConfig(
                primary="control",
                candidate="learner",
                schedule=[0.5, 1.0],
                step_outcomes=1500,
                burn_in=burn_in,
            ).build(ARMS)
            rng = np.random.default_rng(seed)
            count = dict.fromkeys(ARMS, 0)
            for _ in range(3000):
                d = router.route(None, rng)
                k, count[d.arm] = count[d.arm], count[d.arm] + 1
                router.reward(d, float(rng.random() < p_reward(d.arm, k)))
            states[burn_in] = router.state
            assert router.summary()["burn_in"]["rewards"] == burn_in
        aborted += states[0] == "aborted"
        assert states[600] != "aborted", seed
    assert aborted >= 4


def test_burn_in_zero_gives_exactly_the_previous_decisions():
    """Same reward sequence: a router built without the option, one with burn_in=0, and an
    mSPRT fed from the arms' statistics directly (what the router did before burn-in)."""
    for seed in range(3):
        plain = ABRouter(ARMS, [1, 1], control="control")
        zero = ABConfig(control="control", burn_in=0).build(ARMS)
        reference = MixtureSPRT(tau=0.05, alpha=0.05, min_samples=30)
        rng_p, rng_z = np.random.default_rng(seed), np.random.default_rng(seed)
        rng_r = np.random.default_rng(seed + 100)
        count = dict.fromkeys(ARMS, 0)
        for i in range(1, 3001):
            dp, dz = plain.route(None, rng_p), zero.route(None, rng_z)
            assert dp == dz
            k, count[dp.arm] = count[dp.arm], count[dp.arm] + 1
            r = float(rng_r.random() < p_reward(dp.arm, k))
            undecided = plain.comparison.winner is None  # a decided test is no longer fed
            plain.reward(dp, r)
            zero.reward(dz, r)
            if i % 10 == 0 and undecided:
                reference.update(plain.stats["control"], plain.stats["learner"])
                test = plain.comparison.tests["learner"]
                assert test.p_value == reference.p_value and test.low == reference.low
            assert plain.comparison.winner == zero.comparison.winner
        assert plain.summary() == zero.summary()
        assert plain.comparison.burn.tested == {} and plain.burn_in == 0


def test_burn_in_round_trips_through_toml_and_pickle():
    models = {a: {"model": "linear_model.LogisticRegression()"} for a in ARMS}
    for kind, extra in (
        ("ab", 'control = "control"'),
        ("shadow", 'primary = "control"'),
        ("canary", 'primary = "control"\ncandidate = "learner"'),
    ):
        router_toml = tomllib.loads(f'kind = "{kind}"\nburn_in = 600\n{extra}\n')
        cfg = parse_config({"models": models, "router": router_toml})
        assert cfg.router.burn_in == 600
        router = cfg.router.build(ARMS)
        assert router.burn_in == 600 and router.summary()["burn_in"]["rewards"] == 600
        with pytest.raises(ConfigError, match="burn_in"):
            parse_config({"models": models, "router": {"kind": kind, "burn_in": -1}})
    with pytest.raises(ExperimentConfigError, match="burn_in"):
        ABRouter(ARMS, [1, 1], control="control", burn_in=-1)

    router = ABConfig(control="control", burn_in=600).build(ARMS)
    drive_ab(router, 1500, 0)  # mid burn-in for one arm or past it for both
    again = pickle.loads(pickle.dumps(router))
    assert again.burn_in == 600 and again.summary() == router.summary()
    drive_ab(router, 3000, 1)
    drive_ab(again, 3000, 1)
    assert again.summary() == router.summary()
    assert again.summary()["burn_in"]["tested"]["learner"]["n"] > 0


def test_routers_pickled_before_burn_in_existed_still_load():
    ab = ABConfig(control="control").build(ARMS)
    drive_ab(ab, 400, 2)
    del ab.comparison.__dict__["burn"]  # what an older version pickled
    canary = CanaryConfig(primary="control", candidate="learner").build(ARMS)
    del canary.__dict__["burn"]
    for old in (ab, canary):
        again = pickle.loads(pickle.dumps(old))
        assert again.burn_in == 0
        assert again.summary()["burn_in"]["left"] == dict.fromkeys(ARMS, 0)
    again = pickle.loads(pickle.dumps(ab))
    drive_ab(again, 100, 3)  # its test goes on seeing every reward
    assert again.summary()["burn_in"]["tested"]["control"]["n"] == again.stats["control"].n
