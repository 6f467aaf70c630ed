"""Drift scenarios with known drift points: what the engine's ``[[drift]]`` monitors catch.

Six seeded streams, one per kind of change, each replayed through ``Engine.process`` with
labels that arrive after a short geometric delay (mean ``mean_delay`` observations):

* ``drift-abrupt``: concept drift, the decision rule changes at once half way
  (``x1 + x2 > 0`` becomes ``x1 - x2 > 0``: half of the space flips its label);
* ``drift-gradual``: the same change, but each event follows the new rule with a probability
  rising linearly over ``width`` events (the usual gradual drift);
* ``drift-recurring``: the two rules alternate every quarter of the stream;
* ``drift-covariate``: the inputs move (both by +1.5 sd) but the labelling rule
  ``x1 - x2 + noise > 0`` does not (covariate shift without concept change);
* ``drift-label``: label shift, P(y) moves from 0.2 to 0.7 while P(x | y) stays;
* ``drift-categorical``: the distribution of the categorical field ``channel`` changes, the rule
  that labels an event given its channel does not.

Every engine runs one logistic regression (``model``) and monitors suited to the kind: a KS test
on the numeric fields (``features``), ADWIN on the model's 0/1 errors (``error``; its action is
``challenger`` for the concept drifts, so that a fresh model takes over), a chi-squared test on
the labels (``label``) or on ``channel`` (``channel``). The report lists every alarm (engine event
index, from the run's drift records), the delay to the first alarm of each true drift point
within ``horizon`` events (or ``"missed"``), the false alarms (alarms not within the horizon after
a drift point), and the rolling accuracy before the drift, at its worst after, at the end, and
the recovery (end minus worst).

>>> sc = DriftAbrupt()
>>> msgs = list(sc.messages(400, seed=1))
>>> sum(m["kind"] == "observation" for m in msgs), sum(m["kind"] == "feedback" for m in msgs)
(400, 400)
>>> sc.ground_truth(400, seed=1)["drift_points"]
[200]
>>> list(DriftRecurring().ground_truth(1000, seed=0)["drift_points"])
[250, 500, 750]
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

import numpy as np

from stream_ml.config import EngineConfig, parse_config

LR = "preprocessing.StandardScaler() | linear_model.LogisticRegression()"


def _ks(fields: list[str]) -> dict[str, Any]:
    detector = {
        "kind": "ks",
        "reference_size": 500,
        "window_size": 200,
        "check_every": 20,
        "ert": 5000,
        "calibration": "uniform",
    }
    return {"name": "features", "on": "features", "fields": fields, "detector": detector}


def _chi2(name: str, on: str, fields: list[str], seed: int) -> dict[str, Any]:
    detector = {
        "kind": "chi2",
        "reference_size": 500,
        "window_size": 200,
        "check_every": 20,
        "ert": 5000,
        "seed": seed,
    }
    out: dict[str, Any] = {"name": name, "on": on, "detector": detector}
    if fields:
        out["fields"] = fields
    return out


def _adwin(action: str) -> dict[str, Any]:
    return {
        "name": "error",
        "on": "error",
        "detector": {"kind": "adwin"},
        "warmup": 300,
        "action": action,
        "challenger_min_labels": 300,
    }


class _DriftScenario:
    """What the six scenarios share: delayed feedback, the engine, the report."""

    name = "drift"
    description = ""
    default_events = 8000
    #: an alarm counts for a drift point when it comes at most this many events after it
    horizon = 1000
    #: the monitors meant to catch this kind of drift
    expected: tuple[str, ...] = ()
    concept_change = False
    mean_delay = 10.0
    #: run a second, unmonitored copy of the model: what accuracy would be without the action
    control = False

    # -- to be defined by each scenario ------------------------------------------------------

    def drift_points(self, n_events: int) -> list[int]:
        return [n_events // 2]

    def stream(self, n_events: int, seed: int) -> tuple[list[dict[str, Any]], np.ndarray]:
        raise NotImplementedError

    def monitors(self, seed: int) -> list[dict[str, Any]]:
        raise NotImplementedError

    def model(self) -> str:
        return LR

    def extra_truth(self, n_events: int) -> dict[str, Any]:
        return {}

    # -- the Scenario protocol ---------------------------------------------------------------

    def _delays(self, n_events: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng([seed, 11])
        return rng.geometric(1.0 / self.mean_delay, size=n_events) - 1

    def messages(self, n_events: int, seed: int) -> Iterator[dict[str, Any]]:
        xs, ys = self.stream(n_events, seed)
        delays = self._delays(n_events, seed)
        due: list[tuple[int, int, Any]] = []
        for i, x in enumerate(xs):
            while due and due[0][0] <= i:
                _, j, label = heapq.heappop(due)
                yield {"kind": "feedback", "id": f"e{j}", "label": label, "ts": float(i)}
            yield {"kind": "observation", "id": f"e{i}", "ts": float(i), "features": x}
            heapq.heappush(due, (i + 1 + int(delays[i]), i, bool(ys[i])))
        while due:
            _, j, label = heapq.heappop(due)
            yield {"kind": "feedback", "id": f"e{j}", "label": label, "ts": float(n_events)}

    def ground_truth(self, n_events: int, seed: int) -> dict[str, Any]:
        d = self._delays(n_events, seed) + 1
        return {
            "kind": self.name.removeprefix("drift-"),
            "drift_points": self.drift_points(n_events),
            **self.extra_truth(n_events),
            "concept_change": self.concept_change,
            "horizon": self.horizon,
            "expected_monitors": list(self.expected),
            "label_delay": {"mean": float(d.mean()), "max": int(d.max())},
        }

    def engine_config(self, seed: int) -> EngineConfig:
        return parse_config(
            {
                "name": self.name,
                "seed": seed,
                "models": {
                    "model": {"model": self.model()},
                    **({"control": {"model": self.model()}} if self.control else {}),
                },
                "evaluation": {"metrics": ["Accuracy"], "window": 500},
                "drift": self.monitors(seed),
            }
        )

    def report(self, summary: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
        return drift_report(self.name, summary, truth)


def _first_after(alarms: list[int], point: int, horizon: int) -> int | str:
    hits = [a - point for a in alarms if point <= a < point + horizon]
    return min(hits) if hits else "missed"


def drift_report(name: str, summary: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
    """Detections, delays, false alarms and accuracy phases of a drift scenario's run."""
    points, horizon = truth["drift_points"], truth["horizon"]
    records = summary.get("records", [])
    alarms = [r for r in records if r.get("kind") == "drift"]
    by_monitor: dict[str, list[int]] = {m["name"]: [] for m in summary.get("drift", [])}
    for a in alarms:
        by_monitor.setdefault(a["monitor"], []).append(int(a["engine_event"]))

    def false(events: list[int]) -> list[int]:
        return [e for e in events if not any(p <= e < p + horizon for p in points)]

    monitors = {
        m: {
            "alarms": ev,
            "delays": [_first_after(ev, p, horizon) for p in points],
            "false_alarms": false(ev),
        }
        for m, ev in by_monitor.items()
    }
    expected = sorted(e for m in truth["expected_monitors"] for e in by_monitor.get(m, []))
    all_alarms = sorted(int(a["engine_event"]) for a in alarms)
    control = "control" in summary.get("models", {})
    kinds = [r.get("kind") for r in records]
    return {
        "scenario": name,
        "truth": truth,
        "detections": [
            {k: a.get(k) for k in ("engine_event", "monitor", "field", "statistic", "action")}
            for a in alarms
        ],
        "delays": [_first_after(expected, p, horizon) for p in points],
        "false_alarms": len(false(all_alarms)),
        "monitors": monitors,
        "challengers": kinds.count("challenger"),
        "promotions": [r["events"] for r in records if r.get("kind") == "promotion"],
        "accuracy": _accuracy(summary, points),
        **({"control_accuracy": _accuracy(summary, points, "control")} if control else {}),
    }


def _accuracy(summary: dict[str, Any], points: list[int], model: str = "model") -> dict[str, Any]:
    timeline = summary.get("timeline", [])
    series = [(t["events"], t["models"][model]["Accuracy"]) for t in timeline]
    nan = float("nan")
    phases = []
    ends = [*points[1:], summary["events"] + 1]
    for p, stop in zip(points, ends):
        before = [a for e, a in series if e <= p]
        after = [a for e, a in series if p < e < stop]
        worst = min(after) if after else nan
        end = after[-1] if after else nan
        phases.append(
            {
                "drift_point": p,
                "before_drift": before[-1] if before else nan,
                "worst_after_drift": worst,
                "end": end,
                "recovery": end - worst,
            }
        )
    first = [a for e, a in series if e > points[0]]
    worst, end = (min(first), series[-1][1]) if first else (nan, nan)
    return {
        "before_drift": phases[0]["before_drift"],
        "worst_after_drift": worst,
        "end": end,
        "recovery": end - worst,
        "per_drift_point": phases,
    }


# -- concept drifts ------------------------------------------------------------------------


def _concept_stream(
    n: int, seed: int, new_rule: np.ndarray, noise: float = 0.05
) -> tuple[list[dict[str, Any]], np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = np.where(new_rule, x[:, 0] - x[:, 1] > 0, x[:, 0] + x[:, 1] > 0)
    y ^= rng.random(n) < noise
    xs = [{"x1": float(a), "x2": float(b)} for a, b in x]
    return xs, y


class _Concept(_DriftScenario):
    expected = ("error",)
    concept_change = True
    control = True

    def model(self) -> str:
        return "tree.HoeffdingTreeClassifier()"

    def monitors(self, seed: int) -> list[dict[str, Any]]:
        return [_ks(["x1", "x2"]), _adwin("challenger")]


class DriftAbrupt(_Concept):
    """Abrupt concept drift half way; ADWIN on the errors starts a challenger.

    Examples
    --------
    >>> cfg = DriftAbrupt().engine_config(seed=0)
    >>> [(m.name, m.on, m.action) for m in cfg.drift]
    [('features', 'features', 'alert'), ('error', 'error', 'challenger')]
    """

    name = "drift-abrupt"
    description = "concept drift at once half way (x1+x2>0 -> x1-x2>0); challenger on alarm"

    def stream(self, n_events: int, seed: int) -> tuple[list[dict[str, Any]], np.ndarray]:
        return _concept_stream(n_events, seed, np.arange(n_events) >= n_events // 2)


class DriftGradual(_Concept):
    """Gradual concept drift: the new rule's share rises linearly over ``width`` events.

    Examples
    --------
    >>> DriftGradual().ground_truth(8000, seed=0)["drift_ends"]
    [4800]
    """

    name = "drift-gradual"
    description = "gradual concept drift over 2000 events from 35% of the stream; challenger"
    horizon = 3000

    def drift_points(self, n_events: int) -> list[int]:
        return [int(n_events * 0.35)]

    def extra_truth(self, n_events: int) -> dict[str, Any]:
        return {"drift_ends": [int(n_events * 0.35) + n_events // 4]}

    def stream(self, n_events: int, seed: int) -> tuple[list[dict[str, Any]], np.ndarray]:
        start, width = int(n_events * 0.35), n_events // 4
        p = np.clip((np.arange(n_events) - start) / width, 0.0, 1.0)
        new = np.random.default_rng([seed, 3]).random(n_events) < p
        return _concept_stream(n_events, seed, new)


class DriftRecurring(_Concept):
    """Two decision rules alternating every quarter of the stream (three drift points).

    Examples
    --------
    >>> DriftRecurring().drift_points(8000)
    [2000, 4000, 6000]
    """

    name = "drift-recurring"
    description = "two concepts alternating every quarter of the stream; challenger on alarm"
    default_events = 10_000

    def drift_points(self, n_events: int) -> list[int]:
        period = n_events // 4
        return list(range(period, n_events, period))[:3]

    def stream(self, n_events: int, seed: int) -> tuple[list[dict[str, Any]], np.ndarray]:
        period = n_events // 4
        return _concept_stream(n_events, seed, (np.arange(n_events) // period) % 2 == 1)


# -- changes of the data without a change of the rule --------------------------------------


class DriftCovariate(_DriftScenario):
    """Covariate shift: both inputs move by +1.5 sd, the rule ``x1 - x2 + noise > 0`` stays.

    Examples
    --------
    >>> xs, ys = DriftCovariate().stream(2000, seed=0)
    >>> round(float(np.mean([x["x1"] for x in xs[1000:]])), 1)
    1.5
    """

    name = "drift-covariate"
    description = "covariate shift half way (inputs +1.5 sd), labelling rule unchanged"
    expected = ("features",)

    def stream(self, n_events: int, seed: int) -> tuple[list[dict[str, Any]], np.ndarray]:
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n_events, 2))
        y = x[:, 0] - x[:, 1] + 0.3 * rng.normal(size=n_events) > 0
        x[n_events // 2 :] += 1.5
        return [{"x1": float(a), "x2": float(b)} for a, b in x], y

    def monitors(self, seed: int) -> list[dict[str, Any]]:
        return [_ks(["x1", "x2"]), _adwin("alert")]


class DriftLabel(_DriftScenario):
    """Label shift: P(y = 1) moves from 0.2 to 0.7 half way; P(x | y) (means ±0.75) stays.

    Examples
    --------
    >>> xs, ys = DriftLabel().stream(4000, seed=0)
    >>> round(float(ys[:2000].mean()), 1), round(float(ys[2000:].mean()), 1)
    (0.2, 0.7)
    """

    name = "drift-label"
    description = "label shift half way: P(y=1) 0.2 -> 0.7, P(x|y) unchanged"
    expected = ("label",)

    def stream(self, n_events: int, seed: int) -> tuple[list[dict[str, Any]], np.ndarray]:
        rng = np.random.default_rng(seed)
        prior = np.where(np.arange(n_events) < n_events // 2, 0.2, 0.7)
        y = rng.random(n_events) < prior
        x = rng.normal(size=(n_events, 2)) + 1.5 * (y[:, None] - 0.5)
        return [{"x1": float(a), "x2": float(b)} for a, b in x], y

    def monitors(self, seed: int) -> list[dict[str, Any]]:
        return [_chi2("label", "label", [], seed), _ks(["x1", "x2"]), _adwin("alert")]


CHANNELS = ("web", "app", "store", "phone")
OFFSETS = np.array([0.0, 1.0, -1.0, 2.0])


class DriftCategorical(_DriftScenario):
    """Categorical shift: ``channel`` frequencies change half way; ``x1 + offset > 0`` stays.

    Examples
    --------
    >>> xs, _ = DriftCategorical().stream(4000, seed=0)
    >>> web = [x["channel"] == "web" for x in xs]
    >>> sum(web[:2000]) > sum(web[2000:])
    True
    """

    name = "drift-categorical"
    description = "the categorical field channel changes its frequencies half way, rule unchanged"
    expected = ("channel",)
    before = (0.55, 0.25, 0.15, 0.05)
    after = (0.1, 0.2, 0.3, 0.4)

    def model(self) -> str:
        return (
            "(compose.Select('x1', 'x2') | preprocessing.StandardScaler()) + "
            "(compose.Select('channel') | preprocessing.OneHotEncoder()) | "
            "linear_model.LogisticRegression()"
        )

    def stream(self, n_events: int, seed: int) -> tuple[list[dict[str, Any]], np.ndarray]:
        rng = np.random.default_rng(seed)
        half = n_events // 2
        c = np.concatenate(
            [rng.choice(4, half, p=self.before), rng.choice(4, n_events - half, p=self.after)]
        )
        x = rng.normal(size=(n_events, 2))
        y = x[:, 0] + OFFSETS[c] + 0.3 * rng.normal(size=n_events) > 0
        xs = [{"x1": float(a), "x2": float(b), "channel": CHANNELS[k]} for (a, b), k in zip(x, c)]
        return xs, y

    def monitors(self, seed: int) -> list[dict[str, Any]]:
        return [_chi2("channel", "features", ["channel"], seed), _ks(["x1", "x2"]), _adwin("alert")]


SCENARIOS = (
    DriftAbrupt,
    DriftGradual,
    DriftRecurring,
    DriftCovariate,
    DriftLabel,
    DriftCategorical,
)
