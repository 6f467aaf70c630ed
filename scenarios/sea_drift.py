"""SEA stream whose concept changes abruptly half way; labels arrive after a random delay.

River's ``synth.SEA`` draws three features uniformly in [0, 10] and labels a point by
``x1 + x2 <= threshold``; the variant sets the threshold. Half way through, the variant changes
(threshold 8 -> 7 by default), so about 10% of the space flips its label: a model that does not
adapt loses that much accuracy. Each label arrives ``delay`` observations after its prediction,
with ``delay`` drawn from a geometric distribution (mean ``mean_delay``) by a seeded generator.

>>> sc = SeaDrift()
>>> msgs = list(sc.messages(200, seed=1))
>>> sum(m["kind"] == "observation" for m in msgs), sum(m["kind"] == "feedback" for m in msgs)
(200, 200)
>>> sc.ground_truth(200, seed=1)["drift_points"]
[100]
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

import numpy as np
from river.datasets import synth

from stream_ml.config import EngineConfig, parse_config


class SeaDrift:
    """Abrupt concept drift on SEA with random label delays (see the module docstring)."""

    name = "sea-drift"
    description = "SEA stream, abrupt concept change half way, labels with random delays"
    default_events = 20_000

    def __init__(
        self, before: int = 0, after: int = 2, noise: float = 0.05, mean_delay: float = 50.0
    ) -> None:
        self.before = before
        self.after = after
        self.noise = noise
        self.mean_delay = mean_delay

    def _delays(self, n_events: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng([seed, 7])
        return rng.geometric(1.0 / self.mean_delay, size=n_events)

    def messages(self, n_events: int, seed: int) -> Iterator[dict[str, Any]]:
        half = n_events // 2
        first = synth.SEA(variant=self.before, noise=self.noise, seed=seed)
        second = synth.SEA(variant=self.after, noise=self.noise, seed=seed + 1)
        stream = list(first.take(half)) + list(second.take(n_events - half))
        delays = self._delays(n_events, seed)
        due: list[tuple[int, int, Any]] = []
        for i, (x, y) in enumerate(stream):
            while due and due[0][0] <= i:
                _, j, label = heapq.heappop(due)
                yield {"kind": "feedback", "id": f"e{j}", "label": label, "ts": float(i)}
            yield {
                "kind": "observation",
                "id": f"e{i}",
                "ts": float(i),
                "features": {str(k): float(v) for k, v in x.items()},
            }
            heapq.heappush(due, (i + int(delays[i]), i, bool(y)))
        while due:
            _, j, label = heapq.heappop(due)
            yield {"kind": "feedback", "id": f"e{j}", "label": label, "ts": float(n_events)}

    def ground_truth(self, n_events: int, seed: int) -> dict[str, Any]:
        d = self._delays(n_events, seed)
        return {
            "drift_points": [n_events // 2],
            "concept": {"before": self.before, "after": self.after},
            "delays": {"mean": float(d.mean()), "min": int(d.min()), "max": int(d.max())},
        }

    def engine_config(self, seed: int) -> EngineConfig:
        return parse_config(
            {
                "name": self.name,
                "seed": seed,
                "models": {
                    "lr": {
                        "model": "preprocessing.StandardScaler() | "
                        "linear_model.LogisticRegression()"
                    },
                    "hat": {"model": f"tree.HoeffdingAdaptiveTreeClassifier(seed={seed})"},
                    "tree": {"model": "tree.HoeffdingTreeClassifier()"},
                },
                "evaluation": {"metrics": ["Accuracy"], "window": 500},
            }
        )

    def report(self, summary: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
        drift = truth["drift_points"][0]
        timeline = summary.get("timeline", [])
        phases: dict[str, dict[str, float]] = {}
        for name in summary["models"]:
            before = [t["models"][name]["Accuracy"] for t in timeline if t["events"] <= drift]
            after = [t["models"][name]["Accuracy"] for t in timeline if t["events"] > drift]
            phases[name] = {
                "before_drift": before[-1] if before else float("nan"),
                "worst_after_drift": min(after) if after else float("nan"),
                "end": after[-1] if after else float("nan"),
            }
        return {"scenario": self.name, "truth": truth, "phases": phases}
