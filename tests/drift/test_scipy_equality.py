"""KS and CvM statistics (and p-values) equal scipy's on the same two windows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from stream_ml.drift import CvMDetector, KSDetector
from stream_ml.drift.categorical import chi2_rows, psi_rows
from stream_ml.drift.ranks import atom_statistics, merged_statistics, slot_statistics


@pytest.mark.parametrize("ties", [False, True])
def test_merged_kernel_equals_scipy(ties: bool) -> None:
    rng = np.random.default_rng(0)
    for _ in range(60):
        n, m = (int(v) for v in rng.integers(2, 120, 2))
        if ties:
            ref = rng.integers(0, 8, (4, n)).astype(float)
            win = rng.integers(0, 9, (4, m)).astype(float)
        else:
            ref, win = rng.normal(size=(4, n)), rng.normal(0.2, 1.3, size=(4, m))
        ks, cvm = merged_statistics(np.sort(ref, axis=1), win)
        for i in range(4):
            assert ks[i] == sps.ks_2samp(ref[i], win[i]).statistic
            assert abs(cvm[i] - sps.cramervonmises_2samp(ref[i], win[i]).statistic) < 1e-12


def test_simulation_kernels_agree_with_merged() -> None:
    rng = np.random.default_rng(1)
    for _ in range(40):
        n, m = (int(v) for v in rng.integers(2, 80, 2))
        ref, win = np.sort(rng.random((3, n)), axis=1), rng.random((3, m))
        ks, cvm = merged_statistics(ref, win)
        slots = np.array([np.searchsorted(ref[i], win[i]) for i in range(3)])
        assert np.array_equal(slot_statistics(slots, n, stat="ks"), ks)
        assert np.allclose(slot_statistics(slots, n, stat="cvm"), cvm, rtol=0, atol=1e-12)
        a, b = rng.integers(0, 5, (3, n)), rng.integers(0, 5, (3, m))
        rc = np.array([np.bincount(r, minlength=5) for r in a])
        wc = np.array([np.bincount(r, minlength=5) for r in b])
        ks, cvm = merged_statistics(np.sort(a, axis=1).astype(float), b.astype(float))
        assert np.allclose(atom_statistics(rc, wc, stat="ks"), ks, rtol=0, atol=1e-12)
        assert np.allclose(atom_statistics(rc, wc, stat="cvm"), cvm, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cls", [KSDetector, CvMDetector])
def test_detector_alarm_matches_scipy(cls: type) -> None:
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(size=(300, 3)), rng.normal(1.0, 1.0, size=(200, 3))])
    det = cls(n_features=3, reference_size=150, window_size=60, check_every=7, threshold=0.0)
    for i, row in enumerate(x):
        det.update(row)
        if det.drift_detected:
            s = det.state
            ref, win = x[s.reference_start : s.reference_end], x[s.window_start : s.window_end]
            assert s.window_end == i + 1
            test = sps.ks_2samp if cls is KSDetector else sps.cramervonmises_2samp
            res = [test(ref[:, j], win[:, j]) for j in range(3)]
            assert np.allclose(s.statistics, [r.statistic for r in res], rtol=0, atol=1e-12)
            j = int(np.argmax(s.statistics))
            assert s.field == str(j)
            assert s.p_value == pytest.approx(res[j].pvalue, rel=1e-12, abs=1e-15)
    assert det.n_alarms >= 5


def test_chi2_and_psi_rows() -> None:
    rng = np.random.default_rng(3)
    for _ in range(30):
        ref = rng.integers(0, 30, (1, 6))
        win = rng.integers(0, 30, (1, 6))
        ref[0, 0] = win[0, 0] = 0  # a category absent from both
        table = np.vstack([ref[0], win[0]])[:, 1:]
        expected = sps.chi2_contingency(table, correction=False).statistic
        assert abs(chi2_rows(ref, win)[0] - expected) < 1e-9
        r = np.maximum(ref[0] / ref.sum(), 1e-4)
        w = np.maximum(win[0] / win.sum(), 1e-4)
        assert abs(psi_rows(ref, win)[0] - np.sum((w - r) * np.log(w / r))) < 1e-12
