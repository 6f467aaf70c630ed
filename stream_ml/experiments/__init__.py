"""Experiment routers and their statistics.

Routers decide which model answers each event (fixed, A/B, shadow, canary, bandits,
interleaving), log the propensity of the choice, learn from delayed rewards, and report per-arm
metrics with intervals and a "decided / not yet" verdict with its evidence.

>>> import numpy as np
>>> router = ThompsonConfig().build(["a", "b"])
>>> d = router.route("user-1", np.random.default_rng(0))
>>> d.served in ("a", "b"), 0.0 < d.propensity <= 1.0
(True, True)
"""

from __future__ import annotations

from stream_ml.experiments.ab import ABConfig, ABRouter
from stream_ml.experiments.base import BaseRouter, Promotion, Router
from stream_ml.experiments.canary import CanaryConfig, CanaryRouter
from stream_ml.experiments.config import RouterConfig, RouterConfigBase
from stream_ml.experiments.decision import INTERLEAVED, Decision
from stream_ml.experiments.epsilon_greedy import EpsilonGreedyConfig, EpsilonGreedyRouter
from stream_ml.experiments.errors import (
    BadLogError,
    BadRewardError,
    ExperimentConfigError,
    UnknownArmError,
    UnknownClickError,
    UnknownDecisionError,
)
from stream_ml.experiments.exp3 import Exp3Config, Exp3Router
from stream_ml.experiments.fixed import FixedConfig, FixedRouter
from stream_ml.experiments.interleaving import (
    Balanced,
    Credit,
    Interleaved,
    InterleavingConfig,
    InterleavingRouter,
    Probabilistic,
    TeamDraft,
)
from stream_ml.experiments.ope import Estimate, OffPolicyLog, doubly_robust, ips, snips
from stream_ml.experiments.shadow import ShadowConfig, ShadowRouter
from stream_ml.experiments.thompson import ThompsonConfig, ThompsonRouter
from stream_ml.experiments.ucb import UCBConfig, UCBRouter

__all__ = [
    "INTERLEAVED",
    "ABConfig",
    "ABRouter",
    "BadLogError",
    "BadRewardError",
    "Balanced",
    "BaseRouter",
    "CanaryConfig",
    "CanaryRouter",
    "Credit",
    "Decision",
    "EpsilonGreedyConfig",
    "EpsilonGreedyRouter",
    "Estimate",
    "Exp3Config",
    "Exp3Router",
    "ExperimentConfigError",
    "FixedConfig",
    "FixedRouter",
    "Interleaved",
    "InterleavingConfig",
    "InterleavingRouter",
    "OffPolicyLog",
    "Probabilistic",
    "Promotion",
    "Router",
    "RouterConfig",
    "RouterConfigBase",
    "ShadowConfig",
    "ShadowRouter",
    "TeamDraft",
    "ThompsonConfig",
    "ThompsonRouter",
    "UCBConfig",
    "UCBRouter",
    "UnknownArmError",
    "UnknownClickError",
    "UnknownDecisionError",
    "doubly_robust",
    "ips",
    "snips",
]
