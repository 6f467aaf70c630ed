"""Calibration off the hot path: cost per monitored value including calibration, per-call tails.

Run: python benchmarks/bench_calibration.py            (about 2-4 minutes on 2 cores)
     python benchmarks/bench_calibration.py --quick    (10,000 events, a smoke run)

Each case is a FeatureDriftMonitor on 5 fields with the detector's defaults (reference 500,
window 200, check every 20, ERT 10,000), ``refresh_on_alarm=True`` and a cool-down of two
windows (as the engine's drift stage), fed 50,000 events with a drift at 25,000:

* ``abrupt``: 5 standard normal columns (no ties), the first shifts by 1 sd;
* ``weather``: the first 5 features of data/weather.csv.gz (rounded to 0.1: ties; seasonal, so
  it also drifts by itself), repeated to length, the first feature shifted by 1 sd.

Reported per case: CPU per monitored value (the whole run: every update, check and calibration
step, divided by events x 5), the largest and the 99.9th percentile CPU time of one ``observe``
call (thread CPU time, so that other processes on the machine do not count; wall-clock p99.9
too), alarms, calibrations run, and the share of events spent with an interim threshold. The
benchmark's input rows are frozen out of the garbage collector (``gc.freeze``), so that a full
collection of them does not land in a detector call.
Then the cost of building a detector in a fresh process (the distribution-free threshold comes
from the shipped table) and of the simulation the table replaces.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from stream_ml.drift import CvMConfig, FeatureDriftMonitor, KSConfig, MMDConfig
from stream_ml.drift import streams as S

ROOT = Path(__file__).resolve().parents[1]
FIELDS = [f"f{i}" for i in range(5)]


def weather(n: int, at: int) -> np.ndarray:
    with gzip.open(ROOT / "data" / "weather.csv.gz", "rt") as f:
        x = np.loadtxt(f, delimiter=",", skiprows=1)[:, :5]
    x = np.resize(x, (n, 5)).copy()
    x[at:, 0] += x[:, 0].std()
    return x


def run(cfg: Any, x: np.ndarray) -> dict[str, float]:
    mon = FeatureDriftMonitor(FIELDS, cfg, cooldown=2 * cfg.window_size, refresh_on_alarm=True,
                              seed=0)  # fmt: skip
    det = mon.detectors[0]
    rows = [dict(zip(FIELDS, map(float, r), strict=True)) for r in x]
    gc.collect()
    gc.freeze()  # the benchmark's own 50,000 rows are not the detector's: keep them out of GC
    cpu = np.empty(len(rows), dtype=np.int64)
    wall = np.empty(len(rows))
    alarms = interim = jobs = 0
    job = None
    t0 = time.process_time()
    for i, row in enumerate(rows):
        c, w = time.thread_time_ns(), time.perf_counter()
        alarms += len(mon.observe(row, float(i)))
        wall[i] = time.perf_counter() - w
        cpu[i] = time.thread_time_ns() - c
        if det._job is not None:
            interim += 1
            if det._job is not job:
                jobs, job = jobs + 1, det._job
    total = time.process_time() - t0
    gc.unfreeze()
    return {
        "us_per_value": total / (len(rows) * len(FIELDS)) * 1e6,
        "max_ms": cpu.max() / 1e6,
        "p999_ms": float(np.quantile(cpu, 0.999)) / 1e6,
        "p999_wall_ms": float(np.quantile(wall, 0.999)) * 1e3,
        "alarms": alarms,
        "bootstraps": jobs,
        "interim": interim / len(rows),
    }


def run_kswin(x: np.ndarray) -> dict[str, float]:
    """River's KSWIN, one per field, on the same rows (the hand-written baseline)."""
    from river import drift

    dets = [drift.KSWIN(window_size=500, stat_size=200, seed=i) for i in range(len(FIELDS))]
    rows = [dict(zip(FIELDS, map(float, r), strict=True)) for r in x]
    cpu = np.empty(len(rows), dtype=np.int64)
    alarms = 0
    t0 = time.process_time()
    for i, row in enumerate(rows):
        c = time.thread_time_ns()
        for f, d in zip(FIELDS, dets, strict=True):
            d.update(row[f])
            alarms += d.drift_detected
        cpu[i] = time.thread_time_ns() - c
    total = time.process_time() - t0
    return {"us_per_value": total / (len(rows) * len(FIELDS)) * 1e6, "max_ms": cpu.max() / 1e6,
            "p999_ms": float(np.quantile(cpu, 0.999)) / 1e6, "alarms": alarms}


def fresh_process(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)  # fmt: skip
    return float(out.stdout.strip())


BUILD = """
import time
t = time.perf_counter()
from stream_ml.drift import KSDetector, CvMDetector
a = time.perf_counter()
KSDetector(n_features={d}); CvMDetector(n_features={d})
print(time.perf_counter() - a)
"""
SIMULATE = """
import time, numpy as np
from stream_ml.drift.calibration import Spec
from stream_ml.drift.jobs import CalibrationJob, run_to_completion
from stream_ml.drift.rank_segments import RankSegments
spec = Spec("ks", {d}, 500, 200, 20, ert=10_000.0)
t = time.process_time()
run_to_completion(CalibrationJob(spec, RankSegments(spec, "ks"), np.random.default_rng(0)))
print(time.process_time() - t)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="", help="run the cases whose name contains this")
    ap.add_argument("--kswin", action="store_true", help="also River KSWIN x5 (slow)")
    args = ap.parse_args()
    n = 10_000 if args.quick else 50_000
    at = n // 2
    abrupt = S.abrupt(n, at, 1.0, n_features=5, seed=0).x
    wx = weather(n, at)
    cases = [
        ("KS (auto: uniform)", "abrupt", KSConfig(), abrupt),
        ("KS (auto: AR(1) sieve, the weather is autocorrelated)", "weather", KSConfig(), wx),
        ("KS (dependence = none: uniform, ties are conservative)", "weather",
         KSConfig(dependence="none"), wx),
        ("CvM (auto: uniform)", "abrupt", CvMConfig(), abrupt),
        ("CvM (auto: AR(1) sieve, ties)", "weather", CvMConfig(), wx),
        ("KS (calibration = bootstrap)", "weather", KSConfig(calibration="bootstrap"), wx),
        ("MMD (bootstrap)", "abrupt", MMDConfig(), abrupt),
    ]
    print(f"Command: python benchmarks/bench_calibration.py{' --quick' if args.quick else ''}\n")
    print(f"## Drift monitor on 5 fields, {n:,} events, drift at {at:,} (defaults, refresh on "
          "alarm)\n")  # fmt: skip
    print("| detector | data | µs per value (incl. calibration) | max call (ms CPU) "
          "| p99.9 call (ms CPU) | p99.9 call (ms wall) | alarms | bootstraps "
          "| events with interim threshold |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, data, cfg, x in cases:
        if args.only and args.only not in name:
            continue
        r = run(cfg, x)
        print(f"| {name} | {data} | {r['us_per_value']:.2f} | {r['max_ms']:.2f} "
              f"| {r['p999_ms']:.3f} | {r['p999_wall_ms']:.3f} | {r['alarms']} "
              f"| {r['bootstraps']} | {r['interim']:.0%} |", flush=True)  # fmt: skip
    if args.kswin:
        r = run_kswin(abrupt)
        print(f"| river KSWIN x5 (window 500, stat 200, one per field) | abrupt "
              f"| {r['us_per_value']:.2f} | {r['max_ms']:.2f} | {r['p999_ms']:.3f} | - "
              f"| {r['alarms']} | - | - |", flush=True)  # fmt: skip
    print("\n## Distribution-free thresholds in a fresh process (KS, defaults)\n")
    print("| columns | build a KS and a CvM detector (s, shipped table) "
          "| simulation it replaces (s CPU, KS) |")  # fmt: skip
    print("|---:|---:|---:|")
    for d in (1, 5):
        build = fresh_process(BUILD.format(d=d))
        sim = fresh_process(SIMULATE.format(d=d))
        print(f"| {d} | {build:.4f} | {sim:.2f} |", flush=True)


if __name__ == "__main__":
    main()
