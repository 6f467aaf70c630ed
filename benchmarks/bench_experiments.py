"""Benchmark of stream_ml.experiments against River's bandit policy, plus interleaving sensitivity.

Run:  python benchmarks/bench_experiments.py            (about 4 minutes on one core)
      python benchmarks/bench_experiments.py swap       (section 3 only, about 2 minutes)
      python benchmarks/bench_experiments.py aa         (section 4 only, about 10 minutes)
      python benchmarks/bench_experiments.py ope        (section 5 only, about 2 minutes)

1. Thompson routing regret on 10 Bernoulli arms (means ~ U(0.1, 0.9) per seed), 10k events,
   20 seeds, against ``river.bandit.ThompsonSampling(reward_obj=river.proba.Beta(), seed=...)``
   on the same environment (same means, rewards from the same seeded stream). Rows: our default
   (lazily refreshed posterior), our router refreshed after every reward (the previous default,
   ``refresh_growth=0, refresh_every=1``), River. Ratios of mean final pseudo-regret (ours /
   River; <= 1 is "no worse", with the paired 95% interval) and of per-event time (route +
   reward against pull + update). Then the default against River on 100 further seeds.
2. Interleaving sensitivity: requests an A/B test needs / requests team-draft interleaving needs
   to find the better of two rankers at 95% simulated power (alpha = 0.05, 2000 simulated runs
   per n, bisection over n), on ``stream_ml.experiments.sensitivity`` (click model stated in
   its module docs and in benchmarks/RESULTS.md), for several settings and three
   query pools each.
3. Non-stationary routing (issue #13): the swap environment of
   ``stream_ml.experiments.sim.swap_means`` (10 Bernoulli arms, means linspace(0.1, 0.9) in a
   seeded order; at pull 5,000 of 10,000 the best and the worst arm swap their means), 50 seeds
   (0-49), every policy on the same reward stream. Per router (defaults and the new
   ``discount`` / ``window`` / ``share`` options) and for River's ``ThompsonSampling`` and
   ``UCB(delta=1)``: the share of the second half's pulls on the new best arm (median, min) and
   the total pseudo-regret (mean, and the ratio to River's Thompson sampling).
4. Small-sample sequential tests (issue #13): A/A through ``ABRouter`` (two arms, weights 1:1,
   keyless events so arms are drawn by the engine generator, Bernoulli(0.30) rewards for both),
   200 runs (seeds 0-199) x 10,000 events, the test checked after every event
   (``check_every=1``), for ``test="betting"`` (the default) and ``test="msprt"`` (the previous
   default), alpha 0.05, tau 0.05: false positives, how many before event 1,000, and the
   events at which they happened. Power: 0.30 (control) vs 0.33, 100 runs (seeds 1000-1099) of
   up to 100,000 events each, same checks: decided right / wrong / not at all, and the median
   (quartiles) of the events to decide.
5. Off-policy intervals at small n (issue #13): the simulated logs of tests/experiments/
   test_ope.py (3 contexts x 3 actions, logging propensities 0.2-0.6, a deterministic target
   policy, Bernoulli rewards), 200 seeds at n = 200 and n = 1000: coverage of the 95% interval
   of IPS, SNIPS and DR (cross-fitted per context and action), bootstrap-t (the default up to
   ``BOOTSTRAP_MAX_N``) against the normal interval on the same terms, and how many estimates
   warned of a low effective sample size.
"""

from __future__ import annotations

import sys
import time
from statistics import NormalDist

import numpy as np
from river import bandit, proba

from stream_ml.experiments import (
    ABConfig,
    EpsilonGreedyConfig,
    Exp3Config,
    ThompsonConfig,
    UCBConfig,
)
from stream_ml.experiments.sensitivity import (
    ClickModelConfig,
    QueryPool,
    ab_pmf,
    events_at_power,
    interleaving_pmf,
)
from stream_ml.experiments.sim import swap_regret, switching_bandit

N_ARMS, N_EVENTS, SEEDS = 10, 10_000, 20
NAMES = [f"arm{i}" for i in range(N_ARMS)]


def run_ours(cfg: ThompsonConfig, means: np.ndarray, seed: int) -> tuple[float, float, int]:
    router = cfg.build(NAMES)
    rng, env = np.random.default_rng(seed), np.random.default_rng(seed + 7)
    best, regret = means.max(), 0.0
    idx = {n: i for i, n in enumerate(NAMES)}
    t0 = time.perf_counter()
    for _ in range(N_EVENTS):
        d = router.route(None, rng)
        mu = means[idx[d.arm]]
        router.reward(d, float(env.random() < mu))
        regret += best - mu
    return regret, (time.perf_counter() - t0) / N_EVENTS, router.refreshes


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


def thompson() -> None:
    policies = {
        "stream_ml ThompsonRouter (default: lazy refresh)": ThompsonConfig(),
        "stream_ml ThompsonRouter (refresh every reward)": ThompsonConfig(
            refresh_growth=0.0, refresh_every=1
        ),
    }
    res: dict[str, list[tuple[float, float, int]]] = {k: [] for k in policies}
    river: list[tuple[float, float]] = []
    for seed in range(SEEDS):
        means = np.random.default_rng(1000 + seed).uniform(0.1, 0.9, N_ARMS)
        river.append(run_river(means, seed))
        for name, cfg in policies.items():
            res[name].append(run_ours(cfg, means, seed))
    rv = np.array([r for r, _ in river])
    t_rv = float(np.mean([t for _, t in river]))
    print(f"## Thompson sampling: {N_ARMS} Bernoulli arms, {N_EVENTS} events, {SEEDS} seeds\n")
    print(
        "| policy | mean regret | sd | regret ratio vs river (paired diff +- 95%) "
        "| per event (us) | time ratio vs river | posterior refreshes |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, rows in res.items():
        o = np.array([r for r, _, _ in rows])
        t = float(np.mean([t for _, t, _ in rows]))
        d = o - rv
        half = 1.96 * np.std(d, ddof=1) / np.sqrt(SEEDS)
        print(
            f"| {name} | {o.mean():.1f} | {o.std(ddof=1):.1f} | **{o.mean() / rv.mean():.2f}** "
            f"({d.mean():+.1f} +- {half:.1f}) | {1e6 * t:.1f} | **{t / t_rv:.2f}** | "
            f"{np.mean([n for _, _, n in rows]):.0f} |"
        )
    print(
        f"| river ThompsonSampling | {rv.mean():.1f} | {rv.std(ddof=1):.1f} | 1.00 | "
        f"{1e6 * t_rv:.1f} | 1.00 | {N_EVENTS} |\n"
    )
    # 20 seeds leave a wide interval (two seeds with near-tied top arms dominate it): the
    # default against River on 100 further seeds.
    more = [
        (200 + s, np.random.default_rng(1200 + s).uniform(0.1, 0.9, N_ARMS)) for s in range(100)
    ]
    o = np.array([run_ours(ThompsonConfig(), m, s)[0] for s, m in more])
    r = np.array([run_river(m, s)[0] for s, m in more])
    d = o - r
    half = 1.96 * np.std(d, ddof=1) / np.sqrt(len(d))
    print(
        f"Default vs River on 100 further seeds (200-299): mean regret {o.mean():.1f} vs "
        f"{r.mean():.1f}, ratio **{o.mean() / r.mean():.2f}** (paired diff {d.mean():+.1f} "
        f"+- {half:.1f})\n"
    )


SETTINGS = {
    "realistic: heterogeneous users and queries, rankers differ slightly": ClickModelConfig(),
    "homogeneous users (c = 0.25 for all)": ClickModelConfig(user_a=500.0, user_b=1500.0),
    "homogeneous users and queries (q = 0.3 for all)": ClickModelConfig(
        user_a=500.0, user_b=1500.0, query_a=300.0, query_b=700.0
    ),
    "rankers differ a lot (no shared error, noise 0.5 vs 1.5)": ClickModelConfig(
        shared=0.0, noise_good=0.5, noise_bad=1.5
    ),
}


def sensitivity() -> None:
    z = NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(0.95)
    print("## Interleaving sensitivity (requests needed at 95% simulated power, alpha 0.05)\n")
    print(
        "| setting | pool seed | clicks/request good / bad | P(win) / P(loss) | A/B requests "
        "| team-draft requests | ratio A/B / IL | ratio, normal approx. |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, cfg in SETTINGS.items():
        for seed in range(3):
            pool = QueryPool(cfg, seed=seed)
            ab, il = ab_pmf(pool), interleaving_pmf(pool)
            n_ab = events_at_power("ab", ab, seed=seed)["events"]
            n_il = events_at_power("interleaving", il, seed=seed)["events"]
            x = np.arange(ab.shape[1])
            m, v = ab @ x, ab @ (x * x) - (ab @ x) ** 2
            e = il[0] - il[2]
            approx = (2 * z * z * (v[0] + v[1]) / (m[0] - m[1]) ** 2) / (
                z * z * (il[0] + il[2] - e * e) / (e * e)
            )
            print(
                f"| {name} | {seed} | {m[0]:.4f} / {m[1]:.4f} | {il[0]:.4f} / {il[2]:.4f} | "
                f"{n_ab} | {n_il} | **{n_ab / n_il:.1f}** | {approx:.1f} |"
            )


SWAP_SEEDS = 50
SWAP_ROUTERS = {
    "Thompson (default)": ThompsonConfig(),
    "Thompson discount=0.999": ThompsonConfig(discount=0.999),
    "Thompson discount=0.998": ThompsonConfig(discount=0.998),
    "Thompson discount=0.995": ThompsonConfig(discount=0.995),
    "UCB1 (default)": UCBConfig(),
    "D-UCB discount=0.9975": UCBConfig(discount=0.9975),
    "D-UCB discount=0.9975, c=0.25": UCBConfig(discount=0.9975, c=0.25),
    "SW-UCB window=600": UCBConfig(window=600),
    "SW-UCB window=600, c=0.25": UCBConfig(window=600, c=0.25),
    "epsilon-greedy (default, 0.1)": EpsilonGreedyConfig(),
    "epsilon-greedy discount=0.99": EpsilonGreedyConfig(discount=0.99),
    "epsilon-greedy window=500": EpsilonGreedyConfig(window=500),
    "Exp3 (default, gamma=0.1)": Exp3Config(),
    "Exp3.S gamma=0.1, share=0.001": Exp3Config(share=0.001),
    "Exp3.S gamma=0.1, share=0.0001 (1/T)": Exp3Config(share=0.0001),
}


def swap() -> None:
    names = [f"arm{i}" for i in range(N_ARMS)]
    arms = list(range(N_ARMS))
    rows: dict[str, list[dict[str, float]]] = {}
    for label, make in {
        "river ThompsonSampling": lambda s: bandit.ThompsonSampling(
            reward_obj=proba.Beta(), seed=s
        ),
        "river UCB(delta=1)": lambda s: bandit.UCB(delta=1.0, seed=s),
    }.items():
        out = []
        for s in range(SWAP_SEEDS):
            policy = make(s)
            out.append(switching_bandit(lambda p=policy: p.pull(arms), policy.update, s))
        rows[label] = out
    for label, cfg in SWAP_ROUTERS.items():
        rows[label] = [swap_regret(cfg.build(names), s) for s in range(SWAP_SEEDS)]
    river = np.array([r["regret"] for r in rows["river ThompsonSampling"]])
    print(
        f"## Swap environment: {N_ARMS} Bernoulli arms, {N_EVENTS} pulls, best and worst arm "
        f"swap at {N_EVENTS // 2}, {SWAP_SEEDS} seeds\n"
    )
    print(
        "| policy | second half on new best: median | min | total regret: mean | sd "
        "| regret / river Thompson (paired diff +- 95%) |"
    )
    print("|---|---|---|---|---|---|")
    for label, out in rows.items():
        share = np.array([r["share"] for r in out])
        reg = np.array([r["regret"] for r in out])
        d = reg - river
        half = 1.96 * np.std(d, ddof=1) / np.sqrt(len(d))
        print(
            f"| {label} | **{np.median(share):.3f}** | {share.min():.3f} | {reg.mean():.0f} | "
            f"{reg.std(ddof=1):.0f} | **{reg.mean() / river.mean():.2f}** "
            f"({d.mean():+.0f} +- {half:.0f}) |"
        )
    print()


AA_RUNS, AA_EVENTS, POWER_RUNS, POWER_MAX = 200, 10_000, 100, 100_000


def first_decision(test: str, p_b: float, seed: int, events: int) -> tuple[int | None, str]:
    """Events until an A/B router (checked after every event) decides, and for which arm."""
    router = ABConfig(control="a", test=test, check_every=1).build(["a", "b"])
    rng, env = np.random.default_rng(seed), np.random.default_rng(seed + 50_000)
    u = env.random(events)
    comparison = router.comparison
    for i in range(events):
        d = router.route(None, rng)
        router.reward(d, float(u[i] < (p_b if d.arm == "b" else 0.30)))
        if comparison.winner is not None:
            return i + 1, comparison.winner
    return None, ""


def aa() -> None:
    print(
        f"## Sequential tests at small n: A/A, {AA_RUNS} runs x {AA_EVENTS} events, checked "
        "after every event (alpha 0.05, tau 0.05)\n"
    )
    print("| test | false positives | rate | before event 1,000 | events of the false positives |")
    print("|---|---|---|---|---|")
    for test in ("betting", "msprt"):
        hits = [first_decision(test, 0.30, s, AA_EVENTS)[0] for s in range(AA_RUNS)]
        fp = sorted(h for h in hits if h is not None)
        early = sum(h < 1000 for h in fp)
        print(
            f"| {test} | {len(fp)} / {AA_RUNS} | **{len(fp) / AA_RUNS:.3f}** | **{early}** "
            f"| {', '.join(map(str, fp)) or '-'} |"
        )
    print(
        f"\n## Power: 0.30 vs 0.33, {POWER_RUNS} runs of up to {POWER_MAX} events, checked after "
        "every event\n"
    )
    print("| test | right | wrong | undecided | events to decide: median | quartiles |")
    print("|---|---|---|---|---|---|")
    for test in ("betting", "msprt"):
        out = [first_decision(test, 0.33, 1000 + s, POWER_MAX) for s in range(POWER_RUNS)]
        right = [n for n, w in out if w == "b"]
        wrong = sum(w == "a" for _, w in out)
        events = [n if n is not None else POWER_MAX for n, _ in out]
        q1, q2, q3 = np.percentile(events, [25, 50, 75])
        print(
            f"| {test} | {len(right)} | {wrong} | {sum(n is None for n, _ in out)} | "
            f"**{q2:.0f}** | {q1:.0f} - {q3:.0f} |"
        )
    print()


def ope_coverage() -> None:
    sys.path.insert(0, "tests/experiments")
    from test_ope import TARGET, TRUTH, cross_fit, simulate  # the tests' simulated logs

    from stream_ml.experiments import doubly_robust, ips, snips
    from stream_ml.experiments.stats import normal_interval

    print("## Off-policy 95% intervals at small n: coverage over 200 seeds\n")
    print("| n | estimator | bootstrap-t (default) | normal | warned (ess < 100) | median ess |")
    print("|---|---|---|---|---|---|")
    for n in (200, 1000):
        rows: dict[str, list[tuple[bool, bool, bool, float]]] = {"ips": [], "snips": [], "dr": []}
        for seed in range(200):
            x, a, p, r = simulate(seed, n)
            t, w = TARGET[x, a], TARGET[x, a] / p
            q = cross_fit(x, a, r)
            terms = {
                "ips": w * r,
                "snips": None,
                "dr": (TARGET[x] * q).sum(axis=1) + w * (r - q[np.arange(n), a]),
            }
            for est in (ips(r, p, t), snips(r, p, t), doubly_robust(r, p, a, TARGET[x], q)):
                tm = terms[est.method]
                if tm is None:  # SNIPS: the linearised terms around the estimate
                    tm = w * (r - est.value) / w.mean()
                    lo, hi = normal_interval(0.0, float(tm.var(ddof=1)), n)
                    lo, hi = est.value + lo, est.value + hi
                else:
                    lo, hi = normal_interval(est.value, float(tm.var(ddof=1)), n)
                rows[est.method].append(
                    (
                        est.low <= TRUTH <= est.high,
                        lo <= TRUTH <= hi,
                        est.warning is not None,
                        est.ess,
                    )
                )
        for method, out in rows.items():
            cov = np.mean([c for c, _, _, _ in out])
            nrm = np.mean([c for _, c, _, _ in out])
            print(
                f"| {n} | {method} | **{cov:.3f}** | {nrm:.3f} | {sum(w for _, _, w, _ in out)} "
                f"| {np.median([e for *_, e in out]):.0f} |"
            )
    print()


def main(argv: list[str]) -> None:
    t0 = time.perf_counter()
    if argv[1:] == ["swap"]:
        swap()
    elif argv[1:] == ["aa"]:
        aa()
    elif argv[1:] == ["ope"]:
        ope_coverage()
    else:
        thompson()
        sensitivity()
        swap()
        aa()
        ope_coverage()
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main(sys.argv)
