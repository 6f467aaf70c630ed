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


def _closed(url: str, **kw) -> tuple[int, str]:
    """Connect, then wait for the server to close: its close code and reason."""

    async def run() -> tuple[int, str]:
        async with connect(url, **kw) as ws:
            with pytest.raises(ConnectionClosedError):
                await asyncio.wait_for(ws.recv(), 10)  # a served connection would time out
            assert ws.close_code is not None
            return ws.close_code, ws.close_reason or ""

    return asyncio.run(run())


def test_websocket_auth_checked_before_accept(serve):
    server = serve(settings=ServeSettings(token=TOKEN, auth="all"))
    for path in ("/v1/stream", "/v1/feed"):
        assert _closed(server.ws_url + path) == (1008, "unauthorized: a bearer token is required")
        assert _closed(server.ws_url + path + "?token=wrong") == (1008, "unauthorized: wrong token")

    async def ok() -> str:
        hdr = {"Authorization": f"Bearer {TOKEN}"}
        async with connect(server.ws_url + "/v1/stream", additional_headers=hdr) as ws:
            await ws.send(json.dumps({"id": "a", "features": {"x": 1}}))
            return json.loads(await ws.recv())["kind"]

    assert asyncio.run(ok()) == "prediction"
    assert httpx.get(server.url + "/v1/models").status_code == 401
    assert httpx.get(server.url + "/metrics").status_code == 401
    assert httpx.get(server.url + "/healthz").status_code == 200
    assert server.app.state.serve.connections == 0  # the refused ones never took a slot


def test_a_wrong_token_is_refused_everywhere_it_is_read(serve):
    """auth = "writes": predictions need no token, but a *wrong* one is refused at the
    websocket handshake (close 1008) and on every REST route that reads tokens (before: the
    connection was accepted and served predictions; only its feedback was refused)."""
    server = serve(settings=ServeSettings(token=TOKEN))
    wrong = {"Authorization": "Bearer not-the-token"}
    for path in ("/v1/stream", "/v1/feed"):
        assert _closed(server.ws_url + path, additional_headers=wrong) == (
            1008,
            "unauthorized: wrong token",
        )
        assert _closed(server.ws_url + path + "?token=nope")[0] == 1008
    with httpx.Client(base_url=server.url) as http:
        routes = [("POST", "/v1/predict", {"features": {"x": 1.0}}),
                  ("POST", "/v1/feedback", {"id": "a", "label": True}),
                  ("GET", "/v1/models", None), ("GET", "/v1/drift", None),
                  ("GET", "/v1/experiments", None), ("GET", "/v1/snapshots", None),
                  ("POST", "/v1/snapshots/1/rollback", None), ("GET", "/metrics", None)]  # fmt: skip
        for method, route, body in routes:
            r = http.request(method, route, json=body, headers=wrong)
            assert r.status_code == 401, route
            assert r.json() == {
                "kind": "error",
                "id": None,
                "code": "unauthorized",
                "field": "token",
                "reason": "wrong token",
                "offset": None,
            }
        assert http.get("/healthz", headers=wrong).status_code == 200  # never reads tokens
        # no token is fine for what auth = "writes" leaves open
        assert http.post("/v1/predict", json={"features": {"x": 1.0}}).status_code == 200
    assert server.engine.summary()["events"] == 1


def test_a_connection_slot_is_kept_for_authenticated_clients(serve):
    """max_connections = 3 with one reserved: two anonymous clients fill the open slots, a third
    is refused (503), and a client with the token still gets in; past 3 everyone is refused."""
    server = serve(settings=ServeSettings(token=TOKEN, max_connections=3))
    authed = {"Authorization": f"Bearer {TOKEN}"}

    async def run() -> tuple[int, str, int]:
        async with connect(server.ws_url + "/v1/feed"), connect(server.ws_url + "/v1/stream"):
            with pytest.raises(InvalidStatus) as anon:
                async with connect(server.ws_url + "/v1/stream"):
                    pass
            async with connect(server.ws_url + "/v1/stream", additional_headers=authed) as ws:
                await ws.send(json.dumps({"id": "a", "features": {"x": 1}}))
                kind = json.loads(await ws.recv())["kind"]
                with pytest.raises(InvalidStatus) as full:
                    async with connect(server.ws_url + "/v1/feed", additional_headers=authed):
                        pass
            return anon.value.response.status_code, kind, full.value.response.status_code

    anon, kind, full = asyncio.run(run())
    assert (anon, kind, full) == (503, "prediction", 503)


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
