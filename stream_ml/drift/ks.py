"""Windowed two-sample Kolmogorov-Smirnov detector, vectorized over features.

The statistic is Smirnov's two-sample ``D = sup_x |F_ref(x) - F_win(x)|`` (Smirnov, N. (1948).
Table for estimating the goodness of fit of empirical distributions. Ann. Math. Statist. 19),
computed for all monitored columns by one sort every ``check_every`` events; the threshold on the
maximum over columns is calibrated to an expected run time between false alarms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

from stream_ml.drift.rank_detector import RankDetector

__all__ = ["KSDetector"]


class KSDetector(RankDetector):
    """Kolmogorov-Smirnov drift detector over a reference and a sliding window.

    Parameters: ``n_features`` columns monitored together (``update`` takes a sequence of that
    length, or a number when 1); ``reference_size`` and ``window_size`` values; a check every
    ``check_every`` events once the window is full; ``ert``, the expected number of events
    between false alarms on a stationary stream, to which the threshold is calibrated (or a
    fixed ``threshold``); ``reference`` = ``"fixed"`` (the first values, renewed by
    ``reset_reference``) or ``"lagged"`` (the ``reference_size`` values that end ``lag`` events
    before the window); ``calibration`` = ``"auto"``, ``"bootstrap"`` or ``"uniform"``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> det = KSDetector(reference_size=200, window_size=100, check_every=10, ert=2000, seed=1)
    >>> stream = np.concatenate([rng.normal(0, 1, 600), rng.normal(1.0, 1, 300)])
    >>> alarms = []
    >>> for i, x in enumerate(stream):
    ...     det.update(x)
    ...     if det.drift_detected:
    ...         alarms.append(i)
    >>> alarms[0] >= 600, len(alarms) > 0
    (True, True)
    >>> det.calibration["method"], det.calibration["ert"]
    ('uniform', 2000.0)
    """

    name = "ks"
    _stat = "ks"

    def _p_value(self, prepared: Any, win: NDArray[np.float64], i: int) -> float | None:
        return float(sps.ks_2samp(prepared[i], win[i]).pvalue)
