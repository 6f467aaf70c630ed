"""Windowed two-sample Cramér-von Mises detector, vectorized over features.

The statistic is Anderson's two-sample criterion ``T`` (Anderson, T. W. (1962). On the
distribution of the two-sample Cramér-von Mises criterion. Ann. Math. Statist. 33(3)), with
mid-ranks for ties, equal to :func:`scipy.stats.cramervonmises_2samp`. It weighs the whole
difference of the two empirical distributions, so it sees variance and shape changes that move
the KS supremum little.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

from stream_ml.drift.rank_detector import RankDetector

__all__ = ["CvMDetector"]


class CvMDetector(RankDetector):
    """Cramér-von Mises drift detector; parameters as :class:`~stream_ml.drift.ks.KSDetector`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> det = CvMDetector(n_features=2, reference_size=200, window_size=100, check_every=10,
    ...                   ert=2000, calibration="uniform", fields=("a", "b"))
    >>> before = rng.normal(0, 1, (600, 2))
    >>> after = rng.normal(0, 1, (400, 2)) * [1.0, 2.5]
    >>> for i, x in enumerate(np.vstack([before, after])):
    ...     det.update(x)
    ...     if det.drift_detected:
    ...         break
    >>> i >= 600, det.state.field, det.state.drift
    (True, 'b', True)
    """

    name = "cvm"
    _stat = "cvm"

    def _p_value(self, prepared: Any, win: NDArray[np.float64], i: int) -> float | None:
        return float(sps.cramervonmises_2samp(prepared[i], win[i]).pvalue)
