"""Online == offline, for every event that is not too late and every aggregate and window."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_ml import features as F

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
    return specs


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


def _check(log: list[tuple[dict, float]], fs: F.FeatureSet) -> None:
    online = [fs.transform_one(x, t) for x, t in log]
    res = F.compute_offline(log, fs)
    vmax = max(abs(x["v"]) for x, _ in log) + 1.0
    for i, out in enumerate(online):
        if res.late[i]:
            continue
        for name, arr in res.values.items():
            want = arr[i]
            if isinstance(want, float) and math.isnan(want):
                assert name not in out, (i, name, out.get(name))
                continue
            assert name in out, (i, name, want)
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
