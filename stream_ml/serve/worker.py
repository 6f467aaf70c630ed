"""EngineWorker: owns the engine; everything else sends it jobs.

Connections, REST routes, the metrics ticker and rollbacks all put jobs on one bounded queue;
:meth:`EngineWorker.run` (an asyncio task) applies them one after the other, so the engine is
never driven from two places at once and its outputs are in arrival order. When the queue is
empty a connection's job is applied at once, on the same event-loop thread (nothing is ahead of
it, and a job never awaits), which saves two task switches per message. Each message goes
through the engine's :class:`~stream_ml.runtime.driver.Driver` (offsets 1, 2, ... in arrival
order): its first output is the answer; the engine's records that come with it (drift alarms,
promotions, snapshots) go onto the feed; every output goes to the configured sinks.

The input schema. Before an observation reaches the driver its feature values are checked
against :class:`~stream_ml.serve.schemas.InputSchema` (declared kinds, the training source's
rule, or each field locked to the kind of its first value); a bad one is answered with an error
naming the field (``not_a_number``, ``wrong_kind``, ``unknown_field``) and changes nothing. A
field is locked only by a message that is applied, so the locked kinds follow the applied
messages like the engine's state; they are stored with every snapshot (the driver's extras,
``schema``) and restored with it.

Smooth failing. An observation is answered from the fallback, marked ``fallback: true``, when
its job could not be queued (the queue is full), when the estimated wait (messages queued times
the measured cost per message) is over ``latency_budget``, or when it waited longer than that in
the queue. The estimate cannot latch: when nothing is queued and no message was applied for a
whole budget, the next message is applied and re-measures it, so one slow call (a stalled model)
degrades answers for about one budget, then the server recovers on its own. The fallback is
the last good prediction for the same key (``fallback="last"``) or
``fallback_value``. A fallback answer changes no engine state: its id is not pending, so a later
label for it is an ``unknown_id`` error. Feedback that cannot be applied in time is answered with
an ``overloaded`` error (retry it). The engine runs on the event loop: a model that hangs in one
call stalls the server, which the latency budget cannot prevent.

Snapshots. When the engine has a snapshot store (``[snapshots]`` in its config), the driver takes
them at the record boundary, as in every runtime: when the engine's ``snapshot_policy`` is due
(every N events or T seconds of event time) and when a stage asks for one (a drift alarm's
``snapshot`` action, a promotion); the owner takes one more at shutdown if anything was served
since the last one. A snapshot's offset counts the messages the server applied (a server has no
source to seek); a restarted ``stream-ml serve`` resumes from the newest valid snapshot. The write
runs on the owner, so it adds its cost (about 1-5 ms, ``benchmarks/RESULTS.md``) to the latency of
the message it follows; a failed write is logged and counted
(``stream_ml_errors{code="snapshot_failed"}``) and serving goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

from stream_ml.errors import StreamMLError
from stream_ml.events import ErrorRecord, Feedback, Observation, Prediction
from stream_ml.runtime.driver import Driver, as_dict
from stream_ml.serve import introspect
from stream_ml.serve.feed import FeedHub, _finite
from stream_ml.serve.metrics import ServeMetrics
from stream_ml.serve.schemas import InputSchema
from stream_ml.serve.settings import ServeSettings

log = logging.getLogger("stream_ml.serve")
Item = Observation | Feedback | dict[str, Any]


def error(code: str, reason: str, field: str | None = None, offset: Any = None) -> dict[str, Any]:
    """An :class:`~stream_ml.events.ErrorRecord` as JSON-ready dict."""
    return ErrorRecord(code, field, reason, offset).to_dict()


class _Job:
    __slots__ = ("batch", "enqueued", "fn", "future", "items")

    def __init__(self, items: list[Item] | None, fn: Callable[[Any], Any] | None, batch: bool,
                 enqueued: float, future: asyncio.Future[Any]) -> None:  # fmt: skip
        self.items, self.fn, self.batch = items, fn, batch
        self.enqueued, self.future = enqueued, future


class EngineWorker:
    """Owns the engine: a bounded job queue and the task that drains it (module docstring).

    Examples
    --------
    >>> import asyncio, time
    >>> from river import linear_model
    >>> from stream_ml import Engine
    >>> from stream_ml.events import parse_message
    >>> async def demo():
    ...     hub = FeedHub(wall_clock=time.time)
    ...     w = EngineWorker(Engine({"lr": linear_model.LogisticRegression()}), ServeSettings(),
    ...                      ServeMetrics(dict), hub)
    ...     w.start()
    ...     out = await w.messages([parse_message({"id": "a", "features": {"x": 1.0}})])
    ...     await w.stop()
    ...     return out[0]["kind"], out[0]["fallback"]
    >>> asyncio.run(demo())
    ('prediction', False)
    """

    def __init__(
        self,
        engine: Any,
        settings: ServeSettings,
        metrics: ServeMetrics,
        hub: FeedHub,
        *,
        clock: Callable[[], float] | None = None,
        wall_clock: Callable[[], float] | None = None,
        sinks: list[Any] | tuple[Any, ...] = (),
        resume: dict[str, Any] | None = None,
    ) -> None:
        import time

        self.schema = InputSchema.for_engine(engine, settings)
        self.schema.restore((resume or {}).get("schema"))
        self.driver = Driver(
            engine,
            snapshots=getattr(engine, "snapshots", None),
            extra=lambda: {"schema": self.schema.state()},
            next_offset=lambda o: o,
            on_snapshot_error=self._snapshot_failed,
        )
        self.sinks = list(sinks)
        self.offset = getattr(engine, "seq", 0)  # messages applied (the driver's offsets)
        self.settings = settings
        self.metrics = metrics
        self.hub = hub
        self.clock = clock or time.monotonic
        self.wall_clock = wall_clock or time.time
        self.queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=settings.queue_size)
        self.last: OrderedDict[Any, tuple[str, Any, Any]] = OrderedDict()
        self.cost = 5e-5  # seconds per message, an exponential moving average
        self._applied_at = self.clock()  # when a message was last applied
        self.queued = 0  # messages waiting in the queue
        self.served: Counter[str] = Counter()
        self.fallbacks = 0
        self.alarms: Counter[tuple[str, str]] = Counter()
        self._lag_seen = (0, 0.0)  # the engine's label-lag count and sum at the last tick
        self.cached: dict[str, Any] = {}
        self.last_metrics: dict[str, Any] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # the hot path's labelled metric children, looked up once
        self._observations = metrics.events.labels("observation")
        self._feedbacks = metrics.events.labels("feedback")
        self._served_children: dict[str, Any] = {}

    # -- life cycle ------------------------------------------------------------------------------

    def start(self, ticker: bool = False) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self.run()))
        if ticker:
            self._tasks.append(loop.create_task(self._ticker()))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks.clear()
        out: list[Any] = []
        try:
            self.driver.checkpoint("server stopped", out)
        except Exception:
            self._snapshot_failed()
        self._write(out)
        for sink in self.sinks:
            sink.flush()
            sink.close()

    @property
    def engine(self) -> Any:
        return self.driver.engine

    # -- submitting ------------------------------------------------------------------------------

    async def messages(self, items: list[Item], *, batch: bool = False) -> list[dict[str, Any]]:
        """Apply parsed messages (errors pass through as dicts) in order; their answers."""
        n = sum(1 for m in items if not isinstance(m, dict))
        budget = self.settings.latency_budget
        probe = False
        if n and (self.queued + n) * self.cost > budget:
            # Over budget. With nothing queued and no message applied for a whole budget, the
            # estimate is re-measured on this message instead (one slow call must not latch
            # the server into fallback answers for good).
            if not (self.queue.empty() and self.clock() - self._applied_at >= budget):
                return self._fallback(items, batch, "latency")
            probe = True
        if self.queue.empty():
            # Idle owner: apply the messages now, on this same event-loop thread. Nothing is
            # queued before them, so arrival order holds, and the engine is still driven by one
            # job at a time (this never awaits); it saves two task switches per message.
            return self._now(items, batch, n, probe)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        job = _Job(items, None, batch, self.clock(), fut)
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            return self._fallback(items, batch, "queue_full")
        self.queued += n
        self.metrics.queue_depth.set(self.queue.qsize())
        return await fut

    async def call(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(engine)`` on the owner task (waits for room in the queue); its result."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self.queue.put(_Job(None, fn, False, self.clock(), fut))
        return await fut

    # -- the owner task -------------------------------------------------------------------------

    async def run(self) -> None:
        queue = self.queue
        while True:
            jobs = [await queue.get()]
            while not queue.empty() and len(jobs) < 64:
                jobs.append(queue.get_nowait())
            self.metrics.queue_depth.set(queue.qsize())
            self._round(jobs)
            if not queue.empty():
                await asyncio.sleep(0)  # let readers and writers run between rounds

    def _now(self, items: list[Item], batch: bool, n: int, probe: bool = False) -> list[Any]:
        """One job applied at once (the queue is empty): :meth:`_round` without the job.
        ``probe``: the cost estimate is replaced by this job's measured cost."""
        t0 = self.clock()
        try:
            return self._apply(items, batch)
        finally:
            self._after(t0, n, probe)

    def _round(self, jobs: list[_Job]) -> None:
        now = self.clock()
        budget = self.settings.latency_budget
        t0, n = now, 0
        for job in jobs:
            if job.future.done():
                continue
            self.metrics.wait.observe(now - job.enqueued)
            try:
                if job.items is None:
                    assert job.fn is not None
                    job.future.set_result(job.fn(self.engine))
                    continue
                k = sum(1 for m in job.items if not isinstance(m, dict))
                self.queued -= k
                if now - job.enqueued > budget:
                    job.future.set_result(self._fallback(job.items, job.batch, "latency"))
                else:
                    job.future.set_result(self._apply(job.items, job.batch))
                    n += k
            except StreamMLError as exc:
                job.future.set_exception(exc)
            except Exception as exc:  # a bug must not kill the owner task
                log.exception("engine job failed")
                job.future.set_exception(exc)
        self._after(t0, n)

    def _after(self, t0: float, n: int, probe: bool = False) -> None:
        """After a round that started at ``t0`` and applied ``n`` messages: its cost (an
        exponential moving average, or re-measured by a ``probe``) and latency."""
        if n:
            now = self.clock()
            elapsed = now - t0
            self.cost = elapsed / n if probe else 0.9 * self.cost + 0.1 * (elapsed / n)
            self.metrics.latency.observe(elapsed)
            self._applied_at = now
        if self.engine.outbox:  # emitted outside a message (a rollback job, a summary() call)
            outs: list[Any] = []
            self.driver.poll(outs)
            for o in outs:
                self._record(o)
            self._write(outs)

    def _snapshot_failed(self, exc: BaseException | None = None) -> None:
        log.error("snapshot failed", exc_info=exc if exc is not None else True)
        self.metrics.errors.labels("snapshot_failed").inc()

    def _write(self, outputs: list[Any]) -> None:
        for sink in self.sinks:
            for d in map(as_dict, outputs):
                sink.write(d)

    def _apply(self, items: list[Item], batch: bool) -> list[dict[str, Any]]:
        driver, last, keep = self.driver, self.last, self.settings.fallback_keys
        hub, served, children = self.hub, self.served, self._served_children
        apply, check = driver.apply, self.schema.check
        out: list[dict[str, Any]] = []
        outs: list[Any] = []
        n_obs = n_fb = 0
        for i, m in enumerate(items):
            if isinstance(m, dict):
                out.append(m)
                continue
            if isinstance(m, Observation):
                bad = check(m.features, m.candidates)
                if bad is not None:
                    out.append(self._refused(bad, i if batch else None))
                    continue
                n_obs += 1
            else:
                n_fb += 1
            self.offset += 1
            try:
                apply(self.offset, m, outs)
            except Exception as exc:  # a bug must not kill the owner task
                log.exception("engine call failed")
                self.metrics.errors.labels("internal").inc()
                outs.append(ErrorRecord("internal", None, f"{type(exc).__name__}: {exc}"))
            answer: dict[str, Any] | None = None
            for o in outs:
                kind = type(o)
                if kind is dict:
                    self._record(o)
                    continue
                d = o.to_dict()
                if answer is None:
                    answer = d
                if kind is Prediction:
                    model = o.model
                    served[model] += 1
                    child = children.get(model)
                    if child is None:
                        child = children[model] = self.metrics.predictions.labels(model, "false")
                    child.inc()
                    if keep:
                        key = o.key
                        if key in last:
                            last.move_to_end(key)
                        last[key] = (model, o.y_pred, o.proba)
                        if len(last) > keep:
                            last.popitem(last=False)
                    hub.prediction(d)
                elif kind is ErrorRecord:
                    self.metrics.errors.labels(o.code).inc()
                    if o is not outs[0]:
                        self._record(d)
                    elif batch:
                        d["offset"] = i
                    else:
                        d["offset"] = None
            if self.sinks:
                self._write(outs)
            outs.clear()
            out.append(answer if answer is not None else error("internal", "no answer"))
        if n_obs:
            self._observations.inc(n_obs)
        if n_fb:
            self._feedbacks.inc(n_fb)
        return out

    def _fallback(self, items: list[Item], batch: bool, why: str) -> list[dict[str, Any]]:
        s = self.settings
        out: list[dict[str, Any]] = []
        for i, m in enumerate(items):
            if isinstance(m, dict):
                out.append(m)
            elif isinstance(m, Observation):
                bad = self.schema.check(m.features, m.candidates, lock=False)
                if bad is not None:
                    out.append(self._refused(bad, i if batch else None))
                    continue
                hit = self.last.get(m.key) if s.fallback == "last" else None
                model, y, proba = hit if hit is not None else ("fallback", s.fallback_value, None)
                p = Prediction(m.id or "", model, y, proba, m.key, m.ts, 0, 1.0, 0, None, True)
                out.append(p.to_dict())
                self.metrics.predictions.labels(model, "true").inc()
                self.fallbacks += 1
            else:
                reason = f"the engine is over its latency budget ({why}); retry"
                out.append(error("overloaded", reason, None, i if batch else None))
                self.metrics.errors.labels("overloaded").inc()
        return out

    def _refused(self, err: StreamMLError, offset: int | None) -> dict[str, Any]:
        """The error answer to a message the server refuses before the engine sees it."""
        self.metrics.errors.labels(err.code).inc()
        return ErrorRecord.from_error(err, offset).to_dict()

    def _record(self, r: dict[str, Any]) -> None:
        """One of the engine's records (a drift alarm, a promotion, a snapshot) onto the feed."""
        kind = self.hub.record(r)
        self.metrics.feed_events.labels(kind).inc()
        if kind == "drift_alert":
            self.alarms[(str(r.get("detector")), str(r.get("field")))] += 1

    # -- the metric updates ---------------------------------------------------------------------

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.settings.metrics_interval)
            try:
                data = await self.call(self.snapshot)
            except Exception:
                log.exception("metrics update failed")
                continue
            self.hub.publish("metrics", data, keep=False)
            for sink in self.sinks:
                sink.flush()

    def snapshot(self, engine: Any) -> dict[str, Any]:
        """The metrics update: ``engine.summary()`` trimmed, plus traffic, lag, drift, snapshot."""
        s = engine.summary()
        total = sum(self.served.values())
        labels = dict(s.get("labels") or {})
        lag = getattr(engine, "lag", None) or [0, 0.0, 0.0]
        seen_n, seen_sum = self._lag_seen
        n_tick = lag[0] - seen_n
        labels["lag_mean"] = (lag[1] - seen_sum) / n_tick if n_tick > 0 else None
        labels["lag_max"] = lag[2] if lag[0] else None
        self._lag_seen = (lag[0], lag[1])
        data: dict[str, Any] = {
            "engine": s.get("engine"),
            "events": s.get("events"),
            "feedback": s.get("feedback"),
            "models": {
                k: {
                    kk: _finite(v[kk]) if kk == "calibration" else v.get(kk)
                    for kk in ("metrics", "rolling", "role", "scored", "version", "calibration")
                    if kk != "calibration" or v.get(kk) is not None  # classifiers only
                }
                for k, v in (s.get("models") or {}).items()
            },
            "traffic": {k: v / total for k, v in self.served.items()} if total else {},
            "served": dict(self.served),
            "fallbacks": self.fallbacks,
            "labels": labels,
            "errors": {"total": s["errors"]["total"], "by_code": s["errors"]["by_code"]},
            "drift": introspect.drift(engine),
            "features": introspect.features(engine),  # None without a feature set
            "slices": _finite(s.get("slices")),  # None without [evaluation] slices
            "alarms": {f"{d}/{f}": n for (d, f), n in self.alarms.items()},
        }
        data["snapshot"], age = self._latest_snapshot(engine)
        self.cached = {**data, "alarms": dict(self.alarms), "snapshot_age": age}
        self.last_metrics = data
        return data

    def _latest_snapshot(self, engine: Any) -> tuple[dict[str, Any] | None, float | None]:
        try:
            infos = introspect.snapshots(engine)
        except Exception:
            log.exception("listing snapshots failed")
            return None, None
        if not infos:
            return None, None
        info = infos[0]
        created = info.get("created_at")
        age = self.wall_clock() - created if isinstance(created, int | float) else None
        keep = ("version", "events", "event_time", "created_at", "tags", "engine")
        return {k: info.get(k) for k in keep}, age
