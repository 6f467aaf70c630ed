"""Engine vs a raw River loop on the same materialized events, alternating runs in one process.

The raw loops are ``predict_one`` then ``learn_one`` ("raw"), and the same with River's
``Accuracy`` updated in between ("raw + Accuracy", the same work as the scored engine). The
engine runs one model and nothing else (no feature stage, no router, no sinks) through
``Engine.predict`` then ``Engine.learn`` (the label joined by id), first with no metric
("bare", against "raw"), then with Accuracy scored prequentially (against "raw + Accuracy").

    python benchmarks/bench_engine.py [--events 18159] [--rounds 7]

Prints a markdown table: throughput of each and the ratio engine / raw (median over rounds of
the per-round ratio; each round runs raw, bare and scored back to back).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import statistics
import time
from pathlib import Path

from river import linear_model, preprocessing, tree

from stream_ml import Engine

DATA = Path(__file__).resolve().parents[1] / "data" / "weather.csv.gz"


def load(n: int) -> list[tuple[dict, int]]:
    with gzip.open(DATA, "rt") as f:
        header = next(f).strip().split(",")
        rows = []
        for line in f:
            vals = line.strip().split(",")
            x = {h: float(v) for h, v in zip(header[:-1], vals[:-1])}
            rows.append((x, int(vals[-1])))
    while len(rows) < n:
        rows += rows
    return rows[:n]


MODELS = {
    "StandardScaler \\| LogisticRegression": lambda: (
        preprocessing.StandardScaler() | linear_model.LogisticRegression()
    ),
    "HoeffdingTreeClassifier": tree.HoeffdingTreeClassifier,
}


def raw_loop(make, data):
    model = make()
    predict, learn = model.predict_one, model.learn_one
    gc.collect()
    t = time.perf_counter()
    for x, y in data:
        predict(x)
        learn(x, y)
    return time.perf_counter() - t


def raw_scored_loop(make, data):
    from river import metrics

    model, acc = make(), metrics.Accuracy()
    predict, learn, update = model.predict_one, model.learn_one, acc.update
    gc.collect()
    t = time.perf_counter()
    for x, y in data:
        update(y, predict(x))
        learn(x, y)
    return time.perf_counter() - t


def engine_loop(make, data, metrics):
    engine = Engine(models={"m": make()}, metrics=metrics)
    predict, learn = engine.predict, engine.learn
    gc.collect()
    t = time.perf_counter()
    for x, y in data:
        p = predict(x)
        learn(p.id, y)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=18159)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    data = load(args.events)
    n = len(data)
    print(f"{n} events (weather stream), {args.rounds} alternating rounds\n")
    print(
        "| model | raw (ev/s) | engine bare (ev/s) | ratio bare | raw + Accuracy (ev/s) | "
        "engine + Accuracy (ev/s) | ratio + Accuracy |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, make in MODELS.items():
        raw, bare, raw_s, scored = [], [], [], []
        for _ in range(args.rounds):
            raw.append(raw_loop(make, data))
            bare.append(engine_loop(make, data, []))
            raw_s.append(raw_scored_loop(make, data))
            scored.append(engine_loop(make, data, ["Accuracy"]))
        r_bare = statistics.median(r / b for r, b in zip(raw, bare))
        r_scored = statistics.median(r / s for r, s in zip(raw_s, scored))
        print(
            f"| {name} | {n / min(raw):,.0f} | {n / min(bare):,.0f} | {r_bare:.3f} | "
            f"{n / min(raw_s):,.0f} | {n / min(scored):,.0f} | {r_scored:.3f} |"
        )


if __name__ == "__main__":
    main()
