"""The cost of update policies: total training time, and the slowest single call.

    python benchmarks/bench_freshness.py [--events 18159] [--model tree|lr]

On the weather stream (data/weather.csv.gz), each policy's ``learn_one`` is timed call by call
outside the engine: total seconds and the ratio to continual learning (same model, same run),
and the median, the 99th percentile and the maximum of one call (on a shared machine the tail
is mostly the scheduler: compare the naive rows' maximum with the amortized ones').

Beside the amortized policies, the naive ones they are equal to
(tests/continual/test_policies.py): a mini-batch that learns its ``k`` buffered labels in one
call, and a retraining that trains a fresh model on the last ``w`` labels in one call. Same
totals (about: the mini-batch copies a model every ``k`` labels), but the naive ones stall the
stream for ``k`` or ``w`` learns at once; the amortized ones never do more than
``ceil(w / k)`` learns in a call (the engine's rule: no call costs more than a few ms).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import time
from typing import Any

import numpy as np
from river import linear_model, preprocessing, tree

from stream_ml.continual.policies import policy_model

MODELS = {
    "tree": lambda: tree.HoeffdingTreeClassifier(),
    "lr": lambda: preprocessing.StandardScaler() | linear_model.LogisticRegression(),
}


class NaiveEvery:
    """Buffer ``k`` labels, learn them in one call."""

    def __init__(self, model: Any, k: int) -> None:
        self.model, self.k, self.buffer = model, k, []

    def learn_one(self, x: dict, y: Any) -> None:
        self.buffer.append((x, y))
        if len(self.buffer) == self.k:
            for bx, by in self.buffer:
                self.model.learn_one(bx, by)
            self.buffer.clear()


class NaiveStateless:
    """Every ``k`` labels, train a fresh model on the last ``w`` labels, in one call."""

    def __init__(self, model: Any, w: int, k: int) -> None:
        self.template, self.w, self.k, self.seen = model.clone(), w, k, []
        self.model = model

    def learn_one(self, x: dict, y: Any) -> None:
        self.seen.append((x, y))
        if len(self.seen) > self.w:
            del self.seen[0]
        self.n = getattr(self, "n", 0) + 1
        if self.n % self.k == 0:
            self.model = self.template.clone()
            for bx, by in self.seen:
                self.model.learn_one(bx, by)


def _rows(n: int) -> list[tuple[dict, int]]:
    with gzip.open("data/weather.csv.gz", "rt") as f:
        rows = [r for _, r in zip(range(n), csv.DictReader(f))]
    return [({k: float(v) for k, v in r.items() if k != "target"}, int(r["target"])) for r in rows]


def _time(model: Any, rows: list[tuple[dict, int]]) -> np.ndarray:
    clock, out = time.perf_counter, np.empty(len(rows))
    for i, (x, y) in enumerate(rows):
        t0 = clock()
        model.learn_one(x, y)
        out[i] = clock() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=18_159)
    ap.add_argument("--model", choices=sorted(MODELS), default="tree")
    args = ap.parse_args()
    rows, make = _rows(args.events), MODELS[args.model]
    runs: list[tuple[str, Any]] = [
        ("bare model (no policy)", make()),
        ("continual", policy_model(make(), "continual")),
        ("every:100", policy_model(make(), "every:100")),
        ("every:1000", policy_model(make(), "every:1000")),
        ("naive every:1000 (one call)", NaiveEvery(make(), 1000)),
        ("frozen:1000", policy_model(make(), "frozen:1000")),
        ("stateless:1000:100", policy_model(make(), "stateless:1000:100")),
        ("naive stateless:1000:100 (one call)", NaiveStateless(make(), 1000, 100)),
    ]
    times = {name: _time(model, rows) for name, model in runs}
    base = times["continual"].sum()
    print(f"weather stream, {len(rows)} labels, model {args.model}")
    print(f"{'policy':<38}{'total s':>9}{'x continual':>13}{'p50 us':>9}{'p99 us':>10}"
          f"{'max ms':>9}")  # fmt: skip
    for name, t in times.items():
        print(f"{name:<38}{t.sum():>9.3f}{t.sum() / base:>13.2f}{np.median(t) * 1e6:>9.1f}"
              f"{np.percentile(t, 99) * 1e6:>10.1f}{t.max() * 1e3:>9.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
