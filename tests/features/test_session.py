"""Session (gap) windows: parsing, a hand-checked stream, merges, the seal, bounded buffers."""

from __future__ import annotations

import math
import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_ml import features as F
from stream_ml.errors import ConfigError
from stream_ml.features.windows import Session, parse_window

from .test_parity import _check


def test_parse() -> None:
    assert parse_window("session 30m") == Session(1800.0)
    assert parse_window(" Session 2.5s ") == Session(2.5)
    assert F.Count(by="u", window="session 30m").name == "count_session_30m_by_u"
    for bad in ("session", "session 0s", "session -1s", "session soon"):
        with pytest.raises(ConfigError):
            parse_window(bad)
    with pytest.raises(ConfigError):
        F.TargetMean(by="u", window="session 1h")


def _session_specs(gap: str) -> list:
    w = f"session {gap}"
    return [
        F.Count(by="u", window=w, name="count"),
        F.Sum("v", by="u", window=w, name="sum"),
        F.Mean("v", by="u", window=w, name="mean"),
        F.Var("v", by="u", window=w, name="var"),
        F.Std("v", by="u", window=w, name="std"),
        F.Min("v", by="u", window=w, name="min"),
        F.Max("v", by="u", window=w, name="max"),
        F.Last("v", by="u", window=w, name="last"),
        F.TimeSince(by="u", window=w, name="since"),
        F.DistinctCount("v", by="u", window=w, name="distinct"),
        F.Quantile("v", 0.5, by="u", window=w, name="median"),
    ]


def test_hand_checked_stream() -> None:
    fs = F.FeatureSet(_session_specs("10s"), allowed_lateness="100s")
    log = [
        (0.0, 1.0),  # first event: empty window
        (5.0, 3.0),  # 5 - 0 < 10: session {0}
        (15.0, 2.0),  # 15 - 5 == 10 (not < 10): a new session, empty window
        (20.0, 4.0),  # {15}
        (20.0, 5.0),  # tie: the event at 20 is not strictly before, {15}
        (29.5, 6.0),  # 29.5 - 20 < 10: {15, 20, 20}
        (10.0, 7.0),  # out of order: its own session {0, 5}; it merges [0, 5] with [15, 29.5]
        (31.0, 1.0),  # {0, 5, 10, 15, 20, 20, 29.5}
        (41.0, 0.0),  # 41 - 31 == 10: new session
    ]
    outs = [fs.transform_one({"u": "a", "v": v}, t) for t, v in log]
    assert [o["count"] for o in outs] == [0, 1, 0, 1, 1, 3, 2, 7, 0]
    assert [o["sum"] for o in outs] == [0.0, 1.0, 0.0, 2.0, 2.0, 11.0, 4.0, 28.0, 0.0]
    six = outs[5]
    assert six["mean"] == pytest.approx(11 / 3)
    assert six["var"] == pytest.approx(7 / 3)
    assert six["std"] == pytest.approx(math.sqrt(7 / 3))
    assert (six["min"], six["max"], six["last"], six["distinct"], six["median"]) == (
        2.0,
        5.0,
        5.0,  # among equal times, the later arrival
        3,
        4.0,
    )
    assert six["since"] == pytest.approx(9.5)
    merged = outs[7]
    assert (merged["min"], merged["max"], merged["last"], merged["distinct"]) == (1.0, 7.0, 6.0, 7)
    assert merged["since"] == pytest.approx(1.5)
    assert merged["median"] == pytest.approx(4.0)
    assert outs[6]["last"] == 3.0 and outs[6]["mean"] == 2.0
    for o in (outs[0], outs[2], outs[8]):
        assert not {"mean", "var", "min", "max", "last", "since", "median"} & o.keys()
    assert fs.stats()["out_of_order"] == 1
    events = [({"u": "a", "v": v}, t) for t, v in log]
    assert F.compute_offline(events, fs).values["sum"].tolist() == [o["sum"] for o in outs]


def test_seal_leaves_out_too_late_events_of_closed_sessions() -> None:
    fs = F.FeatureSet(
        [F.Count(by="u", window="session 2s", name="n")],
        allowed_lateness="5s",
        late_events="include",
    )
    log = [
        ({"u": "a"}, 0.0),
        ({"u": "a"}, 1.0),
        ({"u": "a"}, 10.0),  # a second session: [0, 1] can be sealed
        ({"u": "b"}, 20.0),  # watermark 15
        ({"u": "a"}, 16.0),  # seal = 10 (first event of the session of a's latest event < 15)
        ({"u": "a"}, 9.0),  # too late and older than the seal: left out of session windows
        ({"u": "a"}, 10.5),  # too late, not older than the seal: inserted, joins [10]
        ({"u": "a"}, 11.0),  # too late: reads {10, 10.5}; 9 is not in it
        ({"u": "a"}, 17.0),  # {16}
    ]
    outs = [fs.transform_one(x, t) for x, t in log]
    assert [o["n"] for o in outs] == [0, 1, 0, 0, 0, 0, 1, 2, 1]
    assert fs.stats()["late_included"] == 3
    res = F.compute_offline(log, fs)
    assert res.late.tolist() == [False] * 5 + [True] * 3 + [False]
    assert res.values["n"].tolist() == [0, 1, 0, 0, 0, 0, 1, 2, 1]


def test_buffer_stays_bounded_and_pickles() -> None:
    fs = F.FeatureSet(_session_specs("5s"), allowed_lateness="2s")
    t = 0.0
    for i in range(3000):
        t += 1.0 if i % 4 else 30.0  # sessions of four events
        out = fs.transform_one({"u": "a", "v": float(i % 7)}, t)
        assert out["count"] == i % 4
    (ks,) = fs._tables[0].values()
    (w,) = ks.windows
    assert len(w.times) < 60
    clone = pickle.loads(pickle.dumps(fs))
    x = {"u": "a", "v": 1.0}
    assert clone.transform_one(x, t + 2.0) == fs.transform_one(x, t + 2.0)


@st.composite
def one_key_logs(draw: st.DrawFn) -> list[tuple[dict, float]]:
    n = draw(st.integers(1, 200))
    base = 0.0
    out = []
    for _ in range(n):
        base += draw(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0]))
        kind = draw(st.sampled_from(["now"] * 5 + ["late_ok", "late_ok", "too_late"]))
        if kind == "late_ok":
            delay = draw(st.sampled_from([0.5, 1.0, 2.0, 2.5, 3.0]))
        elif kind == "too_late":
            delay = draw(st.sampled_from([3.5, 5.0, 8.0, 15.0]))
        else:
            delay = 0.0
        x = {"u": draw(st.sampled_from(("a", "b"))), "m": "m1", "v": draw(st.integers(-8, 8))}
        out.append((x, base - delay))
    return out


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    log=one_key_logs(),
    gap=st.sampled_from(["1s", "2s", "2.5s", "4s"]),
    policy=st.sampled_from(["drop", "include"]),
)
def test_long_sessions_online_equals_offline(log: list, gap: str, policy: str) -> None:
    """Long logs, gaps around the session gap, out of order within and beyond the lateness."""
    fs = F.FeatureSet(_session_specs(gap), allowed_lateness=3.0, late_events=policy)
    _check(log, fs)
