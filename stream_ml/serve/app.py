"""create_app: the FastAPI app around one engine (REST, websockets, /metrics, the dashboard).

=====================================  ===========  =============================================
route                                  token        what
=====================================  ===========  =============================================
``GET /``                              never        the dashboard (static page, fed by /v1/feed)
``GET /healthz``                       never        liveness: engine name, queue depth
``WS /v1/stream``                      feedback     observations -> predictions, feedback -> acks
``WS /v1/feed``                        auth="all"   read-only feed events for dashboards
``POST /v1/predict``                   auth="all"   one observation -> one prediction
``POST /v1/feedback``                  yes          one feedback -> an acknowledgement
``GET /v1/models|experiments|drift``   auth="all"   per model metrics; router; drift monitors
``GET /v1/slices``                     auth="all"   worst slices per model, intervals, alarms
``GET /v1/calibration``                auth="all"   ECE and reliability curve per classifier
``GET /v1/snapshots``                  auth="all"   stored snapshots, newest first
``POST /v1/snapshots/{v}/rollback``    always       roll the engine back (refused with no token)
``GET /metrics``                       auth="all"   Prometheus text format
=====================================  ===========  =============================================

Every error is the JSON error record ``{"kind": "error", "id", "code", "field", "reason",
"offset"}`` (:class:`~stream_ml.events.ErrorRecord`) with an HTTP status: 401 token, 403 host,
origin or admin, 404 unknown id, snapshot or route, 405 method, 409 duplicate id, 410 expired
id, 413 body too big, 422 malformed (not JSON, wrong shape, a feature of the wrong kind), 503
overloaded; a model that fails in a call is a ``model_error`` with 500. REST bodies are parsed
as the websocket parses a message (:func:`stream_ml.serve.protocol.parse_body`), so both paths
give the same errors.

Before any route, :class:`HostGuard` checks the ``Host`` header (DNS rebinding: see
:func:`~stream_ml.serve.security.host_ok`) for HTTP and websocket requests alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from stream_ml.errors import EventError
from stream_ml.events import ErrorRecord, Feedback, Observation
from stream_ml.serve import introspect, schemas, sockets
from stream_ml.serve.feed import FeedHub, _finite
from stream_ml.serve.metrics import ServeMetrics
from stream_ml.serve.protocol import body_ref, body_schema, parse_body
from stream_ml.serve.security import (
    ServeError,
    host_ok,
    install_log_limit,
    install_redaction,
    wrong_token,
)
from stream_ml.serve.settings import ServeSettings
from stream_ml.serve.state import ServeState
from stream_ml.serve.worker import EngineWorker

STATIC = Path(__file__).parent / "static"
# bad_feedback: well formed, but it does not fit the prediction it names (clicks for a
# prediction that is no ranking, a label for a ranking, items that were not shown): a conflict
_STATUS = {"unknown_id": 404, "expired_id": 410, "duplicate_id": 409, "bad_feedback": 409,
           "overloaded": 503, "model_error": 500, "internal": 500}  # fmt: skip
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": schemas.ErrorOut} for s in (401, 403, 404, 409, 410, 413, 422, 503)
}


def _state(request: Request) -> ServeState:
    return request.app.state.serve


def _need(level: str) -> Callable[[Request], ServeState]:
    def dep(request: Request) -> ServeState:
        st = _state(request)
        if not st.check(level, request.headers, request.query_params):
            bad = wrong_token(st.token, request.headers, request.query_params)
            if bad is not None:
                raise bad
        return st

    return dep


def _body(kind: type[Observation] | type[Feedback]) -> Callable[..., Any]:
    async def dep(request: Request) -> Observation | Feedback:
        return parse_body(await request.body(), kind)

    return dep


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}
_LEVELS = {("post", "/v1/predict"): "read", ("post", "/v1/feedback"): "write",
           ("get", "/v1/models"): "read", ("get", "/v1/experiments"): "read",
           ("get", "/v1/drift"): "read", ("get", "/v1/snapshots"): "read",
           ("get", "/v1/slices"): "read", ("get", "/v1/calibration"): "read",
           ("post", "/v1/snapshots/{version}/rollback"): "admin"}  # fmt: skip


def _answer(d: dict[str, Any], ok: int = 200) -> JSONResponse:
    status = ok if d.get("kind") != "error" else _STATUS.get(d.get("code", ""), 422)
    return JSONResponse(_finite(d), status_code=status)


class BodyLimit:
    """ASGI middleware: an HTTP body over ``limit`` bytes gets 413 before it is read whole."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for k, v in scope.get("headers", []):
            if k == b"content-length" and v.isdigit() and int(v) > self.limit:
                return await self._refuse(scope, receive, send)
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            msg = await receive()
            seen += len(msg.get("body", b""))
            if seen > self.limit:
                raise ServeError("too_big", f"body over {self.limit} bytes", 413)
            return msg

        try:
            await self.app(scope, limited, send)
        except ServeError:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Any, receive: Any, send: Any) -> None:
        err = ServeError("too_big", f"body over {self.limit} bytes", 413, "body")
        await JSONResponse(err.to_dict(), status_code=413)(scope, receive, send)


class HostGuard:
    """ASGI middleware: a request whose ``Host`` is not allowed gets 403 (HTTP) or a refused
    handshake (websocket), before any route; see :func:`~stream_ml.serve.security.host_ok`."""

    def __init__(self, app: Any, allowed: list[str] | None,
                 on_refuse: Callable[[str], None]) -> None:  # fmt: skip
        self.app, self.allowed, self.on_refuse = app, allowed, on_refuse

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        host = None
        for k, v in scope.get("headers", []):
            if k == b"host":
                host = v.decode("latin-1")
                break
        local = scope.get("server") or (None, None)
        if host_ok(host, self.allowed, (str(local[0]).lower(),)):
            return await self.app(scope, receive, send)
        self.on_refuse("host")
        err = ServeError("host", f"host {host!r} is not allowed (see allowed_hosts)", 403, "host")
        response = JSONResponse(err.to_dict(), status_code=403)
        if scope["type"] == "http":
            return await response(scope, receive, send)
        await receive()  # the websocket.connect event
        if "websocket.http.response" in scope.get("extensions", {}):
            await response(scope, receive, send)  # a denial response (Starlette wraps it)
        else:
            await send({"type": "websocket.close", "code": 1008, "reason": "host"})


def create_app(
    engine: Any,
    settings: ServeSettings | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    sinks: Sequence[Any] = (),
    resume: dict[str, Any] | None = None,
) -> FastAPI:
    """The app serving ``engine``; clocks are injectable (timeouts, rates, feed timestamps).

    ``sinks`` get every output (answers and the engine's records), as in every runtime; they
    are flushed at each metrics tick and closed at shutdown. ``resume``: the runtime extras of
    the snapshot ``engine`` was restored from (the input schema's locked kinds).

    Examples
    --------
    >>> from river import linear_model
    >>> from stream_ml import Engine
    >>> app = create_app(Engine({"lr": linear_model.LogisticRegression()}))
    >>> sorted(p for p in app.openapi()["paths"] if p.startswith("/v1"))[:3]
    ['/v1/calibration', '/v1/drift', '/v1/experiments']
    """
    settings = (settings or ServeSettings()).with_env_token()
    install_redaction()
    install_log_limit(settings.log_lines, settings.log_interval)
    hub = FeedHub(wall_clock=wall_clock, history=settings.feed_history,
                  predictions_per_s=settings.feed_predictions_per_s, clock=clock)  # fmt: skip
    holder: dict[str, Any] = {}
    metrics = ServeMetrics(lambda: holder["worker"].cached)
    worker = EngineWorker(engine, settings, metrics, hub, clock=clock, wall_clock=wall_clock,
                          sinks=list(sinks), resume=resume)  # fmt: skip
    holder["worker"] = worker
    st = ServeState(engine, settings, worker, hub, metrics, clock, wall_clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker.start(ticker=True)
        watchdog = asyncio.get_running_loop().create_task(st.watchdog())
        try:
            yield
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
            await worker.stop()

    app = FastAPI(title="stream-ml", version="0.1.0", lifespan=lifespan,
                  description="Online predictions, feedback, metrics, live dashboard.")  # fmt: skip
    app.state.serve = st
    app.add_middleware(BodyLimit, limit=settings.max_message_bytes)
    app.add_middleware(HostGuard, allowed=settings.allowed_hosts,
                       on_refuse=lambda code: metrics.errors.labels(code).inc())  # fmt: skip

    def _record(code: str, field: str | None, reason: str, status: int) -> JSONResponse:
        st.metrics.errors.labels(code).inc()
        return JSONResponse(ErrorRecord(code, field, reason).to_dict(), status_code=status)

    @app.exception_handler(ServeError)
    async def _refused(request: Request, exc: ServeError) -> JSONResponse:
        return _record(exc.code, exc.field, exc.reason, exc.status)

    @app.exception_handler(EventError)
    async def _bad_event(request: Request, exc: EventError) -> JSONResponse:
        return _record(exc.code, exc.field, exc.reason, 422)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        loc = [str(p) for p in first["loc"] if p != "body"]
        return _record("malformed_message", ".".join(loc) or None, str(first["msg"]), 422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's "error parsing the body": a malformed message
            return _record("malformed_message", "body", f"not JSON: {exc.detail}", 422)
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        response = _record(code, None, str(exc.detail), exc.status_code)
        for k, v in (exc.headers or {}).items():  # 405's Allow
            response.headers[k] = v
        return response

    app.add_api_websocket_route("/v1/stream", sockets.stream)
    app.add_api_websocket_route("/v1/feed", sockets.feed)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/healthz", response_model=schemas.Health)
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "engine": getattr(engine, "name", "engine"),
                "queue": worker.queue.qsize(), "connections": st.connections}  # fmt: skip

    @app.post("/v1/predict", response_model=schemas.PredictionOut, responses=_ERRORS,
              openapi_extra=body_ref(Observation))  # fmt: skip
    async def predict(s: ServeState = Depends(_need("read")),
                      obs: Observation = Depends(_body(Observation))) -> JSONResponse:  # fmt: skip
        """Predict for one observation (the same as one message on ``/v1/stream``)."""
        return _answer((await worker.messages([obs]))[0])

    @app.post("/v1/feedback", response_model=schemas.AckOut, responses=_ERRORS,
              openapi_extra=body_ref(Feedback))  # fmt: skip
    async def feedback(s: ServeState = Depends(_need("write")),
                       fb: Feedback = Depends(_body(Feedback))) -> JSONResponse:  # fmt: skip
        """Join a label, reward or clicks to an earlier prediction (needs the token)."""
        return _answer((await worker.messages([fb]))[0])

    @app.get("/v1/models", response_model=schemas.ModelsOut, responses=_ERRORS)
    async def models(s: ServeState = Depends(_need("read"))) -> JSONResponse:
        """Per model: role, version, cumulative and rolling metrics, share of traffic, and a
        classifier's calibration (ECE and reliability curve over the rolling window)."""
        return JSONResponse(_finite(await worker.call(_models)))

    def _models(e: Any) -> dict[str, Any]:
        s = e.summary()
        total = sum(worker.served.values())
        out = [{"name": k, "traffic": worker.served[k] / total if total else 0.0,
                **{f: v.get(f) for f in ("role", "version", "scored", "metrics", "rolling",
                                         "calibration")}}
               for k, v in s["models"].items()]  # fmt: skip
        return {"engine": s["engine"], "events": s["events"], "feedback": s["feedback"],
                "models": out, "labels": s["labels"],
                "errors": {k: s["errors"][k] for k in ("total", "by_code")}}  # fmt: skip

    @app.get("/v1/slices", response_model=schemas.SlicesOut, responses=_ERRORS)
    async def slices(
        model: str | None = Query(default=None, max_length=200,
                                  description="only this model (404 when it has no slices)"),
        limit: int | None = Query(default=None, ge=1, le=1000,
                                  description="the worst this many slices per model (each "
                                  "dimension's other kept)"),
        s: ServeState = Depends(_need("read")),
    ) -> JSONResponse:  # fmt: skip
        """Slices of the first metric per model (``[evaluation] slices``): worst first, with
        intervals, events scored and alarm marks, and the alarm episodes; ``configured`` false
        (and nothing else) without slices."""
        result = await worker.call(
            lambda e: introspect.slices({"slices": introspect.engine_slices(e)}, model, limit))
        return JSONResponse(_finite(result))

    @app.get("/v1/calibration", response_model=schemas.CalibrationsOut, responses=_ERRORS)
    async def calibration(s: ServeState = Depends(_need("read"))) -> JSONResponse:
        """Per classifier: expected calibration error and the reliability curve over the
        rolling window, and the ECE monitor's threshold and alarm episodes when it is on."""
        result = await worker.call(
            lambda e: introspect.calibration({"models": introspect.engine_models(e)}))
        return JSONResponse(_finite(result))

    @app.get("/v1/experiments", response_model=schemas.ListOut, responses=_ERRORS)
    async def experiments(s: ServeState = Depends(_need("read"))) -> JSONResponse:
        """The experiment router's state (empty list when the engine has none)."""
        return JSONResponse(_finite({"items": await worker.call(introspect.experiments)}))

    @app.get("/v1/drift", response_model=schemas.ListOut, responses=_ERRORS)
    async def drift(s: ServeState = Depends(_need("read"))) -> JSONResponse:
        """Drift monitors (statistic, threshold, state) and the recent alarms."""
        items = await worker.call(introspect.drift)
        alarms = [e for e in hub.history if e["type"] == "drift_alert"]
        return JSONResponse(_finite({"items": items, "alarms": alarms}))

    @app.get("/v1/snapshots", response_model=schemas.ListOut, responses=_ERRORS)
    async def snapshots(s: ServeState = Depends(_need("read"))) -> JSONResponse:
        """Stored snapshots, newest first (empty list without a snapshot store)."""
        return JSONResponse(_finite({"items": await worker.call(introspect.snapshots)}))

    @app.post("/v1/snapshots/{version}/rollback", response_model=schemas.RollbackOut,
              responses=_ERRORS)  # fmt: skip
    async def rollback(version: int, body: schemas.RollbackIn | None = None,
                       s: ServeState = Depends(_need("admin"))) -> JSONResponse:  # fmt: skip
        """Roll the engine back to snapshot ``version`` (needs the token; 404 without a store)."""
        reason = body.reason if body is not None else "manual rollback"
        result = await worker.call(lambda e: introspect.rollback(e, version, reason))
        if not hasattr(engine, "drain_events"):  # otherwise the engine emits it itself
            hub.publish("rollback", {"version": version, "reason": reason, "source": "api"})
        return JSONResponse(_finite(result))

    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:  # FastAPI's, plus the two bodies read by parse_body
            spec = default_openapi()
            comps = spec.setdefault("components", {}).setdefault("schemas", {})
            for kind in (Observation, Feedback):
                comps[kind.__name__] = body_schema(
                    kind, worker.schema, router=getattr(engine, "router", None) is not None
                )
            if st.token is not None:  # which operations need the bearer token, as configured
                bearer = {"type": "http", "scheme": "bearer"}
                spec["components"]["securitySchemes"] = {"bearer": bearer}
                for path, ops in spec["paths"].items():
                    for method, op in ops.items():
                        level = _LEVELS.get((method, path))
                        if level is not None and (level != "read" or settings.auth == "all"):
                            op["security"] = [{"bearer": []}]
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/metrics", include_in_schema=False)
    async def prometheus(s: ServeState = Depends(_need("read"))) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return app
