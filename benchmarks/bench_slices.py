"""The per-label cost of slices (and of the ECE monitor) on the weather stream.

    python benchmarks/bench_slices.py [--events 18159] [--chunk 50]

Engines that differ only by ``slices`` / ``ece_alarm`` replay the same weather days (predict,
then its label at once), in chunked alternation in one process: engine A 50 events, engine B
the same 50 events, ..., so that machine load falls on every variant alike. Each
``Engine.learn`` call is timed (timer cost subtracted); the table gives ns per label (the
median over chunks, robust to load spikes, and the mean, which carries the checks every
``check_every`` labels) and the ratio to the engine without slices. Two models: the quick
start's logistic regression, and an idle classifier (learns nothing) where the engine's own cost
is all there is.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import statistics
import time
from pathlib import Path

from river import base, linear_model, preprocessing

from stream_ml import Engine

WEATHER = Path(__file__).resolve().parents[1] / "data" / "weather.csv.gz"


class Idle(base.Classifier):
    def learn_one(self, x: dict, y: object) -> None:
        pass

    def predict_proba_one(self, x: dict) -> dict:
        return {1: 0.6, 0: 0.4}


VARIANTS = {
    "off": {},
    "1 dimension (feat_1 bins)": {"slices": {"by": ["feat_1:35,53,70"]}},
    "2 dimensions (feat_1, feat_2 bins)": {"slices": {"by": ["feat_1:35,53,70", "feat_2:29,52"]}},
    "1 dimension + ECE monitor": {"slices": {"by": ["feat_1:35,53,70"]}, "ece_alarm": 0.1},
    # every distinct reading of feat_1 is a slice: 974 values, 20 tracked, the rest in other
    "1 dimension, 974 values (feat_1 raw)": {"slices": {"by": ["feat_1"]}},
}


def rows(limit: int) -> list[tuple[dict, int]]:
    out = []
    with gzip.open(WEATHER, "rt") as f:
        for i, row in enumerate(csv.DictReader(f)):
            if i >= limit:
                break
            y = int(row.pop("target"))
            out.append(({k: float(v) for k, v in row.items()}, y))
    return out


def bench(make, data, chunk: int, timer: float) -> dict[str, tuple[float, float]]:
    """Per variant: (median over chunks, mean) of ns per label; the variants take turns on
    each chunk, in an order rotated from one chunk to the next."""
    engines = {name: Engine({"m": make()}, **kw) for name, kw in VARIANTS.items()}
    names = list(engines)
    per_chunk: dict[str, list[float]] = {name: [] for name in names}
    clock = time.perf_counter
    for j, start in enumerate(range(0, len(data), chunk)):
        part = data[start : start + chunk]
        for name in names[j % len(names) :] + names[: j % len(names)]:
            engine = engines[name]
            predict, learn, t = engine.predict, engine.learn, 0.0
            for i, (x, y) in enumerate(part, start):
                p = predict(x, id=str(i))
                a = clock()
                learn(p.id, y)
                t += clock() - a
            per_chunk[name].append((t / len(part) - timer) * 1e9)
    return {n: (statistics.median(v), statistics.fmean(v)) for n, v in per_chunk.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=18_159)
    ap.add_argument("--chunk", type=int, default=50)
    args = ap.parse_args()
    data = rows(args.events)
    clock = time.perf_counter
    t0 = clock()
    for _ in range(100_000):
        clock()
    timer = (clock() - t0) / 100_000
    models = {
        "StandardScaler, LogisticRegression": lambda: (
            preprocessing.StandardScaler() | linear_model.LogisticRegression()
        ),
        "idle classifier": Idle,
    }
    print(f"{len(data)} weather days, chunks of {args.chunk}, Engine.learn per label")
    print()
    print("| model | slices | ns per label (median of chunks) | mean | ratio to off (median) |")
    print("|---|---|---:|---:|---:|")
    for label, make in models.items():
        ns = bench(make, data, args.chunk, timer)
        off = ns["off"][0]
        for name, (med, mean) in ns.items():
            print(f"| {label} | {name} | {med:,.0f} | {mean:,.0f} | {med / off:.3f} |")


if __name__ == "__main__":
    main()
