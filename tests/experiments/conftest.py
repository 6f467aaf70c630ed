from __future__ import annotations

from stream_ml.experiments import (
    ABConfig,
    CanaryConfig,
    EpsilonGreedyConfig,
    Exp3Config,
    FixedConfig,
    ShadowConfig,
    ThompsonConfig,
    UCBConfig,
)

MODELS = ["m0", "m1", "m2"]

#: One config per routing router (interleaving has its own tests).
CONFIGS = {
    "fixed": FixedConfig(model="m1"),
    "ab": ABConfig(weights={"m0": 1, "m1": 2, "m2": 1}),
    "shadow": ShadowConfig(primary="m0"),
    "canary": CanaryConfig(primary="m0", candidate="m1", schedule=[0.2, 0.5], step_outcomes=100),
    "epsilon_greedy": EpsilonGreedyConfig(epsilon=0.3),
    "ucb": UCBConfig(),
    "thompson": ThompsonConfig(n_samples=64),
    "thompson_gauss": ThompsonConfig(likelihood="gaussian", n_samples=64),
    "exp3": Exp3Config(gamma=0.2),
}
TRUE_MEANS = {"m0": 0.3, "m1": 0.5, "m2": 0.6}
