"""Auth, origins, size/batch/rate/connection limits, token redaction: each refusal tested."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from stream_ml.serve import ServeSettings
from tests.serve.conftest import TOKEN


def _refused(url: str, **kw) -> InvalidStatus:
    async def run() -> None:
        async with connect(url, **kw):
            pass

    with pytest.raises(InvalidStatus) as info:
        asyncio.run(run())
    return info.value


def test_websocket_auth_checked_before_accept(serve):
    server = serve(settings=ServeSettings(token=TOKEN, auth="all"))
    for path in ("/v1/stream", "/v1/feed"):
        err = _refused(server.ws_url + path)
        assert err.response.status_code == 401
        assert json.loads(err.response.body)["code"] == "unauthorized"
        assert _refused(server.ws_url + path + "?token=wrong").response.status_code == 401

    async def ok() -> str:
        hdr = {"Authorization": f"Bearer {TOKEN}"}
        async with connect(server.ws_url + "/v1/stream", additional_headers=hdr) as ws:
            await ws.send(json.dumps({"id": "a", "features": {"x": 1}}))
            return json.loads(await ws.recv())["kind"]

    assert asyncio.run(ok()) == "prediction"
    assert httpx.get(server.url + "/v1/models").status_code == 401
    assert httpx.get(server.url + "/metrics").status_code == 401
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_feedback_on_stream_needs_the_token(serve):
    server = serve(settings=ServeSettings(token=TOKEN))

    async def run(url: str) -> list[dict]:
        async with connect(url) as ws:
            await ws.send(json.dumps({"id": "a", "features": {"x": 1}}))
            await ws.recv()
            await ws.send(json.dumps({"id": "a", "label": True}))
            return [json.loads(await ws.recv())]

    anon = asyncio.run(run(server.ws_url + "/v1/stream"))[0]
    assert (anon["code"], anon["field"]) == ("unauthorized", "token")
    assert server.engine.summary()["feedback"] == 0
    authed = asyncio.run(run(server.ws_url + f"/v1/stream?token={TOKEN}"))
    assert authed[0] == {"id": "a", "learned": True, "kind": "ack"} or authed[0]["kind"] == "error"


def test_origin_allowlist(serve):
    server = serve(settings=ServeSettings(origins=["https://dash.example"]))
    err = _refused(server.ws_url + "/v1/stream", origin="https://evil.example")
    assert err.response.status_code == 403 and json.loads(err.response.body)["code"] == "origin"

    async def allowed(origin: str) -> None:
        async with connect(server.ws_url + "/v1/feed", origin=origin) as ws:
            assert json.loads(await ws.recv())["type"] == "hello"

    asyncio.run(allowed("https://dash.example"))
    asyncio.run(allowed(server.url))  # the server's own page
    r = httpx.get(server.url + "/v1/models", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403


def test_message_size_limit_closes_with_1009(serve):
    server = serve(settings=ServeSettings(max_message_bytes=1024))

    async def run() -> int | None:
        async with connect(server.ws_url + "/v1/stream", max_size=None) as ws:
            await ws.send(json.dumps({"id": "a", "features": {"x": "y" * 2000}}))
            with pytest.raises(ConnectionClosedError):
                await ws.recv()
            return ws.protocol.close_code

    assert asyncio.run(run()) == 1009
    big = {"id": "a", "features": {"x": "y" * 2000}}
    assert httpx.post(server.url + "/v1/predict", json=big).status_code == 413


def test_batch_and_rate_limits(serve):
    clock = [0.0]
    server = serve(settings=ServeSettings(max_batch=3, rate=10, burst=5), clock=lambda: clock[0])

    async def run() -> list[dict]:
        async with connect(server.ws_url + "/v1/stream") as ws:
            out = []
            obs = [{"features": {"x": 1.0}}] * 4
            await ws.send(json.dumps(obs))
            out.append(json.loads(await ws.recv()))
            for _ in range(6):
                await ws.send(json.dumps({"features": {"x": 1.0}}))
                out.append(json.loads(await ws.recv()))
            clock[0] = 1.0  # a second later the bucket has refilled
            await ws.send(json.dumps({"features": {"x": 1.0}}))
            out.append(json.loads(await ws.recv()))
            return out

    out = asyncio.run(run())
    assert out[0]["code"] == "batch_too_large"
    assert [o["kind"] for o in out[1:6]] == ["prediction"] * 5
    assert out[6]["code"] == "rate_limited"
    assert out[7]["kind"] == "prediction"
    assert server.engine.summary()["events"] == 6


def test_max_connections(serve):
    server = serve(settings=ServeSettings(max_connections=2))

    async def run() -> int:
        async with connect(server.ws_url + "/v1/feed"), connect(server.ws_url + "/v1/stream"):
            with pytest.raises(InvalidStatus) as info:
                async with connect(server.ws_url + "/v1/stream"):
                    pass
            return info.value.response.status_code

    assert asyncio.run(run()) == 503

    async def again() -> str:  # the slots were given back
        async with connect(server.ws_url + "/v1/feed") as ws:
            return json.loads(await ws.recv())["type"]

    assert asyncio.run(again()) == "hello"


def test_tokens_never_logged(serve):
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    loggers = [logging.getLogger(n) for n in ("uvicorn.error", "uvicorn.access")]
    server = serve(settings=ServeSettings(token=TOKEN), log_level="info", access_log=True)
    for lg in loggers:  # after start: uvicorn's logging config replaces handlers
        lg.addHandler(handler)
    try:

        async def run() -> None:
            async with connect(server.ws_url + f"/v1/stream?token={TOKEN}") as ws:
                await ws.send(json.dumps({"features": {"x": 1}}))
                await ws.recv()

        asyncio.run(run())
        httpx.get(server.url + f"/v1/models?token={TOKEN}")
        _refused(server.ws_url + "/v1/feed?token=" + TOKEN, origin="https://evil.example")
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
    text = "\n".join(records)
    assert "/v1/stream?token=***" in text
    assert TOKEN not in text
