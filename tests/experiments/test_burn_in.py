"""The interleaving router's burn-in: the sequential test ignores the comparisons made while the
rankers are still learning, and can be restarted.

The engine-level test replays the ``ranking-interleaving`` scenario with unstandardised rankers
(``standardise=False``): the better ranker ("good") ranks backwards for about its first 750-1000
requests (see the scenario's docstring), so the early comparisons favour the worse one.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from scenarios.experiments_suite import RankingInterleaving, replay
from stream_ml.config import parse_config
from stream_ml.errors import ConfigError
from stream_ml.experiments import ExperimentConfigError, InterleavingConfig, InterleavingRouter
from stream_ml.experiments.interleaving.router import BURN_IN

SEEDS = range(5)


def winner(seed: int, events: int, **router: object) -> tuple[str | None, dict]:
    scenario = RankingInterleaving(standardise=False)
    config = scenario.engine_config(seed, {"kind": "interleaving", **router})
    run = replay(scenario, config, events, seed)
    ex = run["summary"]["experiment"]
    return ex["winner"], ex


def test_without_burn_in_the_test_settles_on_the_worse_learning_ranker():
    # margin: the test decides for the worse ranker in at least 4 of 5 seeds (observed: 5 of 5,
    # within the first 700 requests), although from about request 1000 on the better ranker
    # wins more comparisons (next test); the verdict sticks, so it never recovers
    wrong = 0
    for seed in SEEDS:
        w, ex = winner(seed, 1000, burn_in=0)
        wrong += w == "bad"
        assert ex["pairs"]["good>bad"]["tested"] == 1000
    assert wrong >= 4


def test_with_the_default_burn_in_the_better_ranker_wins_in_every_seed():
    # margin: every seed decides, for the better ranker, within 2500 requests (observed: between
    # 1200 and 1540 requests; the burn-in alone is 1000)
    assert InterleavingConfig().burn_in == BURN_IN == 1000
    for seed in SEEDS:
        w, ex = winner(seed, 2500)
        assert w == "good", seed
        pair = ex["pairs"]["good>bad"]
        assert pair["tested"] == 2500 - BURN_IN
        assert pair["wins"] + pair["losses"] + pair["ties"] == 2500
        assert ex["burn_in"] == {
            "comparisons": BURN_IN,
            "left": 0,
            "compared": 2500,
            "test_started_after": 0,
            "restarts": 0,
        }


A, B = ["a", "b", "c", "d"], ["b", "e", "a", "f"]


def drive(router, n, rng, likes=("b", "e")):
    """``n`` interleaved requests whose user clicks what B ranks first (B is better)."""
    for _ in range(n):
        d = router.route(None, rng)
        if router.promoted is not None:
            return
        il = router.interleave(d, {"A": A, "B": B}, rng)
        router.credit(il, [i for i in il.items if i in likes and rng.random() < 0.5])


def test_burn_in_comparisons_are_counted_but_not_tested():
    router = InterleavingConfig(burn_in=200, length=4).build(["A", "B"])
    rng = np.random.default_rng(0)
    drive(router, 200, rng)
    s = router.summary()
    pair = s["pairs"]["A>B"]
    assert pair["wins"] + pair["losses"] + pair["ties"] == 200 and pair["losses"] > 0
    assert pair["tested"] == 0 and pair["sequential"]["p_value"] == 1.0
    assert s["status"] == "not yet" and s["burn_in"]["left"] == 0
    drive(router, 1, rng)
    assert router.summary()["pairs"]["A>B"]["tested"] == 1


def test_router_checks_itself_and_promotes_after_the_burn_in():
    router = InterleavingConfig(burn_in=300, promote_when_decided=True, length=4).build(["A", "B"])
    rng = np.random.default_rng(1)
    drive(router, 300, rng)
    assert router.winner is None and router.promoted is None
    drive(router, 3000, rng)  # no check() or summary(): credit checks every check_every
    assert router.promoted == "B" and router.compared > 300
    assert [e.winner for e in router.pop_events()] == ["B"]


def test_restart_test_forgets_the_evidence_and_burns_in_again():
    router = InterleavingConfig(burn_in=50, length=4).build(["A", "B"])
    rng = np.random.default_rng(2)
    drive(router, 2000, rng)
    assert router.check() == "B"
    before = router.summary()["pairs"]["A>B"]
    router.restart_test()
    s = router.summary()
    assert s["winner"] is None and s["status"] == "not yet"
    assert s["burn_in"] == {
        "comparisons": 50,
        "left": 50,
        "compared": 2000,
        "test_started_after": 2000,
        "restarts": 1,
    }
    pair = s["pairs"]["A>B"]
    assert pair["wins"] == before["wins"] and pair["tested"] == 0
    assert pair["sequential"]["p_value"] == 1.0 and pair["sequential"]["low"] == -np.inf
    drive(router, 49, rng)
    assert router.summary()["pairs"]["A>B"]["tested"] == 0
    drive(router, 2000, rng)
    assert router.check() == "B"


def test_restart_after_promotion_is_refused():
    router = InterleavingConfig(burn_in=0, promote_when_decided=True, length=4).build(["A", "B"])
    drive(router, 3000, np.random.default_rng(3))
    assert router.promoted == "B"
    with pytest.raises(ExperimentConfigError, match="nothing to test"):
        router.restart_test()


def test_burn_in_state_pickles_with_the_router():
    router = InterleavingConfig(burn_in=100, length=4).build(["A", "B"])
    rng = np.random.default_rng(4)
    drive(router, 60, rng)
    again = pickle.loads(pickle.dumps(router))
    assert again.summary() == router.summary()
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    drive(router, 500, rng_a)
    drive(again, 500, rng_b)
    assert again.summary() == router.summary()
    assert router.summary()["pairs"]["A>B"]["tested"] == 460


def test_burn_in_from_toml_router_table():
    models = {
        "good": {"model": "linear_model.LogisticRegression()"},
        "bad": {"model": "linear_model.LogisticRegression()"},
    }
    cfg = parse_config(
        {"models": models, "router": {"kind": "interleaving", "burn_in": 250, "check_every": 5}}
    )
    router = cfg.router.build(list(models))
    assert router.burn_in == 250 and router.check_every == 5
    with pytest.raises(ConfigError, match="burn_in"):
        parse_config({"models": models, "router": {"kind": "interleaving", "burn_in": -1}})
    with pytest.raises(ExperimentConfigError, match="burn_in"):
        InterleavingRouter(["a", "b"], burn_in=-1)


def test_a_router_pickled_before_burn_in_existed_still_loads():
    from stream_ml.experiments.interleaving.router import _Pair

    router = InterleavingConfig(burn_in=0, length=4).build(["A", "B"])
    rng = np.random.default_rng(6)
    drive(router, 100, rng)
    for attr in ("burn_in", "check_every", "compared", "test_start", "test_restarts"):
        del router.__dict__[attr]  # what an older version pickled
    for attr in ("pending_promotion", "defer_promotions"):
        del router.__dict__[attr]
    pair = router.pairs[("A", "B")]
    old = {n: getattr(pair, n) for n in ("losses", "outcome", "test", "ties", "wins")}
    fresh = _Pair.__new__(_Pair)
    fresh.__setstate__((None, old))  # the slots state object.__reduce_ex__ produced
    router.pairs[("A", "B")] = fresh
    again = pickle.loads(pickle.dumps(router))
    assert again.burn_in == 0 and again.burn_in_left == 0 and again.pending_promotion is None
    assert again.pairs[("A", "B")].tested.n == 100  # its test had seen every outcome
    drive(again, 10, rng)
    p = again.pairs[("A", "B")]
    assert p.outcome.n == p.tested.n == 110 and p.tested is not p.outcome
