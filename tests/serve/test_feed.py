"""/v1/feed and /metrics: the envelope, sampling, drained engine events, Prometheus text."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
from websockets.asyncio.client import connect

import scenarios
from stream_ml.serve import FeedEvent, ServeSettings
from tests.serve.conftest import DRIFT, TOKEN, alarm_engine


async def _drive(url: str, n: int) -> None:
    async with connect(url) as ws:
        for m in scenarios.get("sea-drift").messages(n, seed=3):
            await ws.send(json.dumps(m))
            await ws.recv()


def test_feed_carries_predictions_metrics_and_engine_events(serve):
    engine = alarm_engine()
    settings = ServeSettings(token=TOKEN, metrics_interval=0.1, feed_predictions_per_s=5)
    server = serve(engine, settings)

    async def run() -> list[dict]:
        got: list[dict] = []
        async with connect(f"{server.ws_url}/v1/feed?token={TOKEN}") as feed:
            got.append(json.loads(await feed.recv()))
            await _drive(f"{server.ws_url}/v1/stream?token={TOKEN}", 300)
            engine.emit(dict(DRIFT))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                ev = json.loads(await asyncio.wait_for(feed.recv(), 10))
                got.append(ev)
                types = {e["type"] for e in got}
                last = got[-1]
                if (
                    {"drift_alert", "metrics"} <= types
                    and last["type"] == "metrics"
                    and (last["data"]["events"] == 300 and last["data"]["alarms"])
                ):
                    break
        return got

    events = asyncio.run(run())
    for ev in events:
        FeedEvent.model_validate(ev)
    assert events[0]["type"] == "hello" and events[0]["data"]["models"] == ["lr", "lr2"]
    predictions = [e for e in events if e["type"] == "prediction"]
    assert 0 < len(predictions) < 300  # sampled
    alarm = next(e for e in events if e["type"] == "drift_alert")
    assert alarm["data"]["field"] == "x1" and alarm["data"]["statistic"] == 0.41
    last = events[-1]["data"]
    assert set(last["models"]) == {"lr", "lr2"} and last["served"] == {"lr": 300}
    assert last["traffic"] == {"lr": 1.0} and last["alarms"] == {"ks/x1": 1}
    assert last["labels"]["lag_mean"] is None or last["labels"]["lag_mean"] >= 0

    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'stream_ml_events_total{kind="observation"} 300.0' in metrics
    assert 'stream_ml_predictions_total{fallback="false",model="lr"} 300.0' in metrics
    assert 'stream_ml_drift_alarms_total{detector="ks",field="x1"} 1.0' in metrics
    assert 'stream_ml_model_metric{metric="Accuracy",model="lr2",window="rolling"}' in metrics
    assert 'stream_ml_traffic_share{model="lr"} 1.0' in metrics
    assert "stream_ml_labels_pending " in metrics
    assert "stream_ml_label_lag_seconds" in metrics

    drift = httpx.get(f"{server.url}/v1/drift").json()
    assert drift["alarms"][0]["data"]["field"] == "x1"


def test_new_dashboard_gets_the_history(serve):
    engine = alarm_engine()
    engine.emit(dict(DRIFT))
    server = serve(engine, ServeSettings(metrics_interval=0.1))
    asyncio.run(_drive(f"{server.ws_url}/v1/stream", 5))

    async def hello() -> dict:
        async with connect(f"{server.ws_url}/v1/feed") as feed:
            return json.loads(await feed.recv())

    h = asyncio.run(hello())
    assert [e["type"] for e in h["data"]["history"]] == ["drift_alert"]


def test_a_real_monitor_shows_in_v1_drift_and_metrics(serve, tmp_path):
    """A KS monitor on a shifted feature: its statistic and threshold reach /v1/drift and
    /metrics, and its alarms reach the JSONL sink (real server, real websocket client)."""
    from river import linear_model

    from connectors import JsonlSink
    from stream_ml import Engine

    detector = {"kind": "ks", "reference_size": 100, "window_size": 50, "check_every": 10,
                "ert": 1000, "calibration": "uniform"}  # fmt: skip
    engine = Engine(
        {"lr": linear_model.LogisticRegression()},
        drift=[{"name": "x", "on": "features", "fields": ["x"], "detector": detector}],
        seed=3,
    )
    sink = JsonlSink(tmp_path / "out.jsonl")
    server = serve(engine, ServeSettings(metrics_interval=0.1), sinks=[sink])

    async def run() -> None:
        async with connect(f"{server.ws_url}/v1/stream") as ws:
            for i in range(600):
                x = (i * 7919 % 1000) / 1000 + (3.0 if i >= 300 else 0.0)
                await ws.send(json.dumps({"id": f"e{i}", "features": {"x": x}}))
                await ws.recv()

    asyncio.run(run())
    items = httpx.get(f"{server.url}/v1/drift").json()["items"]
    (ks,) = [i for i in items if i.get("name") == "x"]
    assert ks["detector"] == "KSDetector" and ks["statistic"] is not None
    assert ks["threshold"] > 0 and ks["alerts"] >= 1
    # /metrics is refreshed every metrics_interval (0.1 s): on a loaded machine the refresh
    # after the last event can come later than this request, so wait for it (it showed the
    # state before the last events: "drifting" where /v1/drift said "recovered")
    state_line = f'stream_ml_drift_state{{field="x",monitor="x",state="{ks["state"]}"}} 1.0'
    deadline = time.monotonic() + 30
    while state_line not in (text := httpx.get(f"{server.url}/metrics").text):
        assert time.monotonic() < deadline, text
        time.sleep(0.05)
    assert 'stream_ml_drift_threshold{detector="KSDetector",field="x",monitor="x"}' in text
    # the shift at event 300 opened an episode: its count and state reach /v1/drift and /metrics
    assert ks["episodes"] >= 1 and ks["recent_episodes"][0]["start_event"] >= 299
    assert ks["state"] in ("drifting", "recovered") and ks["statistic_kind"] == "per_check"
    assert f'stream_ml_drift_episodes_total{{monitor="x"}} {float(ks["episodes"])}' in text
    assert 'stream_ml_drift_state{field="x",monitor="x",state="ok"} 0.0' in text
    server.__exit__(None, None, None)  # shutdown flushes and closes the sinks
    kinds = [json.loads(line)["kind"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert kinds.count("prediction") == 600 and "drift" in kinds
