"""Benchmark of stream_ml.experiments against River's bandit policy, plus interleaving sensitivity.

Run:  python benchmarks/bench_experiments.py            (about a minute on one core)

1. Thompson routing regret on 10 Bernoulli arms (means ~ U(0.1, 0.9) per seed), 10k events,
   20 seeds, against ``river.bandit.ThompsonSampling(reward_obj=river.proba.Beta(), seed=...)``
   on the same environment (same means, rewards from the same seeded stream). Ratio of mean final
   pseudo-regret (ours / River; <= 1 is "no worse") and per-event time (route + reward against
   pull + update).
2. Interleaving sensitivity: requests an A/B test needs / requests team-draft interleaving needs
   to detect the better of two rankers at 95% power (alpha = 0.05), on
   ``stream_ml.experiments.sim.RankingStream`` (position-based clicks: examination 1/rank,
   attraction 0.05 + 0.9 rel^2, relevance = query quality x U(0, 1)).
"""

from __future__ import annotations

import time

import numpy as np
from river import bandit, proba

from stream_ml.experiments import InterleavingConfig, ThompsonConfig
from stream_ml.experiments.sim import RankingStream, ab_vs_interleaving

N_ARMS, N_EVENTS, SEEDS = 10, 10_000, 20


def run_ours(means: np.ndarray, seed: int) -> tuple[float, float]:
    names = [f"arm{i}" for i in range(N_ARMS)]
    router = ThompsonConfig().build(names)
    rng, env = np.random.default_rng(seed), np.random.default_rng(seed + 7)
    best, regret = means.max(), 0.0
    idx = {n: i for i, n in enumerate(names)}
    t0 = time.perf_counter()
    for _ in range(N_EVENTS):
        d = router.route(None, rng)
        mu = means[idx[d.arm]]
        router.reward(d, float(env.random() < mu))
        regret += best - mu
    return regret, (time.perf_counter() - t0) / N_EVENTS


def run_river(means: np.ndarray, seed: int) -> tuple[float, float]:
    policy = bandit.ThompsonSampling(reward_obj=proba.Beta(), seed=seed)
    env = np.random.default_rng(seed + 7)
    arms = list(range(N_ARMS))
    best, regret = means.max(), 0.0
    t0 = time.perf_counter()
    for _ in range(N_EVENTS):
        arm = policy.pull(arms)
        mu = means[arm]
        policy.update(arm, float(env.random() < mu))
        regret += best - mu
    return regret, (time.perf_counter() - t0) / N_EVENTS


def main() -> None:
    ours, river, t_ours, t_river = [], [], [], []
    for seed in range(SEEDS):
        means = np.random.default_rng(1000 + seed).uniform(0.1, 0.9, N_ARMS)
        r, t = run_ours(means, seed)
        ours.append(r)
        t_ours.append(t)
        r, t = run_river(means, seed)
        river.append(r)
        t_river.append(t)
    o, rv = np.array(ours), np.array(river)
    half = 1.96 * np.std(o - rv, ddof=1) / np.sqrt(SEEDS)
    print(f"## Thompson sampling: {N_ARMS} Bernoulli arms, {N_EVENTS} events, {SEEDS} seeds\n")
    print("| policy | mean regret | sd | median | per event (us) |")
    print("|---|---|---|---|---|")
    print(
        f"| stream_ml ThompsonRouter | {o.mean():.1f} | {o.std(ddof=1):.1f} | "
        f"{np.median(o):.1f} | {1e6 * np.mean(t_ours):.1f} |"
    )
    print(
        f"| river ThompsonSampling | {rv.mean():.1f} | {rv.std(ddof=1):.1f} | "
        f"{np.median(rv):.1f} | {1e6 * np.mean(t_river):.1f} |"
    )
    print(
        f"\nregret ratio ours/river (mean): **{o.mean() / rv.mean():.2f}** "
        f"(paired diff {np.mean(o - rv):.1f} +- {half:.1f})"
    )
    print(f"time ratio ours/river per event: **{np.mean(t_ours) / np.mean(t_river):.2f}**\n")

    print("## Interleaving sensitivity (requests needed at 95% power, alpha 0.05)\n")
    print(
        "| rankers (noise good/bad) | method | A/B requests | interleaving requests"
        " | ratio A/B / IL |"
    )
    print("|---|---|---|---|---|")
    for good, bad in [(0.1, 0.2), (0.15, 0.2)]:
        for method in ["team_draft", "probabilistic"]:
            stream = RankingStream(10, 5, {"good": good, "bad": bad}, seed=0)
            router = InterleavingConfig(method=method, length=5).build(["good", "bad"])
            res = ab_vs_interleaving(stream, router, 30_000, "good", "bad")
            print(
                f"| {good}/{bad} | {method} | {res['ab_events']:.0f} | "
                f"{res['interleaving_events']:.0f} | **{res['ratio']:.1f}** |"
            )


if __name__ == "__main__":
    main()
