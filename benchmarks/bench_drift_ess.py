"""A cheap dependence correction for KS / CvM: the effective-sample-size factor, no simulation.

Run: python benchmarks/bench_drift_ess.py --phi 0.5         (about 2-4 minutes, busy 2-core box)
     python benchmarks/bench_drift_ess.py --phi 0.5 --auto  (also the AR(1) sieve, slower)

On stationary Gaussian AR(1) streams (coefficient ``--phi``), reference 200, window 100, check
every 10, ERT ``--ert`` (500), ``--refs`` references x ``--length`` values each (seeds 10...):
events per alarm / ERT of

* ``none``: the distribution-free threshold ``c`` (i.i.d. calibration);
* ``ess (lag-1)``: ``c x sqrt(f)`` (KS) or ``c x f`` (CvM, quadratic) with
  ``f = (1 + r) / (1 - r)`` from the raw lag-1 autocorrelation ``r`` (the interim rule of
  ``dependence = "auto"``: the variance inflation of a *mean*);
* ``ess (CDF)``: the same with ``f = stream_ml.drift.dependence.ess_factor`` (the inflation of an
  empirical CDF at the median under the reference's AR(1) fit on normal scores);
* ``auto`` (with ``--auto``): the AR(1) sieve calibration job (``dependence = "auto"``).

The thresholds of the two ess rows are computed once per reference (no job: the detector is
built with ``threshold=``); the cost column is the CPU of that computation (or of the whole
sieve calibration) per reference.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from stream_ml.drift import CvMDetector, KSDetector, thresholds
from stream_ml.drift.calibration import Spec
from stream_ml.drift.dependence import ess_factor, lag1
from stream_ml.drift.streams import ar1_series

ar1 = ar1_series  # the seeded AR(1) series of stream_ml.drift.streams


def f_lag1(ref: np.ndarray) -> float:
    r = min(0.95, max(0.0, float(lag1(ref[None, :])[0])))
    return (1.0 + r) / (1.0 - r)


def f_cdf(ref: np.ndarray) -> float:
    return float(ess_factor(ref[None, :])[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--phi", type=float, default=0.5)
    ap.add_argument("--ert", type=float, default=500.0)
    ap.add_argument("--refs", type=int, default=40)
    ap.add_argument("--length", type=int, default=6_000)
    ap.add_argument("--auto", action="store_true")
    args = ap.parse_args()
    n, m, k = 200, 100, 10
    print(f"AR(1) phi = {args.phi}, reference {n}, window {m}, check every {k}, ERT "
          f"{args.ert:,.0f}, {args.refs} references x {args.length:,} values\n")  # fmt: skip
    print("| detector | dependence | events per alarm / ERT | alarms | CPU per reference |")
    print("|---|---|---:|---:|---:|")
    for stat, cls in (("ks", KSDetector), ("cvm", CvMDetector)):
        c0 = thresholds.uniform(Spec(stat, 1, n, m, k, ert=args.ert))["threshold"]
        rules = [("none", lambda r: 1.0), ("ess (lag-1)", f_lag1), ("ess (CDF)", f_cdf)]
        if args.auto:
            rules.append(("auto (AR(1) sieve)", None))
        for name, rule in rules:
            events = alarms = 0
            cost = 0.0
            for r in range(args.refs):
                xs = ar1(np.random.default_rng(10 + r), n + args.length, args.phi)
                t0 = time.process_time()
                if rule is None:
                    det = cls(reference_size=n, window_size=m, check_every=k, ert=args.ert,
                              seed=r, n_simulations=300, dependence="auto")  # fmt: skip
                else:
                    f = rule(xs[:n])
                    c = c0 * (math.sqrt(f) if stat == "ks" else f)
                    det = cls(reference_size=n, window_size=m, check_every=k, threshold=c,
                              seed=r)  # fmt: skip
                cost += time.process_time() - t0
                for v in xs:
                    if rule is None and not det.calibrated and det.n_events >= n:
                        t0 = time.process_time()
                        det.update(v)
                        cost += time.process_time() - t0
                        continue
                    det.update(v)
                    if det.n_events > n and det.calibrated:
                        events += 1
                        alarms += det.drift_detected
            print(f"| {stat.upper()} | {name} | {events / max(alarms, 1) / args.ert:.2f} | "
                  f"{alarms} | {1e3 * cost / args.refs:.1f} ms |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
