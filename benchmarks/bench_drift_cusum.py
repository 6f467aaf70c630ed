"""The CUSUM bank against a known-shift CUSUM and River's ADWIN / PageHinkley at a matched FAR.

Run: python benchmarks/bench_drift_cusum.py            (about 5-10 minutes on a busy 2-core box)
     python benchmarks/bench_drift_cusum.py --quick    (a smoke run)
     python benchmarks/bench_drift_cusum.py --calibration normal --refs 200
                                                       (the ERT over many references, below)

0. ``--calibration KIND`` (``normal``, ``errors`` (0/1, p = 0.2), ``poisson`` (Poisson(2))):
   the bank's own calibration, pooled over ``--refs`` fresh references (reference 200, ERT
   1,000 unless ``--reference``/``--ert``): each reference is calibrated by a real
   ``CUSUMDetector`` (its job, its threshold, standardization, clip and jitter), then
   ``--length`` stationary values per reference are run through the same recursion
   vectorized over references (numpy; restarts after each alarm). The pooled events per alarm
   is dominated by the few unlucky references, so few references give a noisy figure: the
   standard error is bootstrapped over references (30 references: about ±14%).

1. False alarms: ``--streams`` stationary N(0, 1) streams of ``--length`` values (after a
   reference of 500). The CUSUM bank (``CUSUMDetector`` defaults, ERT 2,000) and the
   known-shift CUSUM (one upward CUSUM for a 1 sd shift, same ERT, same bootstrap calibration)
   are measured; River's ``ADWIN`` delta and ``PageHinkley`` threshold are tuned by bisection
   (on a log scale) until their measured events per false alarm on the same streams is the
   ERT (within 10%). Events per alarm are counted after the reference (and for the CUSUMs once
   calibrated); River's detectors see the reference values too.
2. Delay: ``--seeds`` streams, change at value 2,000 (the first 500 are the reference): mean
   +0.5 sd, +1 sd, variance x4, and a gradual 1 sd shift over 1,000 values (each value from
   the new mean with a probability rising linearly). Every detector sees the same pre-change
   values (it is copied at the change and each scenario continues from the copy). The delay is
   the first alarm at or after the change minus the change; no alarm in 2,000 values: missed.
"""

from __future__ import annotations

import argparse
import copy
import time
from typing import Any

import numpy as np
from river import drift

from stream_ml.drift import CUSUMDetector

ERT = 2000.0
REF = 500
CHANGE = 2000
AFTER = 2000


def bank(seed: int) -> CUSUMDetector:
    return CUSUMDetector(reference_size=REF, ert=ERT, seed=seed)


def known(seed: int) -> CUSUMDetector:
    return CUSUMDetector(reference_size=REF, ert=ERT, shifts=(1.0,), sides="up", variance=(),
                         seed=seed)  # fmt: skip


def events_per_alarm(make: Any, streams: list[np.ndarray], ours: bool) -> tuple[float, int]:
    events = alarms = 0
    for s, xs in enumerate(streams):
        det = make(s)
        for i, v in enumerate(xs):
            det.update(float(v))
            if i < REF or (ours and not det.calibrated):
                continue
            events += 1
            alarms += bool(det.drift_detected)
    return events / max(alarms, 0.5), alarms


def tune(factory: Any, lo: float, hi: float, streams: list[np.ndarray],
         larger_is_quieter: bool) -> tuple[float, float, int]:  # fmt: skip
    """The parameter (log bisection) whose events per alarm on ``streams`` is the ERT."""
    best = (lo, 0.0, 0)
    for _ in range(12):
        mid = float(np.sqrt(lo * hi))
        epa, n = events_per_alarm(lambda s, p=mid: factory(p), streams, ours=False)
        best = (mid, epa, n)
        if abs(epa / ERT - 1.0) < 0.1:
            break
        quieter = epa > ERT
        if quieter == larger_is_quieter:
            hi = mid
        else:
            lo = mid
    return best


def scenarios(rng: np.random.Generator) -> dict[str, np.ndarray]:
    e = rng.normal(size=AFTER)
    p = np.clip(np.arange(AFTER) / 1000.0, 0.0, 1.0)
    return {
        "mean +0.5 sd": e + 0.5,
        "mean +1 sd": e + 1.0,
        "variance x4": e * 2.0,
        "gradual 1 sd over 1000": e + (rng.random(AFTER) < p),
    }


def delays(makers: dict[str, Any], seeds: int) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {}
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        pre = rng.normal(size=CHANGE)
        post = scenarios(rng)
        for name, make in makers.items():
            det = make(seed)
            for v in pre:
                det.update(float(v))
            for sc, xs in post.items():
                d = copy.deepcopy(det)
                delay = np.inf
                for i, v in enumerate(xs):
                    d.update(float(v))
                    if d.drift_detected:
                        delay = float(i)
                        break
                out.setdefault(sc, {}).setdefault(name, []).append(delay)
    return out


CAL_DRAWS = {
    "normal": lambda g, shape: g.normal(size=shape),
    "errors": lambda g, shape: (g.random(shape) < 0.2).astype(float),
    "poisson": lambda g, shape: g.poisson(2.0, shape).astype(float),
}


def calibration(kind: str, refs: int, length: int, reference: int, ert: float) -> None:
    """Events per alarm / ERT of the calibrated bank over ``refs`` references (see above)."""
    t0 = time.perf_counter()
    draw = CAL_DRAWS[kind]
    dets = []
    for r in range(refs):
        det = CUSUMDetector(reference_size=reference, ert=ert, seed=r)
        det.reset_reference(draw(np.random.default_rng(10_000 + r), reference))
        while not det.calibrated:  # the job, step by step, as ``update`` would run it
            det._advance_job()
        dets.append(det)
    t_cal = time.perf_counter() - t0
    coef = np.array(dets[0]._coef)  # (k, 3): a, q, e
    a, q, e = (coef[:, i][:, None] for i in range(3))
    mu = np.array([d._mu for d in dets])
    inv = np.array([d._inv for d in dets])
    h = np.array([d.threshold for d in dets])
    jit = np.array([d._jitter for d in dets])
    lo = np.array([d._lo for d in dets])
    hi = np.array([d._hi for d in dets])
    rng = np.random.default_rng(7)
    s = np.zeros((len(coef), refs))
    alarms = np.zeros(refs)
    chunk = 500
    for _ in range(0, length, chunk):
        x = np.clip(draw(rng, (refs, chunk)), lo[:, None], hi[:, None])
        z = (x - mu[:, None]) * inv[:, None] + jit[:, None] * rng.standard_normal((refs, chunk))
        for j in range(chunk):
            zj = z[:, j]
            s += a * zj + q * zj * zj - e
            np.maximum(s, 0.0, out=s)
            hit = s.max(axis=0) > h
            if hit.any():
                alarms += hit
                s[:, hit] = 0.0
    n = length - length % chunk if length % chunk else length
    epa = refs * n / max(alarms.sum(), 0.5)
    g = np.random.default_rng(0)
    boot = [n / max(alarms[g.integers(0, refs, refs)].mean(), 1e-9) / ert for _ in range(2000)]
    method = dets[0].calibration.get("reference", "")
    print(f"| {kind} | {refs} x {n:,} | {reference} | {ert:,.0f} | {method} | "
          f"{epa / ert:.2f} ± {np.std(boot):.2f} | {int(alarms.sum())} | "
          f"{t_cal / refs:.2f} s |")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--calibration", choices=sorted(CAL_DRAWS), action="append")
    ap.add_argument("--refs", type=int, default=200)
    ap.add_argument("--reference", type=int, default=200)
    ap.add_argument("--ert", type=float, default=1000.0)
    ap.add_argument("--streams", type=int, default=20)
    ap.add_argument("--length", type=int, default=20_000)
    ap.add_argument("--seeds", type=int, default=50)
    args = ap.parse_args()
    if args.calibration:
        length = 10_000 if args.length == 20_000 else args.length
        print("| stream | references x values | reference | ERT | design | events per alarm / "
              "ERT (± 1 SE) | alarms | calibration wall per reference |")  # fmt: skip
        print("|---|---|---:|---:|---|---:|---:|---:|")
        for kind in args.calibration:
            calibration(kind, args.refs, length, args.reference, args.ert)
        return
    if args.quick:
        args.streams, args.length, args.seeds = 4, 5_000, 5
    t0 = time.perf_counter()
    streams = [np.random.default_rng(s).normal(size=REF + args.length)
               for s in range(args.streams)]  # fmt: skip
    print(f"## CUSUM bank vs known-shift CUSUM, ADWIN, PageHinkley (ERT {ERT:,.0f})\n")
    print(f"False alarms: {args.streams} stationary streams x {args.length:,} values.\n")
    print("| detector | parameter | events per false alarm | alarms |")
    print("|---|---|---:|---:|")
    far = {}
    for name, make in (("stream-ml CUSUM bank", bank), ("known-shift CUSUM (1 sd up)", known)):
        epa, n = events_per_alarm(make, streams, ours=True)
        far[name] = epa
        print(f"| {name} | ERT {ERT:,.0f} (calibrated) | {epa:,.0f} | {n} |", flush=True)
    delta, epa, n = tune(lambda p: drift.ADWIN(delta=p), 1e-4, 1.0, streams, False)
    print(f"| river ADWIN | delta = {delta:.4g} (tuned) | {epa:,.0f} | {n} |", flush=True)
    thr, epa2, n2 = tune(lambda p: drift.PageHinkley(threshold=p), 2.0, 200.0, streams, True)
    print(f"| river PageHinkley | threshold = {thr:.4g} (tuned) | {epa2:,.0f} | {n2} |",
          flush=True)  # fmt: skip
    makers = {
        "stream-ml CUSUM bank": bank,
        "known-shift CUSUM (1 sd up)": known,
        "river ADWIN (tuned)": lambda s: drift.ADWIN(delta=delta),
        "river PageHinkley (tuned)": lambda s: drift.PageHinkley(threshold=thr),
    }
    res = delays(makers, args.seeds)
    print(f"\nDelay: {args.seeds} seeds, change at {CHANGE} (reference {REF}), "
          f"{AFTER} values after.\n")  # fmt: skip
    print("| scenario | detector | mean delay | median delay | missed |")
    print("|---|---|---:|---:|---:|")
    for sc, per in res.items():
        for name, ds in per.items():
            a = np.asarray(ds)
            hit = a[np.isfinite(a)]
            mean = f"{hit.mean():.1f}" if hit.size else "-"
            med = f"{np.median(hit):.0f}" if hit.size else "-"
            print(f"| {sc} | {name} | {mean} | {med} | {1 - hit.size / a.size:.2f} |")
    b = np.asarray(res["mean +1 sd"]["stream-ml CUSUM bank"])
    k = np.asarray(res["mean +1 sd"]["known-shift CUSUM (1 sd up)"])
    print(f"\nCUSUM bank / known-shift CUSUM mean delay on +1 sd: "
          f"{b[np.isfinite(b)].mean() / k[np.isfinite(k)].mean():.2f} "
          f"(goal <= 1.5); wall {time.perf_counter() - t0:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
