"""Seeds (issue #12): a monitor's detectors derive their generators from the monitor's seed."""

from __future__ import annotations

import numpy as np

from stream_ml.drift import ChiSquaredConfig, FeatureDriftMonitor, KSConfig, RiverConfig
from stream_ml.drift.seeding import DEFAULT_SEED, derive_seed
from stream_ml.drift.streams import abrupt

# bootstrap calibration: the threshold depends on the generator (uniform ones do not)
KS = KSConfig(reference_size=100, window_size=50, check_every=5, ert=600,
              calibration="bootstrap", n_simulations=100)  # fmt: skip
FIELDS = ["a", "b"]


def run(mon: FeatureDriftMonitor, seed: int = 3, n: int = 2500) -> tuple[list, list]:
    s = abrupt(n, at=1500, shift=1.0, n_features=2, seed=seed)
    alerts = []
    for i, row in enumerate(s.x):
        alerts += mon.observe({"a": float(row[0]), "b": float(row[1])}, t=float(i))
    return [a.to_dict() for a in alerts], [(d.threshold, d.calibration) for d in mon.detectors]


def test_same_seed_same_thresholds_and_alerts() -> None:
    a = run(FeatureDriftMonitor(FIELDS, KS, seed=11))
    b = run(FeatureDriftMonitor(FIELDS, KS, seed=11))
    assert a == b and a[0]  # some alerts, identical
    c = run(FeatureDriftMonitor(FIELDS, KS, seed=12))
    (_, cal_a), (_, cal_c) = a[1][0], c[1][0]
    assert (cal_a["threshold"], cal_a["simulated_ert"]) != (
        cal_c["threshold"],
        cal_c["simulated_ert"],
    )


def test_no_seed_is_a_fixed_default_not_entropy() -> None:
    a, b = FeatureDriftMonitor(FIELDS, KS), FeatureDriftMonitor(FIELDS, KS)
    assert a.detectors[0].seed == b.detectors[0].seed == derive_seed(DEFAULT_SEED, "drift-detector",
                                                                     "a", "b")  # fmt: skip
    assert run(a) == run(b)
    assert KS.build(2).seed == DEFAULT_SEED


def test_a_seed_sequence_is_accepted() -> None:
    ss = np.random.SeedSequence(5)
    a = FeatureDriftMonitor(FIELDS, KS, seed=ss).detectors[0].seed
    assert a == FeatureDriftMonitor(FIELDS, KS, seed=np.random.SeedSequence(5)).detectors[0].seed
    assert a == derive_seed(5, "drift-detector", "a", "b")


def test_a_config_seed_overrides_the_monitor_seed() -> None:
    cfg = KS.model_copy(update={"seed": 5})
    a = FeatureDriftMonitor(FIELDS, cfg, seed=1)
    b = FeatureDriftMonitor(FIELDS, cfg, seed=2)
    assert a.detectors[0].seed == b.detectors[0].seed == 5 == cfg.build(2, ("a", "b")).seed
    assert run(a) == run(b)


def test_per_field_detectors_get_distinct_seeds_from_their_names() -> None:
    cfg = ChiSquaredConfig(reference_size=100, window_size=50, check_every=10, ert=1000,
                           n_simulations=50)  # fmt: skip
    mon = FeatureDriftMonitor(["u", "v"], cfg, seed=9)
    seeds = [d.seed for d in mon.detectors]
    assert seeds == [derive_seed(9, "drift-detector", f) for f in ("u", "v")]
    assert seeds[0] != seeds[1]
    # a field's seed does not depend on the other fields watched
    assert FeatureDriftMonitor(["v"], cfg, seed=9).detectors[0].seed == seeds[1]


def test_river_kswin_gets_a_seed() -> None:
    xs = np.r_[np.zeros(400), np.ones(300) * 3] + np.random.default_rng(0).normal(0, 0.1, 700)

    def alarms(mon: FeatureDriftMonitor) -> list[int]:
        return [a.event for v in xs for a in mon.observe({"err": float(v)})]

    cfg = RiverConfig(kind="kswin")
    a, b = FeatureDriftMonitor(["err"], cfg, seed=4), FeatureDriftMonitor(["err"], cfg, seed=4)
    assert a.detectors[0].detector.seed == derive_seed(4, "drift-detector", "err")
    first = alarms(a)
    assert first == alarms(b) and first
    own = RiverConfig(kind="kswin", params={"seed": 17})
    assert FeatureDriftMonitor(["err"], own, seed=4).detectors[0].detector.seed == 17
    assert RiverConfig(kind="kswin").build().detector.seed == DEFAULT_SEED
