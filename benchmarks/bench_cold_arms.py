"""Cold arms under a bandit (issue #13): Thompson over a logistic regression and a Hoeffding tree
with labels 48 events late.

    python benchmarks/bench_cold_arms.py [--seeds 5] [--delay 48] [--window 2000]

Stream: data/weather.csv.gz (18,159 rows, 8 features, binary target), in file order. An
``Engine`` with ``router = ThompsonConfig()`` (defaults) over ``lr`` (StandardScaler |
LogisticRegression) and ``tree`` (HoeffdingTreeClassifier), engine seed = the run's seed; each
row is predicted, and its label is learned ``delay`` rows later (every model learns every
label, as the engine does). Beside the engine, a copy of each model learns the same labels in
the same order and answers every row: that is the accuracy each model would have had serving
everything, and the oracle serves the better of the two over the whole stream.

Reported per seed: each arm's share of the traffic per window of ``window`` rows; the rows
each arm served and answered (a served answer that is not None); whether an arm's share fell to
0 in some window before it had answered 200 times (the issue's goal: it must not); the served
accuracy, each model's serve-everything accuracy, and the regret (correct answers of the oracle
minus those of the router, and per 1,000 rows).
"""

from __future__ import annotations

import argparse
import collections
import copy
import csv
import gzip
import time
from pathlib import Path

from river import linear_model, preprocessing, tree

from stream_ml import Engine
from stream_ml.experiments import ThompsonConfig

DATA = Path(__file__).resolve().parents[1] / "data" / "weather.csv.gz"


def rows() -> list[tuple[dict[str, float], int]]:
    with gzip.open(DATA, "rt") as f:
        return [
            ({k: float(v) for k, v in r.items() if k != "target"}, int(r["target"]))
            for r in csv.DictReader(f)
        ]


def models() -> dict:
    return {
        "lr": preprocessing.StandardScaler() | linear_model.LogisticRegression(),
        "tree": tree.HoeffdingTreeClassifier(),
    }


def run(data: list[tuple[dict[str, float], int]], seed: int, delay: int, window: int) -> dict:
    engine = Engine(models(), router=ThompsonConfig(), metrics=["Accuracy"], seed=seed)
    shadow = {k: copy.deepcopy(m) for k, m in models().items()}
    held: collections.deque = collections.deque()
    served = dict.fromkeys(shadow, 0)
    answered = dict.fromkeys(shadow, 0)
    alone_correct = dict.fromkeys(shadow, 0)
    correct = 0
    shares: list[dict[str, float]] = []
    in_window = dict.fromkeys(shadow, 0)
    collapsed: dict[str, int | None] = dict.fromkeys(shadow)
    for i, (x, y) in enumerate(data):
        p = engine.predict(x, id=str(i))
        served[p.model] += 1
        in_window[p.model] += 1
        if p.y_pred is not None and not p.fallback:
            answered[p.model] += 1
        correct += p.y_pred == y
        for name, m in shadow.items():
            alone_correct[name] += m.predict_one(x) == y
        held.append((str(i), x, y))
        if len(held) > delay:
            pid, hx, hy = held.popleft()
            engine.learn(pid, hy)
            for m in shadow.values():
                m.learn_one(hx, hy)
        if (i + 1) % window == 0:
            shares.append({a: in_window[a] / window for a in in_window})
            for a, c in in_window.items():
                if c == 0 and answered[a] < 200 and collapsed[a] is None:
                    collapsed[a] = i + 1
            in_window = dict.fromkeys(shadow, 0)
    n = len(data)
    best = max(alone_correct, key=alone_correct.__getitem__)
    return {
        "seed": seed,
        "shares": shares,
        "served": served,
        "answered": answered,
        "collapsed": collapsed,
        "accuracy": correct / n,
        "alone": {a: c / n for a, c in alone_correct.items()},
        "oracle": best,
        "regret": alone_correct[best] - correct,
        "per_1000": 1000 * (alone_correct[best] - correct) / n,
        "experiment": engine.summary().get("experiment", {}).get("arms", {}),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--delay", type=int, default=48)
    ap.add_argument("--window", type=int, default=2000)
    a = ap.parse_args()
    t0 = time.perf_counter()
    data = rows()
    out = [run(data, s, a.delay, a.window) for s in range(a.seeds)]
    print(
        f"## Cold arms: Thompson over lr and tree, weather ({len(data)} rows), labels "
        f"{a.delay} rows late, seeds 0-{a.seeds - 1}\n"
    )
    print(
        "| seed | served lr / tree | answered lr / tree | share 0 before 200 answers "
        "| served accuracy | lr alone | tree alone | oracle | regret (answers) | per 1,000 rows |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in out:
        col = ", ".join(f"{k} at row {v}" for k, v in r["collapsed"].items() if v) or "no"
        print(
            f"| {r['seed']} | {r['served']['lr']} / {r['served']['tree']} | "
            f"{r['answered']['lr']} / {r['answered']['tree']} | **{col}** | "
            f"{r['accuracy']:.4f} | {r['alone']['lr']:.4f} | {r['alone']['tree']:.4f} | "
            f"{r['oracle']} | {r['regret']} | **{r['per_1000']:.1f}** |"
        )
    print(f"\nTree's share per window of {a.window} rows:\n")
    print(
        "| seed | "
        + " | ".join(str(a.window * (k + 1)) for k in range(len(out[0]["shares"])))
        + " |"
    )
    print("|---|" + "---|" * len(out[0]["shares"]))
    for r in out:
        print(f"| {r['seed']} | " + " | ".join(f"{s['tree']:.2f}" for s in r["shares"]) + " |")
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
