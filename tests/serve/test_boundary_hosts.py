"""DNS rebinding (the Host allowlist) and log flooding (bad frames), on a real uvicorn."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from stream_ml.serve import ServeSettings

ROUTES = [("GET", "/"), ("GET", "/healthz"), ("GET", "/metrics"), ("GET", "/openapi.json"),
          ("GET", "/static/vendor/uPlot.iife.min.js"), ("POST", "/v1/predict"),
          ("POST", "/v1/feedback"), ("GET", "/v1/models"), ("GET", "/v1/experiments"),
          ("GET", "/v1/drift"), ("GET", "/v1/snapshots"),
          ("POST", "/v1/snapshots/1/rollback")]  # fmt: skip


def _ws_as(host: str, port: int, path: str, origin: str | None) -> int | str:
    """A real websocket client that names ``host`` in its URL (so in ``Host``), on a socket
    connected to the loopback server (what a browser does once evil.example resolves to it):
    the handshake's HTTP status when refused, else the first message's type."""

    async def run() -> int | str:
        sock = socket.create_connection(("127.0.0.1", port))
        try:
            async with connect(f"ws://{host}{path}", sock=sock, origin=origin) as ws:
                return json.loads(await ws.recv())["type"]
        except InvalidStatus as exc:
            body = json.loads(exc.response.body)
            assert body["kind"] == "error" and body["code"] == "host", body
            return exc.response.status_code

    return asyncio.run(run())


def test_dns_rebinding_is_refused_on_every_route(serve):
    """The issue: ``Host: evil.example:P`` with ``Origin: http://evil.example:P`` got 200 on
    /v1/predict and /v1/models (the Origin check compared the Origin with the Host, both the
    attacker's). Now every route and both websockets refuse that Host with 403."""
    server = serve()
    evil = f"evil.example:{server.port}"
    headers = {"Host": evil, "Origin": f"http://{evil}"}
    with httpx.Client(base_url=server.url) as http:
        for method, route in ROUTES:
            r = http.request(method, route, headers=headers, json={"features": {"x": 1}})
            assert r.status_code == 403, (route, r.status_code)
            assert r.json()["code"] == "host" and r.json()["field"] == "host"
            assert http.request(method, route, headers={"Host": evil}).status_code == 403
        # the server's own names still work, with or without an Origin
        for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}"):
            own = {"Host": host, "Origin": f"http://{host}"}
            assert http.get("/v1/models", headers=own).status_code == 200
            assert http.post("/v1/predict", headers=own, json={"features": {"x": 1}}).is_success
    for path in ("/v1/stream", "/v1/feed"):
        assert _ws_as(evil, server.port, path, f"http://{evil}") == 403
        assert _ws_as(evil, server.port, path, None) == 403
    assert _ws_as(f"localhost:{server.port}", server.port, "/v1/feed", None) == "hello"
    assert server.engine.summary()["events"] == 2


def test_allowed_hosts_are_configurable(serve):
    server = serve(settings=ServeSettings(allowed_hosts=["dash.example"]))
    port = server.port
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/v1/models", headers={"Host": f"dash.example:{port}"}).status_code == 200
        assert http.get("/v1/models", headers={"Host": f"evil.example:{port}"}).status_code == 403
    assert _ws_as(f"dash.example:{port}", port, "/v1/feed", f"http://dash.example:{port}") == (
        "hello"
    )
    anyone = serve(settings=ServeSettings(allowed_hosts=["*"]))
    r = httpx.get(anyone.url + "/v1/models", headers={"Host": "whatever.example"})
    assert r.status_code == 200


def _bad_utf8(port: int, n: int) -> list[int]:
    """``n`` clients, each sending one text frame that is not UTF-8; their close codes."""

    async def one() -> int:
        async with connect(f"ws://127.0.0.1:{port}/v1/stream") as ws:
            await ws.send(b"\xff\xfe\xfd", text=True)
            with pytest.raises(ConnectionClosedError):
                await ws.recv()
            return ws.close_code or 0

    async def run() -> list[int]:
        return [await one() for _ in range(n)]

    return asyncio.run(run())


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_bad_frames_cannot_flood_the_log(serve):
    """Each invalid UTF-8 frame made uvicorn log a 5-line ERROR traceback. Now such lines are
    one WARNING each, at most ``log_lines`` per ``log_interval``, and the first one after the
    interval counts the suppressed ones."""
    import time

    settings = ServeSettings(log_lines=3, log_interval=1.5)
    server = serve(settings=settings, log_level="info")
    keep = _Keep()
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(keep)  # after start: uvicorn's logging config replaces handlers
    try:
        t0 = time.monotonic()
        codes = _bad_utf8(server.port, 40)
        burst = time.monotonic() - t0
        lines = [r for r in keep.records if "UTF-8" in r.getMessage()]
        time.sleep(1.6)  # a whole interval after the last line of the burst
        _bad_utf8(server.port, 1)
        after = [r for r in keep.records if "UTF-8" in r.getMessage()][len(lines) :]
    finally:
        logger.removeHandler(keep)
    assert codes == [1007] * 40  # the protocol still closes each one (invalid frame data)
    if burst < 1.5:  # the burst fit in one interval (it takes ~0.3 s): exactly 3 lines
        assert len(lines) == 3
    else:  # a slow machine: at most 3 lines per interval the burst spanned
        assert len(lines) <= 3 * (int(burst / 1.5) + 1)
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in lines + after)
    assert len(after) == 1
    assert "similar lines suppressed in the last 1.5s]" in after[0].getMessage()
    suppressed = int(after[0].getMessage().split("[")[1].split()[0])
    if burst < 1.5:
        assert suppressed == 37  # counted, not silently lost
