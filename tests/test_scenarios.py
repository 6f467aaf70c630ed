"""Scenario replays: the SEA abrupt-drift stream with delayed labels."""

from __future__ import annotations

import pytest

from scenarios import get
from scenarios.runner import run_scenario


@pytest.mark.slow
def test_sea_drift_shows_the_drop_and_the_recovery():
    # 3 seeds; margins stated: every model loses accuracy right after the concept change and
    # the adaptive tree is back within 3 points of its pre-drift accuracy by the end.
    for seed in (0, 1, 2):
        r = run_scenario(get("sea-drift"), events=12_000, seed=seed)
        s, phases = r["summary"], r["report"]["phases"]
        assert s["events"] == 12_000 and s["feedback"] == 12_000
        labels = s["labels"]
        assert {k: labels[k] for k in ("pending", "expired", "evicted")} == dict.fromkeys(
            ("pending", "expired", "evicted"), 0
        )
        assert labels["lag_mean"] > 0  # feedback comes later, in event time
        assert s["errors"]["total"] == 0
        for name, p in phases.items():
            assert p["worst_after_drift"] < p["before_drift"], (seed, name)
        hat = phases["hat"]
        assert hat["end"] > hat["before_drift"] - 0.03, seed
        delays = r["report"]["truth"]["delays"]
        assert 40 < delays["mean"] < 60
