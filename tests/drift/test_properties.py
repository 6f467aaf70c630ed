"""Property tests: windowed statistics equal a from-scratch recomputation; determinism; pickle."""

from __future__ import annotations

import pickle

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from stream_ml.drift import CvMDetector, KSDetector


class Naive:
    """The detector's specification written plainly over Python lists."""

    def __init__(self, n: int, m: int, k: int, thr: float, policy: str, lag: int, stat: str):
        self.n, self.m, self.k, self.thr, self.policy, self.lag = n, m, k, thr, policy, lag
        self.test = sps.ks_2samp if stat == "ks" else sps.cramervonmises_2samp
        self.ref: list[float] = []
        self.since: list[float] = []  # values since the last (re)start

    def update(self, v: float) -> tuple[bool, float | None]:
        if self.policy == "fixed" and len(self.ref) < self.n:
            self.ref.append(v)
            return False, None
        self.since.append(v)
        c = len(self.since)
        warm = self.m if self.policy == "fixed" else self.n + self.lag + self.m
        if c < warm or (c - warm) % self.k:
            return False, None
        win = self.since[-self.m :]
        if self.policy == "fixed":
            ref = self.ref
        else:
            ref = self.since[-(self.m + self.lag + self.n) : -(self.m + self.lag) or None]
        stat = float(self.test(ref, win).statistic)
        if stat > self.thr:
            self.since = []
            return True, stat
        return False, stat


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.integers(-3, 3) | st.floats(-5, 5, allow_nan=False), min_size=0,
                    max_size=160),
    n=st.integers(2, 12), m=st.integers(2, 12), k=st.integers(1, 5),
    lagged=st.booleans(), lag=st.integers(0, 4), cvm=st.booleans(), thr=st.floats(0.2, 0.8),
)  # fmt: skip
def test_windowed_statistics_equal_recomputation(values, n, m, k, lagged, lag, cvm, thr) -> None:
    policy = "lagged" if lagged else "fixed"
    cls = CvMDetector if cvm else KSDetector
    det = cls(reference_size=n, window_size=m, check_every=k, threshold=thr, reference=policy,
              lag=lag)  # fmt: skip
    naive = Naive(n, m, k, thr, policy, lag, "cvm" if cvm else "ks")
    checks = det.n_checks
    for v in values:
        det.update(v)
        drift, stat = naive.update(float(v))
        assert det.drift_detected == drift
        if stat is None:
            assert det.n_checks == checks
        else:
            checks += 1
            assert det.n_checks == checks
            assert abs(det.state.statistic - stat) < 1e-12


def _run(det, xs):
    out = []
    for x in xs:
        det.update(x)
        out.append((det.drift_detected, det.state))
    return out


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), cut=st.integers(0, 900))
def test_pickle_mid_stream_resumes_exactly(seed: int, cut: int) -> None:
    rng = np.random.default_rng(seed)
    xs = np.vstack([rng.normal(size=(500, 2)), rng.normal(0.7, 1, size=(400, 2))])
    det = KSDetector(n_features=2, reference_size=100, window_size=50, check_every=5, ert=600,
                     calibration="bootstrap", n_simulations=100, seed=seed)  # fmt: skip
    _run(det, xs[:cut])
    twin = pickle.loads(pickle.dumps(det))
    assert _run(det, xs[cut:]) == _run(twin, xs[cut:])


def test_deterministic_under_seed() -> None:
    xs = np.random.default_rng(0).normal(size=(700, 3))
    xs[400:, 1] += 1.0

    def go(seed: int):
        det = CvMDetector(n_features=3, reference_size=150, window_size=60, check_every=6,
                          ert=900, calibration="bootstrap", n_simulations=150,
                          seed=seed)  # fmt: skip
        return _run(det, xs), det.calibration

    a, b, c = go(7), go(7), go(8)
    assert a == b
    assert a[1]["threshold"] != c[1]["threshold"] or a[1]["simulated_ert"] != c[1]["simulated_ert"]


def test_reset_reference_with_values_and_reset() -> None:
    rng = np.random.default_rng(4)
    det = KSDetector(reference_size=50, window_size=20, check_every=5, threshold=0.5)
    for v in rng.normal(size=100):
        det.update(v)
    new_ref = rng.normal(3.0, 1.0, size=50)
    det.reset_reference(new_ref)
    for v in rng.normal(3.0, 1.0, size=20):
        det.update(v)
    s = det.state
    assert s.reference_start == 100 and s.window_end == 120
    assert s.statistic == sps.ks_2samp(new_ref, det._buf[0]).statistic
    det.reset()
    assert det.n_events == 0 and det.state is None
