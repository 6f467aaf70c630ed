"""The engine's own cost per event.

    python benchmarks/bench_engine_overhead.py [--events 100000]
    python benchmarks/bench_engine_overhead.py --alternate [--passes 5] [--against REV]

Default: a model that does nothing, timed call by call. Prints ns per event spent in
``Engine.predict`` and ``Engine.learn`` (timer cost subtracted) beside what the same model and
River's ``Accuracy`` cost alone: the difference is the engine.

``--alternate``: the issue's goal, measured the only way this shared machine allows. On the real
weather stream (18,159 events), a raw River loop (``predict_proba_one`` -> argmax,
``Accuracy.update``, ``learn_one``) and the engine with one model and its default Accuracy
(``Engine.predict`` then ``Engine.learn`` by id), each with its own model, run in turns of 50
events (the order flips every chunk); ``time.process_time`` is summed per side over the whole
stream. Each pass starts fresh models; the ratio raw / engine is printed as the median over the
passes with its range. Also the bare engine (no metric) against the same raw loop, and with
``--against REV`` the engine of git revision ``REV`` (its ``engine.py`` and
``evaluation/prequential.py``, loaded beside this tree's) in the same alternation, so before and
after are measured in one process on the same events.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

from river import base, linear_model, preprocessing, tree
from river import metrics as river_metrics

from stream_ml import Engine

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "weather.csv.gz"
MODELS = {
    "StandardScaler \\| LogisticRegression": lambda: (
        preprocessing.StandardScaler() | linear_model.LogisticRegression()
    ),
    "HoeffdingTreeClassifier": tree.HoeffdingTreeClassifier,
}


class Idle(base.Classifier):
    """A classifier that learns nothing and always answers the same probabilities."""

    def learn_one(self, x: dict, y: object) -> None:
        pass

    def predict_proba_one(self, x: dict) -> dict:
        return {True: 0.6, False: 0.4}


def idle(n: int) -> None:
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


def load() -> list[tuple[dict, int]]:
    with gzip.open(DATA, "rt") as f:
        header = next(f).strip().split(",")
        rows = []
        for line in f:
            vals = line.strip().split(",")
            rows.append(({h: float(v) for h, v in zip(header[:-1], vals[:-1])}, int(vals[-1])))
    return rows


def raw_side(make):
    model, acc = make(), river_metrics.Accuracy()
    proba_one, learn_one, update = model.predict_proba_one, model.learn_one, acc.update

    def run(part):
        for x, y in part:
            p = proba_one(x)
            if p:  # River's progressive_val_score skips an empty answer, so does the engine
                update(y, max(p, key=p.get))
            learn_one(x, y)

    return run


def engine_side(engine_cls, metrics, prequential_cls=None):
    def make_side(make):
        engine = engine_cls({"m": make()}, metrics=metrics)
        if prequential_cls is not None:  # the old revision's Prequential in the old engine
            engine.slots[0].prequential = prequential_cls(metrics, is_classifier=True)
        predict, learn = engine.predict, engine.learn

        def run(part):
            for x, y in part:
                learn(predict(x).id, y)

        return run

    return make_side


def old_engine(rev: str):
    """``Engine`` and ``Prequential`` of git revision ``rev``, as modules beside this tree's."""
    out = []
    for path in ("stream_ml/evaluation/prequential.py", "stream_ml/engine.py"):
        src = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{rev}:{path}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        name = "_old_" + path.replace("/", "_")[:-3]
        mod = types.ModuleType(name)
        sys.modules[name] = mod
        exec(compile(src, f"{rev}:{path}", "exec"), mod.__dict__)
        out.append(mod)
    return out[1].Engine, out[0].Prequential


def alternate(passes: int, chunk: int, against: str | None) -> None:
    data = load()
    n = len(data)
    sides = {
        "raw": raw_side,
        "engine": engine_side(Engine, ["Accuracy"]),
        "engine bare": engine_side(Engine, []),
    }
    if against:
        old, old_pq = old_engine(against)
        sides[f"engine @{against}"] = engine_side(old, ["Accuracy"], old_pq)
    pt = time.process_time
    print(f"{n} events (weather stream), {passes} passes, chunks of {chunk} events alternated\n")
    print("| model | side | raw / side (median) | range | side - raw (us/event) |")
    print("|---|---|---:|---:|---:|")
    for name, make in MODELS.items():
        times: dict[str, list[float]] = {k: [] for k in sides}
        for _ in range(passes):
            runs = {k: f(make) for k, f in sides.items()}
            total = dict.fromkeys(runs, 0.0)
            keys = list(runs)
            gc.collect()
            for c, i in enumerate(range(0, n, chunk)):
                part = data[i : i + chunk]
                for k in keys if c % 2 == 0 else keys[::-1]:
                    t0 = pt()
                    runs[k](part)
                    total[k] += pt() - t0
            for k in keys:
                times[k].append(total[k])
        raw = times["raw"]
        for k in list(sides)[1:]:
            ratios = [r / t for r, t in zip(raw, times[k])]
            extra = statistics.median((t - r) / n * 1e6 for r, t in zip(raw, times[k]))
            print(
                f"| {name} | {k} | {statistics.median(ratios):.3f} | "
                f"{min(ratios):.3f}-{max(ratios):.3f} | {extra:+.2f} |"
            )
        print(f"| {name} | raw | 1 | | ({statistics.median(raw) / n * 1e6:.2f} us/event) |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000, help="events of the idle run")
    ap.add_argument("--alternate", action="store_true", help="raw loop vs engine, alternated")
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--chunk", type=int, default=50)
    ap.add_argument("--against", help="also alternate the engine of this git revision")
    args = ap.parse_args()
    if args.alternate:
        alternate(args.passes, args.chunk, args.against)
    else:
        idle(args.events)


if __name__ == "__main__":
    main()
