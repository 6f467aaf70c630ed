"""Freshness experiments: what updating a model more or less often buys, on one stream.

One engine, one replay: every model of a config is put under every update policy
(:mod:`stream_ml.continual.policies`), each pair in its own engine slot named
``MODEL@POLICY``. The engine's own label join and prequential evaluation score them all on the
same events, features and labels (no second evaluation loop), and the replay's timeline records
their rolling metrics over time. The report gives, per slot, the final metrics, the gap to the
same model under continual learning, stateless retraining against the stateful mini-batch of the
same period, the rolling metric after each known drift point, and the cost of training
(``updates``: inner ``learn_one`` calls; ``seconds``: wall time in ``learn_one``).

What the freshness engine leaves out of the config: the router (every policy must answer every
event), the drift monitors (they name the config's models), snapshots and sinks.

Examples
--------
>>> report = run_freshness_scenario("drift-abrupt", events=1200, seed=1,
...     policies=["continual", "frozen:300"], models={"lr": LR})
>>> [row["slot"] for row in report.rows]
['lr@continual', 'lr@frozen_300']
>>> report.rows[1]["updates"], report.drift_points
(300, [600])
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stream_ml.config import EngineConfig, load_config
from stream_ml.continual.policies import PolicyModel, parse_policy, policy_model
from stream_ml.engine import Engine
from stream_ml.errors import ConfigError
from stream_ml.evaluation.prequential import build_metric
from stream_ml.models.expr import parse_model
from stream_ml.runtime.replay import Progress, Replay

__all__ = ["DEFAULT_POLICIES", "LR", "FreshnessReport", "freshness_engine", "run_freshness",
           "run_freshness_scenario"]  # fmt: skip

#: the policies of a freshness run unless told otherwise
DEFAULT_POLICIES = ("continual", "every:100", "every:1000", "frozen:1000", "stateless:1000:100")
LR = "preprocessing.StandardScaler() | linear_model.LogisticRegression()"
SEP = "@"


@dataclass
class FreshnessReport:
    """What a freshness run found (see the module docstring); ``to_dict()`` for JSON."""

    name: str
    metrics: list[str]
    bigger_is_better: dict[str, bool]
    window: int
    events: int
    labels: int
    rows: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    drift_points: list[int] = field(default_factory=list)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "source": self.source, "metrics": self.metrics,
            "bigger_is_better": self.bigger_is_better, "window": self.window,
            "events": self.events, "labels": self.labels, "drift_points": self.drift_points,
            "rows": self.rows, "timeline": self.timeline,
        }  # fmt: skip

    def row(self, slot: str) -> dict[str, Any]:
        """The row of one slot (``MODEL@POLICY``)."""
        for r in self.rows:
            if r["slot"] == slot:
                return r
        raise KeyError(slot)

    def series(self, slot: str, metric: str | None = None) -> tuple[list[int], list[Any]]:
        """``(events, rolling values)`` of one slot's metric over time (``None`` before the
        slot's first answer)."""
        metric = metric or self.metrics[0]
        xs = [p["events"] for p in self.timeline]
        return xs, [p["models"][slot][metric] for p in self.timeline]

    def timeline_index(self, events: int) -> int:
        """The index of the last timeline point at or before ``events`` (0 if none)."""
        idx = [i for i, p in enumerate(self.timeline) if p["events"] <= events]
        return idx[-1] if idx else 0

    def markdown(self, *, seconds: bool = True) -> str:
        """The report as a Markdown table (one row per slot); ``seconds=False`` leaves the wall
        time out (for output that must not change from run to run).

        ``no answer``: predictions the served model had no answer for (an empty Hoeffding tree);
        the metrics skip them (River's rule), so a policy that serves an untrained tree for long
        is scored on fewer, later events than continual learning: compare the rolling values
        then."""
        m = self.metrics[0]
        head = [
            "model",
            "policy",
            "no answer",
            m,
            "gap to continual",
            f"rolling {m}",
            "rolling gap",
            "updates",
            "publishes",
        ]
        if self.drift_points:
            head.insert(7, f"rolling {m} after drift")
        if seconds:
            head.append("learn s")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            cells = [r["model"], r["policy"], str(r["unanswered"]), _num(r["metrics"][m]),
                     _num(r["gap"][m], sign=True),
                     _num(r["rolling"][m]), _num(r["rolling_gap"][m], sign=True),
                     str(r["updates"]), str(r["publishes"])]  # fmt: skip
            if self.drift_points:
                after = [a[m] for a in r["after_drift"]]
                cells.insert(7, " / ".join(_num(a) for a in after))
            if seconds:
                cells.append(f"{r['seconds']:.2f}")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _num(v: Any, sign: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:+.4f}" if sign else f"{v:.4f}"


def freshness_engine(
    config: EngineConfig,
    policies: Sequence[Any] = DEFAULT_POLICIES,
    models: Mapping[str, str] | None = None,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> Engine:
    """An engine with one slot per (model, policy): the config's models (or ``models``, name
    to River expression) under each policy, its metrics, window, label bounds, seed and feature
    stage; no router, drift monitors or snapshots."""
    parsed = [parse_policy(p) for p in policies]
    names = [p.name for p in parsed]
    if not parsed:
        raise ConfigError("a freshness run needs at least one policy")
    if len(set(names)) != len(names):
        raise ConfigError(f"policies repeat a name: {names}")
    exprs = dict(models) if models is not None else {n: m.model for n, m in config.models.items()}
    slots: dict[str, Any] = {}
    for model, expr in exprs.items():
        for p in parsed:
            slots[f"{model}{SEP}{p.name}"] = policy_model(parse_model(expr), p, clock)
    features = None
    if config.features is not None:
        from stream_ml.features import FeatureSet

        features = FeatureSet.from_config(config.features)
    return Engine(
        slots,
        metrics=config.evaluation.metrics,
        window=config.evaluation.window,
        max_pending=config.labels.max_pending,
        label_ttl=config.labels.ttl,
        seed=config.seed,
        name=f"{config.name}-freshness",
        features=features,
    )


def run_freshness(
    config: EngineConfig | str,
    *,
    policies: Sequence[Any] = DEFAULT_POLICIES,
    models: Mapping[str, str] | None = None,
    limit: int | None = None,
    points: int = 50,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> FreshnessReport:
    """Replay a config's source once with every model under every policy.

    ``limit`` reads at most that many records; ``points`` is about how many times the rolling
    metrics are recorded over the run.
    """
    from stream_ml.runtime.build import build_source

    cfg = load_config(config) if isinstance(config, str) else config
    if cfg.source is None:
        raise ConfigError("the config has no [source]: nothing to replay")
    engine = freshness_engine(cfg, policies, models, clock=clock)
    source, decoder = build_source(cfg.source)
    n = limit or getattr(cfg.source, "limit", None)
    if n is None and hasattr(source, "column"):
        n = sum(1 for _ in source.column(source.columns[0]))
    every = max(1, (n or 10_000) // points)
    replay = Replay(engine, source, decoder, delay=cfg.evaluation.delay, progress=progress,
                    timeline_every=every)  # fmt: skip
    summary = replay.run(limit=limit)
    where = getattr(cfg.source, "path", None) or getattr(cfg.source, "dataset", "")
    return _report(cfg.name, str(where), engine, summary, [])


def run_freshness_scenario(
    scenario: Any,
    *,
    events: int | None = None,
    seed: int = 0,
    policies: Sequence[Any] = DEFAULT_POLICIES,
    models: Mapping[str, str] | None = None,
    points: int = 50,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> FreshnessReport:
    """The same on a simulated scenario (a name or an object): its messages, its engine's
    models and metrics, and its true drift points in the report."""
    import scenarios
    from connectors import IterableSource

    sc = scenarios.get(scenario) if isinstance(scenario, str) else scenario
    n = events or sc.default_events
    cfg = sc.engine_config(seed)
    engine = freshness_engine(cfg, policies, models, clock=clock)
    source = IterableSource(sc.messages(n, seed), name=sc.name)
    replay = Replay(engine, source, None, progress=progress, timeline_every=max(1, n // points))
    summary = replay.run()
    truth = sc.ground_truth(n, seed)
    return _report(sc.name, f"scenario {sc.name} (seed {seed})", engine, summary,
                   list(truth.get("drift_points", [])))  # fmt: skip


def _report(name: str, source: str, engine: Engine, summary: dict[str, Any],
            drift_points: list[int]) -> FreshnessReport:  # fmt: skip
    names = list(engine.slots[0].prequential.names)
    better = {m: bool(build_metric(m).bigger_is_better) for m in names}
    window = engine.slots[0].prequential.window
    timeline = _answered(summary.get("timeline", []), engine)
    models = summary["models"]
    rows = []
    for slot in engine.slots:
        model, _, policy = slot.name.partition(SEP)
        wrapper: PolicyModel = slot.model
        m = models[slot.name]
        rows.append({"slot": slot.name, "model": model, "policy": policy,
                     "kind": wrapper.policy.kind, "metrics": m["metrics"],
                     "rolling": m["rolling"], "scored": m["scored"], **wrapper.cost(),
                     "after_drift": [_after(timeline, slot.name, names, p, window, drift_points)
                                     for p in drift_points]})  # fmt: skip
    by_slot = {r["slot"]: r for r in rows}
    for r in rows:
        base = by_slot.get(f"{r['model']}{SEP}continual")
        r["gap"] = _gap(r, base, names)
        r["rolling_gap"] = _gap(r, base, names, "rolling")
        peer = None
        if r["kind"] == "stateless":
            k = r["policy"].rsplit("_k", 1)[1]
            peer = by_slot.get(f"{r['model']}{SEP}every_{k}") or base
        r["stateful_peer"] = None if peer is None else peer["policy"]
        r["gap_to_stateful"] = None if peer is None else _gap(r, peer, names)
    return FreshnessReport(name, names, better, window, summary["events"], engine.n_labels,
                           rows, timeline, drift_points, source)  # fmt: skip


def _answered(timeline: list[dict[str, Any]], engine: Engine) -> list[dict[str, Any]]:
    """The timeline with ``None`` where a slot had not answered yet: a rolling metric over no
    scored prediction reads 0 (an empty tree served by ``every:10000``), which is no value."""
    first = {s.name: s.model.first_answer for s in engine.slots}
    out = []
    for point in timeline:
        models = {}
        for name, values in point["models"].items():
            f = first.get(name)
            blank = f is None or point["events"] <= f
            models[name] = dict.fromkeys(values) if blank else values
        out.append({**point, "models": models})
    return out


def _gap(row: dict[str, Any], base: dict[str, Any] | None, names: list[str],
         which: str = "metrics") -> dict[str, float | None]:  # fmt: skip
    if base is None:
        return dict.fromkeys(names)
    return {m: row[which][m] - base[which][m] for m in names}


def _after(timeline: list[dict[str, Any]], slot: str, names: list[str], point: int, window: int,
           points: list[int]) -> dict[str, float]:  # fmt: skip
    """Mean rolling value from one window after ``point`` (the window then holds only events
    after it) to the next drift point: what the policy settles at under the new concept."""
    nxt = min([p for p in points if p > point], default=math.inf)
    values = [t["models"][slot] for t in timeline if point + window <= t["events"] < nxt]
    out = {}
    for m in names:
        vs = [v[m] for v in values if v[m] is not None]
        out[m] = sum(vs) / len(vs) if vs else math.nan
    return out
