"""Challenger scenarios (issues #13 and #16): what the drift actions and run-time arms do.

* ``drift-challenger-vs-reset``: the recurring concept drift of ``drift-recurring`` (two rules
  alternating every quarter, labels ~10 events late) with three Hoeffding trees on one engine:
  ``challenged`` (ADWIN on its errors, ``action = "challenger"``: several challengers, promoted
  on a paired comparison over the same recent labels), ``reset`` (ADWIN, ``action = "reset"``:
  a fresh tree on every alarm, the usual River loop) and ``control`` (no action). The report
  gives each one's accuracy over the whole stream and per phase, and the records.
* ``bandit-cold-arm``: a Thompson router over a logistic regression and a Hoeffding tree that
  starts empty (it answers None until it has learned), labels 48 events late, on a stream
  where the tree is the better model once trained (a rule with an interaction the linear model
  cannot learn). A model with no answer earns no reward (not a zero), so the tree is not
  starved: the report shows served / answered / scored per model, the tree's share of the
  traffic in each quarter and when it first got most of it.
* ``router-challenger``: a Thompson router over two logistic regressions; the rule changes half
  way and ADWIN on ``a``'s errors starts a challenger. It joins the experiment in shadow
  (scored from its first label, never served), becomes an arm after 50 shadow rewards and wins
  traffic, and is promoted by the paired comparison after 300 pairs (its model replaces
  ``a``'s). The report: the challenger's
  timeline (started, joined, promoted), the roles and counts per model, and the traffic shares.

>>> sc = DriftChallengerVsReset()
>>> [(m.name, m.model, m.action) for m in sc.engine_config(0).drift]
[('challenged', 'challenged', 'challenger'), ('reset', 'reset', 'reset')]
>>> msgs = list(BanditColdArm().messages(200, seed=0))
>>> sum(m["kind"] == "observation" for m in msgs), sum(m["kind"] == "feedback" for m in msgs)
(200, 200)
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

import numpy as np

from scenarios.drift_suite import LR, DriftRecurring
from stream_ml.config import EngineConfig, parse_config

TREE = "tree.HoeffdingTreeClassifier()"


def _adwin(name: str, action: str) -> dict[str, Any]:
    return {"name": name, "on": "error", "model": name, "detector": {"kind": "adwin"},
            "action": action}  # fmt: skip


def _records(summary: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in summary.get("records", []) if r.get("kind") == kind]


def _counts(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per model: role, served / answered / scored / learned, created, cumulative metrics."""
    keys = ("role", "served", "answered", "scored", "learned", "created", "version", "metrics")
    return {n: {k: m.get(k) for k in keys} for n, m in summary["models"].items()}


class DriftChallengerVsReset(DriftRecurring):
    """Recurring concept drift; one tree with challengers, one reset on every alarm, a control.

    The message stream is ``drift-recurring``'s (same seed, same events).
    """

    name = "drift-challenger-vs-reset"
    description = (
        "recurring concept drift: a tree with challengers (paired comparison) vs a tree reset "
        "on every alarm vs no action"
    )

    def engine_config(self, seed: int) -> EngineConfig:
        return parse_config({
            "name": self.name,
            "seed": seed,
            "models": {n: {"model": TREE} for n in ("challenged", "reset", "control")},
            "evaluation": {"metrics": ["Accuracy"], "window": 500},
            "drift": [_adwin("challenged", "challenger"), _adwin("reset", "reset")],
        })  # fmt: skip

    def report(self, summary: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
        from scenarios.drift_suite import _accuracy

        models = summary["models"]
        acc = {n: models[n]["metrics"]["Accuracy"] for n in ("challenged", "reset", "control")}
        return {
            "scenario": self.name,
            "truth": truth,
            "accuracy": acc,
            "challenger_minus_reset": acc["challenged"] - acc["reset"],
            "challenger_minus_control": acc["challenged"] - acc["control"],
            "phases": {n: _accuracy(summary, truth["drift_points"], n) for n in acc},
            "challengers_started": len(_records(summary, "challenger")),
            "promotions": [r["events"] for r in _records(summary, "promotion")],
            "resets": [r["events"] for r in _records(summary, "reset")],
            "models": _counts(summary),
        }


class BanditColdArm:
    """Thompson over a logistic regression and a tree that starts empty (module docstring)."""

    name = "bandit-cold-arm"
    description = (
        "Thompson over a logistic regression and an empty Hoeffding tree, labels 48 late: the "
        "tree's non-answers earn no reward, it is not starved"
    )
    default_events = 12_000
    delay = 48

    def _stream(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([seed, 21])
        x = rng.uniform(-1, 1, size=(n, 2))
        y = (x[:, 0] * x[:, 1] > 0) ^ (rng.random(n) < 0.05)  # XOR: no linear model learns it
        return x, y

    def messages(self, n_events: int, seed: int, observer: Any = None) -> Iterator[dict[str, Any]]:
        """Observations and labels ``delay`` events later (they do not depend on the observer,
        which only records who served)."""
        x, y = self._stream(n_events, seed)
        due: list[tuple[int, int]] = []
        for i in range(n_events):
            while due and due[0][0] <= i:
                _, j = heapq.heappop(due)
                yield {"kind": "feedback", "id": f"e{j}", "label": bool(y[j])}
            feats = {"x1": float(x[i, 0]), "x2": float(x[i, 1])}
            yield {"kind": "observation", "id": f"e{i}", "ts": float(i), "features": feats}
            heapq.heappush(due, (i + self.delay, i))
        while due:
            _, j = heapq.heappop(due)
            yield {"kind": "feedback", "id": f"e{j}", "label": bool(y[j])}

    def ground_truth(self, n_events: int, seed: int) -> dict[str, Any]:
        rule = "x1 * x2 > 0 with 5% label noise (no linear model does better than 0.5)"
        return {"label_delay": self.delay, "better_model": "tree", "rule": rule}

    def engine_config(self, seed: int) -> EngineConfig:
        return parse_config({
            "name": self.name,
            "seed": seed,
            "models": {"lr": {"model": LR}, "tree": {"model": TREE}},
            "evaluation": {"metrics": ["Accuracy"], "window": 500},
            "router": {"kind": "thompson"},
        })  # fmt: skip

    def observer(self, engine: Any) -> Any:
        return _Served()

    def report(self, summary: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
        served: list[str] = summary.get("observed", [])
        q = max(1, len(served) // 4)
        shares = [
            sum(s == "tree" for s in served[i : i + q]) / max(1, len(served[i : i + q]))
            for i in range(0, 4 * q, q)
        ]
        window = 500
        first_majority = next(
            (i + window for i in range(0, max(0, len(served) - window), 50)
             if sum(s == "tree" for s in served[i : i + window]) > window / 2),
            None,
        )  # fmt: skip
        return {
            "scenario": self.name,
            "truth": truth,
            "models": _counts(summary),
            "tree_share_by_quarter": shares,
            "tree_majority_from_event": first_majority,
            "experiment": {k: summary.get("experiment", {}).get(k) for k in ("kind", "arms")},
        }


class _Served:
    """A sink that keeps which model served each prediction (``result()``: the list)."""

    def __init__(self) -> None:
        self.served: list[str] = []

    def write(self, output: dict[str, Any]) -> None:
        if output.get("kind") == "prediction":
            self.served.append(output["model"])

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def result(self) -> list[str]:
        return self.served


class RouterChallenger(BanditColdArm):
    """A drift challenger behind a Thompson router (module docstring)."""

    name = "router-challenger"
    description = (
        "Thompson over two logistic regressions; concept change half way: a drift challenger "
        "joins in shadow, becomes an arm, and is promoted"
    )
    default_events = 8000
    delay = 10

    def _stream(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([seed, 22])
        x = rng.normal(size=(n, 2))
        after = np.arange(n) >= n // 2
        y = np.where(after, x[:, 0] - x[:, 1] > 0, x[:, 0] + x[:, 1] > 0)
        return x, y ^ (rng.random(n) < 0.05)

    def ground_truth(self, n_events: int, seed: int) -> dict[str, Any]:
        return {"drift_points": [n_events // 2], "label_delay": self.delay,
                "rule": "x1 + x2 > 0, then x1 - x2 > 0 (5% label noise)"}  # fmt: skip

    def engine_config(self, seed: int) -> EngineConfig:
        return parse_config({
            "name": self.name,
            "seed": seed,
            "models": {"a": {"model": LR}, "b": {"model": LR}},
            "evaluation": {"metrics": ["Accuracy"], "window": 500},
            "router": {"kind": "thompson"},
            # promotion after 300 pairs: it has joined the router (50 shadow rewards) by then
            "drift": [{**_adwin("a", "challenger"), "warmup": 300, "challenger_min_labels": 300}],
        })  # fmt: skip

    def report(self, summary: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
        served: list[str] = summary.get("observed", [])
        half = len(served) // 2
        names = sorted(set(served))
        after = served[half:]
        return {
            "scenario": self.name,
            "truth": truth,
            "challengers": [
                {"challenger": r["challenger"], "started": r["events"]}
                for r in _records(summary, "challenger")
            ],
            "first_served_challenger": next(
                (i for i, s in enumerate(served) if "~challenger" in s), None
            ),
            "promotions": [
                {"winner": r["winner"], "event": r["events"], "pairs": r.get("pairs")}
                for r in _records(summary, "promotion")
            ],
            "share_after_drift": {n: after.count(n) / max(1, len(after)) for n in names},
            "models": _counts(summary),
            "errors": summary.get("errors", {}).get("total"),
        }


SCENARIOS = (DriftChallengerVsReset, BanditColdArm, RouterChallenger)
