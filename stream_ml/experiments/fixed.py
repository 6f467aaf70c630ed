"""Fixed routing: one model serves every event; the others may still learn from the labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from stream_ml.experiments._config_base import RouterConfigBase
from stream_ml.experiments.base import BaseRouter, check_names
from stream_ml.experiments.decision import Decision


class FixedRouter(BaseRouter):
    """Serve ``model`` always, with propensity 1.

    Examples
    --------
    >>> import numpy as np
    >>> router = FixedConfig(model="b").build(["a", "b"])
    >>> d = router.route("user-1", np.random.default_rng(0))
    >>> d.served, d.answering, d.propensity, d.probabilities
    ('b', ('b',), 1.0, {'b': 1.0, 'a': 0.0})
    >>> router.reward(d, 1.0)
    >>> router.summary()["arms"]["b"]["mean"]
    1.0
    """

    kind = "fixed"

    def __init__(self, model: str, arms: Sequence[str], **common: Any) -> None:
        super().__init__(arms, **common)
        self.model = model
        self._probs = {model: 1.0, **{a: 0.0 for a in self.arms if a != model}}
        self._answering = (model,)

    def route(self, key: str | None, rng: np.random.Generator) -> Decision:
        return self._issue(self.model, self._answering, 1.0, self.model, self._probs)


class FixedConfig(RouterConfigBase):
    """Config of :class:`FixedRouter`; ``model`` defaults to the first model name."""

    kind: Literal["fixed"] = "fixed"
    model: str | None = None

    def build(self, model_names: Sequence[str]) -> FixedRouter:
        names = check_names(model_names, self.model)
        return FixedRouter(self.model or names[0], names, **self.common())
