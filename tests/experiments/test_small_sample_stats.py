"""Small-sample sequential tests (issue #13): the betting test (Waudby-Smith & Ramdas 2023) that
A/B, shadow, canary and interleaving decide with by default.

The full figures (200 A/A runs x 10k events, power at 0.30 vs 0.33) are in
``benchmarks/bench_experiments.py aa``; these runs are smaller, with stated margins.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_ml.experiments import ABConfig, CanaryConfig, ExperimentConfigError, InterleavingConfig
from stream_ml.experiments.stats import BETS, ArmStats, BettingTest, MixtureSPRT


def aa_stream(seed: int, n: int, p: float = 0.3) -> tuple[list[bool], list[float]]:
    rng = np.random.default_rng(seed)
    return (rng.random(n) < 0.5).tolist(), (rng.random(n) < p).astype(float).tolist()


def first_rejection(test: BettingTest, arms: list[bool], x: list[float]) -> int | None:
    for i, (b, v) in enumerate(zip(arms, x, strict=True)):
        (test.update_b if b else test.update_a)(v)
        if test.check():
            return i
    return None


def test_aa_false_positives_under_alpha_and_not_early():
    """60 A/A runs x 10,000 events, checked after every event. Margin: at most 6 false
    positives (a binomial(60, 0.05) exceeds 6 with probability 0.03), at most 1 before event
    1,000 (observed: one, at event 752, seed 22; over 1,000 such runs 14 false positives, 2
    of them before event 1,000)."""
    hits = [first_rejection(BettingTest(), *aa_stream(seed, 10_000)) for seed in range(60)]
    fps = [h for h in hits if h is not None]
    assert len(fps) <= 6
    assert sum(h < 1000 for h in fps) <= 1


def test_early_errors_betting_against_the_msprt():
    """The same 300 A/A streams of 1,000 events, checked after every event: the mSPRT (plug-in
    variance) rejects in some of them, the betting test in none. Margin: betting <= 1 (observed
    0), mSPRT >= 1 (observed 2)."""
    bet = msprt = 0
    for seed in range(300):
        arms, x = aa_stream(seed, 1000)
        bet += first_rejection(BettingTest(), arms, x) is not None
        a, b, m = ArmStats(), ArmStats(), MixtureSPRT()
        for arm_b, v in zip(arms, x, strict=True):
            (b if arm_b else a).update(v)
            m.update(a, b)
        msprt += m.rejected
    assert bet <= 1 and msprt >= 1 and msprt > bet


def test_power_and_direction():
    """0.30 vs 0.40: right in 10 of 10 runs within 5,000 events (observed: median ~1,300);
    and b worse than a is decided with direction -1."""
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        arms = (rng.random(5000) < 0.5).tolist()
        u = rng.random(5000)
        x = [float(u[i] < (0.4 if arms[i] else 0.3)) for i in range(5000)]
        t = BettingTest()
        assert first_rejection(t, arms, x) is not None and t.direction == 1
        lo, hi = t.interval()
        assert 0.0 < lo < 0.1 < hi
        t = BettingTest()
        assert first_rejection(t, [not a for a in arms], x) is not None and t.direction == -1


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from([-1.0, 0.0, 1.0]), max_size=200),
    st.floats(-0.5, 0.5),
    st.floats(0.01, 0.5),
)
def test_wealth_is_the_product_of_the_bets(ds, theta0, tau):
    """The running wealth equals the mixture of prod(1 + lam (d - theta0)) computed directly,
    and the win/tie/loss closed form the confidence sequence uses gives the same number."""
    t = BettingTest(tau=tau, theta0=theta0)
    for d in ds:
        t.add(d)
    up, down = t.wealth()
    direct_up = sum(
        w * math.prod(1.0 + lam * (d - theta0) for d in ds)
        for w, lam in zip(t._weights, BETS, strict=True)
    )
    direct_down = sum(
        w * math.prod(1.0 - lam * (d - theta0) for d in ds)
        for w, lam in zip(t._weights, BETS, strict=True)
    )
    assert up == pytest.approx(direct_up, rel=1e-9)
    assert down == pytest.approx(direct_down, rel=1e-9)
    assert math.log(up) == pytest.approx(t._log_up(theta0), rel=1e-9, abs=1e-9)
    assert math.isclose(sum(t._weights), 1.0)


def test_non_ternary_values_pickle_and_continue():
    rng = np.random.default_rng(0)
    a = BettingTest()
    for _ in range(300):
        a.update_a(float(rng.random()))
        a.update_b(float(rng.random()) ** 0.8)
    b = pickle.loads(pickle.dumps(a))
    for t in (a, b):
        r = np.random.default_rng(1)
        for _ in range(3000):
            t.update_a(float(r.random()))
            t.update_b(float(r.random()) ** 0.8)
        t.check()
    assert a.as_dict() == b.as_dict() and a.direction == 1  # E[u^0.8] = 0.556 > 0.5
    assert a.as_dict()["low"] == -math.inf  # no interval for values outside {-1, 0, 1}


def test_bad_parameters_are_refused():
    for kw in ({"theta0": 1.0}, {"alpha": 0.0}, {"tau": 0.0}, {"sides": ("left",)}):
        with pytest.raises(ExperimentConfigError):
            BettingTest(**kw)


def test_ab_uses_betting_and_falls_back_to_the_msprt_outside_unit_interval():
    router = ABConfig(control="a").build(["a", "b"])
    rng = np.random.default_rng(0)
    for _ in range(200):
        d = router.route(None, rng)
        router.reward(d, float(rng.random() < 0.5))
    s = router.summary()["test"]
    assert s["test"] == "betting" and s["tests"]["b"]["test"].startswith("betting")
    assert set(s["msprt"]["b"]) >= {"p_value", "low", "high"}
    d = router.route(None, rng)
    router.reward(d, 3.0)  # not a [0, 1] metric: the betting test cannot be used
    s = router.summary()["test"]
    assert s["test"] == "msprt" and s["tests"]["b"]["test"].startswith("mSPRT")
    old = ABConfig(control="a", test="msprt").build(["a", "b"])
    assert old.comparison.bets is None and old.summary()["test"]["test"] == "msprt"


def test_ab_betting_decides_the_better_arm_and_promotes():
    router = ABConfig(control="a", promote_when_decided=True).build(["a", "b"])
    rng = np.random.default_rng(3)
    for i in range(20_000):
        d = router.route(f"u{i}", rng)
        router.reward(d, float(rng.random() < (0.3 if d.arm == "a" else 0.4)))
        if router.promoted:
            break
    assert router.promoted == "b"
    assert router.pop_events()[0].reason == "betting test decided"
    assert router.summary()["test"]["tests"]["b"]["low"] > 0


def test_canary_betting_guard():
    broken = CanaryConfig(primary="p", candidate="c", schedule=[0.05, 1.0]).build(["p", "c"])
    fine = CanaryConfig(primary="p", candidate="c", schedule=[0.5], margin=1.0).build(["p", "c"])
    rng = np.random.default_rng(0)
    for i in range(20_000):
        for router, bad in ((broken, 0.2), (fine, 0.0)):
            if router.state != "ramping":
                continue
            d = router.route(f"u{i}", rng)
            router.reward(d, float(rng.random() < (bad if d.served == "c" else 0.7)))
    assert broken.state == "aborted" and broken.stats["c"].n < 100
    assert broken.summary()["guard"]["kind"] == "betting"
    assert fine.state != "aborted"  # a margin of 1 can never fail on [0, 1] outcomes
    lat = CanaryConfig(primary="p", candidate="c", higher_is_better=False).build(["p", "c"])
    d = lat.route("u", rng)
    lat.reward(d, 120.0)  # a latency: the guard falls back to the mSPRT
    assert lat.test == "msprt"


def test_interleaving_betting_test_restarts_and_pickles():
    router = InterleavingConfig(burn_in=0).build(["A", "B"])
    assert router.test == "betting"
    rng = np.random.default_rng(0)
    for _ in range(400):
        d = router.route(None, rng)
        il = router.interleave(d, {"A": ["x", "y", "z"], "B": ["z", "y", "x"]}, rng)
        router.credit(il, [i for i in il.items[:1] if il.teams[i] == "A"])
    s = router.summary()
    assert s["winner"] == "A" and s["pairs"]["A>B"]["sequential"]["direction"] == 1
    again = pickle.loads(pickle.dumps(router))
    assert again.summary() == s
    router.restart_test()
    assert router.summary()["pairs"]["A>B"]["sequential"]["p_value"] == 1.0
    assert InterleavingConfig(test="msprt").build(["A", "B"]).test == "msprt"
