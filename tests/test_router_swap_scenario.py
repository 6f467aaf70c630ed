"""The router-swap scenario: when the models' quality swaps half way, discounted Thompson
follows (>= 80% of the second half on the new best model, stated margin) and plain Thompson,
which remembers thousands of successes of the old best, lags far behind; a drift monitor that
resets the router on each alarm does at least as well as the discount alone."""

from __future__ import annotations

import pytest

import scenarios
from scenarios.runner import run_scenario


@pytest.mark.parametrize("seed", [0, 1])
def test_discounted_thompson_follows_the_swap(seed: int) -> None:
    report = run_scenario(scenarios.get("router-swap"), events=4000, seed=seed)["report"]
    disc, plain = report["discounted_thompson"], report["plain_thompson"]
    hooked = report["discounted_with_drift_reset"]
    assert disc["share_a_before_swap"] > 0.8  # both find the first best model
    assert disc["share_b_after_swap"] >= 0.8
    assert disc["share_b_after_swap"] > plain["share_b_after_swap"] + 0.2
    assert hooked["share_b_after_swap"] >= disc["share_b_after_swap"] - 0.02
    assert disc["served_accuracy_after_swap"] > plain["served_accuracy_after_swap"]
