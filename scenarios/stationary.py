"""A stationary stream: the control of the freshness experiments (nothing ever changes).

The rule of ``drift-abrupt``'s first half (``x1 + x2 > 0``, 5% label noise, two standard normal
features) for the whole stream, labels after the same short geometric delay (mean 10
observations). With nothing to track, how often a model is updated should not matter once it
has seen enough labels: every update policy converges to the same accuracy
(``stream-ml freshness --scenario stationary``). No drift monitor runs.

>>> sc = Stationary()
>>> sc.ground_truth(400, seed=1)["drift_points"]
[]
>>> sum(m["kind"] == "feedback" for m in sc.messages(400, seed=1))
400
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scenarios.drift_suite import _concept_stream, _DriftScenario


class Stationary(_DriftScenario):
    """No drift at all: one labelling rule, one input distribution (module docstring)."""

    name = "stationary"
    description = "no drift: x1+x2>0 with 5% noise throughout (the freshness control)"
    default_events = 8000

    def drift_points(self, n_events: int) -> list[int]:
        return []

    def stream(self, n_events: int, seed: int) -> tuple[list[dict[str, Any]], np.ndarray]:
        return _concept_stream(n_events, seed, np.zeros(n_events, dtype=bool))

    def monitors(self, seed: int) -> list[dict[str, Any]]:
        return []

    def report(self, summary: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
        timeline = summary.get("timeline", [])
        final = {
            name: {"accuracy": m["metrics"].get("Accuracy"),
                   "rolling_end": timeline[-1]["models"][name]["Accuracy"] if timeline else None}
            for name, m in summary["models"].items()
        }  # fmt: skip
        return {"scenario": self.name, "truth": truth, "models": final}
