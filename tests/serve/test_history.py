"""The server's history for dashboards: a bounded ring buffer per series, episodes, predictions,
sent on connect (real engine summaries, a real uvicorn server and websocket client)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect

from stream_ml import Engine
from stream_ml.serve import ServeSettings
from stream_ml.serve.feed import HISTORY_POINTS, FeedHub, SeriesHistory
from stream_ml.serve.metrics import ServeMetrics
from tests.serve.test_dashboard import monitored_engine, shifted_stream


@settings(max_examples=60, deadline=None)
@given(
    points=st.integers(1, 12),
    rows=st.lists(
        st.dictionaries(
            st.sampled_from(["a", "b", "c"]), st.one_of(st.none(), st.floats(0, 1)), max_size=3
        ),
        max_size=40,
    ),
)
def test_the_ring_buffer_is_bounded_and_aligned(points, rows):
    """Whatever comes: at most ``points`` rows; every series as long as the time column; each
    series' values are the last ones given (None where a row had none)."""
    h = SeriesHistory(points)
    for t, r in enumerate(rows):
        h.add(float(t), {"labels": {"pending": r.get("a"), "lag_mean": r.get("b"),
                                    "lag_max": r.get("c")}})  # fmt: skip
    d = h.to_dict()
    assert len(d["ts"]) == min(points, len(rows))
    assert d["ts"] == [float(t) for t in range(len(rows))][-points:] if rows else d["ts"] == []
    for name, col in d["series"].items():
        assert len(col) == len(d["ts"])
        key = {"labels:pending": "a", "labels:lag_mean": "b", "labels:lag_max": "c"}[name]
        assert col == [r.get(key) for r in rows][-points:]
        assert any(v is not None for v in col)  # a series with nothing left in the window goes
    for key, name in (("a", "labels:pending"), ("b", "labels:lag_mean"), ("c", "labels:lag_max")):
        window = [r.get(key) for r in rows][-points:]
        assert (name in d["series"]) == any(v is not None for v in window)


def test_history_of_a_real_engine(tmp_path):
    """Rows from a real engine's metrics updates (through a hub, as the server's ticker does):
    rolling metric only once a model has labels, traffic per interval, drift statistic and
    threshold per monitor, the episode opened and closed by the engine's records."""
    from stream_ml.events import parse_message
    from stream_ml.runtime.driver import Driver
    from stream_ml.serve import introspect

    engine = monitored_engine()
    driver = Driver(engine, next_offset=lambda o: o)
    clock = iter(range(10_000))
    hub = FeedHub(wall_clock=lambda: float(next(clock)), points=50)
    served = {"lr": 0}
    for i, m in enumerate(shifted_stream(900)):
        out: list = []
        driver.apply(i + 1, parse_message(m), out)
        served["lr"] += sum(1 for o in out if getattr(o, "kind", None) == "prediction")
        for o in out:
            if isinstance(o, dict):
                hub.record(o)
        if i % 60 == 0:
            s = engine.summary()
            hub.publish("metrics", {"models": s["models"], "served": dict(served),
                                    "labels": s["labels"], "drift": introspect.drift(engine)},
                        keep=False)  # fmt: skip
    d = hub.replay()
    assert len(d["ts"]) == 30 and d["points"] == 50
    acc = d["series"]["metric:lr:Accuracy"]
    assert acc[0] is None and all(0 <= v <= 1 for v in acc[1:])  # no 0.0 before any label
    assert set(d["series"]["traffic:lr"]) <= {1.0}  # lr serves everything
    stat, thr = d["series"]["drift:x-shift:statistic"], d["series"]["drift:x-shift:threshold"]
    assert max(v for v in stat if v is not None) > max(v for v in thr if v is not None)
    assert "drift:errors:statistic" not in d["series"]  # ADWIN has no statistic: not invented
    assert d["series"]["drift:errors:alerts"][-1] >= 0
    assert d["drift"]["errors"]["statistic_kind"] == "alarms"
    assert d["drift"]["x-shift"]["statistic_kind"] == "per_check"
    first = next(e for e in d["episodes"] if e["monitor"] == "x-shift" and e["episode"] == 1)
    assert first["start"] < first["end"] and first["reason"] in ("settled", "returned")
    assert 300 <= first["start_event"] < first["end_event"]
    assert d["predictions"] == []  # nothing was sampled through this hub


def test_feature_counters_in_history_and_metrics():
    """A real feature set's counters (summary()["features"]): keys as a level, the others as
    their increase per update in the history; all of them in /metrics text with bounded labels."""
    from stream_ml.events import parse_message
    from stream_ml.runtime.driver import Driver
    from stream_ml.serve import introspect

    engine = Engine.from_config({
        "models": {"lr": {"model": "linear_model.LogisticRegression()"}},
        "features": {"max_keys": 5, "allowed_lateness": "10s",
                     "specs": [{"name": "x_mean", "agg": "mean", "on": "x", "by": "user",
                                "window": "1m"}]},
    })  # fmt: skip
    driver = Driver(engine, next_offset=lambda o: o)
    h = SeriesHistory(10)
    for i in range(200):
        ts = 1000.0 + i if i % 50 else 900.0 + i  # every 50th event is late
        msg = {"id": f"e{i}", "ts": ts, "features": {"x": float(i % 3), "user": f"u{i % 9}"}}
        driver.apply(i + 1, parse_message(msg), [])
        if i % 50 == 49:
            h.add(float(i), {"features": introspect.features(engine)})
    f = introspect.features(engine)
    assert f is not None and f["events"] == 200 and f["keys"] == 5 and f["evictions_lru"] > 0
    d = h.to_dict()
    assert d["series"]["features:keys"] == [5.0] * 4
    assert d["series"]["features:events"] == [0.0, 50.0, 50.0, 50.0]
    assert sum(d["series"]["features:evictions_lru"][1:]) <= f["evictions_lru"]
    text = ServeMetrics(lambda: {"features": f}).render().decode()
    assert "stream_ml_feature_keys 5.0" in text
    assert "stream_ml_feature_events_total 200.0" in text
    assert f'stream_ml_feature_evictions_total{{reason="lru"}} {float(f["evictions_lru"])}' in text
    late = f'stream_ml_feature_late_events_total{{outcome="dropped"}} {float(f["late_dropped"])}'
    assert late in text and f["late"] == f["late_dropped"] + f["late_included"] > 0
    assert introspect.features(Engine({"lr": engine.slots[0].model})) is None


def test_a_dashboard_connecting_late_gets_the_history(serve):
    """Through a real server: the message after ``hello`` is ``history`` with several rows of
    every series, the drift episode with wall-clock start and end, the last predictions; later
    metrics events carry the row they added."""
    server = serve(monitored_engine(), ServeSettings(metrics_interval=0.1))
    started = time.time()

    async def run() -> tuple[dict, dict, dict]:
        async with connect(f"{server.ws_url}/v1/stream") as ws:
            for m in shifted_stream(800):
                await ws.send(json.dumps(m))
                await ws.recv()
        await asyncio.sleep(0.5)
        async with connect(f"{server.ws_url}/v1/feed") as feed:
            hello = json.loads(await feed.recv())
            history = json.loads(await feed.recv())
            while True:
                ev = json.loads(await asyncio.wait_for(feed.recv(), 10))
                if ev["type"] == "metrics":
                    return hello, history, ev

    hello, history, metrics = asyncio.run(run())
    assert hello["type"] == "hello" and history["type"] == "history"
    d = history["data"]
    assert d["points"] == HISTORY_POINTS and len(d["ts"]) > 3
    assert all(started - 1 < t < time.time() + 1 for t in d["ts"])  # the server's wall clock
    for name in ("metric:lr:Accuracy", "traffic:lr", "labels:pending", "labels:lag_mean",
                 "drift:x-shift:statistic", "drift:x-shift:threshold", "drift:errors:alerts"):  # fmt: skip
        assert sum(v is not None for v in d["series"][name]) > 1, name
    lag = [v for v in d["series"]["labels:lag_mean"] if v is not None]
    assert lag and all(v == 5.0 for v in lag)  # labels come 5 event-time seconds late
    ep = next(e for e in d["episodes"] if e["monitor"] == "x-shift")
    assert started < ep["start"] <= ep["end"] < time.time()
    assert 1 <= len(d["predictions"]) <= 20
    point = metrics["data"]["point"]
    assert point["ts"] == metrics["ts"] and "labels:pending" in point["values"]
    drift = httpx.get(f"{server.url}/v1/drift").json()["items"]
    errors = next(i for i in drift if i["name"] == "errors")
    assert errors["statistic_kind"] == "alarms" and errors["kind"] == "adwin"


def test_feature_counters_reach_metrics_and_the_history_through_a_server(serve):
    """End to end: a feature-set engine behind a real server; /metrics has the feature stage's
    counters and the dashboard's history has its keys series."""
    engine = Engine.from_config({
        "models": {"lr": {"model": "linear_model.LogisticRegression()"}},
        "features": {"max_keys": 4, "specs": [{"name": "x_mean", "agg": "mean", "on": "x",
                                               "by": "user", "window": "1m"}]},
    })  # fmt: skip
    server = serve(engine, ServeSettings(metrics_interval=0.1))

    async def run() -> dict:
        async with connect(f"{server.ws_url}/v1/stream") as ws:
            for i in range(300):
                msg = {"id": f"e{i}", "ts": 1000.0 + i,
                       "features": {"x": float(i % 3), "user": f"u{i % 7}"}}  # fmt: skip
                await ws.send(json.dumps(msg))
                await ws.recv()
                if i % 100 == 99:
                    await asyncio.sleep(0.35)  # a few metrics updates while the keys churn
        async with connect(f"{server.ws_url}/v1/feed") as feed:
            await feed.recv()  # hello
            return json.loads(await feed.recv())

    history = asyncio.run(run())
    keys = [v for v in history["data"]["series"]["features:keys"] if v is not None]
    assert len(keys) > 1 and max(keys) == 4.0
    text = httpx.get(f"{server.url}/metrics").text
    assert "stream_ml_feature_keys 4.0" in text
    assert "stream_ml_feature_events_total 300.0" in text
    assert 'stream_ml_feature_evictions_total{reason="lru"}' in text
