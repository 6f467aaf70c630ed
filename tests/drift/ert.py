"""The ERT harness of the drift calibration tests: events per false alarm, pooled over
references (tests/drift/test_cusum.py, tests/drift/test_dependence.py)."""

from __future__ import annotations

import numpy as np


def events_per_alarm(make, draw, refs: int = 30, length: int = 10_000, seed: int = 10) -> float:
    """Events after calibration per alarm over ``refs`` detectors ``make(r)``, each fed
    ``draw(rng, reference_size + length)`` from ``default_rng(seed + r)``."""
    events = alarms = 0
    for r in range(refs):
        rng = np.random.default_rng(seed + r)
        det = make(r)
        for v in draw(rng, det.reference_size + length):
            det.update(v)
            if det.calibrated:
                events += 1
                alarms += det.drift_detected
    return events / max(alarms, 1)
