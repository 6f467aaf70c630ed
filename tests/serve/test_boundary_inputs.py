"""Bad input at the server's boundary: every REST error is the error record with a 4xx status,
and observations are checked against the kinds the models need before the engine sees them."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.asyncio.client import connect

from stream_ml import Engine
from stream_ml.config import parse_config
from stream_ml.serve import ServeSettings
from tests.serve.conftest import small_engine

RECORD = {"kind", "id", "code", "field", "reason", "offset"}


def _record(r: httpx.Response, status: int, code: str, field: str | None = None) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == RECORD and body["kind"] == "error", body
    assert (body["code"], body["field"]) == (code, field), body
    assert body["reason"]
    return body


def test_rest_errors_are_error_records_with_4xx(serve):
    """The issue's 500 (an EventError raised in a pydantic validator escaped) and FastAPI's own
    ``{"detail": ...}`` bodies: each is now the documented record."""
    server = serve()
    with httpx.Client(base_url=server.url) as http:
        _record(http.post("/v1/predict", json={"features": {"x": 1}, "ts": {}}), 422,
                "malformed_message", "ts")  # fmt: skip
        _record(http.post("/v1/feedback", json={"id": "a", "label": 1, "ts": [1]}), 422,
                "malformed_message", "ts")  # fmt: skip
        _record(http.post("/v1/predict", json={"features": {"x": 1}, "ts": "yesterday"}), 422,
                "malformed_message", "ts")  # fmt: skip
        _record(http.post("/v1/predict", json={"features": {"x": 1}, "ts": "1700000000"}), 422,
                "malformed_message", "ts")  # fmt: skip
        hdr = {"Content-Type": "application/json"}
        for body in (b"\xff\xfei", b"{", b"", b"nope"):
            r = http.post("/v1/predict", content=body, headers=hdr)
            assert "not JSON" in _record(r, 422, "malformed_message")["reason"]
        _record(http.post("/v1/predict", json=[1, 2]), 422, "malformed_message")
        _record(http.post("/v1/predict", json={"id": "a", "label": 1}), 422,
                "malformed_message", "features")  # fmt: skip
        _record(http.post("/v1/feedback", json={"id": "a", "features": {}}), 422,
                "malformed_message", "features")  # fmt: skip
        _record(http.post("/v1/predict", json={"kind": "feedback", "id": "a"}), 422,
                "malformed_message", "kind")  # fmt: skip
        _record(http.post("/v1/snapshots/abc/rollback"), 403, "unauthorized", "token")  # auth first
        _record(http.get("/v1/nothing-here"), 404, "not_found")
        r = http.delete("/v1/models")
        _record(r, 405, "method_not_allowed")
        assert r.headers["allow"] == "GET"
        ok = http.post("/v1/predict", json={"features": {"x": 1}, "ts": "2023-11-14T22:13:20Z"})
        assert ok.status_code == 200 and ok.json()["ts"] == 1700000000.0
    assert server.engine.summary()["events"] == 1  # only the good one reached the engine


def test_websocket_and_rest_refuse_a_numeric_string_ts_alike(serve):
    server = serve()

    async def run() -> dict:
        async with connect(f"{server.ws_url}/v1/stream") as ws:
            await ws.send(json.dumps({"features": {"x": 1}, "ts": "12"}))
            return json.loads(await ws.recv())

    ws = asyncio.run(run())
    rest = httpx.post(server.url + "/v1/predict", json={"features": {"x": 1}, "ts": "12"}).json()
    assert ws == rest and (ws["code"], ws["field"]) == ("malformed_message", "ts")


CSV_CONFIG = {
    "source": {"kind": "csv", "path": "rows.csv", "target": "y", "categorical": ["city"]},
    "models": {
        "lr": {"model": "preprocessing.StandardScaler() | linear_model.LogisticRegression()"}
    },
}


def test_a_string_for_a_numeric_field_is_refused_by_name(serve):
    """The issue: ``{"feat_1": "abc"}`` was served, then its label failed in the model with
    ``'<' not supported between 'str' and 'float'``. With a training source that reads feat_1 as a
    number (it is not categorical), the server refuses it at once, even as the first message."""
    engine = Engine.from_config(parse_config(CSV_CONFIG))
    server = serve(engine)
    with httpx.Client(base_url=server.url) as http:
        bad = _record(http.post("/v1/predict", json={"id": "a", "features": {"feat_1": "abc"}}),
                      422, "not_a_number", "features.feat_1")  # fmt: skip
        assert "'abc'" in bad["reason"] and "categorical" in bad["reason"]
        ok = http.post("/v1/predict", json={"id": "b", "features": {"feat_1": 2, "city": "Oslo"}})
        assert ok.status_code == 200
        _record(http.post("/v1/predict", json={"id": "c", "features": {"city": 3}}), 422,
                "wrong_kind", "features.city")  # fmt: skip
        _record(http.post("/v1/predict", json={"id": "d", "features": {"feat_1": True}}), 422,
                "not_a_number", "features.feat_1")  # fmt: skip
        assert http.post("/v1/predict", json={"id": "a", "features": {"feat_1": 1.5}}).is_success
    assert engine.summary()["errors"]["total"] == 0  # refused before the engine: no model_error
    assert engine.summary()["events"] == 2


def test_kinds_lock_at_first_sight_without_a_declared_source(serve):
    """No source and no declared schema: each field keeps the kind of its first value; a batch
    on the websocket answers the bad element by name and offset, the others are applied."""
    server = serve(small_engine(), ServeSettings(schema={"city": "str"}))

    async def run() -> list:
        async with connect(f"{server.ws_url}/v1/stream") as ws:
            out = []
            for m in ({"features": {"x": 1, "city": "Oslo"}},
                      [{"features": {"x": 2.5}}, {"features": {"x": "abc"}},
                       {"features": {"x": 3, "city": 7}}, {"features": {"y": "s"}}],
                      {"features": {"y": 1}}, {"features": {"x": None}}):  # fmt: skip
                await ws.send(json.dumps(m))
                out.append(json.loads(await ws.recv()))
            return out

    first, batch, y_num, x_none = asyncio.run(run())
    assert first["kind"] == "prediction"
    assert [a["kind"] for a in batch] == ["prediction", "error", "error", "prediction"]
    assert (batch[1]["code"], batch[1]["field"], batch[1]["offset"]) == (
        "not_a_number", "features.x", 1)  # fmt: skip
    assert "first value" in batch[1]["reason"]
    assert (batch[2]["code"], batch[2]["field"], batch[2]["offset"]) == (
        "wrong_kind", "features.city", 2)  # fmt: skip
    assert "[serve] schema" in batch[2]["reason"]
    assert (y_num["code"], y_num["field"]) == ("wrong_kind", "features.y")  # y locked to str
    assert (x_none["code"], x_none["field"]) == ("wrong_kind", "features.x")  # leave it out
    assert server.app.state.serve.worker.schema.state() == {"x": "float", "y": "str"}
    assert server.engine.summary()["events"] == 3


def test_undeclared_refuse_and_candidates(serve):
    settings = ServeSettings(schema={"x": "float", "n": "int"}, undeclared="refuse")
    server = serve(small_engine(), settings)
    with httpx.Client(base_url=server.url) as http:
        _record(http.post("/v1/predict", json={"features": {"x": 1, "z": 1}}), 422,
                "unknown_field", "features.z")  # fmt: skip
        _record(http.post("/v1/predict", json={"features": {"n": 1.5}}), 422,
                "not_a_number", "features.n")  # fmt: skip
        cands = [{"id": "c1", "x": 1.0}, {"id": "c2", "x": "big"}]
        _record(http.post("/v1/predict", json={"features": {"x": 1}, "candidates": cands}), 422,
                "not_a_number", "candidates.1.x")  # fmt: skip
        assert http.post("/v1/predict", json={"features": {"x": 1, "n": 2}}).is_success
        spec = http.get("/openapi.json").json()["components"]["schemas"]["Observation"]
        assert spec["properties"]["features"] == {
            "type": "object", "additionalProperties": False,
            "properties": {"x": {"type": "number"}, "n": {"type": "integer"}},
        }  # fmt: skip


def test_locked_kinds_survive_a_snapshot_and_restart(cli_env, python, tmp_path):
    """The locked kinds are state: stored with the shutdown snapshot (the driver's extras) and
    restored by a restarted ``stream-ml serve``, which then refuses what the first run would."""
    import signal
    import subprocess

    from tests.serve.test_command import _free_port

    cfg = tmp_path / "serve.toml"
    cfg.write_text('[models.lr]\nmodel = "linear_model.LogisticRegression()"\n'
                   f'[snapshots]\npath = "{tmp_path / "snaps.db"}"\nevery_events = 1000\n')  # fmt: skip
    env = {**cli_env, "STREAM_ML_SNAPSHOT_KEY": "boundary-test"}

    def start() -> tuple[subprocess.Popen, str]:
        import time

        port = _free_port()
        proc = subprocess.Popen([python, "-m", "stream_ml.serve.command", str(cfg), "--port",
                                 str(port), "--log-level", "warning"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/healthz", timeout=1)
                return proc, url
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)

    def stop(proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGTERM)  # graceful: the server snapshots at shutdown
        assert proc.wait(30) in (0, -signal.SIGTERM)
        if proc.stderr is not None:
            proc.stderr.close()

    proc, url = start()
    try:
        assert httpx.post(url + "/v1/predict", json={"features": {"x": 1.0, "c": 2.0}}).is_success
        assert httpx.post(url + "/v1/predict", json={"features": {"x": "s"}}).status_code == 422
    finally:
        stop(proc)
    proc, url = start()
    try:
        # a fresh server would take "a" as c's first value (and the model would fail on it)
        after = httpx.post(url + "/v1/predict", json={"features": {"c": "a"}})
        assert after.status_code == 422 and after.json()["field"] == "features.c"
        assert httpx.post(url + "/v1/predict", json={"features": {"x": 2}}).is_success
    finally:
        stop(proc)


@pytest.mark.parametrize("rule", ["first", "float", "any"])
def test_a_refused_observation_changes_nothing(serve, rule):
    server = serve(small_engine(), ServeSettings(undeclared=rule))
    with httpx.Client(base_url=server.url) as http:
        assert http.post("/v1/predict", json={"features": {"x": 1}}).is_success
        r = http.post("/v1/predict", json={"id": "bad", "features": {"x": "s"}})
        assert r.status_code == (200 if rule == "any" else 422)
    assert server.engine.summary()["events"] == (2 if rule == "any" else 1)
