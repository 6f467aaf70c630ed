"""The batched hot path of the rank detectors (drift-cost): values kept in a list and written per
check, window values coded once against the fixed reference, statistics read from the codes'
histogram (or, for CvM checked at every value, running exact sums). What must not change: every check's statistic equals scipy's (ties of every kind
included), bad values raise, pickles resume exactly, and the monitor's fast path skips what
the careful path skips."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from scipy import stats as sps

from stream_ml.drift import CvMDetector, FeatureDriftMonitor, KSConfig, KSDetector
from stream_ml.drift.ranks import ReferenceIndex, merged_statistics

SCIPY = {KSDetector: sps.ks_2samp, CvMDetector: sps.cramervonmises_2samp}


def _stream(kind: str, rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    if kind == "continuous":
        return rng.normal(size=(n, d))
    if kind == "rounded":  # ties within and across the samples
        return np.round(rng.normal(size=(n, d)), 1)
    if kind == "counts":
        return rng.poisson(3.0, size=(n, d)).astype(float)
    if kind == "repeats":  # ties between window values only (never equal to a reference one)
        x = rng.normal(size=(n, d))
        x[60:] = np.round(x[60:], 1) + 0.05
        return x
    x = rng.normal(size=(n, d))  # a stuck sensor: one value repeated in the window
    x[n // 2 :: 3] = x[n // 2]
    x[n // 2 + 1 :: 7] = x[3]  # and a reference value repeated after it
    return x


@pytest.mark.parametrize("cls", [KSDetector, CvMDetector])
@pytest.mark.parametrize("kind", ["continuous", "rounded", "counts", "stuck", "repeats"])
@pytest.mark.parametrize("check_every", [1, 7, 45])
def test_every_check_equals_scipy(cls: type, kind: str, check_every: int) -> None:
    rng = np.random.default_rng([["continuous", "rounded", "counts", "stuck", "repeats"].index(kind),
                                 check_every])  # fmt: skip
    d, n, m = 2, 60, 30
    x = _stream(kind, rng, 420, d)
    det = cls(n_features=d, reference_size=n, window_size=m, check_every=check_every,
              threshold=float("inf"))  # fmt: skip
    test = SCIPY[cls]
    checks = 0
    for i, row in enumerate(x):
        before = det.n_checks
        det.update(row)
        if det.n_checks == before:
            continue
        checks += 1
        s = det.state
        assert s is not None and s.window_end == i + 1
        ref, win = x[s.reference_start : s.reference_end], x[s.window_start : s.window_end]
        want = [test(ref[:, j], win[:, j]).statistic for j in range(d)]
        assert list(s.statistics) == want  # bit for bit
    assert checks == (420 - n - m) // check_every + 1


def test_reference_index_equals_the_merged_kernel_on_random_ties() -> None:
    rng = np.random.default_rng(5)
    for it in range(300):
        d = int(rng.integers(1, 4))
        n, m = (int(v) for v in rng.integers(2, 90, 2))
        scale = [0, 1, 2][it % 3]  # rounding: many ties .. few
        ref = np.round(rng.normal(size=(d, n)) * 10**scale) / 10**scale
        win = np.round(rng.normal(0.3, 1.2, size=(d, m)) * 10**scale) / 10**scale
        ref_s = np.sort(ref, axis=1)
        ks, cvm = merged_statistics(ref_s, win)
        index = ReferenceIndex(ref_s)
        codes = index.codes(win)
        hist = index.histogram(codes)
        assert np.array_equal(index.statistics(hist, m, "ks"), ks)
        assert np.array_equal(index.statistics(hist, m, "cvm", win, codes), cvm)


def test_a_bad_value_raises_and_is_not_counted() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=200)
    det = KSDetector(reference_size=50, window_size=20, check_every=5, threshold=float("inf"))
    taken: list[float] = []
    for v in x[:60]:
        det.update(v)
        taken.append(v)
    det.update("n/a")  # kept pending: the error comes with the block, at the first check
    raised = []
    for i, v in enumerate(x[60:70]):
        try:
            det.update(v)
        except ValueError as e:
            raised.append((i, str(e)))
        taken.append(v)
    # window values 11..20 with the bad one: the check at the 20th raises and un-counts it
    assert raised == [(8, "ks: not 1 number(s): 'n/a'")]
    assert det.n_checks == 1  # the check ran one good value later
    for v in x[70:100]:
        det.update(v)
        taken.append(v)
    s = det.state
    assert s is not None and det.n_checks == 7
    assert s.statistic == sps.ks_2samp(taken[:50], taken[-20:]).statistic
    # in the reference too: it completes one good value later
    det = KSDetector(reference_size=10, window_size=5, check_every=1, threshold=float("inf"))
    for v in x[:5]:
        det.update(v)
    det.update("?")  # (None would be taken as NaN, as a single write took it)
    for v in x[5:8]:
        det.update(v)
    with pytest.raises(ValueError):
        det.update(x[8])  # the 10th value would complete the reference
    assert det._ref_fill == 9
    for v in x[9:15]:
        det.update(v)
    assert det.state is not None
    assert det.state.statistic == sps.ks_2samp(x[:10], x[10:15]).statistic


@pytest.mark.parametrize("cls", [KSDetector, CvMDetector])
@pytest.mark.parametrize("check_every", [1, 5])
def test_pickle_and_copy_mid_window_resume_exactly(cls: type, check_every: int) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(900, 3))
    x[::4] = np.round(x[::4], 1)  # some ties
    det = cls(n_features=3, reference_size=100, window_size=50, check_every=check_every,
              threshold=0.9)  # fmt: skip
    for row in x[:333]:
        det.update(row)
    assert det._pending or check_every == 1  # mid-way between checks
    twins = [pickle.loads(pickle.dumps(det)), copy.deepcopy(det)]
    out: list[list[tuple[float, ...]]] = [[], [], []]
    for row in x[333:]:
        for j, d in enumerate([det, *twins]):
            before = d.n_checks
            d.update(row)
            if d.n_checks != before:
                out[j].append(d.state.statistics)
    assert out[0] == out[1] == out[2] and len(out[0]) > 50


def test_a_detector_pickled_before_batching_loads() -> None:
    """A pickle from before batching has no pending list nor codes: they are rebuilt."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(700, 2))
    a = CvMDetector(n_features=2, reference_size=100, window_size=50, check_every=5, ert=2000)
    for row in x[:300]:  # 300 - 100 = 200 window values: a check was the last event
        a.update(row)
    assert not a._pending
    state = dict(a.__dict__)
    for key in ("_pending", "_encoding", "_index", "_codes"):
        state.pop(key, None)
    b = object.__new__(CvMDetector)
    b.__setstate__(copy.deepcopy(state))
    sa, sb = [], []
    for row in x[300:]:
        a.update(row)
        b.update(row)
        sa.append(a.state.statistics)
        sb.append(b.state.statistics)
    assert sa == sb


def test_the_monitors_fast_path_skips_what_the_careful_path_skips() -> None:
    fields = ["a", "b"]
    cfg = KSConfig(reference_size=20, window_size=10, check_every=5, threshold=0.5)
    rows = [
        {"a": 1.0, "b": 2},  # float and int: fast
        {"a": True, "b": np.float64(2.5)},  # bool, numpy scalar: careful path, taken
        {"a": float("inf"), "b": 1.0},  # skipped: a
        {"a": float("nan"), "b": float("nan")},  # skipped: a and b
        {"a": 1e308, "b": 1e308},  # finite, their sum is not: taken
        {"a": 10**400, "b": 1.0},  # an int too large for a float: skipped
        {"b": 1.0},  # missing: skipped
        {"a": "1.5", "b": 1.0},  # a string: skipped
        {"a": None, "b": None},
    ]
    mon = FeatureDriftMonitor(fields, cfg)
    for r in rows:
        mon.observe(r)
    det = mon.detectors[0]
    assert det.n_events == 3
    assert [list(map(float, v)) for v in det._pending] == [[1.0, 2.0], [1.0, 2.5], [1e308, 1e308]]
    assert mon.skipped == {"a": 6, "b": 2}


@pytest.mark.parametrize("d", [1, 2])
def test_running_cvm_follows_the_histogram_through_ties_and_restarts(d: int) -> None:
    """check_every = 1: the running sums against the histogram kernel at every check, through
    window ties, values equal to reference values (the sums are dropped, then rebuilt), alarms
    (restarts) and a new reference."""
    rng = np.random.default_rng(9)
    x = rng.normal(size=(3000, d))
    x[400:900] = np.round(x[400:900], 1) + 0.05  # window ties
    x[1000:1100:9] = x[5]  # equal to reference values
    x[1500:] += 0.8  # alarms
    det = CvMDetector(n_features=d, reference_size=120, window_size=60, check_every=1,
                      threshold=1.5)  # fmt: skip
    assert det._running is None  # until the reference is in
    used = 0
    for i, row in enumerate(x):
        det.update(row if d > 1 else float(row[0]))
        if i == 2200:
            det.reset_reference(rng.normal(size=(120, d)))
        if det.n_checks and det.state.window_end == i + 1:
            index, codes = det._index, det._codes
            want = index.statistics(index.histogram(codes), 60, "cvm", det._buf, codes)
            assert list(det.state.statistics) == want.tolist()
            used += det._running is not None and det._running.ok
    assert det.n_alarms >= 3 and used > 1000


@pytest.mark.parametrize("cls", [KSDetector, CvMDetector])
def test_dependence_ess_scales_the_distribution_free_threshold(cls: type) -> None:
    """dependence = "ess" (drift-calibration's request): no job, the uniform threshold times
    the reference's effective-sample-size factor (CvM) or its square root (KS) when the
    lag-1 test fires, the uniform one on i.i.d. data."""
    from stream_ml.drift.dependence import ess_factor

    rng = np.random.default_rng(0)
    e = rng.normal(size=800)
    ar = np.empty(800)
    ar[0] = e[0]
    for t in range(1, 800):
        ar[t] = 0.5 * ar[t - 1] + e[t]
    kw = {"reference_size": 500, "window_size": 200, "check_every": 20, "ert": 10_000.0}
    for x, fires in ((ar, True), (e, False)):
        ess, none = cls(dependence="ess", **kw), cls(dependence="none", **kw)
        for v in x[:500]:
            ess.update(v)
            none.update(v)
        assert ess._job is None and ess.calibrated
        f = float(ess_factor(x[None, :500])[0]) if fires else 1.0
        scale = f if cls is CvMDetector else np.sqrt(f)
        assert ess.calibration["dependence"]["factor"] == f
        assert ess.threshold == pytest.approx(none.threshold * scale, rel=1e-12)
        assert (ess.threshold > none.threshold) == fires


def test_a_monitor_computes_p_values_for_its_alerts_only() -> None:
    """Alarms absorbed by an episode get no p-value (an exact KS p-value costs ~1 ms); an
    alert's is scipy's on its windows; a detector outside a monitor still computes them."""
    rng = np.random.default_rng(4)
    x = np.r_[rng.normal(size=1500), rng.normal(1.5, 1.0, size=3000)]
    cfg = KSConfig(reference_size=200, window_size=100, check_every=10, ert=2000)
    mon = FeatureDriftMonitor(["v"], cfg, episodes=True)
    alerts, absorbed = [], 0
    for i, v in enumerate(x):
        got = mon.observe({"v": float(v)}, float(i))
        det = mon.detectors[0]
        if got:
            alerts += got
        elif det.drift_detected:
            absorbed += 1
            assert det.state.p_value is None
    assert alerts and absorbed > 5
    for a in alerts:
        ref, win = x[a.reference_start : a.reference_end], x[a.window_start : a.window_end]
        assert a.p_value == sps.ks_2samp(ref, win).pvalue
    det = KSDetector(reference_size=200, window_size=100, check_every=10, threshold=0.3)
    for v in x[:1700]:
        det.update(v)
        if det.drift_detected:
            assert det.state.p_value is not None
