"""Why a snapshot costs more than its own write: CPython 3.11 slows an object's attribute access
once its ``__dict__`` has been materialized, and pickling (or unpickling) materializes it.

An engine (StandardScaler | LogisticRegression, or a Hoeffding tree) processes the weather stream
three times over; after 10,000 events it is either left alone or pickled once
(``pickle.dumps(engine)``, what a snapshot does). Reported: seconds per 5,000 events after that
point, pickled / untouched, median over rounds (a ratio above 1 is the lasting slowdown). The same
for an engine restored from a pickle against a fresh one fed the same events.

Usage: python benchmarks/bench_pickle_deopt.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from river import linear_model, preprocessing, tree

from benchmarks.bench_snapshot_cost import messages
from stream_ml import Engine

MODELS = {
    "StandardScaler \\| LogisticRegression": lambda: (
        preprocessing.StandardScaler() | linear_model.LogisticRegression()
    ),
    "HoeffdingTreeClassifier": tree.HoeffdingTreeClassifier,
}


def after(make, msgs: list[dict], action: str) -> float:
    """Seconds for the messages after the first 20,000 (10,000 events)."""
    engine = Engine({"m": make()})
    head, tail = msgs[:20_000], msgs[20_000:]
    for m in head:
        engine.process(m)
    if action == "pickled":
        pickle.dumps(engine, protocol=pickle.HIGHEST_PROTOCOL)
    elif action == "restored":
        engine = pickle.loads(pickle.dumps(engine, protocol=pickle.HIGHEST_PROTOCOL))
    t = time.perf_counter()
    for m in tail:
        engine.process(m)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    msgs = messages()
    print(f"Python {sys.version.split()[0]}, {len(msgs) // 2 - 10_000} events timed\n")
    print("| model | pickled / untouched | restored / untouched |")
    print("|---|---:|---:|")
    for name, make in MODELS.items():
        pick, rest = [], []
        for _ in range(args.rounds):
            base = after(make, msgs, "untouched")
            pick.append(after(make, msgs, "pickled") / base)
            rest.append(after(make, msgs, "restored") / base)
        print(f"| {name} | {statistics.median(pick):.3f} | {statistics.median(rest):.3f} |")


if __name__ == "__main__":
    main()
