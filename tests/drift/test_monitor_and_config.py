"""Monitor (skips, cool-down, refresh, Bonferroni), configs, River adapters, MMD, categorical."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from pydantic import ValidationError

from stream_ml.drift import (
    ChiSquaredConfig,
    FeatureDriftMonitor,
    KSConfig,
    MMDConfig,
    PSIConfig,
    RiverConfig,
    RiverDetector,
    parse_detector_config,
)
from stream_ml.drift.streams import abrupt, categorical_shift, gradual, label_shift, recurring
from stream_ml.errors import ConfigError

KS = KSConfig(reference_size=200, window_size=100, check_every=10, ert=2000)


def test_monitor_one_alert_per_shift_and_skips() -> None:
    s = abrupt(6000, at=1000, shift=1.5, n_features=3, seed=4)
    mon = FeatureDriftMonitor(["a", "b", "c"], KS, cooldown=10_000)
    alerts = []
    for i, row in enumerate(s.x):
        x = {"a": row[0], "b": row[1], "c": row[2]}
        if i % 100 == 0:
            x["b"] = None if i % 200 else "text"
        alerts += mon.observe(x, t=1000.0 + i)
    assert len(alerts) == 1
    a = alerts[0]
    assert a.field == "a" and a.event >= 1000 and a.ts == 1000.0 + a.event
    assert a.statistic > a.threshold and a.window_end - a.window_start == 100
    assert mon.skipped == {"a": 0, "b": 60, "c": 0}
    assert mon.detectors[0].n_alarms > 10  # the detector kept firing; the monitor muted it


def test_monitor_refresh_on_alarm_stops_the_repeats() -> None:
    s = abrupt(5000, at=1000, shift=1.5, seed=2)
    mon = FeatureDriftMonitor(["x"], KS, cooldown=0, refresh_on_alarm=True)
    alerts = [a for v in s.x[:, 0] for a in mon.observe({"x": float(v)})]
    first = next(a for a in alerts if a.event >= 1000)
    assert first.event < 1150 and first.reference_end <= 1000
    # later alarms are false alarms against the refreshed (post-shift) reference: few
    assert len(alerts) <= 4
    mon = FeatureDriftMonitor(["x"], KS, cooldown=0)
    assert sum(len(mon.observe({"x": float(v)})) for v in s.x[:, 0]) >= 30


def test_categorical_monitor_splits_the_ert() -> None:
    cfg = ChiSquaredConfig(reference_size=300, window_size=150, check_every=15, ert=3000,
                           n_simulations=200)  # fmt: skip
    mon = FeatureDriftMonitor(["u", "v"], cfg)
    assert [d.ert for d in mon.detectors] == [6000.0, 6000.0]
    s = categorical_shift(2000, at=1000, seed=3)
    other = np.random.default_rng(0).choice(["p", "q"], 2000)
    alerts = [a for u, v in zip(s.x, other, strict=True) for a in mon.observe({"u": u, "v": v})]
    u = [a for a in alerts if a.field == "u"]
    assert len(u) == 1 and u[0].event >= 1000  # "v" is stationary: at most a rare false alarm
    assert u[0].p_value is not None and u[0].p_value < 0.01


def test_error_monitor_with_river() -> None:
    mon = FeatureDriftMonitor(["err"], RiverConfig(kind="ddm"))
    rng = np.random.default_rng(0)
    errs = (rng.random(3000) < np.where(np.arange(3000) < 1500, 0.1, 0.4)).astype(int)
    alerts = [a for e in errs for a in mon.observe({"err": int(e)})]
    assert alerts and alerts[0].event >= 1500 and alerts[0].detector == "ddm"


@pytest.mark.parametrize("kind", ["adwin", "page_hinkley", "ddm", "kswin"])
def test_river_adapter_pickles_and_resets(kind: str) -> None:
    det = RiverDetector.of(kind)
    xs = (
        np.r_[np.zeros(500), np.ones(500)]
        if kind == "ddm"
        else np.r_[np.zeros(500), np.ones(500) * 3]
    )
    for v in xs[:700]:
        det.update(float(v))
    twin = pickle.loads(pickle.dumps(det))
    a = [det.update(float(v)) or det.drift_detected for v in xs[700:]]
    b = [twin.update(float(v)) or twin.drift_detected for v in xs[700:]]
    assert a == b
    det.reset()
    assert det.n_events == 0 and not det.drift_detected


def test_configs_parse_and_build() -> None:
    kinds = {"ks": "KSDetector", "cvm": "CvMDetector", "mmd": "MMDDetector",
             "chi2": "ChiSquaredDetector", "psi": "PSIDetector"}  # fmt: skip
    for kind, name in kinds.items():
        cfg = parse_detector_config({"kind": kind, "window_size": 50, "ert": 5000})
        assert type(cfg.build()).__name__ == name
        with pytest.raises(ValidationError):  # frozen
            cfg.window_size = 3
    assert isinstance(parse_detector_config({"kind": "adwin", "params": {"delta": 0.01}}).build(),
                      RiverDetector)  # fmt: skip
    with pytest.raises(ConfigError, match="window_size"):
        parse_detector_config({"kind": "ks", "window_size": 1})
    with pytest.raises(ConfigError):
        parse_detector_config({"kind": "nope"})
    with pytest.raises(ConfigError, match="ert"):
        KSConfig(window_size=100, ert=50).build()
    assert KSConfig.model_validate_json(KS.model_dump_json()) == KS


def test_mmd_detects_a_covariance_change_and_psi_a_new_category() -> None:
    rng = np.random.default_rng(5)
    cov = np.array([[1.0, 0.9], [0.9, 1.0]])
    # the bootstrap runs amortized over the first ~1,050 values after the reference (interim:
    # the McDiarmid bound; about half a millisecond of it per update); the covariance changes
    # at 1500, after it is calibrated
    x = np.vstack([rng.normal(size=(1500, 2)), rng.multivariate_normal([0, 0], cov, 600)])
    det = MMDConfig(reference_size=300, window_size=150, check_every=15, ert=3000,
                    n_components=32, n_simulations=200, seed=1).build(n_features=2)  # fmt: skip
    hits = [i for i, row in enumerate(x) if det.update(row) or det.drift_detected]
    assert det.calibrated and det.calibration["since"] < 1500
    assert hits and hits[0] >= 1500
    psi = PSIConfig(reference_size=200, window_size=100, check_every=10, ert=2000,
                    n_simulations=200).build()  # fmt: skip
    vals = rng.choice(["a", "b"], 700).tolist() + rng.choice(["a", "b", "new"], 300).tolist()
    hits = [i for i, v in enumerate(vals) if psi.update(v) or psi.drift_detected]
    assert hits and hits[0] >= 700


def test_streams_have_their_drift_points() -> None:
    g = gradual(3000, start=1000, width=500, seed=0)
    assert g.drift_points == (1000,) and g.drift_ends == (1500,)
    assert abs(g.x[1600:, 0].mean() - 1.0) < 0.1 and abs(g.x[:1000, 0].mean()) < 0.1
    assert recurring(1000, 250).drift_points == (250, 500, 750)
    ls = label_shift(4000, at=2000, seed=1)
    assert abs(ls.y[:2000].mean() - 0.3) < 0.05 and abs(ls.y[2000:].mean() - 0.7) < 0.05
