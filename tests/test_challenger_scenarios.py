"""The challenger scenarios replay through ``stream-ml scenario`` and show what they claim."""

from __future__ import annotations

import pytest

import scenarios
from scenarios.runner import run_scenario

pytestmark = pytest.mark.slow


def test_they_are_registered() -> None:
    for name in ("drift-challenger-vs-reset", "bandit-cold-arm", "router-challenger"):
        assert name in scenarios.names()


def test_drift_challenger_vs_reset() -> None:
    """Seed 0 (measured: challenged 0.9123, reset 0.9098, control 0.7969). Margins: the
    challenger at least the reset minus 0.003, both above the control by 0.05; one promotion
    per concept switch (3), one reset per alarm."""
    r = run_scenario(scenarios.get("drift-challenger-vs-reset"), seed=0)["report"]
    acc = r["accuracy"]
    assert acc["challenged"] >= acc["reset"] - 0.003
    assert min(acc["challenged"], acc["reset"]) > acc["control"] + 0.05
    assert len(r["promotions"]) >= 3 and len(r["resets"]) >= 3
    m = r["models"]
    assert m["challenged"]["version"] == len(r["promotions"])
    assert m["reset"]["version"] == len(r["resets"])
    assert m["challenged"]["role"] == "primary" and m["control"]["role"] == "shadow"


def test_bandit_cold_arm_is_not_starved() -> None:
    """The empty tree earns no zero rewards for its non-answers: it keeps a share of the traffic
    from the start (more than 5% of the first quarter) and takes nearly all of it once trained
    (>= 90% of the last quarter); served adds up to the events."""
    r = run_scenario(scenarios.get("bandit-cold-arm"), seed=0)["report"]
    shares = r["tree_share_by_quarter"]
    assert shares[0] > 0.05 and shares[-1] >= 0.9
    m = r["models"]
    assert m["lr"]["served"] + m["tree"]["served"] == 12_000
    assert m["tree"]["answered"] < m["tree"]["served"]  # it was served None answers early
    assert m["tree"]["answered"] >= 200
    assert {m["lr"]["role"], m["tree"]["role"]} == {"candidate"}


def test_router_challenger_joins_wins_traffic_and_is_promoted() -> None:
    """The challenger starts after the change (event 4000), is in shadow for its first 50
    shadow rewards (never served), then an arm that is served, and is promoted by the paired
    comparison; no feedback error on the way (rewards for its arm after it left are dropped);
    after the change the traffic is on ``a`` (which now holds its model) or on it."""
    r = run_scenario(scenarios.get("router-challenger"), seed=0)["report"]
    ch = r["challengers"][0]  # a second one may start at a later alarm (ADWIN keeps alarming)
    assert 4000 <= ch["started"] < 4500
    assert r["first_served_challenger"] is not None
    assert r["first_served_challenger"] > ch["started"] + 50
    p = r["promotions"][0]
    assert p["winner"] == "a~challenger" and p["event"] > r["first_served_challenger"]
    assert r["errors"] == 0
    share = r["share_after_drift"]
    assert share["a"] + share.get("a~challenger", 0.0) >= 0.9
    assert set(r["models"]) == {"a", "b"} and r["models"]["a"]["version"] == 1
