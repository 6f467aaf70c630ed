"""Snapshot cost: SnapshotStore.save / load against raw pickle + a plain sqlite3 insert.

Two River models trained on 10k events of ``synth.Agrawal(seed=42)``: a
``StandardScaler | LogisticRegression`` pipeline and a ``HoeffdingTreeClassifier``. For each,
the median time of one snapshot over many repetitions (after a warm-up), measured in the same run:

* baseline: ``pickle.dumps(model, protocol=5)`` + ``INSERT`` + ``COMMIT`` on a plain sqlite3 file
  (default rollback journal, default ``synchronous``);
* ``encode``: the codec alone (pickle, compression, SHA-256, HMAC), no SQLite;
* ``save``: ``SnapshotStore.save`` (codec + WAL + synchronous=FULL + retention keep_last=10);
* ``save NORMAL``: the same with ``synchronous="NORMAL"`` (no fsync per commit);
* ``load``: ``SnapshotStore.load`` (checksum + signature + version check + unpickle) against a
  raw ``SELECT`` + ``pickle.loads``.

Run: ``python benchmarks/bench_snapshots.py`` (``--quick`` for fewer repetitions).
"""

from __future__ import annotations

import argparse
import pickle
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from river import linear_model, preprocessing, tree
from river.datasets import synth

from stream_ml.snapshots import SnapshotStore, encode

KEY = b"bench-key"
GOALS_MS = {"linear": 1.0, "tree": 3.0}


def train(model: object, n: int = 10_000) -> object:
    for x, y in synth.Agrawal(seed=42).take(n):
        model.learn_one(x, y)  # type: ignore[attr-defined]
    return model


def median_ms(fn: Callable[[], object], reps: int) -> float:
    for _ in range(max(3, reps // 10)):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def bench(name: str, model: object, reps: int, workdir: Path) -> dict[str, float]:
    plain = sqlite3.connect(workdir / f"{name}-plain.db")
    plain.execute("CREATE TABLE s (id INTEGER PRIMARY KEY, payload BLOB)")

    def baseline_save() -> None:
        plain.execute("INSERT INTO s (payload) VALUES (?)", [pickle.dumps(model, protocol=5)])
        plain.commit()

    def baseline_load() -> object:
        row = plain.execute("SELECT payload FROM s ORDER BY id DESC LIMIT 1").fetchone()
        return pickle.loads(row[0])

    store = SnapshotStore(workdir / f"{name}.db", key=KEY, keep_last=10)
    normal = SnapshotStore(
        workdir / f"{name}-normal.db", key=KEY, keep_last=10, synchronous="NORMAL"
    )
    n = [0]

    def save(store: SnapshotStore = store) -> None:
        n[0] += 1
        store.save(
            model,
            engine=name,
            offset={"n": n[0]},
            events=n[0],
            event_time=float(n[0]),
            config_hash="cfg",
            metrics={"acc": 0.9},
        )

    out = {
        "baseline_save": median_ms(baseline_save, reps),
        "encode": median_ms(lambda: encode(model, KEY), reps),
        "save": median_ms(save, reps),
        "save_normal": median_ms(lambda: save(normal), reps),
        "baseline_load": median_ms(baseline_load, reps),
    }
    latest = store.list()[-1]
    out["load"] = median_ms(lambda: store.load(latest.version), reps)
    out["pickle_bytes"] = len(pickle.dumps(model, protocol=5))
    out["payload_bytes"] = latest.size
    out["codec"] = latest.codec  # type: ignore[assignment]
    store.close()
    normal.close()
    plain.close()
    return out


def _met(ms: float, goal: float) -> str:
    return "yes" if ms <= goal else "no"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    models = {
        "linear": (preprocessing.StandardScaler() | linear_model.LogisticRegression(), 400),
        "tree": (tree.HoeffdingTreeClassifier(), 60),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model, reps) in models.items():
            reps = max(20, reps // 4) if args.quick else reps
            r = bench(name, train(model), reps, Path(tmp))
            rows.append((name, r))
    print(
        "| model | pickle B | payload B (codec) | baseline save ms | encode ms | save ms | "
        "save / baseline | save NORMAL ms | NORMAL / baseline | goal ms | met (FULL/NORMAL) "
        "| baseline load ms | load ms | load / baseline |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for name, r in rows:
        goal = GOALS_MS[name]
        print(
            f"| {name} | {r['pickle_bytes']:.0f} | {r['payload_bytes']:.0f} ({r['codec']}) "
            f"| {r['baseline_save']:.3f} | {r['encode']:.3f} | {r['save']:.3f} "
            f"| {r['save'] / r['baseline_save']:.2f} | {r['save_normal']:.3f} "
            f"| {r['save_normal'] / r['baseline_save']:.2f} | {goal:.0f} "
            f"| {_met(r['save'], goal)}/{_met(r['save_normal'], goal)} "
            f"| {r['baseline_load']:.3f} "
            f"| {r['load']:.3f} | {r['load'] / r['baseline_load']:.2f} |"
        )


if __name__ == "__main__":
    main()
