"""What a router costs per event inside the engine, as a ratio to a fixed router (issue #13).

    python benchmarks/bench_router_overhead.py [--events 20000] [--repeats 3]

Classification: an ``Engine`` over two models that do nothing (constant probabilities, no
learning), so the time left is the engine's and the router's. Each router kind (defaults, plus
the non-stationary options and the A/B / canary test choice) runs the same ``events``
observations, ``predict`` then ``learn`` with the label at once; the best of ``repeats``
interleaved runs is reported in microseconds of process CPU time per event (CPU time, not wall
time: on a shared machine the wall clock counts other processes' turns), and its ratio to the
fixed router's.
Ranking: the interleaving router against a fixed router on the same ranking engine (two
``LinearRegression`` rankers, 6 candidates, 4 shown, a click on the first shown item).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from river import base, linear_model

from stream_ml import Engine
from stream_ml.experiments import (
    ABConfig,
    CanaryConfig,
    EpsilonGreedyConfig,
    Exp3Config,
    FixedConfig,
    InterleavingConfig,
    ShadowConfig,
    ThompsonConfig,
    UCBConfig,
)


class Idle(base.Classifier):
    """A classifier that learns nothing and always answers the same probabilities."""

    def learn_one(self, x: dict, y: object) -> None:
        pass

    def predict_proba_one(self, x: dict) -> dict:
        return {True: 0.6, False: 0.4}


ROUTERS: dict[str, Any] = {
    "fixed": FixedConfig(),
    "ab (betting test)": ABConfig(),
    "ab (msprt)": ABConfig(test="msprt"),
    "shadow": ShadowConfig(),
    "canary (betting guard)": CanaryConfig(schedule=[0.5]),
    "canary (msprt guard)": CanaryConfig(schedule=[0.5], test="msprt"),
    "epsilon_greedy": EpsilonGreedyConfig(),
    "epsilon_greedy window=500": EpsilonGreedyConfig(window=500),
    "ucb": UCBConfig(),
    "ucb window=600": UCBConfig(window=600),
    "thompson": ThompsonConfig(),
    "thompson discount=0.999": ThompsonConfig(discount=0.999),
    "exp3": Exp3Config(),
    "exp3 share=0.0001": Exp3Config(share=0.0001),
}


def classify(cfg: Any, n: int, seed: int) -> float:
    engine = Engine({"m0": Idle(), "m1": Idle()}, router=cfg, metrics=["Accuracy"], seed=seed)
    rng = np.random.default_rng(seed)
    xs = [{"a": float(v)} for v in rng.random(n)]
    ys = (rng.random(n) < 0.6).tolist()
    predict, learn = engine.predict, engine.learn
    t0 = time.process_time()
    for x, y in zip(xs, ys, strict=True):
        p = predict(x)
        learn(p.id, y)
    return (time.process_time() - t0) / n


def rank(cfg: Any, n: int, seed: int) -> float:
    engine = Engine(
        {"good": linear_model.LinearRegression(), "bad": linear_model.LinearRegression()},
        router=cfg,
        seed=seed,
    )
    rng = np.random.default_rng(seed)
    cands = [
        [{"id": f"d{j}", "q": float(v)} for j, v in enumerate(rng.normal(size=6))] for _ in range(n)
    ]
    predict, learn = engine.predict, engine.learn
    t0 = time.process_time()
    for i, c in enumerate(cands):
        p = predict({"u": 1.0}, id=str(i), candidates=c)
        learn(str(i), clicks=p.y_pred[:1])
    return (time.process_time() - t0) / n


def table(
    title: str, routers: dict[str, Any], run: Callable[[Any, int, int], float], n: int, repeats: int
) -> None:
    best = dict.fromkeys(routers, float("inf"))
    for r in range(repeats):  # interleaved, so that a busy moment hits every router alike
        for name, cfg in routers.items():
            best[name] = min(best[name], run(cfg, n, r))
    base_t = best[next(iter(routers))]
    print(f"## {title}: {n} events, best of {repeats}\n")
    print("| router | per event (us) | ratio to fixed | router's own cost (us) |")
    print("|---|---:|---:|---:|")
    for name, t in best.items():
        print(f"| {name} | {1e6 * t:.1f} | **{t / base_t:.2f}** | {1e6 * (t - base_t):+.1f} |")
    print()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    t0 = time.perf_counter()
    table("Classification engine, two idle models", ROUTERS, classify, a.events, a.repeats)
    ranking = {
        "fixed": FixedConfig(),
        "interleaving team_draft (betting test)": InterleavingConfig(method="team_draft", length=4),
        "interleaving team_draft (msprt)": InterleavingConfig(
            method="team_draft", length=4, test="msprt"
        ),
        "interleaving balanced": InterleavingConfig(method="balanced", length=4),
        "interleaving probabilistic": InterleavingConfig(method="probabilistic", length=4),
    }
    table(
        "Ranking engine, two LinearRegression rankers, 6 candidates",
        ranking,
        rank,
        a.events // 4,
        a.repeats,
    )
    print(f"(total {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
