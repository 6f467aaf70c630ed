"""Calibration off the hot path (issue #16): bounded work per update, interim thresholds,
pickling mid-calibration, distribution-free thresholds as a pure function of the config.

Work is counted (job steps, simulated checks), never timed: speed is in the benchmarks.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from stream_ml.drift import (
    ChiSquaredDetector,
    CvMDetector,
    KSDetector,
    MMDDetector,
    base,
    thresholds,
)
from stream_ml.drift.calibration import Spec
from stream_ml.drift.jobs import STEP_BUDGET, CalibrationJob, run_to_completion
from stream_ml.drift.mmd import mcdiarmid_threshold
from stream_ml.drift.rank_segments import RankSegments
from stream_ml.drift.segments import Segments


def tied(rng: np.random.Generator, size: int, d: int = 1) -> np.ndarray:
    """Values rounded to 0.5: many ties, as in rounded sensor data."""
    x = np.round(rng.normal(size=(size, d)) * 2) / 2
    return x[:, 0] if d == 1 else x


def detectors() -> list:
    return [
        KSDetector(n_features=2, reference_size=100, window_size=50, check_every=5, ert=600,
                   calibration="bootstrap", n_simulations=100, seed=1),
        CvMDetector(reference_size=100, window_size=50, check_every=5, ert=600,
                    n_simulations=100, seed=2),  # ties: CvM needs the bootstrap
        MMDDetector(n_features=2, reference_size=100, window_size=50, check_every=5, ert=600,
                    n_components=16, n_simulations=100, seed=3),
        ChiSquaredDetector(reference_size=100, window_size=50, check_every=5, ert=600,
                           n_simulations=100, seed=4),
    ]  # fmt: skip


def values(det, rng: np.random.Generator, size: int):
    if isinstance(det, ChiSquaredDetector):
        return rng.choice(["a", "b", "c"], size, p=[0.5, 0.3, 0.2]).tolist()
    return list(tied(rng, size, det.n_features))


@pytest.mark.parametrize("i", range(4), ids=["ks-bootstrap", "cvm-ties", "mmd", "chi2"])
def test_an_update_never_runs_a_full_calibration(i: int, monkeypatch) -> None:
    det = detectors()[i]
    rows: list[int] = []  # simulated check-rows (runs x checks) of each segment
    costs: list[int] = []  # estimated work of each job step
    advance, step = Segments.advance, CalibrationJob.step

    def counted_advance(self, state, j0, c, rng):
        rows.append(state["b"] * c)
        assert state["b"] * c * self.cost <= max(STEP_BUDGET, self.cost)
        return advance(self, state, j0, c, rng)

    def counted_step(self):
        costs.append(self.step_cost)
        return step(self)

    monkeypatch.setattr(Segments, "advance", counted_advance)
    monkeypatch.setattr(CalibrationJob, "step", counted_step)
    monkeypatch.setattr(thresholds, "_compute_curve", pytest.fail)  # nothing distribution-free
    per_update: list[int] = []
    rng = np.random.default_rng(0)
    for v in values(det, rng, 5_000):
        r0, c0 = len(rows), len(costs)
        det.update(v)
        if len(costs) > c0:
            work = costs[c0:]
            assert sum(work) <= max(base.UPDATE_BUDGET, work[0])  # one step, or within budget
            per_update.append(sum(rows[r0:]))
        if det.calibrated:
            break
    assert det.calibrated and det.calibration["method"] == "bootstrap"
    total = det.calibration["n_simulations"] * (
        (det.calibration["horizon_events"] - det._spec().warmup) // det.check_every + 1
    )
    assert sum(rows) == total  # every simulated check, none twice
    assert len(per_update) >= 20 and max(per_update) < total / 10  # spread over many updates


def test_interim_then_calibrated() -> None:
    ks, cvm, mmd, _ = detectors()
    rng = np.random.default_rng(1)
    for det in (ks, cvm, mmd):
        for v in values(det, rng, det.reference_size):
            det.update(v)
        assert det.calibration["status"] == "interim" and det.calibration["since"] == 100
        assert not det.calibrated
    assert ks.threshold == ks._uniform["threshold"]  # KS: distribution-free, conservative
    assert cvm.threshold == np.inf  # CvM with ties: no alarm until calibrated
    assert mmd.threshold == mcdiarmid_threshold(mmd._spec())
    while not cvm.calibrated:
        cvm.update(tied(rng, 1)[0])
        assert cvm.calibrated or not cvm.drift_detected
    rep = cvm.calibration
    assert rep["interim_since"] == 100 and rep["since"] == cvm.n_events > 100
    assert rep["interim_threshold"] == np.inf and rep["threshold"] == cvm.threshold < np.inf


def test_amortized_equals_eager() -> None:
    rng = np.random.default_rng(2)
    ref = tied(rng, 100, 2)
    det = detectors()[0]
    det.reset_reference(ref)
    while not det.calibrated:
        det.update(tied(rng, 1, 2)[0])
    spec = det._spec()
    job = CalibrationJob(spec, RankSegments(spec, "ks", np.ascontiguousarray(ref.T)),
                         np.random.default_rng(1))  # fmt: skip
    assert run_to_completion(job)["threshold"] == det.threshold


@pytest.mark.parametrize("i", range(4), ids=["ks-bootstrap", "cvm-ties", "mmd", "chi2"])
def test_pickled_mid_calibration_continues_exactly(i: int) -> None:
    det = detectors()[i]
    rng = np.random.default_rng(3)
    xs = values(det, rng, 1_500)
    for v in xs[:103]:
        det.update(v)
    assert det._job is not None and det._job.steps > 0
    twin = pickle.loads(pickle.dumps(det))

    def run(d):
        out = []
        for v in xs[103:]:
            d.update(v)
            out.append((d.drift_detected, d.threshold, d.state))
        return out, d.calibration

    a, b = run(det), run(twin)
    assert a == b and det.calibrated


def test_reset_reference_drops_a_running_calibration() -> None:
    det = detectors()[1]
    rng = np.random.default_rng(4)
    for v in values(det, rng, 110):
        det.update(v)
    assert det._job is not None
    det.reset_reference()
    assert det._job is None
    det.reset_reference(tied(rng, 100))
    assert det._job is not None and det.calibration["since"] == det.n_events


def test_uniform_thresholds_are_a_pure_function(tmp_path, monkeypatch) -> None:
    # a base not shipped, simulated small: computed, written to disk, read back: same numbers
    monkeypatch.setenv("STREAM_ML_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(thresholds, "_CURVE_EVENTS", 300_000)
    monkeypatch.setattr(thresholds, "_memory", {})
    spec = Spec("ks", 3, 60, 30, 5, ert=400.0)
    computed = thresholds.uniform(spec)
    assert list(tmp_path.rglob("*.json"))
    monkeypatch.setattr(thresholds, "_memory", {})
    from_disk = thresholds.uniform(spec)
    monkeypatch.setattr(thresholds, "_memory", {})
    monkeypatch.setattr(thresholds, "_read", lambda key: None)
    again = thresholds.uniform(spec)
    assert computed == from_disk == again
    one = thresholds.uniform(Spec("ks", 1, 60, 30, 5, ert=400.0))
    assert one["threshold"] < computed["threshold"]
    assert thresholds.column_ert(Spec("ks", 1, 60, 30, 5, ert=400.0)) == pytest.approx(400.0)


def test_default_configs_need_no_simulation(monkeypatch) -> None:
    monkeypatch.setattr(thresholds, "_memory", {})
    monkeypatch.setattr(thresholds, "_read", lambda key: None)
    monkeypatch.setattr(thresholds, "_compute_curve", pytest.fail)
    for d in (1, 2, 5, 8):
        for cls in (KSDetector, CvMDetector):
            det = cls(n_features=d)
            assert det._uniform["threshold"] > 0 and det._uniform["column_ert"] >= 10_000


@pytest.mark.slow
def test_the_shipped_table_matches_the_code() -> None:
    spec = Spec("ks", 1, 100, 50, 5, ert=1000.0)
    key = thresholds.base_key(spec)
    assert thresholds._compute_curve(spec, key) == thresholds._shipped()[key]


def test_every_shipped_curve_is_in_the_table() -> None:
    """Each configuration listed as shipped is in thresholds.json, under its own key (the CvM
    curves checked at every value and every 5: a fresh machine simulates nothing for them)."""
    table = thresholds._shipped()
    keys = {thresholds.base_key(Spec(s, 1, n, m, k, ert=10_000.0)) for s, n, m, k in thresholds.SHIPPED}
    assert keys == set(table) and all(table[k]["key"] == k for k in keys)
    assert "cvm-n500-m200-k1-fixed-lag0" in keys
