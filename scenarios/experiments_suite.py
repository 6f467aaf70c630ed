"""Experiment scenarios: a Thompson router, interleaving against A/B, a canary that aborts.

All three replay through the engine (messages -> ``Engine.process``) and run *closed-loop*: an
:class:`Observer` (a sink) sees every output, so that feedback can depend on what was served
(clicks on the shown ranking) and the report knows which model served each event and when a
sequential test first decided (the observer runs the router's ``check()`` every ``check_every``
predictions; the tests are always-valid, Johari et al. 2017, so looking often is allowed).

* ``bandit-variants``: y = 1[w.x + N(0, sigma^2) > 0] with standard normal features; three
  logistic regressions see different feature subsets (``compose.Select``), so their best
  accuracy is known: ``1 - arccos(rho) / pi`` with ``rho = |w_S| / sqrt(|w|^2 + sigma^2)``.
  Every model learns from every label whichever arm served, so one reference run (no router,
  every model answers) gives each model's correctness on every event: the regret of a routing
  policy against the best model in hindsight is exact, not estimated. Thompson and a uniform
  random A/B split are replayed on the same stream.
* ``ranking-interleaving``: requests with 10 candidates of relevance ``rel = q * U(0, 1)`` (query
  quality ``q ~ U(0, 1)``); candidate features ``good = rel + N(0, 0.1^2)``, ``bad = rel +
  N(0, 0.6^2)``; two logistic rankers see one each. Position-based clicks (Richardson et al.
  2007; Craswell et al. 2008): rank k is examined w.p. 1/k and clicked when examined w.p.
  ``0.05 + 0.9 rel^2``. Team-draft interleaving (Radlinski, Kurup & Joachims 2008) against an
  A/B split on clicks per request, same requests. The rankers standardise their feature
  (``standardise=True``); without it the better ranker starts *worse*: with mostly unclicked,
  positive features, SGD first drives its weight negative and it ranks backwards for about the
  first 750-1000 requests, while the noisier feature (centred noise) learns the right sign
  sooner. That is the case the router's ``burn_in`` is for (``tests/experiments/test_burn_in.py``).
* ``canary-broken``: the primary sees every feature, the candidate only a useless one; the
  canary ramps and its guard aborts.

>>> sc = BanditVariants()
>>> msgs = list(sc.messages(50, seed=0))
>>> sum(m["kind"] == "observation" for m in msgs), sum(m["kind"] == "feedback" for m in msgs)
(50, 50)
>>> round(sc.ground_truth(50, 0)["true_accuracy"]["full"], 3)
0.896
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np

from connectors import IterableSource
from stream_ml.config import EngineConfig, parse_config
from stream_ml.engine import Engine
from stream_ml.runtime.replay import Replay

W = np.array([1.0, 0.8, 0.6, 0.4])  # weights of x1..x4; x5 is noise
SIGMA = 0.5
ARMS = {"full": ("x1", "x2", "x3", "x4"), "two": ("x1", "x2"), "one": ("x3",)}
SENSITIVITY = (
    "simulated power of A/B vs interleaving (events at 95% power on a click model with "
    "heterogeneous users and queries): stream_ml.experiments.sensitivity.events_at_power"
)


class Observer:
    """A sink that sees one run's outputs: who served, what was shown, the first decision.

    Examples
    --------
    >>> obs = Observer(None)
    >>> obs.write({"kind": "prediction", "id": "a", "model": "m", "y_pred": ["d1", "d0"],
    ...            "propensity": 1.0, "seq": 1, "shadow": None})
    >>> obs.shown("a"), obs.result()["served"]
    (['d1', 'd0'], ['m'])
    """

    def __init__(self, engine: Any, check_every: int = 10) -> None:
        self.engine = engine
        self.check_every = check_every
        self.outputs: list[dict[str, Any]] = []
        self._shown: dict[str, Any] = {}
        self.decided_at: int | None = None
        self.winner: str | None = None

    def write(self, output: dict[str, Any]) -> None:
        if output.get("kind") != "prediction":
            return
        self.outputs.append(output)
        self._shown[output["id"]] = output["y_pred"]
        stage = getattr(self.engine, "router", None)
        check = getattr(stage.router, "check", None) if stage is not None else None
        if check is not None and self.decided_at is None and output["seq"] % self.check_every == 0:
            winner = check()
            if winner is not None:
                self.decided_at, self.winner = output["seq"], winner

    def shown(self, id: str) -> Any:
        """What was served for observation ``id`` (None if it was not predicted)."""
        return self._shown.pop(id, None)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def result(self) -> dict[str, Any]:
        return {
            "served": [o["model"] for o in self.outputs],
            "propensity": [o["propensity"] for o in self.outputs],
            "decided_at": self.decided_at,
            "winner": self.winner,
        }


def replay(scenario: Any, config: EngineConfig, n: int, seed: int) -> dict[str, Any]:
    """Run ``scenario``'s messages through an engine built from ``config`` (closed-loop)."""
    engine = Engine.from_config(config)
    obs = Observer(engine)
    source = IterableSource(scenario.messages(n, seed, observer=obs), name=scenario.name)
    summary = Replay(engine, source, None, sinks=[obs]).run()
    return {"summary": summary, "observer": obs}


def _stream(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, 11])
    x = rng.standard_normal((n, 5))
    y = x[:, :4] @ W + SIGMA * rng.standard_normal(n) > 0
    return x, y


def _labelled_messages(n: int, seed: int) -> Iterator[dict[str, Any]]:
    x, y = _stream(n, seed)
    for i in range(n):
        yield {
            "kind": "observation",
            "id": f"e{i}",
            "ts": float(i),
            "features": {f"x{j + 1}": float(x[i, j]) for j in range(5)},
        }
        yield {"kind": "feedback", "id": f"e{i}", "label": bool(y[i]), "ts": float(i)}


def true_accuracy(features: tuple[str, ...]) -> float:
    """Bayes accuracy of a linear rule on ``features`` (see the module docstring)."""
    w = W[[int(f[1:]) - 1 for f in features if f != "x5"]]
    rho = float(np.linalg.norm(w)) / math.sqrt(float(W @ W) + SIGMA**2)
    return 1.0 - math.acos(rho) / math.pi


def _model(features: tuple[str, ...], scale: bool = False) -> dict[str, str]:
    cols = ", ".join(repr(f) for f in features)
    lr = "linear_model.LogisticRegression(optimizer=optim.SGD(0.1))"
    if scale:  # centred features: the weight's sign follows the correlation from the start
        lr = f"preprocessing.StandardScaler() | {lr}"
    return {"model": f"compose.Select({cols}) | {lr}"}


def _config(name: str, seed: int, models: dict[str, Any], router: Any) -> EngineConfig:
    data: dict[str, Any] = {
        "name": name,
        "seed": seed,
        "models": models,
        "evaluation": {"metrics": ["Accuracy"], "window": 500},
    }
    if router is not None:
        data["router"] = router
    return parse_config(data)


class BanditVariants:
    """Three model variants of known quality behind a Thompson router (module docstring)."""

    name = "bandit-variants"
    description = "3 models of known accuracy: Thompson vs uniform A/B, regret vs oracle"
    default_events = 4000

    def observer(self, engine: Any) -> Observer:
        return Observer(engine)

    def messages(
        self, n_events: int, seed: int, observer: Observer | None = None
    ) -> Iterator[dict[str, Any]]:
        return _labelled_messages(n_events, seed)

    def ground_truth(self, n_events: int, seed: int) -> dict[str, Any]:
        acc = {a: true_accuracy(f) for a, f in ARMS.items()}
        return {
            "events": n_events,
            "seed": seed,
            "true_accuracy": acc,
            "best_arm": max(acc, key=acc.__getitem__),
        }

    def engine_config(self, seed: int, router: Any = None) -> EngineConfig:
        models = {a: _model(f) for a, f in ARMS.items()}
        return _config(self.name, seed, models, router or {"kind": "thompson"})

    def report(self, summary: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
        n, seed = truth["events"], truth["seed"]
        arms = list(ARMS)
        models = {a: _model(f) for a, f in ARMS.items()}
        ref = replay(self, _config(self.name, seed, models, None), n, seed)  # every model answers
        _, y = _stream(n, seed)
        correct = np.zeros((n, len(arms)))
        for t, o in enumerate(ref["observer"].outputs):
            answers = {o["model"]: o["y_pred"], **(o["shadow"] or {})}
            correct[t] = [answers[a] == bool(y[t]) for a in arms]
        uniform = replay(self, self.engine_config(seed, {"kind": "ab"}), n, seed)
        acc = truth["true_accuracy"]

        def policy(served: list[str]) -> dict[str, Any]:
            idx = np.array([arms.index(s) for s in served])
            got = correct[np.arange(n), idx].sum()
            return {
                "regret": float(correct.sum(axis=0).max() - got),
                "pseudo_regret": float(sum(max(acc.values()) - acc[s] for s in served)),
                "regret_per_event_oracle": float(correct.max(axis=1).sum() - got),
                "share": {a: served.count(a) / n for a in arms},
            }

        ts = policy(summary["observed"]["served"])
        ab = policy(uniform["observer"].result()["served"])
        ope = summary.get("experiment", {}).get("off_policy", {})
        return {
            "scenario": self.name,
            "truth": truth,
            "realised_accuracy": {a: float(correct[:, i].mean()) for i, a in enumerate(arms)},
            "thompson": ts,
            "uniform": ab,
            "regret_ratio": ts["regret"] / ab["regret"] if ab["regret"] else float("nan"),
            "off_policy": {
                a: {m: round(e["value"], 4) for m, e in est.items()} for a, est in ope.items()
            },
        }


class RankingInterleaving:
    """Two rankers of known relative quality: team-draft interleaving vs A/B (module docstring).

    Examples
    --------
    >>> msgs = list(RankingInterleaving().messages(3, seed=0))
    >>> len(msgs[0]["candidates"]), msgs[1]["kind"]
    (10, 'feedback')
    """

    name = "ranking-interleaving"
    description = "2 rankers, position-biased clicks: interleaving vs A/B, requests to decide"
    default_events = 3000
    n_docs = 10
    noise = {"good": 0.1, "bad": 0.6}  # candidate features: relevance + N(0, noise^2)

    def __init__(self, standardise: bool = True) -> None:
        self.standardise = standardise

    def observer(self, engine: Any) -> Observer:
        return Observer(engine)

    def messages(
        self, n_events: int, seed: int, observer: Observer | None = None
    ) -> Iterator[dict[str, Any]]:
        req, clk = np.random.default_rng([seed, 21]), np.random.default_rng([seed, 22])
        examination = 1.0 / np.arange(1, self.n_docs + 1)
        for i in range(n_events):
            rel = req.random(self.n_docs) * req.random()
            sig = {f: rel + req.normal(0.0, s, self.n_docs) for f, s in self.noise.items()}
            ids = [f"d{j}" for j in range(self.n_docs)]
            yield {
                "kind": "observation",
                "id": f"r{i}",
                "ts": float(i),
                "features": {"bias": 1.0},
                "candidates": [
                    {"id": d, **{f: float(v[j]) for f, v in sig.items()}} for j, d in enumerate(ids)
                ],
            }
            shown = observer.shown(f"r{i}") if observer is not None else None
            shown = list(shown) if shown else ids
            att = {d: 0.05 + 0.9 * rel[j] ** 2 for j, d in enumerate(ids)}
            u = clk.random(len(shown))
            clicks = [d for k, d in enumerate(shown) if u[k] < examination[k] * att[d]]
            yield {
                "kind": "feedback",
                "id": f"r{i}",
                "ts": float(i),
                "clicks": clicks,
                "reward": float(len(clicks)),
            }

    def ground_truth(self, n_events: int, seed: int) -> dict[str, Any]:
        return {
            "events": n_events,
            "seed": seed,
            "better": "good",
            "noise": dict(self.noise),
            "click_model": "PBM: examine rank k w.p. 1/k; click w.p. 0.05 + 0.9 rel^2",
        }

    def engine_config(self, seed: int, router: Any = None) -> EngineConfig:
        models = {f: _model((f,), scale=self.standardise) for f in self.noise}
        router = router or {"kind": "interleaving", "method": "team_draft"}
        return _config(self.name, seed, models, router)

    def report(self, summary: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
        n, seed = truth["events"], truth["seed"]
        ex, obs = summary["experiment"], summary["observed"]
        pair = ex["pairs"]["good>bad"]
        ab = replay(self, self.engine_config(seed, {"kind": "ab"}), n, seed)
        ab_ex, ab_obs = ab["summary"]["experiment"], ab["observer"].result()
        return {
            "scenario": self.name,
            "truth": truth,
            "interleaving": {
                "wins": pair["wins"],
                "losses": pair["losses"],
                "ties": pair["ties"],
                "sign_test_p": pair["sign_test_p"],
                "status": ex["status"],
                "winner": ex["winner"],
                "decided_at": obs["decided_at"],
            },
            "ab": {
                "clicks_per_request": {a: s["mean"] for a, s in ab_ex["arms"].items()},
                "requests": {a: s["n"] for a, s in ab_ex["arms"].items()},
                "status": ab_ex["test"]["status"],
                "winner": ab_ex["test"]["winner"],
                "decided_at": ab_obs["decided_at"],
            },
            "simulated_power": SENSITIVITY,
        }


class CanaryBroken:
    """A canary whose candidate sees only a useless feature: the guard aborts (module docstring).

    Examples
    --------
    >>> CanaryBroken().engine_config(0).router.kind
    'canary'
    """

    name = "canary-broken"
    description = "canary with a broken candidate: ramp, guard abort, traffic back to primary"
    default_events = 3000
    schedule = [0.05, 0.2, 0.5, 1.0]

    def observer(self, engine: Any) -> Observer:
        return Observer(engine)

    def messages(
        self, n_events: int, seed: int, observer: Observer | None = None
    ) -> Iterator[dict[str, Any]]:
        return _labelled_messages(n_events, seed)

    def ground_truth(self, n_events: int, seed: int) -> dict[str, Any]:
        return {
            "events": n_events,
            "seed": seed,
            "true_accuracy": {"primary": true_accuracy(ARMS["full"]), "candidate": 0.5},
        }

    def engine_config(self, seed: int) -> EngineConfig:
        models = {"primary": _model(ARMS["full"]), "candidate": _model(("x5",))}
        router = {
            "kind": "canary",
            "primary": "primary",
            "candidate": "candidate",
            "schedule": self.schedule,
            "step_outcomes": 20,
        }
        return _config(self.name, seed, models, router)

    def report(self, summary: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
        obs = summary["observed"]
        served, prop = obs["served"], obs["propensity"]
        ramp: list[dict[str, Any]] = []
        for t, (s, p) in enumerate(zip(served, prop, strict=True), start=1):
            share = round(p if s == "candidate" else 1.0 - p, 6)
            if not ramp or ramp[-1]["share"] != share:
                ramp.append({"share": share, "from_event": t})
        promo = [r for r in summary.get("records", []) if r.get("kind") == "promotion"]
        abort_at = promo[0]["decisions"] if promo else None
        after = served[abort_at:] if abort_at is not None else []
        ex = summary["experiment"]
        return {
            "scenario": self.name,
            "truth": truth,
            "state": ex["state"],
            "ramp": ramp,
            "abort": promo[0] if promo else None,
            "events_until_abort": abort_at,
            "candidate_outcomes": ex["arms"]["candidate"]["n"],
            "share_after_abort": {a: c / len(after) for a, c in Counter(after).items()},
        }
