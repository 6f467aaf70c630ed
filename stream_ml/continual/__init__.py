"""Continual learning you can reason about: update policies and freshness experiments,
backtests of stored snapshots, model cards, and HTML reports (see ``docs/continual.md``)."""

from __future__ import annotations

from stream_ml.continual.backtest import backtest
from stream_ml.continual.card import card_facts, card_html, card_markdown
from stream_ml.continual.freshness import (
    DEFAULT_POLICIES,
    FreshnessReport,
    freshness_engine,
    run_freshness,
    run_freshness_scenario,
)
from stream_ml.continual.html import freshness_html, scenario_html, write_html
from stream_ml.continual.policies import PolicyModel, parse_policy, policy_model

__all__ = [
    "DEFAULT_POLICIES",
    "FreshnessReport",
    "PolicyModel",
    "backtest",
    "card_facts",
    "card_html",
    "card_markdown",
    "freshness_engine",
    "freshness_html",
    "parse_policy",
    "policy_model",
    "run_freshness",
    "run_freshness_scenario",
    "scenario_html",
    "write_html",
]
