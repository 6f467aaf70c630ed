"""The two websockets: ``/v1/stream`` (predictions and feedback) and ``/v1/feed`` (dashboards).

Before a connection is accepted: its ``Host`` (:class:`~stream_ml.serve.app.HostGuard`) and
``Origin`` are checked against the allowlists, its token (``Authorization: Bearer T`` header, or
``?token=T`` for browsers), and the number of open connections. A refused host, origin or
connection limit is an HTTP response with a JSON error body (403 host or origin, 503 too many
connections): clients see the handshake fail. A token problem (missing where the settings need
one, or wrong: a presented token must be the right one, whatever ``auth`` says) is a websocket
close with code 1008 and the reason (``unauthorized: wrong token``) right after the handshake,
which browsers can read (they cannot read a refused handshake's status).

Connection slots: ``reserved_connections`` of ``max_connections`` are kept for authenticated
clients (when a token is configured): an anonymous client is refused at ``max_connections -
reserved`` open connections, an authenticated one only at ``max_connections``.

After it is accepted, every message is answered: a refused one with an error record naming the
problem (``rate_limited``, ``batch_too_large``, ``malformed_message``, ``unauthorized`` for
feedback on a connection without the token when one is configured), and the connection stays
usable. Only a message over ``max_message_bytes`` closes it (code 1009), and a client that
leaves its send queue full for ``slow_client_timeout`` seconds is dropped (code 1008).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from fastapi import WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect, WebSocketState

from stream_ml.events import Feedback
from stream_ml.serve.feed import dumps
from stream_ml.serve.outbox import Outbox
from stream_ml.serve.protocol import ProtocolError, decode
from stream_ml.serve.security import ServeError, TokenBucket, wrong_token
from stream_ml.serve.state import ServeState
from stream_ml.serve.worker import error

log = logging.getLogger("stream_ml.serve")
TOO_BIG = 1009
POLICY = 1008


async def _admit(ws: WebSocket, st: ServeState, endpoint: str) -> bool | None:
    """Check a handshake; refuse it (and return None) or return whether it is authenticated."""
    try:
        authed = st.check("read", ws.headers, ws.query_params)
        bad = None if authed else wrong_token(st.token, ws.headers, ws.query_params)
        if bad is not None:
            raise bad
        s = st.settings
        limit = s.max_connections if authed else s.max_connections - s.reserved()
        if st.connections >= limit:
            why = "the server is at its connection limit" + ("" if authed else
                  " (the slots left are reserved for clients with the token)" if s.reserved() and
                  st.connections < s.max_connections else "")  # fmt: skip
            raise ServeError("too_many_connections", why, 503)
    except ServeError as err:
        st.metrics.errors.labels(err.code).inc()
        if err.code == "unauthorized":  # a close code and reason a browser can read
            await ws.accept()
            await ws.close(code=POLICY, reason=f"unauthorized: {err.reason}"[:120])
        elif "websocket.http.response" in ws.scope.get("extensions", {}):
            await ws.send_denial_response(JSONResponse(err.to_dict(), status_code=err.status))
        else:
            await ws.close(code=POLICY, reason=err.code)
        return None
    await ws.accept()
    st.connections += 1
    st.metrics.connections.labels(endpoint).inc()
    return authed


def _outbox(ws: WebSocket, st: ServeState, endpoint: str) -> Outbox:
    task = asyncio.current_task()

    def dropped() -> None:
        st.dropped[endpoint] += 1
        st.metrics.dropped.labels(endpoint).inc()
        log.warning("dropped a slow consumer on %s", endpoint)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    box = Outbox(ws.send_text, size=st.settings.send_queue, timeout=st.settings.slow_client_timeout,
                 clock=st.clock, on_drop=dropped)  # fmt: skip
    box.start()
    st.outboxes.add(box)
    return box


@contextlib.contextmanager
def _until_gone(box: Outbox) -> Iterator[None]:
    """End a connection's loop quietly when the client left, or was dropped as a slow consumer
    (the outbox cancelled the handler: that cancellation is consumed, any other is not)."""
    try:
        yield
    except (WebSocketDisconnect, RuntimeError):
        pass
    except asyncio.CancelledError:
        if not box.dropped:
            raise
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()


async def _finish(ws: WebSocket, st: ServeState, box: Outbox, endpoint: str) -> None:
    st.connections -= 1
    st.outboxes.discard(box)
    st.metrics.connections.labels(endpoint).dec()
    await box.close()
    if box.dropped and ws.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(POLICY, "slow consumer"), 0.5)


async def stream(ws: WebSocket) -> None:
    """``/v1/stream``: observations in, predictions out; feedback in, acknowledgements out."""
    st: ServeState = ws.app.state.serve
    authed = await _admit(ws, st, "stream")
    if authed is None:
        return
    s = st.settings
    feedback_ok = authed or st.token is None
    bucket = TokenBucket(s.rate, s.burst, st.clock)
    box = _outbox(ws, st, "stream")
    try:
        with _until_gone(box):
            while not box.dropped:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                answer = await _answer(msg, st, bucket, feedback_ok)
                if answer is TOO_BIG:
                    await box.close()
                    await ws.close(TOO_BIG, "message too big")
                    return
                if not await box.put(answer):
                    break
    finally:
        await _finish(ws, st, box, "stream")


async def _answer(msg: Mapping[str, Any], st: ServeState, bucket: TokenBucket,
                  feedback_ok: bool) -> Any:  # fmt: skip
    s, metrics = st.settings, st.metrics
    text = msg.get("text")
    if text is None:
        metrics.errors.labels("binary").inc()
        return dumps(error("malformed_message", "binary frames are not accepted; send JSON text"))
    size = len(text)  # characters; UTF-8 takes at most 4 bytes each: encode only if it may matter
    if size > s.max_message_bytes or (
        size * 4 > s.max_message_bytes and len(text.encode()) > s.max_message_bytes
    ):
        metrics.errors.labels("too_big").inc()
        return TOO_BIG
    try:
        items, batch = decode(text, s.max_batch)
    except ProtocolError as err:
        metrics.errors.labels(err.code).inc()
        return dumps(err.record())
    if not bucket.take(len(items)):
        metrics.errors.labels("rate_limited").inc()
        reason = f"over {s.rate:g} messages per second; slow down"
        return dumps(error("rate_limited", reason))
    for i, m in enumerate(items):
        if isinstance(m, dict):
            metrics.errors.labels(m["code"]).inc()
        elif isinstance(m, Feedback) and not feedback_ok:
            metrics.errors.labels("unauthorized").inc()
            reason = "feedback needs the bearer token"
            items[i] = error("unauthorized", reason, "token", i if batch else None)
    answers = await st.worker.messages(items, batch=batch)
    return dumps(answers if batch else answers[0])


async def feed(ws: WebSocket) -> None:
    """``/v1/feed``: read-only broadcast of feed events (see :mod:`stream_ml.serve.feed`)."""
    st: ServeState = ws.app.state.serve
    if await _admit(ws, st, "feed") is None:
        return
    box = _outbox(ws, st, "feed")
    hello = {"engine": getattr(st.engine, "name", "engine"),
             "models": [s.name for s in getattr(st.engine, "slots", [])],
             "history": list(st.hub.history), "metrics": st.worker.last_metrics}  # fmt: skip
    box.offer(dumps({"type": "hello", "ts": st.wall_clock(), "data": hello}))
    st.hub.subscribe(box)
    bucket = TokenBucket(st.settings.rate, st.settings.burst, st.clock)
    try:
        with _until_gone(box):
            while not box.dropped:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                if bucket.take():
                    box.offer(dumps(error("read_only", "the feed is read-only")))
    finally:
        st.hub.unsubscribe(box)
        await _finish(ws, st, box, "feed")
