"""Drift benchmark: cost per monitored value, and detection quality on a standard suite.

Run: python benchmarks/bench_drift.py            (about 3-5 minutes on 2 cores)
Calibration costs (amortized, per-call tails): benchmarks/bench_calibration.py.
     python benchmarks/bench_drift.py --quick    (fewer events/seeds, for a smoke run)
     python benchmarks/bench_drift.py --live     (only (0): the live monitor against KSWIN)

(0) Live cost (``--live``, also first in a full run): a FeatureDriftMonitor on 5 fields with
    the default KS and CvM settings (reference 500, window 200, check every 20, ERT 10,000),
    ``refresh_on_alarm`` with episodes and a cool-down of two windows (as the engine's drift
    stage), 50,000 events with a 1 sd shift of one field at 25,000; River's KSWIN (window 500,
    stat 200) x 5 on the first events of the same stream. Chunked alternation in one process
    (500 events of each in turn), CPU time (``time.process_time``) per monitored value, and the
    largest and 99.9th percentile thread CPU time of one ``observe`` call.

(1) Cost: 8 features, the same stream, the same window sizes (reference 200, window 100):
    stream-ml's vectorized KS (a check every k events) against one River KSWIN per feature and
    one incremental river.stats.KolmogorovSmirnov (treap) per feature.
(2) Quality: 20 seeds per scenario; the first 500 values (the reference) are stationary, the
    drift comes at event 4500 and the stream ends at 6500. Reported: mean delay to the first
    alarm after the drift, the share of runs with no alarm after it (missed), and the mean number
    of events between false alarms before the drift (pooled over seeds).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from river import drift as rdrift
from river import stats as rstats

from stream_ml.drift import ChiSquaredDetector, CvMDetector, KSDetector, PSIDetector
from stream_ml.drift import streams as S

D = 8
REF, WIN = 200, 100


def cost(n_events: int, n_river: int) -> list[tuple[str, float]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n_events, D))
    out = []
    for k in (10, 50):
        det = KSDetector(n_features=D, reference_size=REF, window_size=WIN, check_every=k,
                         threshold=0.3)  # fmt: skip
        rows = list(x)
        t = time.perf_counter()
        for row in rows:
            det.update(row)
        out.append((f"stream-ml KSDetector, 8 features vectorized, check every {k}",
                    (time.perf_counter() - t) / (n_events * D)))  # fmt: skip
    t = time.perf_counter()
    det = KSDetector(n_features=D, reference_size=REF, window_size=WIN, check_every=50,
                     ert=10_000, calibration="uniform")  # fmt: skip
    out.append(("  (calibrating it, ERT=10000: built once per machine, then from the cache;"
                " seconds)", time.perf_counter() - t))  # fmt: skip
    t = time.perf_counter()
    det.reset_reference(x[:REF])
    out.append(("  (taking a new reference, calibration included, seconds)",
                time.perf_counter() - t))  # fmt: skip
    xs = x[:n_river]
    kswin = [rdrift.KSWIN(window_size=REF + WIN, stat_size=WIN, seed=1) for _ in range(D)]
    t = time.perf_counter()
    for row in xs:
        for j in range(D):
            kswin[j].update(row[j])
    out.append(("river KSWIN(window_size=300, stat_size=100), one per feature",
                (time.perf_counter() - t) / (n_river * D)))  # fmt: skip
    kss = [rstats.KolmogorovSmirnov() for _ in range(D)]
    ref = x[:REF]
    t = time.perf_counter()
    for i, row in enumerate(xs):  # pairs (reference value, new value); window of WIN pairs
        for j in range(D):
            if i >= WIN:
                kss[j].revert(ref[(i - WIN) % REF, j], xs[i - WIN, j])
            kss[j].update(ref[i % REF, j], row[j])
            kss[j].get()
    out.append(("river stats.KolmogorovSmirnov (treap), update+revert+get per value",
                (time.perf_counter() - t) / (n_river * D)))  # fmt: skip
    return out


# -- quality ------------------------------------------------------------------------------
PRE, AT, END = 500, 4500, 6500


def scenarios(seed: int) -> dict[str, Any]:
    return {
        "mean shift 0.5 sd": S.abrupt(END, AT, 0.5, seed=seed).x[:, 0],
        "mean shift 1 sd": S.abrupt(END, AT, 1.0, seed=seed).x[:, 0],
        "variance x4": S.variance_change(END, AT, 2.0, seed=seed).x[:, 0],
        "gradual 1 sd over 1000": S.gradual(END, AT, 1000, 1.0, seed=seed).x[:, 0],
        "categorical shift": S.categorical_shift(END, AT, seed=seed).x,
    }


def numeric_detectors(ert: float) -> dict[str, Callable[[int], Any]]:
    kw = {"reference_size": 500, "window_size": 200, "check_every": 20, "ert": ert}
    return {
        f"stream-ml KS (ERT {ert:g})": lambda s: KSDetector(seed=s, **kw),
        f"stream-ml CvM (ERT {ert:g})": lambda s: CvMDetector(seed=s, **kw),
        "river ADWIN": lambda s: rdrift.ADWIN(),
        "river KSWIN": lambda s: rdrift.KSWIN(seed=s),
        "river PageHinkley": lambda s: rdrift.PageHinkley(),
    }


def categorical_detectors(ert: float) -> dict[str, Callable[[int], Any]]:
    kw = {"reference_size": 500, "window_size": 200, "check_every": 20, "ert": ert,
          "n_simulations": 300}  # fmt: skip
    return {
        f"stream-ml chi2 (ERT {ert:g})": lambda s: ChiSquaredDetector(seed=s, **kw),
        f"stream-ml PSI (ERT {ert:g})": lambda s: PSIDetector(seed=s, **kw),
        "river ADWIN on 1{c0}": lambda s: _Indicator(rdrift.ADWIN()),
        "river PageHinkley on 1{c0}": lambda s: _Indicator(rdrift.PageHinkley()),
    }


class _Indicator:
    """River's numeric detectors watch the indicator of the most common category."""

    def __init__(self, det: Any) -> None:
        self.det = det

    def update(self, v: Any) -> None:
        self.det.update(1.0 if v == "c0" else 0.0)

    @property
    def drift_detected(self) -> bool:
        return bool(self.det.drift_detected)


def quality(seeds: int, ert: float) -> dict[str, dict[str, tuple[float, float, float]]]:
    table: dict[str, dict[str, tuple[float, float, float]]] = {}
    for name in scenarios(0):
        cat = name.startswith("categorical")
        dets = categorical_detectors(ert) if cat else numeric_detectors(ert)
        for dname, make in dets.items():
            delays, missed, false_alarms = [], 0, 0
            for seed in range(seeds):
                xs = scenarios(seed)[name]
                xs = xs.tolist()
                det = make(seed)
                first = None
                for i, v in enumerate(xs):
                    det.update(v)
                    if det.drift_detected:
                        if PRE <= i < AT:
                            false_alarms += 1
                        elif i >= AT and first is None:
                            first = i - AT
                if first is None:
                    missed += 1
                else:
                    delays.append(first)
            mtbfa = seeds * (AT - PRE) / false_alarms if false_alarms else float("inf")
            delay = float(np.mean(delays)) if delays else float("nan")
            table.setdefault(name, {})[dname] = (delay, missed / seeds, mtbfa)
            print(f"  {name:24s} {dname:32s} delay {delay:7.0f} missed {missed / seeds:4.2f} "
                  f"MTBFA {mtbfa:8.0f}", file=sys.stderr, flush=True)  # fmt: skip
    return table


def live(n_events: int, n_kswin: int, chunk: int = 500) -> list[tuple[str, dict[str, float]]]:
    """(0) in the module docstring: the engine's monitor against KSWIN x 5, alternated."""
    import gc

    from stream_ml.drift import CvMConfig, FeatureDriftMonitor, KSConfig

    fields = [f"f{i}" for i in range(5)]
    x = S.abrupt(n_events, n_events // 2, 1.0, n_features=5, seed=0).x
    rows = [dict(zip(fields, map(float, r), strict=True)) for r in x]

    def monitor(cfg: Any) -> Callable[[dict[str, float], float], int]:
        mon = FeatureDriftMonitor(fields, cfg, cooldown=2 * cfg.window_size,
                                  refresh_on_alarm=True, seed=0)  # fmt: skip
        return lambda row, t: len(mon.observe(row, t))

    def kswin() -> Callable[[dict[str, float], float], int]:
        dets = [rdrift.KSWIN(window_size=500, stat_size=200, seed=i) for i in range(5)]

        def step(row: dict[str, float], t: float) -> int:
            hits = 0
            for f, d in zip(fields, dets, strict=True):
                d.update(row[f])
                hits += d.drift_detected
            return hits

        return step

    cases = {"stream-ml KS (defaults), 5 fields": (monitor(KSConfig()), n_events),
             "stream-ml CvM (defaults), 5 fields": (monitor(CvMConfig()), n_events),
             "river KSWIN(window 500, stat 200) x 5": (kswin(), n_kswin)}  # fmt: skip
    cpu = dict.fromkeys(cases, 0.0)
    calls: dict[str, list[int]] = {name: [] for name in cases}
    alarms = dict.fromkeys(cases, 0)
    gc.collect()
    gc.freeze()  # the benchmark's own rows stay out of the collector's way
    for start in range(0, n_events, chunk):
        for name, (step, limit) in cases.items():
            stop = min(start + chunk, limit)
            if start >= stop:
                continue
            out = calls[name]
            t = time.process_time()
            for i in range(start, stop):
                c = time.thread_time_ns()
                alarms[name] += step(rows[i], float(i))
                out.append(time.thread_time_ns() - c)
            cpu[name] += time.process_time() - t
    gc.unfreeze()
    result = []
    for name, (_, limit) in cases.items():
        ns = np.asarray(calls[name])
        result.append((name, {"us": cpu[name] / (limit * 5) * 1e6, "events": limit,
                              "max_ms": ns.max() / 1e6, "p999_ms": np.quantile(ns, 0.999) / 1e6,
                              "alarms": alarms[name]}))  # fmt: skip
    return result


def print_live(n_events: int, n_kswin: int) -> None:
    rows = live(n_events, n_kswin)
    kswin_us = rows[-1][1]["us"]
    print(f"## Live cost: the drift monitor, 5 fields, {n_events:,} events (KSWIN: the first "
          f"{n_kswin:,}); chunked alternation, CPU time\n")  # fmt: skip
    print("| detector | events | µs per value | KSWIN / this | max call (ms) | p99.9 call (ms) "
          "| alarms |\n|---|---:|---:|---:|---:|---:|---:|")  # fmt: skip
    for name, r in rows:
        print(f"| {name} | {r['events']:,} | {r['us']:.3f} | {kswin_us / r['us']:.0f}x | "
              f"{r['max_ms']:.2f} | {r['p999_ms']:.3f} | {r['alarms']} |")  # fmt: skip
    print()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--live", action="store_true", help="only the live monitor's cost")
    args = ap.parse_args()
    n_events, n_river, seeds = (5_000, 1_000, 4) if args.quick else (50_000, 3_000, 20)
    print_live(n_events, 2_000 if args.quick else 5_000)
    if args.live:
        return
    rows = cost(n_events, n_river)
    kswin_cost = rows[-2][1]
    print("## Cost per monitored value (8 features, reference 200, window 100)\n")
    print("| detector | µs per value | KSWIN / this |")
    print("|---|---:|---:|")
    for name, v in rows:
        if name.startswith("  ("):
            print(f"| {name.strip()} | {v:.2f} s | |")
        else:
            print(f"| {name} | {v * 1e6:.3f} | {kswin_cost / v:.0f}x |")
    ert = 10_000.0
    print(f"\n## Detection quality ({seeds} seeds; drift at {AT}, false alarms counted over "
          f"[{PRE}, {AT}), delay over [{AT}, {END}))\n")  # fmt: skip
    print(
        "| scenario | detector | mean delay (events) | missed | mean events between false alarms |"
    )
    print("|---|---|---:|---:|---:|")
    for name, dets in quality(seeds, ert).items():
        for dname, (delay, miss, mtbfa) in dets.items():
            print(f"| {name} | {dname} | {delay:.0f} | {miss:.2f} | {mtbfa:.0f} |")


if __name__ == "__main__":
    main()
