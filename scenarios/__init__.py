"""Seeded simulated replays with known ground truth (``stream-ml scenario list``)."""

from __future__ import annotations

from typing import Any

from scenarios.base import Scenario
from scenarios.challengers import SCENARIOS as CHALLENGER_SCENARIOS
from scenarios.drift_suite import SCENARIOS as DRIFT_SCENARIOS
from scenarios.experiments_suite import BanditVariants, CanaryBroken, RankingInterleaving
from scenarios.feedback_loop import FeedbackLoop
from scenarios.fraud import FraudScenario
from scenarios.router_swap import RouterSwap
from scenarios.sea_drift import SeaDrift
from scenarios.stationary import Stationary

_REGISTRY: dict[str, Any] = {
    s.name: s
    for s in (
        SeaDrift(),
        FraudScenario(),
        *(c() for c in DRIFT_SCENARIOS),
        BanditVariants(),
        RankingInterleaving(),
        CanaryBroken(),
        *(c() for c in CHALLENGER_SCENARIOS),
        Stationary(),
        RouterSwap(),
        FeedbackLoop(),
    )
}


def register(scenario: Any) -> None:
    """Add a scenario to the registry (by its ``name``)."""
    _REGISTRY[scenario.name] = scenario


def get(name: str) -> Any:
    from stream_ml.errors import ConfigError

    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"no scenario {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def names() -> list[str]:
    return sorted(_REGISTRY)


__all__ = ["Scenario", "get", "names", "register"]
