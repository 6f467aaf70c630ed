"""Drift actions against a plain reset (issue #16): accuracy per stream.

Four runs on the same messages (observations and delayed labels, in arrival order), all with a
Hoeffding tree and ADWIN (River's defaults) on its 0/1 errors:

* ``control``: the 10-line River loop without any action;
* ``reset (River)``: the same loop that replaces the tree by a fresh one on every ADWIN alarm;
* ``engine reset``: the engine, ``action = "reset"``;
* ``engine challenger``: the engine, ``action = "challenger"`` with its defaults (several
  challengers, promotion on a paired comparison over the same recent labels).

Accuracy is that of the answer served, against its label, over every labelled event (no answer
counts as wrong), the same rule for the four. Streams: the weather stream bundled in ``data/``
(labels at once), the concept-drift scenarios ``drift-abrupt``, ``drift-gradual``,
``drift-recurring`` (labels ~10 events late) and ``sea-drift`` (labels ~50 late), seeds 0..N-1.

Run: ``python benchmarks/bench_actions.py [--seeds 3] [--only weather,drift-abrupt]``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import statistics
import time
from pathlib import Path
from typing import Any

from river import drift, tree

from scenarios.drift_suite import DriftAbrupt, DriftGradual, DriftRecurring
from scenarios.sea_drift import SeaDrift
from stream_ml import Engine
from stream_ml.config import parse_config

ROOT = Path(__file__).resolve().parents[1]


def weather_messages() -> list[dict[str, Any]]:
    """The weather stream, each label right after its prediction."""
    out: list[dict[str, Any]] = []
    with gzip.open(ROOT / "data" / "weather.csv.gz", "rt") as f:
        for i, row in enumerate(csv.DictReader(f)):
            y = int(row.pop("target"))
            x = {k: float(v) for k, v in row.items()}
            out.append({"kind": "observation", "id": f"e{i}", "features": x})
            out.append({"kind": "feedback", "id": f"e{i}", "label": y})
    return out


def river_loop(messages: list[dict[str, Any]], reset: bool) -> tuple[float, int]:
    """The plain River loop (accuracy, resets)."""
    model, adwin = tree.HoeffdingTreeClassifier(), drift.ADWIN()
    pending: dict[str, Any] = {}
    right = n = resets = 0
    for m in messages:
        if m["kind"] == "observation":
            pending[m["id"]] = (m["features"], model.predict_one(m["features"]))
            continue
        x, y_pred = pending.pop(m["id"])
        y = m["label"]
        right += y_pred == y
        n += 1
        model.learn_one(x, y)
        if reset and y_pred is not None:
            adwin.update(float(y_pred != y))
            if adwin.drift_detected:
                model, resets = tree.HoeffdingTreeClassifier(), resets + 1
    return right / n, resets


def engine_run(messages: list[dict[str, Any]], action: str) -> tuple[float, dict[str, int]]:
    """The engine with one ADWIN error monitor and ``action`` (accuracy, record counts)."""
    cfg = parse_config({
        "models": {"model": {"model": "tree.HoeffdingTreeClassifier()"}},
        "drift": [{"on": "error", "detector": {"kind": "adwin"}, "action": action}],
    })  # fmt: skip
    engine = Engine.from_config(cfg)
    served: dict[str, Any] = {}
    right = n = 0
    counts: dict[str, int] = {}
    for m in messages:
        out = engine.process(m)
        if m["kind"] == "observation":
            served[m["id"]] = out.y_pred
        else:
            right += served.pop(m["id"]) == m["label"]
            n += 1
        for r in engine.take_outbox():
            if isinstance(r, dict):
                counts[r["kind"]] = counts.get(r["kind"], 0) + 1
    return right / n, counts


def streams(seeds: int, only: set[str] | None):
    if only is None or "weather" in only:
        yield "weather", 0, weather_messages()
    for sc in (DriftAbrupt(), DriftGradual(), DriftRecurring(), SeaDrift()):
        if only is not None and sc.name not in only:
            continue
        for seed in range(seeds):
            yield sc.name, seed, list(sc.messages(sc.default_events, seed))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--only", default=None, help="comma-separated stream names")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None
    rows: dict[str, list[tuple[float, float, float, float]]] = {}
    head = f"{'stream':16} {'seed':>4} {'control':>8} {'reset(River)':>12} {'eng reset':>9} "
    print(head + f"{'eng challenger':>14}  challenger records")
    t0 = time.perf_counter()
    for name, seed, msgs in streams(args.seeds, only):
        control, _ = river_loop(msgs, reset=False)
        reset, n_resets = river_loop(msgs, reset=True)
        e_reset, _ = engine_run(msgs, "reset")
        e_chal, counts = engine_run(msgs, "challenger")
        rows.setdefault(name, []).append((control, reset, e_reset, e_chal))
        rec = f"{counts.get('challenger', 0)} started, {counts.get('promotion', 0)} promoted"
        print(f"{name:16} {seed:>4} {control:8.4f} {reset:8.4f} ({n_resets:>2}) {e_reset:9.4f} "
              f"{e_chal:14.4f}  {rec}", flush=True)  # fmt: skip
    print()
    print(f"{'mean over seeds':21} {'control':>8} {'reset(River)':>12} {'eng reset':>9} "
          f"{'eng challenger':>14} {'chal-reset':>10} {'chal-control':>12}")  # fmt: skip
    for name, rs in rows.items():
        c, r, er, ec = (statistics.fmean(v[i] for v in rs) for i in range(4))
        print(f"{name:16} ({len(rs)}) {c:8.4f} {r:12.4f} {er:9.4f} {ec:14.4f} "
              f"{ec - r:+10.4f} {ec - c:+12.4f}")  # fmt: skip
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
