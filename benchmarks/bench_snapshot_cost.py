"""Throughput cost of snapshotting during a replay, against not snapshotting, in the same run.

An engine with one model replays the weather stream three times over (54,477 events) through
the replay runner, with no snapshots, a snapshot every 10,000 events and every 1,000 events
(SQLite store, signed, synchronous=FULL), alternating runs; the ratio is the median over rounds.

    python benchmarks/bench_snapshot_cost.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
import time
from pathlib import Path

from river import linear_model, preprocessing, tree

from connectors import IterableSource
from stream_ml import Engine
from stream_ml.runtime.replay import Replay
from stream_ml.snapshots import SnapshotPolicy
from stream_ml.stages.snapshotting import SnapshotStage

DATA = Path(__file__).resolve().parents[1] / "data" / "weather.csv.gz"


def messages(repeat: int = 3) -> list[dict]:
    with gzip.open(DATA, "rt") as f:
        header = next(f).strip().split(",")
        rows = [line.strip().split(",") for line in f]
    out = []
    for r in range(repeat):
        for i, v in enumerate(rows):
            id = f"{r}-{i}"
            out.append({"id": id, "features": {h: float(a) for h, a in zip(header, v[:-1])}})
            out.append({"kind": "feedback", "id": id, "label": int(v[-1])})
    return out


def run(make, msgs, every: int | None) -> float:
    engine = Engine({"m": make()})
    stage = None
    if every is not None:
        db = Path(tempfile.mkdtemp()) / "s.db"
        stage = SnapshotStage.open(str(db), key="bench", keep_last=5)
        engine.snapshot_policy = SnapshotPolicy(every_events=every)
    replay = Replay(engine, IterableSource(msgs), snapshots=stage)  # store opened: not timed
    t = time.perf_counter()
    replay.run()
    elapsed = time.perf_counter() - t
    if stage is not None:
        stage.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    msgs = messages()
    n = len(msgs) // 2
    print(f"{n} events (weather x3), {args.rounds} alternating rounds\n")
    print("| model | no snapshots (ev/s) | every 10k: ratio | every 1k: ratio |")
    print("|---|---:|---:|---:|")
    models = {
        "StandardScaler \\| LogisticRegression": lambda: (
            preprocessing.StandardScaler() | linear_model.LogisticRegression()
        ),
        "HoeffdingTreeClassifier": tree.HoeffdingTreeClassifier,
    }
    for name, make in models.items():
        base, r10k, r1k = [], [], []
        for _ in range(args.rounds):
            b = run(make, msgs, None)
            base.append(b)
            r10k.append(b / run(make, msgs, 10_000))
            r1k.append(b / run(make, msgs, 1_000))
        print(
            f"| {name} | {n / min(base):,.0f} | {statistics.median(r10k):.3f} | "
            f"{statistics.median(r1k):.3f} |"
        )


if __name__ == "__main__":
    main()
