"""A degenerate feedback loop: a recommender learns only from what it shows (popularity bias).

Chip Huyen, *Designing Machine Learning Systems* (2022), ch. 8, "degenerate feedback loops":
when a system's predictions decide which labels it gets, what it shows first keeps being shown.

The world. ``N_ITEMS = 50`` items with fixed true click probabilities ``p_i ~ U(0.02, 0.25)``
(seeded). Each event a page of ``K = 5`` items is shown; each shown item is clicked
independently with probability ``p_i`` (a common uniform draw per event and item, so every policy
meets the same user on the same event: common random numbers). Eight items, drawn at random (not
for their quality), are *popular at the start*: for the first ``WARMUP = 200`` events a launch
list shows 5 of them at random.

The model. One River logistic regression (``SGD(0.5)``) on a one-hot item feature (candidate
``i07`` has the feature ``i07 = 1``), learning from the engine's ranking feedback: the page goes
to the engine as a ranking request (``candidates`` = the shown items), the clicks come back as
its feedback, and the engine teaches its model every shown row (clicked or not) and nothing
else: impressions are the only labels. A new item scores at a cold-start prior (the model's
intercept, fixed at ``logit(PRIOR)``, ``PRIOR = 1%``, below every true click probability): the
model knows an item only through its impressions.

Retrieval. From the warm-up on, the page is built from the engine's model: every catalogue item
is scored with the engine's own ranking function (:func:`stream_ml.stages.routing.rank` on the
served model, read only); then

* ``greedy``: the top ``K`` items;
* ``epsilon`` (an exploration floor): each of the ``K`` slots independently with probability
  ``EPSILON = 0.1`` goes to an item drawn uniformly from the rest of the catalogue;
* ``least_exposed``: as ``epsilon``, the exploring slots going to the items shown least so far.

Every draw comes from generators seeded by the scenario seed. The report, per policy: exposure
concentration (the Gini coefficient of cumulative impressions per item, and the share of
impressions on the top 10% items by impressions), click-through rate (clicks per impression),
expected regret against the oracle that shows the ``K`` truly best items (the sum of their
``p`` minus the sum of the shown items' ``p``, per event) and catalogue coverage (items ever
shown), over time and at the end. The greedy policy never leaves the popular items: it shows
8 items, Gini about 0.89; exploration covers the catalogue, lowers the Gini (seeds 0-2: to
0.64-0.72), finds items better than the popular ones and ends with a higher click-through rate
(``benchmarks/bench_feedback_loop.py``).

Why the page, not the catalogue, is the ranking request: a ranking's feedback teaches every
candidate (not clicked = a negative), so a catalogue of 50 candidates of which the user saw 5
would label 45 unseen items "not clicked" at every event; the model would learn
``p_i x exposure_i`` and exploration could not repair it.

>>> sc = FeedbackLoop()
>>> msgs = list(sc.messages(2, seed=0))
>>> [m["kind"] for m in msgs], len(msgs[0]["candidates"]), msgs[0]["candidates"][0]["id"][0]
(['observation', 'feedback', 'observation', 'feedback'], 5, 'i')
>>> gini([1, 1, 1, 1]), gini([0, 0, 0, 4])
(0.0, 0.75)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from connectors import IterableSource
from scenarios.experiments_suite import Observer
from stream_ml.config import EngineConfig, parse_config
from stream_ml.engine import Engine
from stream_ml.runtime.replay import Replay

N_ITEMS = 50
K = 5
N_POPULAR = 8
WARMUP = 200
EPSILON = 0.1
PRIOR = 0.01
OPTIMIZER = "optim.SGD(0.5)"
P_LOW, P_HIGH = 0.02, 0.25
POLICIES = ("greedy", "epsilon", "least_exposed")
ITEMS = [f"i{j:02d}" for j in range(N_ITEMS)]


def gini(x: Any) -> float:
    """The Gini coefficient of non-negative amounts (0 = equal, 1 - 1/n = all on one).

    >>> gini([5, 0, 0, 0, 0]), round(gini([2, 1, 1]), 4)
    (0.8, 0.1667)
    """
    v = np.sort(np.asarray(x, dtype=float))
    n, total = len(v), float(v.sum())
    if n == 0 or total == 0.0:
        return 0.0
    return float(2.0 * np.dot(np.arange(1, n + 1), v) / (n * total) - (n + 1) / n)


def top_share(x: Any, fraction: float = 0.1) -> float:
    """The share of the total held by the top ``fraction`` of entries (at least one).

    >>> top_share([10, 0, 0, 0, 0, 0, 0, 0, 0, 0]), top_share([1] * 10)
    (1.0, 0.1)
    """
    v = np.sort(np.asarray(x, dtype=float))[::-1]
    total = float(v.sum())
    if total == 0.0:
        return 0.0
    return float(v[: max(1, math.ceil(fraction * len(v)))].sum() / total)


def world(seed: int) -> dict[str, Any]:
    """The true click probabilities and the popular items of ``seed``'s world."""
    rng = np.random.default_rng([seed, 41])
    p = rng.uniform(P_LOW, P_HIGH, N_ITEMS)
    popular = sorted(int(j) for j in rng.choice(N_ITEMS, N_POPULAR, replace=False))
    return {"p": p, "popular": popular}


class LoopObserver(Observer):
    """The run's observer (a sink: the engine's outputs) plus the pages shown and the clicks,
    which the scenario's messages record as they make them."""

    def __init__(self, engine: Any) -> None:
        super().__init__(engine)
        self.pages: list[list[int]] = []  # item indices shown per event, in page order
        self.clicks: list[list[int]] = []  # item indices clicked per event
        self.explored: list[int] = []  # exploring slots per event

    def result(self) -> dict[str, Any]:
        out = super().result()
        out["pages"] = [[ITEMS[j] for j in page] for page in self.pages]
        out["clicks"] = [[ITEMS[j] for j in c] for c in self.clicks]
        return out


class FeedbackLoop:
    """Exposure decides what the recommender learns (module docstring); ``policy`` is how its
    pages are built after the warm-up: ``greedy``, ``epsilon`` or ``least_exposed``."""

    name = "feedback-loop"
    description = "recommender learns only from what it shows: greedy vs exploration (Gini, CTR)"
    default_events = 4000

    def __init__(self, policy: str = "epsilon", epsilon: float = EPSILON) -> None:
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
        self.policy = policy
        self.epsilon = epsilon

    def observer(self, engine: Any) -> LoopObserver:
        return LoopObserver(engine)

    # -- the stream -------------------------------------------------------------------------

    def _page(self, t: int, obs: LoopObserver | None, shown: np.ndarray,
              launch: np.random.Generator, explore: np.random.Generator,
              popular: list[int]) -> tuple[list[int], int]:  # fmt: skip
        """The items shown at event ``t`` (indices) and how many slots explored."""
        if t < WARMUP or obs is None:  # the launch list (no model yet, or none to read)
            return [popular[j] for j in launch.choice(N_POPULAR, K, replace=False)], 0
        from stream_ml.stages.routing import rank

        slot = obs.engine.slots[0]  # the served model, read only
        order = [int(cid[1:]) for cid in rank(slot, [(c, {c: 1.0}) for c in ITEMS])]
        n_explore = 0 if self.policy == "greedy" else int(explore.binomial(K, self.epsilon))
        page = order[: K - n_explore]
        if n_explore:
            rest = np.array([j for j in range(N_ITEMS) if j not in page])
            if self.policy == "epsilon":
                page += [int(j) for j in explore.choice(rest, n_explore, replace=False)]
            else:  # least exposed first, ties at random
                tie = explore.random(len(rest))
                page += [int(j) for j in rest[np.lexsort((tie, shown[rest]))[:n_explore]]]
        return page, n_explore

    def messages(
        self, n_events: int, seed: int, observer: LoopObserver | None = None
    ) -> Iterator[dict[str, Any]]:
        w = world(seed)
        p, popular = w["p"], w["popular"]
        launch, explore = np.random.default_rng([seed, 42]), np.random.default_rng([seed, 43])
        users = np.random.default_rng([seed, 44])
        shown = np.zeros(N_ITEMS)
        for t in range(n_events):
            u = users.random(N_ITEMS)  # this event's user, the same for every policy
            page, n_explore = self._page(t, observer, shown, launch, explore, popular)
            shown[page] += 1
            yield {
                "kind": "observation",
                "id": f"r{t}",
                "ts": float(t),
                "features": {},
                "candidates": [{"id": ITEMS[j], ITEMS[j]: 1.0} for j in page],
            }
            clicked = [j for j in page if u[j] < p[j]]
            if observer is not None:
                served = observer.shown(f"r{t}")  # the engine's ranking of the page
                assert served is not None and sorted(served) == sorted(ITEMS[j] for j in page)
                observer.pages.append(page)
                observer.clicks.append(clicked)
                observer.explored.append(n_explore)
            yield {
                "kind": "feedback",
                "id": f"r{t}",
                "ts": float(t),
                "clicks": [ITEMS[j] for j in clicked],
            }

    def ground_truth(self, n_events: int, seed: int) -> dict[str, Any]:
        w = world(seed)
        p = w["p"]
        best = np.argsort(-p)[:K]
        return {
            "events": n_events,
            "seed": seed,
            "items": N_ITEMS,
            "page": K,
            "warmup": WARMUP,
            "epsilon": self.epsilon,
            "p": {ITEMS[j]: float(p[j]) for j in range(N_ITEMS)},
            "popular": [ITEMS[j] for j in w["popular"]],
            "best": [ITEMS[int(j)] for j in best],
            "oracle_ctr": float(p[best].mean()),
            "popular_best_ctr": float(np.sort(p[w["popular"]])[-K:].mean()),
            "catalogue_ctr": float(p.mean()),
        }

    def engine_config(self, seed: int) -> EngineConfig:
        lr = (
            f"linear_model.LogisticRegression(optimizer={OPTIMIZER}, "
            f"intercept_init={math.log(PRIOR / (1 - PRIOR))!r}, intercept_lr=0.0)"
        )
        # a ranking is not scored by the prequential metrics (its report is the click model's)
        return parse_config({"name": self.name, "seed": seed, "evaluation": {"metrics": []},
                             "models": {"ranker": {"model": lr}}})  # fmt: skip

    def run(self, n_events: int, seed: int) -> tuple[list[list[int]], list[list[int]]]:
        """Replay this policy through a fresh engine (closed loop): the pages and clicks."""
        engine = Engine.from_config(self.engine_config(seed))
        obs = self.observer(engine)
        source = IterableSource(self.messages(n_events, seed, observer=obs), name=self.name)
        Replay(engine, source, None, sinks=[obs]).run()
        return obs.pages, obs.clicks

    # -- the report -------------------------------------------------------------------------

    def report(self, summary: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
        n, seed = truth["events"], truth["seed"]
        p = np.array([truth["p"][c] for c in ITEMS])
        runs: dict[str, dict[str, Any]] = {}
        for policy in POLICIES:
            if policy == self.policy:
                pages, clicks = _indices(summary["observed"])
            else:
                other = FeedbackLoop(policy, self.epsilon)
                pages, clicks = other.run(n, seed)
            runs[policy] = policy_report(pages, clicks, p, every=max(1, n // 20))
        g, e = runs["greedy"], runs["epsilon"]
        return {
            "scenario": self.name,
            "truth": {k: v for k, v in truth.items() if k != "p"},
            "policy": self.policy,
            **{k: v["final"] for k, v in runs.items()},
            "comparison": {  # epsilon against greedy; coverage of every policy
                "gini_drop": g["final"]["gini"] - e["final"]["gini"],
                "top10_share_drop": g["final"]["top10_share"] - e["final"]["top10_share"],
                "ctr_gain_second_half": e["final"]["ctr_second_half"]
                - g["final"]["ctr_second_half"],
                "expected_ctr_gain_second_half": e["final"]["expected_ctr_second_half"]
                - g["final"]["expected_ctr_second_half"],
                "regret_saved": g["final"]["regret"] - e["final"]["regret"],
                "coverage": {k: v["final"]["coverage"] for k, v in runs.items()},
            },
            "plots": _plots(runs),
        }


def _indices(observed: dict[str, Any]) -> tuple[list[list[int]], list[list[int]]]:
    pages = [[int(c[1:]) for c in page] for page in observed["pages"]]
    clicks = [[int(c[1:]) for c in cl] for cl in observed["clicks"]]
    return pages, clicks


def policy_report(
    pages: list[list[int]], clicks: list[list[int]], p: np.ndarray, every: int
) -> dict[str, Any]:
    """Exposure, click-through rate, regret and coverage of one run, at the end and every
    ``every`` events (cumulative exposure; CTR and regret per window)."""
    n = len(pages)
    oracle = float(np.sort(p)[-K:].sum())
    exposure = np.zeros(len(p))
    timeline: list[dict[str, Any]] = []
    win_imp = win_clk = 0
    win_regret = cum_regret = 0.0
    for t in range(n):
        exposure[pages[t]] += 1
        win_imp += len(pages[t])
        win_clk += len(clicks[t])
        r = oracle - float(p[pages[t]].sum())
        win_regret += r
        cum_regret += r
        if (t + 1) % every == 0 or t == n - 1:
            timeline.append({
                "events": t + 1,
                "gini": gini(exposure),
                "top10_share": top_share(exposure),
                "coverage": int((exposure > 0).sum()),
                "ctr": win_clk / win_imp if win_imp else math.nan,
                "regret_per_event": win_regret / ((t % every) + 1),
                "cumulative_regret": cum_regret,
            })  # fmt: skip
            win_imp = win_clk = 0
            win_regret = 0.0
    half = n // 2
    imp2 = sum(len(pg) for pg in pages[half:])
    clk2 = sum(len(c) for c in clicks[half:])
    final = {
        "gini": gini(exposure),
        "top10_share": top_share(exposure),
        "coverage": int((exposure > 0).sum()),
        "ctr": sum(len(c) for c in clicks) / max(1, sum(len(pg) for pg in pages)),
        "ctr_second_half": clk2 / imp2 if imp2 else math.nan,
        "expected_ctr_second_half": float(np.mean([p[pg].mean() for pg in pages[half:]]))
        if n > half
        else math.nan,
        "regret": cum_regret,
        "regret_per_event_second_half": float(
            np.mean([oracle - p[pg].sum() for pg in pages[half:]])
        )
        if n > half
        else math.nan,
    }
    return {"final": final, "timeline": timeline}


def _plots(runs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Line charts (plain data, for ``--json`` and the HTML report)."""
    xs = [pt["events"] for pt in next(iter(runs.values()))["timeline"]]
    charts = [
        ("gini", "Gini of cumulative item exposure (lower = more even)", "Gini"),
        ("top10_share", "share of impressions on the top 10% items", "share"),
        ("ctr", "click-through rate per window (clicks per impression)", "CTR"),
        ("regret_per_event", "expected regret per event vs the oracle, per window", "clicks"),
        ("coverage", "catalogue coverage (items ever shown)", "items"),
    ]
    return [
        {"title": title, "ytitle": ytitle, "x": xs,
         "series": {k: [pt[key] for pt in v["timeline"]] for k, v in runs.items()}}
        for key, title, ytitle in charts
    ]  # fmt: skip


def feedback_loop_html(result: dict[str, Any]) -> str:
    """The HTML page of a feedback-loop run: the charts of ``report["plots"]`` and a table per
    policy, through :mod:`stream_ml.continual.html` (plotly)."""
    import plotly.graph_objects as go

    from stream_ml.continual.html import page, table_html

    report = result["report"]
    truth = report["truth"]
    blocks: list[Any] = [
        f"<p class='note'>{truth['events']} events, {truth['items']} items, pages of "
        f"{truth['page']}; popular at the start: {', '.join(truth['popular'])}; truly best: "
        f"{', '.join(truth['best'])} (oracle CTR {truth['oracle_ctr']:.4f}).</p>"
    ]
    for chart in report["plots"]:
        fig = go.Figure()
        for name, ys in chart["series"].items():
            fig.add_trace(go.Scatter(x=chart["x"], y=ys, mode="lines", name=name))
        fig.add_vline(x=truth["warmup"], line_dash="dash", line_color="grey",
                      annotation_text="end of launch list")  # fmt: skip
        fig.update_layout(title=chart["title"], xaxis_title="events",
                          yaxis_title=chart["ytitle"], height=420)  # fmt: skip
        blocks.append(fig)
    head = ["policy", "Gini", "top 10% share", "coverage", "CTR", "CTR 2nd half", "regret"]
    rows = [[k, report[k]["gini"], report[k]["top10_share"], report[k]["coverage"],
             report[k]["ctr"], report[k]["ctr_second_half"], report[k]["regret"]]
            for k in POLICIES]  # fmt: skip
    blocks.append(table_html(head, rows, id="feedback-loop"))
    return page("scenario: feedback-loop", blocks)
