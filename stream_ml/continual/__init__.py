"""Continual learning you can reason about: update policies and freshness experiments,
backtests of stored snapshots, model cards, and HTML reports (see ``docs/continual.md``)."""

from __future__ import annotations

from stream_ml.continual.freshness import (
    DEFAULT_POLICIES,
    FreshnessReport,
    freshness_engine,
    run_freshness,
    run_freshness_scenario,
)
from stream_ml.continual.policies import PolicyModel, parse_policy, policy_model

__all__ = [
    "DEFAULT_POLICIES",
    "FreshnessReport",
    "PolicyModel",
    "freshness_engine",
    "parse_policy",
    "policy_model",
    "run_freshness",
    "run_freshness_scenario",
]
