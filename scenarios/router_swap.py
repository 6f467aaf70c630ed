"""Two models whose quality swaps half way, behind a bandit: does the router follow?

Five standard normal features; the label is ``x1 > 0`` (plus 5% label noise) for the first half
of the stream and ``x2 > 0`` for the second. Model ``a`` sees only ``x1``, model ``b`` only
``x2`` (both logistic regressions that learn online from every label): ``a`` is the better model
before the swap, ``b`` after it (``a`` falls to chance). The same stream and seed run behind
plain Thompson sampling, behind discounted Thompson sampling (``discount = 0.99``: every arm's
evidence shrinks at each reward) and behind discounted Thompson whose statistics an ADWIN
monitor on the errors resets on each alarm (``router = "reset"`` on the ``[[drift]]`` table).
The report gives each policy's share of the second half served by ``b`` (the better model
then), and of its last quarter, and the served accuracy.

>>> sc = RouterSwap()
>>> msgs = list(sc.messages(4, seed=0))
>>> [m["kind"] for m in msgs[:2]], sorted(msgs[0]["features"])
(['observation', 'feedback'], ['x1', 'x2', 'x3', 'x4', 'x5'])
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from scenarios.experiments_suite import Observer, replay
from stream_ml.config import EngineConfig, parse_config

NOISE = 0.05


def _stream(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, 23])
    x = rng.standard_normal((n, 5))
    half = n // 2
    y = np.where(np.arange(n) < half, x[:, 0] > 0, x[:, 1] > 0)
    flip = rng.random(n) < NOISE
    return x, np.where(flip, ~y, y)


def _config(name: str, seed: int, router: dict[str, Any], drift: bool = False) -> EngineConfig:
    lr = "preprocessing.StandardScaler() | linear_model.LogisticRegression()"
    data: dict[str, Any] = {
        "name": name,
        "seed": seed,
        "models": {
            "a": {"model": f"compose.Select('x1') | {lr}"},
            "b": {"model": f"compose.Select('x2') | {lr}"},
        },
        "evaluation": {"metrics": ["Accuracy"], "window": 500},
        "router": router,
    }
    if drift:
        data["drift"] = [{"name": "errors", "on": "error", "model": "a",
                          "detector": {"kind": "adwin"}, "router": "reset"}]  # fmt: skip
    return parse_config(data)


class RouterSwap:
    """Model quality swaps half way: plain vs discounted Thompson (module docstring)."""

    name = "router-swap"
    description = "2 models whose quality swaps half way: share of traffic on the new best model"
    default_events = 6000

    def observer(self, engine: Any) -> Observer:
        return Observer(engine)

    def messages(
        self, n_events: int, seed: int, observer: Observer | None = None
    ) -> Iterator[dict[str, Any]]:
        x, y = _stream(n_events, seed)
        for i in range(n_events):
            features = {f"x{j + 1}": float(x[i, j]) for j in range(5)}
            yield {"kind": "observation", "id": f"e{i}", "ts": float(i), "features": features}
            yield {"kind": "feedback", "id": f"e{i}", "label": bool(y[i]), "ts": float(i)}

    def ground_truth(self, n_events: int, seed: int) -> dict[str, Any]:
        return {"events": n_events, "seed": seed, "swap_at": n_events // 2,
                "best_before": "a", "best_after": "b"}  # fmt: skip

    def engine_config(self, seed: int) -> EngineConfig:
        return _config(self.name, seed, {"kind": "thompson", "discount": 0.99})

    def report(self, summary: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
        n, seed, half = truth["events"], truth["seed"], truth["swap_at"]
        _, y = _stream(n, seed)
        plain = replay(self, _config(self.name, seed, {"kind": "thompson"}), n, seed)
        hooked = replay(
            self, _config(self.name, seed, {"kind": "thompson", "discount": 0.99}, drift=True),
            n, seed,
        )

        def policy(outputs: list[dict[str, Any]]) -> dict[str, Any]:
            served = [o["model"] for o in outputs]
            right = [o["y_pred"] == bool(y[t]) for t, o in enumerate(outputs)]
            after = served[half:]
            last = served[n - n // 4:]
            return {
                "share_b_after_swap": round(after.count("b") / len(after), 4),
                "share_b_last_quarter": round(last.count("b") / len(last), 4),
                "share_a_before_swap": round(served[:half].count("a") / half, 4),
                "served_accuracy_after_swap": round(sum(right[half:]) / len(after), 4),
            }

        main = replay(self, self.engine_config(seed), n, seed)  # the run above, with answers
        assert [o["model"] for o in main["observer"].outputs] == summary["observed"]["served"]
        return {
            "scenario": self.name,
            "truth": truth,
            "discounted_thompson": policy(main["observer"].outputs),
            "plain_thompson": policy(plain["observer"].outputs),
            "discounted_with_drift_reset": policy(hooked["observer"].outputs),
        }
