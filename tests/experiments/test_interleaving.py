"""Interleaving credit on hand-checked cases (Radlinski et al. 2008; Joachims 2003 / Chapelle
et al. 2012; Hofmann et al. 2011) and the router's bookkeeping."""

from __future__ import annotations

import pickle
from collections import Counter

import numpy as np
import pytest

from stream_ml.experiments import (
    Balanced,
    InterleavingConfig,
    Probabilistic,
    TeamDraft,
    UnknownClickError,
    UnknownDecisionError,
)
from stream_ml.experiments.interleaving.balanced import balanced_from_coin
from stream_ml.experiments.interleaving.probabilistic import posteriors
from stream_ml.experiments.interleaving.team_draft import team_draft_from_orders

A = ["a", "b", "c", "d"]
B = ["b", "e", "a", "f"]


def test_team_draft_hand_checked():
    # Round 1: A picks first (a), then B (its best not taken: b); round 2: B first (e), A (c).
    il = team_draft_from_orders({"A": A, "B": B}, [("A", "B"), ("B", "A")], 4)
    assert il.items == ["a", "b", "e", "c"]
    assert il.teams == {"a": "A", "b": "B", "e": "B", "c": "A"}
    td = TeamDraft()
    assert td.credit(il, ["b", "e"]).outcome("A", "B") == "loss"
    assert td.credit(il, ["a", "c"]).outcome("A", "B") == "win"
    assert td.credit(il, ["a", "b"]).outcome("A", "B") == "tie"
    assert td.credit(il, []).outcome("A", "B") == "tie"
    # B first in round 1: b (B), then A takes a; round 2 A first: c, B: e.
    il2 = team_draft_from_orders({"A": A, "B": B}, [("B", "A"), ("A", "B")], 4)
    assert il2.items == ["b", "a", "c", "e"]
    assert td.credit(il2, ["b"]).scores == {"A": 0.0, "B": 1.0}


def test_team_draft_identical_rankers_tie_in_expectation():
    td, rng = TeamDraft(), np.random.default_rng(0)
    wins = Counter()
    for _ in range(2000):
        il = td.interleave({"A": A, "B": A}, rng, 4)
        wins[td.credit(il, [il.items[0]]).outcome("A", "B")] += 1
    assert abs(wins["win"] - wins["loss"]) < 4 * np.sqrt(2000)  # 4 sigma


def test_multileaving_three_rankers():
    td = TeamDraft()
    il = team_draft_from_orders(
        {"A": A, "B": B, "C": ["f", "d"]}, [("C", "A", "B"), ("B", "C", "A")], 6
    )
    assert il.items == ["f", "a", "b", "e", "d", "c"]
    credit = td.credit(il, ["f", "d", "a"])
    assert credit.scores == {"A": 1.0, "B": 0.0, "C": 2.0}
    assert credit.outcome("C", "A") == "win" and credit.outcome("A", "B") == "win"


def test_balanced_hand_checked():
    il = balanced_from_coin({"A": A, "B": B}, True, 4)
    assert il.items == ["a", "b", "e", "c"]
    bal = Balanced()
    # lowest click e: rank 2 in B, absent in A -> k = 2; A's top 2 {a, b}, B's top 2 {b, e}
    assert bal.credit(il, ["e"]).scores == {"A": 0.0, "B": 1.0}
    # lowest click c: rank 3 in A, absent in B -> k = 3; clicks a, c: A {a,b,c} -> 2; B {b,e,a} -> 1
    assert bal.credit(il, ["a", "c"]).scores == {"A": 2.0, "B": 1.0}
    # lowest click b: rank 2 in A, rank 1 in B -> k = 1; A's top 1 {a} -> 0, B's {b} -> 1
    assert bal.credit(il, ["b"]).outcome("A", "B") == "loss"
    assert bal.credit(il, ["a", "b"]).outcome("A", "B") == "tie"  # k = 1: one click each
    il_b = balanced_from_coin({"A": A, "B": B}, False, 4)
    assert il_b.items == ["b", "a", "e", "c"]


def test_probabilistic_hand_checked():
    # A = (d1, d2), B = (d2, d1), tau = 3: softmax 8/9 and 1/9. List (d1, d2):
    # position 1 posterior A 8/9; position 2 has one item left, posterior 1/2.
    rankings = {"A": ["d1", "d2"], "B": ["d2", "d1"]}
    q = posteriors(rankings, ["d1", "d2"], 3.0)
    assert q[0] == pytest.approx([8 / 9, 1 / 9]) and q[1] == pytest.approx([0.5, 0.5])
    pi = Probabilistic(3.0)
    il = pi.interleave(rankings, np.random.default_rng(0), 2)
    il.items, il.state = ["d1", "d2"], q
    one = pi.credit(il, ["d1"])
    assert one.outcomes[("A", "B")] == pytest.approx(8 / 9 - 1 / 9)
    both = pi.credit(il, ["d1", "d2"])  # P(+2) = 4/9, P(-2) = 1/18, P(0) = 1/2
    assert both.outcomes[("A", "B")] == pytest.approx(4 / 9 - 1 / 18)
    assert both.scores["A"] == pytest.approx(8 / 9 + 1 / 2)


def test_probabilistic_credit_matches_enumeration():
    """Marginalising by the factorised posterior equals brute force over all assignments."""
    import itertools

    rng = np.random.default_rng(5)
    rankings = {"A": list("abcde"), "B": list("cbeda"), "C": list("edcba")}
    pi = Probabilistic(3.0)
    il = pi.interleave(rankings, rng, 4)
    clicks = [il.items[0], il.items[2], il.items[3]]
    got = pi.credit(il, clicks).outcomes
    names = list(rankings)
    universe = list("abcde")
    w = {r: {d: (rankings[r].index(d) + 1) ** -3.0 for d in universe} for r in names}
    post = Counter()
    for assign in itertools.product(range(3), repeat=4):
        lik, shown = 1.0, set()
        for pos, r in enumerate(assign):
            rem = sum(v for d, v in w[names[r]].items() if d not in shown)
            lik *= w[names[r]][il.items[pos]] / rem
            shown.add(il.items[pos])
        post[assign] = lik
    z = sum(post.values())
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        e = 0.0
        for assign, lik in post.items():
            ci = sum(assign[il.items.index(c)] == i for c in clicks)
            cj = sum(assign[il.items.index(c)] == j for c in clicks)
            e += lik / z * np.sign(ci - cj)
        assert got[(names[i], names[j])] == pytest.approx(e)


@pytest.mark.parametrize("method", ["team_draft", "balanced", "probabilistic"])
def test_router_flow_errors_and_pickle(method):
    router = InterleavingConfig(method=method, length=4).build(["A", "B"])
    rng = np.random.default_rng(0)
    d = router.route("u", rng)
    il = router.interleave(d, {"A": A, "B": B}, rng)
    assert len(il.items) == 4 and set(il.items) <= set(A) | set(B)
    with pytest.raises(UnknownClickError) as e:
        router.credit(il, ["zzz"])
    assert e.value.field == "clicks" and router.errors == {"unknown_click": 1}
    assert (
        router.rewards == 0 and sum(p.wins + p.losses + p.ties for p in router.pairs.values()) == 0
    )
    router.credit(il, [il.items[0]])
    with pytest.raises(UnknownDecisionError):
        router.credit(il, [il.items[0]])
    again = pickle.loads(pickle.dumps(router))
    assert again.summary()["pairs"] == router.summary()["pairs"]


def test_router_decides_and_promotes_the_better_ranker():
    router = InterleavingConfig(promote_when_decided=True, length=4).build(["A", "B"])
    rng = np.random.default_rng(1)
    for _ in range(3000):
        d = router.route(None, rng)
        if router.promoted:
            break
        il = router.interleave(d, {"A": A, "B": B}, rng)
        # the user likes "b" and "e" (B's top two)
        router.credit(il, [i for i in il.items if i in ("b", "e") and rng.random() < 0.5])
        router.check()
    assert router.promoted == "B"
    s = router.summary()
    assert s["status"] == "decided" and s["pairs"]["A>B"]["sign_test_p"] < 0.05
    assert router.route(None, rng).served == "B"
