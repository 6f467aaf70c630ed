"""The common base of router configs and the discriminated union of all of them.

A config is a frozen pydantic model (``extra="forbid"``, so a typo is an error) with a ``kind``
discriminator; ``config.build(model_names)`` returns a fresh router. ``RouterConfig`` validates
any of them from a dict, TOML or JSON.

>>> from pydantic import TypeAdapter
>>> cfg = TypeAdapter(RouterConfig).validate_python({"kind": "ab", "weights": {"a": 1, "b": 1}})
>>> type(cfg).__name__, type(cfg.build(["a", "b"])).__name__
('ABConfig', 'ABRouter')
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from stream_ml.experiments._config_base import RouterConfigBase
from stream_ml.experiments.ab import ABConfig
from stream_ml.experiments.canary import CanaryConfig
from stream_ml.experiments.epsilon_greedy import EpsilonGreedyConfig
from stream_ml.experiments.exp3 import Exp3Config
from stream_ml.experiments.fixed import FixedConfig
from stream_ml.experiments.interleaving.router import InterleavingConfig
from stream_ml.experiments.shadow import ShadowConfig
from stream_ml.experiments.thompson import ThompsonConfig
from stream_ml.experiments.ucb import UCBConfig

__all__ = ["RouterConfig", "RouterConfigBase"]

RouterConfig = Annotated[
    FixedConfig
    | ABConfig
    | ShadowConfig
    | CanaryConfig
    | EpsilonGreedyConfig
    | UCBConfig
    | ThompsonConfig
    | Exp3Config
    | InterleavingConfig,
    Field(discriminator="kind"),
]
