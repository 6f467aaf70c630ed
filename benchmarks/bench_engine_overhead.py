"""The engine's own cost per event: a model that does nothing, timed call by call.

    python benchmarks/bench_engine_overhead.py [--events 100000]

Prints ns per event spent in ``Engine.predict`` and ``Engine.learn`` (timer cost subtracted)
beside what the same model and River's ``Accuracy`` cost alone: the difference is the engine.
"""

from __future__ import annotations

import argparse
import time

from river import base
from river import metrics as river_metrics

from stream_ml import Engine


class Idle(base.Classifier):
    """A classifier that learns nothing and always answers the same probabilities."""

    def learn_one(self, x: dict, y: object) -> None:
        pass

    def predict_proba_one(self, x: dict) -> dict:
        return {True: 0.6, False: 0.4}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    n = ap.parse_args().events
    xs = [{"a": float(i)} for i in range(n)]
    clock = time.perf_counter
    t0 = clock()
    for _ in xs:
        clock()
    timer = (clock() - t0) / n
    engine = Engine({"m": Idle()}, metrics=["Accuracy"])
    predict, learn = engine.predict, engine.learn
    tp = tl = 0.0
    for x in xs:
        a = clock()
        p = predict(x)
        b = clock()
        learn(p.id, True)
        tl += clock() - b
        tp += b - a
    model, acc = Idle(), river_metrics.Accuracy()
    t0 = clock()
    for x in xs:
        acc.update(True, model.predict_one(x))
        model.learn_one(x, True)
    alone = (clock() - t0) / n
    pred_ns, learn_ns = (tp / n - timer) * 1e9, (tl / n - timer) * 1e9
    print("| Engine.predict (ns) | Engine.learn (ns) | model + Accuracy alone (ns) | engine (ns) |")
    print("|---:|---:|---:|---:|")
    print(f"| {pred_ns:.0f} | {learn_ns:.0f} | {alone * 1e9:.0f} | "
          f"{pred_ns + learn_ns - alone * 1e9:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
