"""Calibration: on stationary streams the mean time between false alarms is the stated ERT.

Each detector sees a fresh reference and then a long stationary stream; every alarm restarts its
window (a renewal), so the mean run time to a false alarm is total events / total alarms. The ERT
is calibrated as an average over reference samples, so several references are used. With ~300
alarms per case the relative standard error is about 6% (plus the spread between references);
the stated margin is ±25%. A bootstrap calibration runs amortized over the first values after
the reference (with a conservative interim threshold), so the rates are counted over the events
where the detector is calibrated (``det.calibrated``: from the start for distribution-free ones).
"""

from __future__ import annotations

import numpy as np
import pytest

from stream_ml.drift import ChiSquaredDetector, CvMDetector, KSDetector, MMDDetector, PSIDetector
from stream_ml.drift.calibration import Spec, mean_run_length, threshold_for_ert
from stream_ml.drift.config import ChiSquaredConfig
from stream_ml.drift.monitor import FeatureDriftMonitor

ERT = 1000.0


def mean_time_between_alarms(make, draw, refs: int, seed: int, length: int) -> float:
    """Calibrated events after the reference / alarms, over ``refs`` fresh detectors."""
    events = alarms = 0
    for r in range(refs):
        rng = np.random.default_rng(seed + r)
        det = make(r)
        for v in draw(rng, det.reference_size):
            det.update(v)
        for v in draw(rng, length):
            det.update(v)
            if det.calibrated:
                events += 1
                alarms += det.drift_detected
    return events / max(alarms, 1)


def normal(d: int):
    def draw(rng: np.random.Generator, size: int):
        x = rng.normal(size=(size, d))
        return x[:, 0] if d == 1 else x

    return draw


@pytest.mark.parametrize("cls", [KSDetector, CvMDetector])
def test_single_feature_mean_run_length(cls: type) -> None:
    def make(r: int):
        return cls(reference_size=200, window_size=100, check_every=10, ert=ERT, seed=r)

    mtba = mean_time_between_alarms(make, normal(1), refs=30, seed=10, length=10_000)
    assert 0.75 * ERT <= mtba <= 1.25 * ERT, mtba


def test_three_features_max_statistic() -> None:
    def make(r: int):
        return KSDetector(n_features=3, reference_size=200, window_size=100, check_every=10,
                          ert=ERT, calibration="uniform", seed=r)  # fmt: skip

    mtba = mean_time_between_alarms(make, normal(3), refs=30, seed=20, length=10_000)
    assert 0.75 * ERT <= mtba <= 1.25 * ERT, mtba


def test_calibration_report() -> None:
    det = CvMDetector(reference_size=200, window_size=100, check_every=10, ert=ERT)
    for v in np.random.default_rng(0).normal(size=200):
        det.update(v)
    rep = det.calibration
    assert rep["method"] == "uniform" and rep["ert"] == ERT
    assert rep["threshold"] == det.threshold
    assert 0.0 < rep["per_check_probability"] < 1.0 and rep["n_simulations"] >= 300
    assert abs(rep["simulated_ert"] / ERT - 1.0) < 0.1


def test_threshold_for_ert_on_a_known_process() -> None:
    # iid uniform statistics: crossing c has hazard 1 - c per check, mean run length
    # warmup + k (1 / (1 - c) - 1); for ert=100, warmup=10, k=5: c = 1 - 5 / 95
    stats = np.random.default_rng(1).random((4000, 60))
    c = threshold_for_ert(stats, 100.0, warmup=10, k=5)
    assert abs(c - (1 - 5 / 95)) < 0.01
    assert abs(mean_run_length(stats, c, 10, 5) - 100.0) < 5.0
    assert Spec("ks", 1, 10, 20, 5, 100.0).warmup == 20


@pytest.mark.slow
def test_bootstrap_calibrations_mmd_and_chi2() -> None:
    # ERT 500 over 12 references x 5,000 values: the ~110 alarms of ERT 1,000 x 10,000 at half
    # the values and half the simulation (a run covers two ERTs)
    ert = 500.0

    def make_mmd(r: int):
        return MMDDetector(n_features=2, reference_size=200, window_size=100, check_every=20,
                           ert=ert, n_components=64, n_simulations=300, seed=r)  # fmt: skip

    mtba = mean_time_between_alarms(make_mmd, normal(2), refs=12, seed=30, length=5_000)
    assert 0.75 * ert <= mtba <= 1.25 * ert, mtba

    def make_chi2(r: int):
        return ChiSquaredDetector(reference_size=200, window_size=100, check_every=20, ert=ert,
                                  n_simulations=300, seed=r)  # fmt: skip

    def cats(rng: np.random.Generator, size: int):
        return rng.choice(4, size, p=[0.4, 0.3, 0.2, 0.1]).tolist()

    mtba = mean_time_between_alarms(make_chi2, cats, refs=12, seed=40, length=5_000)
    assert 0.75 * ert <= mtba <= 1.25 * ert, mtba


CHANNELS = np.array(["web", "app", "store", "phone"])


def channels(rng: np.random.Generator, size: int):
    return rng.choice(CHANNELS, size, p=[0.5, 0.3, 0.15, 0.05]).tolist()


def make_chi2(r: int):
    return ChiSquaredDetector(reference_size=200, window_size=100, check_every=20, ert=ERT,
                              n_simulations=300, seed=r)  # fmt: skip


def test_chi2_mean_run_length_on_a_stationary_categorical_stream() -> None:
    mtba = mean_time_between_alarms(make_chi2, channels, refs=24, seed=50, length=5_000)
    assert 0.75 * ERT <= mtba <= 1.25 * ERT, mtba


def test_psi_mean_run_length_on_a_stationary_categorical_stream() -> None:
    def make(r: int):
        return PSIDetector(reference_size=200, window_size=100, check_every=20, ert=ERT,
                           n_simulations=300, seed=r)  # fmt: skip

    mtba = mean_time_between_alarms(make, channels, refs=24, seed=60, length=5_000)
    assert 0.75 * ERT <= mtba <= 1.25 * ERT, mtba


def test_chi2_stays_calibrated_after_reset_reference_with_values() -> None:
    # every 2000 events a new reference is given as categories (as after a retrain): each is
    # encoded like the stream and recalibrated, so the false-alarm rate stays at one per ERT.
    # (Resets are on a schedule: resetting at alarms would retire unlucky references early and
    # lengthen the mean run, which is conservative.)
    events = alarms = 0
    for r in range(20):
        rng = np.random.default_rng(70 + r)
        det = make_chi2(r)
        for v in channels(rng, det.reference_size):
            det.update(v)
        for i, v in enumerate(channels(rng, 6_000), 1):
            det.update(v)
            if det.calibrated:  # after each reset a bootstrap runs (no alarm meanwhile)
                events += 1
                alarms += det.drift_detected
            if i % 2_000 == 0:
                det.reset_reference(channels(rng, det.reference_size))
        assert det.calibration["method"] == "bootstrap" and det.n_checks > 0
        # the last reset (at the last value) started a new bootstrap: interim since then
        assert det.calibration["status"] == "interim" and det.calibration["since"] == det.n_events
    mtba = events / max(alarms, 1)
    assert 0.75 * ERT <= mtba <= 1.25 * ERT, mtba


def test_reset_reference_encodes_categories() -> None:
    det = ChiSquaredDetector(reference_size=4, window_size=4, check_every=1, ert=ERT,
                             n_simulations=20, seed=0)  # fmt: skip
    for v in [3, 1, 2, 0]:
        det.update(v)
    det.reset_reference([0, 1, 2, 3])
    assert det._ref[0].tolist() == [3.0, 1.0, 2.0, 0.0]  # the codes of 0, 1, 2, 3
    det.reset_reference(np.array(["web", "app", "web", "store"]))
    assert det._ref[0].tolist() == [4.0, 5.0, 4.0, 6.0]


def test_chi2_monitor_refresh_on_alarm_stays_calibrated() -> None:
    # refresh_on_alarm: each alarm is followed by reference_size values that refill the
    # reference (no check there), then a renewal run of mean ERT; references are retired at
    # their first alarm, so unlucky ones live shorter and the mean run is a bit longer (safe)
    cfg = ChiSquaredConfig(reference_size=200, window_size=100, check_every=20, ert=ERT,
                           n_simulations=300)  # fmt: skip
    events = alarms = 0
    for r in range(12):
        rng = np.random.default_rng(90 + r)
        mon = FeatureDriftMonitor(["channel"], cfg.model_copy(update={"seed": r}), cooldown=0,
                                  refresh_on_alarm=True)  # fmt: skip
        for v in channels(rng, cfg.reference_size):
            mon.observe({"channel": v})
        for v in channels(rng, 8_000):
            alarms += len(mon.observe({"channel": v}))
            events += 1
    mtba = events / max(alarms, 1)
    target = ERT + cfg.reference_size
    assert 0.75 * target <= mtba <= 1.5 * target, mtba
