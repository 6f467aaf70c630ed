"""stream-ml's CvM and KS detectors against Alibi Detect's CVMDriftOnline, on the same streams.

Run (Alibi Detect is a benchmark-only dependency, not one of the project's):

    pip install alibi-detect          # 0.13.0 measured; it pins numpy < 2: use a separate venv,
                                      # e.g. python -m venv --system-site-packages /tmp/alibi
    nice -n 10 python benchmarks/bench_alibi.py            # 30 + 60 runs, about 3-5 minutes
    nice -n 10 python benchmarks/bench_alibi.py --quick    # 6 + 10 runs, a smoke run

The issue's setting: one feature, reference 500, window 200, ERT 2,000. Alibi Detect has no
online KS detector (its online univariate detectors are CVMDriftOnline and FETDriftOnline, the
latter for binary data), so KS runs on the stream-ml side only.

* Setup: Alibi simulates its thresholds when a detector is built (``n_bootstraps`` = 10,000,
  its default; they depend only on the sizes and the ERT, drawn from numpy's global generator,
  seeded here). stream-ml looks its distribution-free threshold up: the shipped table, else
  the disk cache, else it simulates the configuration's threshold curve once per machine
  (16 million events: minutes for check_every = 1) and caches it; the "threshold from" column
  says which happened in this run.
* Run length (ERT): ``--runs`` streams of i.i.d. N(0, 1), each with its own reference of 500
  values (seeds 1000 + run); the run length is the number of values after the reference up to
  and including the first alarm, censored at ``--censor``. Both detectors see the same values.
  Alibi's detector is built once and given each run's reference (``x_ref`` and its reference
  CDF, then ``reset_state``): the thresholds would be the same for a fresh build with the
  same seed. Alibi defines its ERT from the first full window (t = 200), so its target mean
  run length here is ERT + 199; stream-ml's ERT counts every value after the reference.
* Delay: ``--delay-runs`` streams (seeds 5000 + run): reference 500, then 300 N(0, 1) values,
  then N(1, 1); the delay is the number of shifted values up to and including the first
  alarm (censored at 2,000: a miss). A run with an alarm before the shift is left out of the
  mean delay and counted.
* Cost: CPU time (``time.process_time``) per update over the null runs, every detector on
  each run in turn (run by run: same-process alternation); the largest single update (thread
  CPU time) over the delay runs.
  The machine is shared (2 cores, other jobs): read the ratios, not the microseconds.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from stream_ml.drift import CvMDetector, KSDetector

N_REF, WINDOW, ERT = 500, 200, 2000.0
PRE, DELAY_CENSOR = 300, 2000


class Alibi:
    """Alibi Detect's CVMDriftOnline, one feature, its public ``predict`` per value."""

    def __init__(self, n_bootstraps: int) -> None:
        from alibi_detect.cd import CVMDriftOnline

        np.random.seed(0)  # Alibi's threshold simulation draws from numpy's global generator
        ref = np.random.default_rng(0).normal(size=(N_REF, 1))
        c, w = time.process_time(), time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.det = CVMDriftOnline(ref, ert=ERT, window_sizes=[WINDOW],
                                      n_bootstraps=n_bootstraps, verbose=False)  # fmt: skip
        self.setup_cpu, self.setup_wall = time.process_time() - c, time.perf_counter() - w

    def start(self, ref: np.ndarray, seed: int) -> Callable[[float], bool]:
        det = self.det
        det.x_ref = ref[:, None].copy()
        det._configure_ref()  # the reference CDF of the new reference
        det.reset_state()
        predict = det.predict
        buf = np.empty((1, 1))

        def step(v: float) -> bool:
            buf[0, 0] = v
            return bool(predict(buf, return_test_stat=False)["data"]["is_drift"])

        return step


class StreamML:
    def __init__(self, cls: type, check_every: int) -> None:
        from stream_ml.drift import thresholds
        from stream_ml.drift.calibration import Spec

        self.cls, self.check_every = cls, check_every
        spec = Spec(cls.name, 1, N_REF, WINDOW, check_every, ert=ERT)
        key = thresholds.base_key(spec)
        cached = thresholds._read(key) is not None
        self.source = ("shipped table" if key in thresholds._shipped() else
                       "disk cache" if cached else "simulated")  # fmt: skip
        c, w = time.process_time(), time.perf_counter()
        self._build(0)
        self.setup_cpu, self.setup_wall = time.process_time() - c, time.perf_counter() - w

    def _build(self, seed: int) -> Any:
        return self.cls(reference_size=N_REF, window_size=WINDOW, check_every=self.check_every,
                        ert=ERT, seed=seed)  # fmt: skip

    def start(self, ref: np.ndarray, seed: int) -> Callable[[float], bool]:
        det = self._build(seed)
        det.reset_reference(ref)
        update = det.update

        def step(v: float) -> bool:
            update(v)
            return det.drift_detected

        return step


def run_length(step: Callable[[float], bool], xs: np.ndarray, clock: list[float],
               per_call: bool = False) -> int | None:  # fmt: skip
    """1-based index of the first alarm in ``xs`` (None: none), adding to ``clock``.

    ``clock``: [CPU seconds, updates, longest call in ns]; the longest call is timed only
    with ``per_call`` (the timer costs about a microsecond, so the CPU totals come from the
    runs without it).
    """
    t0 = time.process_time()
    hit = None
    if per_call:
        longest = clock[2]
        for i, v in enumerate(xs.tolist()):
            c = time.thread_time_ns()
            alarm = step(v)
            d = time.thread_time_ns() - c
            if d > longest:
                longest = d
            if alarm:
                hit = i + 1
                break
        clock[2] = longest
        return hit
    for i, v in enumerate(xs.tolist()):
        if step(v):
            hit = i + 1
            break
    clock[0] += time.process_time() - t0
    clock[1] += len(xs) if hit is None else hit
    return hit


def mean_ci(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=np.float64)
    if len(a) < 2:
        return float(a.mean()) if len(a) else float("nan"), float("nan")
    return float(a.mean()), float(1.96 * a.std(ddof=1) / np.sqrt(len(a)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--delay-runs", type=int, default=60)
    ap.add_argument("--censor", type=int, default=12_000)
    ap.add_argument("--n-bootstraps", type=int, default=10_000)
    ap.add_argument("--cvm-every", type=int, nargs="*", default=[1, 5, 20],
                    help="check_every values of stream-ml's CvM")  # fmt: skip
    ap.add_argument("--ks-every", type=int, nargs="*", default=[20],
                    help="check_every values of stream-ml's KS (each new one simulates its "
                         "threshold curve once per machine: minutes for 1)")  # fmt: skip
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.delay_runs = 6, 10
    t_start = time.perf_counter()
    detectors: dict[str, Any] = {}
    try:
        detectors["Alibi CVMDriftOnline"] = Alibi(args.n_bootstraps)
    except ImportError as e:
        print(f"(Alibi Detect not importable: {e}; stream-ml only)", file=sys.stderr)
    for k in args.cvm_every:
        detectors[f"stream-ml CvM, check every {k}"] = StreamML(CvMDetector, k)
    for k in args.ks_every:
        detectors[f"stream-ml KS, check every {k}"] = StreamML(KSDetector, k)

    # the same streams for every detector: references, null streams, shifted streams
    null = []
    for r in range(args.runs):
        rng = np.random.default_rng(1000 + r)
        null.append((rng.normal(size=N_REF), rng.normal(size=args.censor)))
    shifted = []
    for r in range(args.delay_runs):
        rng = np.random.default_rng(5000 + r)
        xs = np.r_[rng.normal(size=PRE), rng.normal(1.0, 1.0, size=DELAY_CENSOR)]
        shifted.append((rng.normal(size=N_REF), xs))

    clocks = {name: [0.0, 0, 0] for name in detectors}  # CPU s, updates, longest call ns
    lengths: dict[str, list[int | None]] = {name: [] for name in detectors}
    delays: dict[str, list[int | None]] = {name: [] for name in detectors}
    early: dict[str, int] = dict.fromkeys(detectors, 0)
    for r, (ref, xs) in enumerate(null):  # run by run, every detector in turn
        for name, det in detectors.items():
            lengths[name].append(run_length(det.start(ref, r), xs, clocks[name]))
    for r, (ref, xs) in enumerate(shifted):
        for name, det in detectors.items():
            hit = run_length(det.start(ref, 5000 + r), xs, clocks[name], per_call=True)
            if hit is not None and hit <= PRE:
                early[name] += 1
                continue
            delays[name].append(None if hit is None else hit - PRE)

    print(f"Reference {N_REF}, window {WINDOW}, ERT {ERT:,.0f}; {args.runs} null runs (censored at "
          f"{args.censor:,}), {args.delay_runs} runs with a 1 sd shift after {PRE} values; "
          f"{time.perf_counter() - t_start:.0f} s wall\n")  # fmt: skip
    print("| detector | setup CPU (s) | setup wall (s) | threshold from | mean run length ± 95% | "
          "median | censored | run length / target | mean delay (1 sd) ± 95% | misses | "
          "alarms before the shift | CPU µs per update | max update (ms) |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    base_cost = None
    for name, det in detectors.items():
        runs = [v if v is not None else args.censor for v in lengths[name]]
        censored = sum(v is None for v in lengths[name])
        mean, ci = mean_ci(runs)
        target = ERT + (WINDOW - 1 if name.startswith("Alibi") else 0)
        found = [v for v in delays[name] if v is not None]
        dmean, dci = mean_ci(found)
        misses = sum(v is None for v in delays[name])
        cpu, n, longest = clocks[name]
        us = cpu / n * 1e6
        if name.startswith("Alibi"):
            base_cost = us
        source = getattr(det, "source", "simulated (n_bootstraps)")
        print(f"| {name} | {det.setup_cpu:.4f} | {det.setup_wall:.4f} | {source} | "
              f"{mean:,.0f} ± {ci:,.0f} | "
              f"{np.median(runs):,.0f} | {censored} | {mean / target:.2f} | {dmean:.1f} ± {dci:.1f}"
              f" | {misses} | {early[name]} | {us:.1f} | {longest / 1e6:.2f} |")  # fmt: skip
    if base_cost is not None:
        print("\nAlibi's CPU per update / stream-ml's:")
        for name in detectors:
            if not name.startswith("Alibi"):
                cpu, n, _ = clocks[name]
                print(f"- {name}: {base_cost / (cpu / n * 1e6):.1f}x")


if __name__ == "__main__":
    main()
