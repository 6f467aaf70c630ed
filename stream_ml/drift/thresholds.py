"""Distribution-free thresholds of the rank detectors: a pure function of the configuration.

On tie-free data the KS and CvM statistics of a window against a reference do not depend on the
data's distribution, so the threshold that gives an ERT is a function of the sizes alone. It is
computed from one simulation of **one column** per *base* (statistic, reference size, window
size, check interval, reference policy, lag), which gives the whole curve "threshold -> mean
events between false alarms" (simulated on uniforms, seeded by the CRC-32 of the base, about 16
million events in runs of 20,000). The threshold of ``d`` columns at an ERT is read off that
curve by Šidák's correction: with ``p = k / (ert - w + k)`` the per-check probability that gives
the ERT (``k`` = check interval, ``w`` = warm-up), each column gets ``p1 = 1 - (1 - p)^(1/d)``,
i.e. the column ERT ``w - k + k / p1``, and the detector alarms when the maximum over columns
crosses that column threshold.

What that assumes: the columns are independent and each column's alarms are close to a
memoryless process of ``p1`` per check. Under dependence between columns the union bound keeps
the combined per-check probability at most ``d * p1`` (which Šidák's ``p`` is within
``O(p^2)`` of), and positive dependence makes alarms rarer: the stated ERT is then a lower
bound (conservative). With ties, the KS statistic is never larger than on the tie-free values it
rounds, so the tie-free KS threshold is conservative as well (the CvM statistic with mid-ranks
is not: it needs a bootstrap).

Curves come, in order, from this process's memory, the table shipped with the package
(``thresholds.json``, for the default and common configurations: a fresh process needs no
simulation), a JSON cache on disk (``$STREAM_ML_CACHE_DIR``, else ``$XDG_CACHE_HOME/stream-ml``
or ``~/.cache/stream-ml``), and only then a simulation (a few seconds, once per machine, when the
detector is built, never during ``update``). Every source holds the same numbers (JSON keeps
floats exactly), so where a curve came from never changes a threshold.

>>> from stream_ml.drift.calibration import Spec
>>> one = uniform(Spec("ks", 1, 500, 200, 20, ert=10_000.0))
>>> five = uniform(Spec("ks", 5, 500, 200, 20, ert=10_000.0))
>>> 0.13 < one["threshold"] < five["threshold"] < 0.18, round(five["column_ert"])
(True, 49240)
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from stream_ml.drift.calibration import Spec, horizon, mean_run_length, per_check_probability
from stream_ml.drift.jobs import CalibrationJob, run_to_completion
from stream_ml.drift.rank_segments import RankSegments

__all__ = ["base_key", "column_ert", "curve", "uniform"]

VERSION = 1
_CURVE_EVENTS = 16_000_000
_CURVE_HORIZON = 20_000
_MIN_ALARMS = 100  # the curve is used up to the ERT that ~100 simulated alarms support
_TAIL = 0.03  # candidate thresholds: exceeded by at most 3% of the simulated checks
_GRID = 256
_TABLE_PATH = Path(__file__).with_name("thresholds.json")
#: bases shipped in thresholds.json: the default detector and the configurations in use
SHIPPED = [
    (stat, n, m, k)
    for stat in ("ks", "cvm")
    for n, m, k in [(500, 200, 20), (500, 50, 20), (300, 100, 10), (200, 100, 10),
                    (200, 100, 20), (200, 100, 25), (150, 60, 6), (100, 50, 5)]
]  # fmt: skip
# CvM checked at every value or every 5 (the Alibi Detect comparison's settings): a fresh machine
# would otherwise simulate them when the first such detector is built (60 s and 15 s of CPU)
SHIPPED += [("cvm", 500, 200, 1), ("cvm", 500, 200, 5)]

_memory: dict[str, dict[str, Any]] = {}
_table: dict[str, dict[str, Any]] | None = None


def base_key(spec: Spec) -> str:
    """The name of a spec's curve (what the distribution-free threshold depends on, but ERT)."""
    return (f"{spec.statistic}-n{spec.reference_size}-m{spec.window_size}-k{spec.check_every}"
            f"-{spec.reference}-lag{spec.lag}")  # fmt: skip


def column_ert(spec: Spec) -> float:
    """The ERT each of ``spec.n_features`` columns needs (Šidák on the per-check probability)."""
    p = per_check_probability(spec)
    p1 = -math.expm1(math.log1p(-p) / spec.n_features)
    return spec.warmup - spec.check_every + spec.check_every / p1


def _combined_ert(spec: Spec, ert1: float) -> float:
    k, w = spec.check_every, spec.warmup
    p1 = k / (ert1 - w + k)
    return w - k + k / -math.expm1(spec.n_features * math.log1p(-p1))


def uniform(spec: Spec) -> dict[str, Any]:
    """The distribution-free calibration report of ``spec`` (threshold on the column maximum)."""
    ert1 = column_ert(spec)
    cv = curve(spec)
    erts = np.maximum.accumulate(np.asarray(cv["erts"]))
    i = int(np.searchsorted(erts, ert1, side="left"))
    if 0 < i < len(erts) and ert1 <= cv["max_ert"]:
        c, sim1 = float(cv["thresholds"][i]), float(erts[i])
        runs, events = cv["n_runs"], cv["horizon_events"]
    else:  # outside the curve: one column simulated at its ERT
        one = _direct(_one_column(spec, ert1))
        c, sim1, runs, events = (one["threshold"], one["simulated_ert"], one["n_simulations"],
                                 one["horizon_events"])  # fmt: skip
    return {
        "method": "uniform",
        "threshold": c,
        "ert": spec.ert,
        "per_check_probability": per_check_probability(spec),
        "n_simulations": runs,
        "horizon_events": events,
        "column_ert": ert1,
        "simulated_column_ert": sim1,
        "simulated_ert": _combined_ert(spec, sim1) if spec.n_features > 1 else sim1,
        "combine": f"max over {spec.n_features} columns, Šidák (independent columns)",
    }


def _one_column(spec: Spec, ert: float, n_simulations: int | None = None) -> Spec:
    return Spec(spec.statistic, 1, spec.reference_size, spec.window_size, spec.check_every,
                ert=ert, reference=spec.reference, lag=spec.lag,
                n_simulations=n_simulations)  # fmt: skip


# -- sources ------------------------------------------------------------------------------
def curve(spec: Spec) -> dict[str, Any]:
    """The threshold -> ERT curve of one uniform column for ``spec``'s base (see above)."""
    key = base_key(spec)
    found = _memory.get(key) or _shipped().get(key) or _read(key)
    if found is None:
        found = _compute_curve(spec, key)
        _write(key, found)
    _memory[key] = found
    return found


def _direct(spec: Spec) -> dict[str, Any]:
    key = f"direct-{base_key(spec)}-ert{spec.ert!r}"
    found = _memory.get(key) or _read(key)
    if found is None:
        rng = np.random.default_rng(zlib.crc32(key.encode()))
        found = run_to_completion(CalibrationJob(spec, RankSegments(spec, spec.statistic), rng,
                                                 method="uniform"))  # fmt: skip
        _write(key, found)
    _memory[key] = found
    return found


def _shipped() -> dict[str, dict[str, Any]]:
    global _table
    if _table is None:
        try:
            data = json.loads(_TABLE_PATH.read_text())
        except (OSError, ValueError):
            data = {}
        _table = data.get("curves", {}) if data.get("version") == VERSION else {}
    return _table


def cache_dir() -> Path:
    """Where computed curves are kept between processes."""
    root = os.environ.get("STREAM_ML_CACHE_DIR")
    if root:
        return Path(root) / "drift"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "stream-ml" / "drift"


def _path(key: str) -> Path:
    return cache_dir() / f"{key}.v{VERSION}.json"


def _read(key: str) -> dict[str, Any] | None:
    try:
        data = json.loads(_path(key).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("version") == VERSION else None


def _write(key: str, data: dict[str, Any]) -> None:
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**data, "version": VERSION}))
        os.replace(tmp, path)
    except OSError:  # a read-only home: the curve is simply recomputed next time
        pass


# -- the simulation -----------------------------------------------------------------------
def _compute_curve(spec: Spec, key: str) -> dict[str, Any]:
    base = _one_column(spec, _CURVE_HORIZON / 2.0)
    events_per_run = base.warmup + (horizon(base) - 1) * base.check_every
    base = _one_column(spec, base.ert, max(10, -(-_CURVE_EVENTS // events_per_run)))
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    job = CalibrationJob(base, RankSegments(base, base.statistic), rng, method="uniform")
    while not job.simulated:
        job.step()
    stats = job.stats
    flat = np.sort(stats, axis=None)
    levels = 1.0 - np.geomspace(_TAIL, 1.0 / flat.size, _GRID)
    cands = np.unique(np.quantile(flat, levels, method="inverted_cdf"))
    w, k = base.warmup, base.check_every
    erts = [mean_run_length(stats, float(c), w, k) for c in cands]
    total = job.n_runs * events_per_run
    return {"version": VERSION, "key": key, "thresholds": cands.tolist(), "erts": erts,
            "n_runs": job.n_runs, "horizon_events": events_per_run,
            "max_ert": total / _MIN_ALARMS}  # fmt: skip


def main() -> None:  # pragma: no cover - writes the shipped table
    """``python -m stream_ml.drift.thresholds``: compute the shipped curves, write the table."""
    curves = {}
    for stat, n, m, k in SHIPPED:
        spec = Spec(stat, 1, n, m, k, ert=10_000.0)
        key = base_key(spec)
        t = time.perf_counter()
        curves[key] = _compute_curve(spec, key)
        print(f"{key}: {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    _TABLE_PATH.write_text(json.dumps({"version": VERSION, "curves": curves}, indent=0) + "\n")


if __name__ == "__main__":  # pragma: no cover
    main()
