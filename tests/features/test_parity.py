"""Online == offline, for every event that is not too late and every aggregate and window.

Exact everywhere except the all-time sketches past their exact ``bound`` (``SKETCH_SPECS``, with
a small bound so the logs reach it): there :func:`~stream_ml.features.compute_offline` gives the
exact value and the online one is within the sketches' tolerance (:func:`_sketch_close`):

* distinct count (HLL, ``lg_k = 12``): ``|online - exact| <= 3 * RSE * exact`` with the library's
  relative standard error ``RSE = get_rel_err(True, False, 12, 1)`` = 1.29 % (3.79 % in all);
* quantile (t-digest, ``k = 200``): online lies between the exact quantiles at ``q - eps`` and
  ``q + eps``, ``eps = RANK_TOL + 1 / (SKETCH_BOUND + 1)``: the t-digest's measured rank error
  (``RANK_TOL``, see ``test_sketches_accuracy.py``) plus one order statistic of the smallest
  sketched window (t-digest and type-7 interpolate between neighbours differently).

Before the bound the sketch aggregates are exact, and the comparison is too.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_ml import features as F
from stream_ml.features.sketches import HllCount

LATENESS = 5.0
KEYS = ("a", "b", "c")


def _specs() -> list:
    specs = []
    for window in ("4s", "3 events", "tumbling 6s", "session 3s", "all"):
        specs += [
            F.Count(by="u", window=window),
            F.Sum("v", by="u", window=window),
            F.Mean("v", by="u", window=window),
            F.Var("v", by="u", window=window),
            F.Std("v", by="u", window=window),
            F.Min("v", by="u", window=window),
            F.Max("v", by="u", window=window),
            F.Last("v", by="u", window=window),
            F.TimeSince(by="u", window=window),
            F.DistinctCount("v", by="u", window=window),
            F.Quantile("v", 0.3, by="u", window=window),
        ]
    specs += [
        F.Count(by="u", window="decay 3s"),
        F.Sum("v", by="u", window="decay 3s"),
        F.EWMA("v", by="u", half_life="3s"),
        F.Mean("v", by=["u", "m"], window="4s"),
        F.Count(by="m", window="2 events"),
        F.Count(by="u", window="session 1s"),
        F.Sum("v", by="u", window="session 6s"),
        F.Last("v", by=["u", "m"], window="session 7s"),
    ]
    return specs + SKETCH_SPECS


RANK_TOL = 0.025  # the t-digest's rank error at k = 200 (measured, test_sketches_accuracy.py)
SKETCH_BOUND = 16
SKETCH_Q = 0.3
EPS = RANK_TOL + 1 / (SKETCH_BOUND + 1)
HLL_TOL = HllCount().rel_err(3)
SKETCH_SPECS = [
    F.DistinctCount("v", by="u", bound=SKETCH_BOUND, name="v_distinct_sketch"),
    F.Quantile("v", SKETCH_Q, by="u", bound=SKETCH_BOUND, name="v_quantile_sketch"),
    # exact (default bound, never reached), read as the sketched quantile's tolerance band
    F.Quantile("v", SKETCH_Q - EPS, by="u", name="v_quantile_band_lo"),
    F.Quantile("v", SKETCH_Q + EPS, by="u", name="v_quantile_band_hi"),
]
SPECS = _specs()


@st.composite
def logs(draw: st.DrawFn) -> list[tuple[dict, float]]:
    n = draw(st.integers(1, 70))
    base = 0.0
    out = []
    for _ in range(n):
        base += draw(st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0, 3.0, 7.0]))
        kind = draw(st.sampled_from(["now"] * 6 + ["late_ok", "late_ok", "too_late"]))
        if kind == "late_ok":
            delay = draw(st.sampled_from([0.5, 1.0, 2.5, 4.0, 5.0]))
        elif kind == "too_late":
            delay = draw(st.sampled_from([5.5, 9.0, 20.0]))
        else:
            delay = 0.0
        x = {
            "u": draw(st.sampled_from(KEYS)),
            "m": draw(st.sampled_from(("m1", "m2"))),
            "v": draw(st.integers(-40, 40)) / 4,
        }
        out.append((x, base - delay))
    return out


def _close(a: object, b: object, scale: float) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9 * scale)  # type: ignore[arg-type]


def _sketch_close(name: str, got: float, want: float, res: F.OfflineResult, i: int) -> bool:
    """Within the tolerance of the sketch past the bound (module docstring); exact before it."""
    if name == "v_distinct_sketch":
        if want <= SKETCH_BOUND:
            return got == want
        return abs(got - want) <= HLL_TOL * want
    n = res.values["count_all_by_u"][i]
    if n <= SKETCH_BOUND:
        return _close(got, want, 1.0)
    lo, hi = res.values["v_quantile_band_lo"][i], res.values["v_quantile_band_hi"][i]
    return lo - 1e-9 <= got <= hi + 1e-9


def _check(log: list[tuple[dict, float]], fs: F.FeatureSet) -> None:
    online = [fs.transform_one(x, t) for x, t in log]
    res = F.compute_offline(log, fs)
    vmax = max(abs(x["v"]) for x, _ in log) + 1.0
    sketched = {s.name for s in SKETCH_SPECS[:2]}
    for i, out in enumerate(online):
        if res.late[i]:
            continue
        for name, arr in res.values.items():
            want = arr[i]
            if isinstance(want, float) and math.isnan(want):
                assert name not in out, (i, name, out.get(name))
                continue
            assert name in out, (i, name, want)
            if name in sketched:
                assert _sketch_close(name, out[name], want, res, i), (i, name, out[name], want)
                continue
            scale = vmax * vmax * 4 if ("var" in name or "std" in name) else vmax * 4
            assert _close(out[name], want, scale), (i, name, out[name], want)
    stats = fs.stats()
    assert stats["late"] == int(res.late.sum())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=logs(), policy=st.sampled_from(["drop", "include"]))
def test_online_equals_offline(log: list, policy: str) -> None:
    fs = F.FeatureSet(SPECS, allowed_lateness=LATENESS, late_events=policy)
    _check(log, fs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=logs(), ttl=st.sampled_from([3.0, 8.0, 30.0]))
def test_online_equals_offline_with_ttl(log: list, ttl: float) -> None:
    fs = F.FeatureSet(SPECS, allowed_lateness=LATENESS, ttl=ttl)
    _check(log, fs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=logs())
def test_online_equals_offline_without_lateness(log: list) -> None:
    fs = F.FeatureSet(SPECS, allowed_lateness=0.0)
    _check(log, fs)
