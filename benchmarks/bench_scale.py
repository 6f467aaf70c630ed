"""Scale-out benchmark: embedded engines vs the Bytewax dataflow (1 worker, 2 processes),
and the Redis Streams end-to-end consumer. Prints markdown tables of ratios.

    python benchmarks/bench_scale.py [--events 100000] [--keys 10000]

Workload: rows ``{store, sid, x1, x2, y}`` over ``--keys`` keys, one ``Engine`` per key with
windowed features of its entity (``sid``, the store again, as a feature column: the mean of
``x1`` over the store's last 100 events and its event count over the last 1,000) and a
``linear_model.LogisticRegression()``, label delay 0. Every side decodes the same rows with the
same RowDecoder and produces the same outputs (``Prediction.to_dict()``), which are counted and
dropped. The Redis part uses a plain LogisticRegression engine on messages.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from river import linear_model  # noqa: E402

from connectors import IterableSource, RowDecoder  # noqa: E402
from stream_ml import Engine  # noqa: E402


def rows(n: int, keys: int, seed: int = 1) -> list[dict[str, str]]:
    import numpy as np

    rng = np.random.default_rng(seed)
    k = rng.integers(keys, size=n)
    x = rng.normal(size=(n, 2))
    y = x[:, 0] + 0.5 * x[:, 1] > 0
    return [
        {
            "store": f"s{k[i]}",
            "sid": f"s{k[i]}",
            "x1": repr(float(x[i, 0])),
            "x2": repr(float(x[i, 1])),
            "y": str(bool(y[i])),
        }
        for i in range(n)
    ]


def decoder() -> RowDecoder:
    return RowDecoder(target="y", target_type="bool", key="store", categorical=["sid"])


def engine(key: str = "") -> Engine:
    """One key's engine: windowed features of the store, then a logistic regression."""
    from river import compose

    from stream_ml import features as F

    fs = F.FeatureSet(
        [F.Mean("x1", by="sid", window="100 events"), F.Count(by="sid", window="1000 events")]
    )
    return Engine({"lr": compose.Discard("sid") | linear_model.LogisticRegression()}, features=fs)


def lr_engine(key: str = "") -> Engine:
    return Engine({"lr": linear_model.LogisticRegression()})


def embedded(data: list[dict[str, str]]) -> tuple[float, int]:
    """One Engine per key, driven in arrival order: predict, then learn (delay 0)."""
    t = time.perf_counter()
    dec, engines, n = decoder(), {}, 0
    out: list[Any] = []
    for offset, row in enumerate(data):
        x, label, _, key, ts = dec.decode(row)
        eng = engines.get(key)
        if eng is None:
            eng = engines[key] = engine(key)
        p = eng.predict(x, id=str(offset), key=key, ts=ts)
        eng.learn(p.id, label)
        out.append(p.to_dict())
        if len(out) >= 1000:
            n += len(out)
            out.clear()
    return time.perf_counter() - t, n + len(out)


class Count:
    """A sink that counts outputs; with BENCH_STAMP set, writes (first read, close) times."""

    n = 0
    started: float | None = None

    def write(self, output: dict) -> None:
        Count.n += 1

    def flush(self) -> None:
        pass

    def close(self) -> None:
        stamp = os.environ.get("BENCH_STAMP")
        if stamp:
            with open(f"{stamp}.{os.getpid()}", "w") as f:
                f.write(f"{Count.started} {time.time()}")


def _stamped(recs: list) -> IterableSource:
    Count.started = Count.started or time.time()
    return IterableSource(recs)


def make_flow(data: list[dict[str, str]], parts: int) -> Any:
    from stream_ml.runtime.bytewax import build_flow

    by_part: dict[str, list] = {str(p): [] for p in range(parts)}
    for r in data:  # a keyed source: each key in one partition, arrival order kept
        by_part[str(zlib.crc32(r["store"].encode()) % parts)].append(r)
    return build_flow(
        engine,
        source={p: (lambda recs=recs: _stamped(recs)) for p, recs in by_part.items()},
        decoder=decoder(),
        keyed=True,
        sinks=[Count],
        shared_sinks=True,
        batch_size=2000,
        summaries=False,
        snapshots=False,
    )


def bytewax_in_process(data: list[dict[str, str]]) -> float:
    from bytewax.testing import run_main

    flow = make_flow(data, 1)
    t = time.perf_counter()
    run_main(flow)
    return time.perf_counter() - t


# -- multi-process: `python -m bytewax.run benchmarks.bench_scale:flow -i K -a ...` -------------


def __getattr__(name: str) -> Any:
    if name == "flow":
        n, keys, parts = (int(os.environ[v]) for v in ("BENCH_N", "BENCH_KEYS", "BENCH_PARTS"))
        return make_flow(rows(n, keys), parts)
    raise AttributeError(name)


def bytewax_processes(n: int, keys: int, processes: int) -> float:
    """Wall time from the first source partition built to the last sink closed (any process)."""
    import socket

    socks = [socket.socket() for _ in range(processes)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    addrs = ";".join(f"127.0.0.1:{s.getsockname()[1]}" for s in socks)
    for s in socks:
        s.close()
    stamp = tempfile.mktemp(prefix="bench-scale-")
    env = dict(os.environ, BENCH_N=str(n), BENCH_KEYS=str(keys), BENCH_PARTS=str(processes),
               BENCH_STAMP=stamp, PYTHONPATH=str(ROOT))  # fmt: skip
    args = [sys.executable, "-m", "bytewax.run", "benchmarks.bench_scale:flow", "-w", "1",
            "-a", addrs]  # fmt: skip
    procs = [subprocess.Popen([*args, "-i", str(i)], env=env, cwd=ROOT) for i in range(processes)]
    codes = [p.wait() for p in procs]
    assert not any(codes), codes
    starts, ends = [], []
    for p in Path(stamp).parent.glob(Path(stamp).name + ".*"):
        a, b = p.read_text().split()
        if a != "None":
            starts.append(float(a))
        ends.append(float(b))
        p.unlink()
    return max(ends) - min(starts)


def embedded_process(n: int, keys: int) -> float:
    """The embedded baseline in a fresh process, as the ``bytewax.run`` processes start cold."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from benchmarks.bench_scale import rows, embedded;"
        "print(embedded(rows(int(sys.argv[2]), int(sys.argv[3])))[0])"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT), str(n), str(keys)],
                         capture_output=True, text=True, check=True, cwd=ROOT)  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


# -- Redis Streams end to end -----------------------------------------------------------------


def redis_e2e(n: int) -> tuple[float, float] | None:
    try:
        import redis

        r = redis.Redis()
        r.ping()
    except Exception:
        return None
    from connectors.redis_streams import RedisGroupReader, RedisStreamSink, parse_id
    from stream_ml.runtime.bytewax.group_consumer import consume
    from stream_ml.stages.snapshotting import SnapshotStage

    msgs = []
    for i in range(n):
        msgs.append({"id": f"e{i}", "features": {"x1": float(i % 13), "x2": float(i % 7)}})
        msgs.append({"kind": "feedback", "id": f"e{i}", "label": i % 3 == 0})
    t = time.perf_counter()
    eng = lr_engine()
    for m in msgs:
        eng.process(m)
    base = time.perf_counter() - t
    prefix = f"bench:{os.getpid()}"
    pipe = r.pipeline(transaction=False)
    for m in msgs:
        pipe.xadd(f"{prefix}:in", {"data": json.dumps(m)})
    pipe.execute()
    idle = 0.3
    with tempfile.TemporaryDirectory() as d:
        stage = SnapshotStage.open(str(Path(d) / "snap.db"), key="bench", keep_last=2)
        t = time.perf_counter()
        consume(
            lr_engine,
            RedisGroupReader(f"{prefix}:in", "g", "c", client=r, count=500, block_ms=20),
            RedisStreamSink(f"{prefix}:out", client=r, buffer=500),
            RedisStreamSink(f"{prefix}:dlq", client=r),
            stage,
            snapshot_every=5000,
            idle_exit=idle,
            order=parse_id,
        )
        took = time.perf_counter() - t - idle
        stage.close()
    assert r.xlen(f"{prefix}:out") == len(msgs)
    r.delete(*r.keys(f"{prefix}:*"))
    return base, took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--keys", type=int, default=10_000)
    ap.add_argument("--redis-events", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    data = rows(a.events, a.keys)
    emb = min(embedded(data)[0] for _ in range(a.repeat))
    bw1 = min(bytewax_in_process(data) for _ in range(a.repeat))
    emb_cold = min(embedded_process(a.events, a.keys) for _ in range(a.repeat))
    p1 = min(bytewax_processes(a.events, a.keys, 1) for _ in range(a.repeat))
    p2 = min(bytewax_processes(a.events, a.keys, 2) for _ in range(a.repeat))
    n = a.events
    print(
        f"\n### Keyed workload: {n:,} events, {a.keys:,} keys, windowed features and one "
        "LogisticRegression per key\n"
    )
    print("| run | seconds | events/s | ratio |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| embedded engines (baseline) | {emb:.2f} | {n / emb:,.0f} | 1.00 |")
    print(
        f"| Bytewax, 1 worker, in process (`run_main`) | {bw1:.2f} | {n / bw1:,.0f} | "
        f"{emb / bw1:.2f} of embedded |"
    )
    print(
        f"| embedded engines, fresh process (baseline of the rows below) | {emb_cold:.2f} | "
        f"{n / emb_cold:,.0f} | 1.00 |"
    )
    print(
        f"| Bytewax, 1 process (`bytewax.run -w 1`) | {p1:.2f} | {n / p1:,.0f} | "
        f"{emb_cold / p1:.2f} of embedded, fresh process |"
    )
    print(
        f"| Bytewax, 2 processes (`-i 0/1 -a ...`) | {p2:.2f} | {n / p2:,.0f} | "
        f"{p1 / p2:.2f} of 1 process |"
    )
    red = redis_e2e(a.redis_events)
    if red is not None:
        base, took = red
        m = 2 * a.redis_events
        print(f"\n### Redis Streams end to end: {m:,} messages (observations + labels)\n")
        print("| run | seconds | messages/s | ratio |")
        print("| --- | ---: | ---: | ---: |")
        print(f"| `Engine.process` loop (baseline) | {base:.2f} | {m / base:,.0f} | 1.00 |")
        print(
            f"| stream -> group consumer -> engine -> output stream | {took:.2f} | "
            f"{m / took:,.0f} | {base / took:.2f} |"
        )


if __name__ == "__main__":
    main()
