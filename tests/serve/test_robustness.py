"""Bad clients: fuzz beside a good client, slow consumers, fallback answers under overload."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import socket
import struct
import time
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

import scenarios
from stream_ml.serve import ServeSettings
from tests.serve.conftest import TOKEN, digest, sea_engine, small_engine


def _garbage(rng: random.Random) -> str | bytes:
    kind = rng.randrange(12)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    if kind == 1:
        depth = rng.randrange(100, 20_000)
        return "[" * depth + "]" * depth
    if kind == 2:
        return '{"a":' * 5000 + "1" + "}" * 5000
    if kind == 3:
        return "x" * rng.randrange(1, 200)
    if kind == 4:
        return json.dumps({"id": rng.random(), "features": "not a dict"})
    if kind == 5:
        return json.dumps({"features": {"x": [1, {"y": 2}]}})
    if kind == 6:
        return json.dumps([{"features": {"x": 1}, "kind": "nope"}] * rng.randrange(1, 5))
    if kind == 7:
        return json.dumps({"id": "z" * 300, "features": {"x": 1}})
    if kind == 8:
        return json.dumps({"features": {"x": 1}, "ts": "yesterday"})
    if kind == 9:
        return json.dumps({"id": "f", "label": {"nested": True}})
    if kind == 10:
        return json.dumps([[1, 2], None, "s"])
    return json.dumps({"features": {"x": float("nan")}}).replace("NaN", "NaN")


def test_fuzz_beside_a_good_client(serve):
    messages = list(scenarios.get("sea-drift").messages(400, seed=5))
    settings = ServeSettings(token=TOKEN, max_message_bytes=16 * 1024, rate=1e6, burst=10**6)
    server = serve(sea_engine(), settings)
    url = f"{server.ws_url}/v1/stream?token={TOKEN}"

    async def good() -> list[dict]:
        out = []
        async with connect(url) as ws:
            for m in messages:
                await ws.send(json.dumps(m))
                out.append(json.loads(await ws.recv()))
                await asyncio.sleep(0)
        return out

    async def bad(seed: int, n: int) -> int:
        rng, answered = random.Random(seed), 0
        while answered < n:
            try:
                async with connect(url, max_size=None) as ws:
                    while answered < n:
                        if rng.random() < 0.02:  # oversized: closed with 1009, reconnect
                            await ws.send(json.dumps({"features": {"x": "y" * 20_000}}))
                        else:
                            await ws.send(_garbage(rng))
                        answer = json.loads(await ws.recv())
                        items = answer if isinstance(answer, list) else [answer]
                        assert all(a["kind"] == "error" and a["reason"] for a in items), answer
                        answered += 1
            except ConnectionClosed as exc:
                assert exc.rcvd is not None and exc.rcvd.code == 1009
                answered += 1
        return answered

    async def run() -> list[dict]:
        results = await asyncio.gather(good(), bad(1, 1500), bad(2, 1500))
        return results[0]

    got = asyncio.run(run())
    embedded = sea_engine()
    assert got == json.loads(json.dumps([embedded.process(m).to_dict() for m in messages]))
    server.__exit__(None, None, None)
    assert digest(server.engine) == digest(embedded)
    assert server.engine.summary()["errors"] == embedded.summary()["errors"]


def _raw_ws(port: int, path: str) -> socket.socket:
    """A websocket handshake by hand on a socket with a tiny receive buffer, which the test
    then never reads again (a client library would keep reading in the background)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(b"0123456789abcdef").decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())  # fmt: skip
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _frame(text: str) -> bytes:
    """A masked text frame (mask key 0000: the payload goes as is)."""
    data = text.encode()
    n = len(data)
    size = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n) \
        if n < 65536 else bytes([0x80 | 127]) + struct.pack(">Q", n)  # fmt: skip
    return b"\x81" + size + b"\x00\x00\x00\x00" + data


def test_slow_consumers_are_dropped_and_others_unaffected(serve):
    """Two clients that never read (a feed and a prediction stream) are dropped once their send
    queues have stayed full for ``slow_client_timeout`` by the server's clock; a client that
    reads its answers gets every one of them before and after the others are dropped, and is
    never dropped itself.

    The server's clock is injected: once both stuck clients are stalled and the good client has
    no send under way, the test moves it past the timeout. With a real 0.5 s timeout this test
    failed on a loaded machine: a paused process made the good client's own send look stuck for
    0.5 s, and the websocket keepalive (ping interval and timeout max(1 s, the timeout)) closed
    the good client or the stuck feed before the drop. Here the timeout is 10 s (the default),
    so the keepalive and the real-time wait for queue room stay out of the way."""
    now = [0.0]
    settings = ServeSettings(send_queue=64, slow_client_timeout=10.0, max_batch=256,
                             feed_predictions_per_s=10**6, rate=1e6, burst=10**6)  # fmt: skip
    server = serve(small_engine(), settings, clock=lambda: now[0])
    st = server.app.state.serve
    # big predictions (long ids and keys) fill the kernel's socket buffers sooner
    obs = [{"key": "k" * 250, "features": {"x": float(i)}} for i in range(100)]
    batch = json.dumps(obs)
    deadline = time.monotonic() + 120  # real time, only against a hang

    def box_of(connect_raw: Any) -> Any:
        before = set(st.outboxes)
        sock = connect_raw()
        while not set(st.outboxes) - before:
            assert time.monotonic() < deadline, "no outbox for the new connection"
            time.sleep(0.005)
        (box,) = set(st.outboxes) - before
        return sock, box

    feed, feed_box = box_of(lambda: _raw_ws(server.port, "/v1/feed"))
    stream, stream_box = box_of(lambda: _raw_ws(server.port, "/v1/stream"))
    stream.setblocking(False)

    refused = [False]  # the stuck streamer's socket took no more: the server stopped reading it

    def stalled() -> bool:
        # the feed's queue is full; the stuck stream's handler waits on a send (or on room in
        # its queue) and has stopped reading
        stream_waits = stream_box.sending_since is not None or stream_box.stalled_since is not None
        return feed_box.stalled_since is not None and refused[0] and stream_waits

    async def stuck_streamer() -> None:
        frame = _frame(batch)
        while not stream_box.dropped and time.monotonic() < deadline:
            try:  # sends, never reads its answers
                stream.send(frame)
            except BlockingIOError:
                refused[0] = True
            except OSError:
                pass
            await asyncio.sleep(0.002)

    async def good() -> tuple[int, int]:
        sent = answered = 0
        async with connect(f"{server.ws_url}/v1/stream") as ws:
            while not set(st.outboxes) - {feed_box, stream_box}:
                assert time.monotonic() < deadline, "no outbox for the good client"
                await asyncio.sleep(0.005)
            (good_box,) = set(st.outboxes) - {feed_box, stream_box}

            async def one() -> None:
                nonlocal sent, answered
                for o in obs:
                    o["id"] = f"{sent}-{o['features']['x']}-" + "i" * 230
                await ws.send(json.dumps(obs))
                sent += 1
                answered += len(json.loads(await ws.recv()))

            while not stalled():  # 1. the stuck clients' queues fill up
                assert time.monotonic() < deadline, "the stuck clients never stalled"
                await one()
                await asyncio.sleep(0.001)
            while good_box.sending_since is not None:  # 2. no send to the good client under way
                await asyncio.sleep(0.005)
            now[0] += settings.slow_client_timeout  # the watchdog drops both within a second
            while not (feed_box.dropped and stream_box.dropped):
                assert time.monotonic() < deadline, "the stuck clients were not dropped"
                await asyncio.sleep(0.01)
            for _ in range(20):  # 3. the good client goes on
                await one()
            assert not good_box.dropped
        return sent, answered

    async def run() -> tuple[int, int]:
        streamer = asyncio.create_task(stuck_streamer())
        try:
            return await good()
        finally:
            streamer.cancel()

    try:
        sent, answered = asyncio.run(run())
    finally:
        feed.close()
        stream.close()
    assert answered == sent * 100
    assert st.dropped == {"stream": 1, "feed": 1}
    assert all(box.queue.qsize() <= settings.send_queue for box in st.outboxes)


def test_fallback_when_over_the_latency_budget(serve):
    now = [0.0]
    settings = ServeSettings(latency_budget=0.05, fallback="last", fallback_value="unknown")
    server = serve(small_engine(), settings, clock=lambda: now[0])

    async def run() -> list[dict]:
        async with connect(f"{server.ws_url}/v1/stream") as ws:
            out = []
            await ws.send(json.dumps({"id": "a", "key": "k1", "features": {"x": 1.0}}))
            out.append(json.loads(await ws.recv()))
            st = server.app.state.serve
            st.worker.cost = 1.0  # the engine looks slow: an estimated wait over the budget
            for key in ("k1", "k2"):
                await ws.send(json.dumps({"id": "b" + key, "key": key, "features": {"x": 2.0}}))
                out.append(json.loads(await ws.recv()))
            await ws.send(json.dumps({"id": "a", "label": True}))
            out.append(json.loads(await ws.recv()))
            return out

    first, last_good, default, feedback = asyncio.run(run())
    assert first["fallback"] is False
    assert last_good["fallback"] is True and last_good["y_pred"] == first["y_pred"]
    assert last_good["id"] == "bk1" and last_good["model"] == "lr"
    assert default["fallback"] is True and default["y_pred"] == "unknown"
    assert feedback["code"] == "overloaded"
    assert server.engine.summary()["events"] == 1  # fallback answers changed nothing


def test_one_slow_call_does_not_latch_the_fallback(serve):
    """A model that stalls once pushes the cost estimate over the budget: the next answers are
    fallbacks, and once a whole budget passed with nothing applied the server re-measures and
    recovers on its own (the issue's latch: before, every answer stayed a fallback forever).
    The server's clock is injected: the stall advances it by 10 s."""
    from river import linear_model

    from stream_ml import Engine

    now = [0.0]

    class StallsOnce(linear_model.LogisticRegression):
        def predict_proba_one(self, x):
            if x.get("x") == 99.0:
                now[0] += 10.0  # one call takes 10 s of the server's clock
            return super().predict_proba_one(x)

    settings = ServeSettings(latency_budget=0.5, fallback_value="unknown")
    server = serve(Engine({"lr": StallsOnce()}), settings, clock=lambda: now[0])

    async def send(ws, i: int, x: float) -> dict:
        await ws.send(json.dumps({"id": f"e{i}", "features": {"x": x}}))
        return json.loads(await ws.recv())

    async def run() -> list[bool]:
        async with connect(f"{server.ws_url}/v1/stream") as ws:
            out = [(await send(ws, 0, 1.0))["fallback"], (await send(ws, 1, 99.0))["fallback"]]
            out.append((await send(ws, 2, 1.0))["fallback"])  # right after the stall: degraded
            now[0] += 0.6  # more than a budget with nothing applied
            for i in range(3, 8):
                out.append((await send(ws, i, 1.0))["fallback"])
            return out

    flags = asyncio.run(run())
    assert flags[:3] == [False, False, True]
    assert flags[3:] == [False] * 5  # recovered: the estimate was re-measured
    assert server.engine.summary()["events"] == 7
