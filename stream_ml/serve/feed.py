"""The dashboard feed: one JSON envelope for everything, broadcast to read-only clients.

Every message on ``/v1/feed`` is a :class:`FeedEvent` ``{"type", "ts", "data"}``:

=================  ==========================================================================
type               data
=================  ==========================================================================
``hello``          ``{"engine", "models", "history": [recent non-prediction events]}``
``history``        sent right after ``hello``: :meth:`SeriesHistory.to_dict` (the last
                   :data:`HISTORY_POINTS` metrics updates of every series, the drift episodes,
                   the last sampled predictions), so a new dashboard has charts at once
``metrics``        every ``metrics_interval`` s: ``events``, ``feedback``, ``models`` (rolling
                   and cumulative metrics, role), ``traffic`` (share per model), ``labels``
                   (pending, expired, evicted, ``lag_mean``, ``lag_max``), ``errors``,
                   ``drift`` (per detector: statistic, threshold, state, episodes),
                   ``features`` (the feature stage's counters, when the update has them),
                   ``snapshot``, and ``point``: the row this update added to the history
``prediction``     a ``Prediction.to_dict()``, sampled to ``feed_predictions_per_s``
``drift_alert``,   a record of the engine's outbox as it came (its ``kind`` becomes the
``promotion``,     ``type``); any other kind is passed on the same way, so stages added later
``snapshot``,      publish without a change here
``rollback``, ...
=================  ==========================================================================

``ts`` is the server's wall-clock time (seconds since the epoch, from the injected clock) when
the event was published; event times are inside ``data``. The history's time axis is that
wall clock too: a replayed stream's event times (``ts`` of the observations) can be anything,
from 1970 to next year, while the dashboard shows when the server saw things.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic_core import to_json

from stream_ml.serve.outbox import Outbox

_ALIASES = {"drift": "drift_alert", "alarm": "drift_alert"}

#: points kept per series: 600 metrics updates, ten minutes at the default interval of 1 s
HISTORY_POINTS = 600
#: drift episodes (and alarms outside episodes) kept for new dashboards
HISTORY_EPISODES = 100
#: sampled predictions kept for new dashboards
HISTORY_PREDICTIONS = 20
#: at most this many series (a bound on memory whatever the configuration)
HISTORY_SERIES = 512
#: feature-stage counters charted as their increase per interval (``keys`` is a level)
FEATURE_COUNTERS = ("events", "late_dropped", "late_included", "out_of_order", "evictions_ttl",
                    "evictions_lru", "errors", "labels")  # fmt: skip


class FeedEvent(BaseModel):
    """The envelope of every ``/v1/feed`` message.

    Examples
    --------
    >>> FeedEvent(type="drift_alert", ts=1.0, data={"field": "x1"}).model_dump()
    {'type': 'drift_alert', 'ts': 1.0, 'data': {'field': 'x1'}}
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    ts: float
    data: dict[str, Any]


def dumps(obj: Any) -> str:
    """Compact JSON; NaN and infinities (metrics before any label) become ``null``.

    >>> dumps({"a": float("nan"), "b": [1, 2.5]})
    '{"a":null,"b":[1,2.5]}'
    """
    return to_json(obj, inf_nan_mode="null", fallback=_default).decode()


def _default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return str(o)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item"):
        return _finite(obj.item())
    return obj


_DRIFT_META = ("name", "detector", "kind", "params", "on", "model", "fields", "statistic_kind")


def _value(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if math.isfinite(v) else None


class SeriesHistory:
    """The recent past of a server, for dashboards that connect late: a ring buffer per series.

    Each metrics update (:meth:`add`) appends one row: the server's wall-clock time and a value
    (or None) for every series, all aligned on one time column of at most ``points`` entries
    (older rows fall off). Series, by name:

    ===================================  =======================================================
    ``metric:<model>:<metric>``          the rolling prequential metric (none before a label)
    ``traffic:<model>``                  share of the predictions served since the last update
    ``labels:pending``                   predictions waiting for their label (a count)
    ``labels:lag_mean|lag_max``          event time from prediction to label (seconds)
    ``drift:<key>:statistic|threshold``  a detector's latest statistic and its threshold
    ``drift:<key>:alerts``               its monitor's alerts so far (for alarm-only detectors)
    ``features:keys``                    the feature stage's keys held
    ``features:<counter>``               a feature counter's increase since the last update
    ===================================  =======================================================

    :meth:`record` keeps the drift episodes from the engine's ``drift`` / ``drift_end`` records
    (at most ``max_episodes``), with the wall-clock time the server saw their start and end.

    Examples
    --------
    >>> h = SeriesHistory(points=2)
    >>> for t in (1.0, 2.0, 3.0):
    ...     _ = h.add(t, {"labels": {"pending": t}, "served": {"a": 2 * t}})
    >>> d = h.to_dict()
    >>> d["ts"], d["series"]["labels:pending"], d["series"]["traffic:a"]
    ([2.0, 3.0], [2.0, 3.0], [1.0, 1.0])
    """

    def __init__(
        self,
        points: int = HISTORY_POINTS,
        *,
        max_episodes: int = HISTORY_EPISODES,
        max_series: int = HISTORY_SERIES,
    ) -> None:
        self.points = points
        self.max_series = max_series
        self.ts: deque[float] = deque(maxlen=points)
        self.columns: dict[str, deque[float | None]] = {}
        self.episodes: deque[dict[str, Any]] = deque(maxlen=max_episodes)
        self.drift: dict[str, dict[str, Any]] = {}  # key -> what the detector is (for labels)
        self.dropped_series = 0
        self._idle: dict[str, int] = {}  # rows since a series last had a value
        self._served: dict[str, float] = {}
        self._features: dict[str, float] = {}

    def add(self, ts: float, data: dict[str, Any]) -> dict[str, float | None]:
        """Append the row of one metrics update (a worker's ``snapshot``); returns the row."""
        row: dict[str, float | None] = {}
        for model, m in (data.get("models") or {}).items():
            unscored = m.get("scored") == 0  # River says 0.0 before any label: no value yet
            for metric, v in (m.get("rolling") or {}).items():
                row[f"metric:{model}:{metric}"] = None if unscored else _value(v)
        served = {str(k): float(v) for k, v in (data.get("served") or {}).items()}
        delta = {k: v - self._served.get(k, 0.0) for k, v in served.items()}
        total = sum(delta.values())
        for k in served.keys() | {c[8:] for c in self.columns if c.startswith("traffic:")}:
            row[f"traffic:{k}"] = delta.get(k, 0.0) / total if total > 0 else None
        self._served = served
        labels = data.get("labels") or {}
        for k in ("pending", "lag_mean", "lag_max"):
            row[f"labels:{k}"] = _value(labels.get(k))
        for d in data.get("drift") or []:
            key = str(d.get("key") or d.get("name"))
            self.drift[key] = {k: d.get(k) for k in _DRIFT_META}
            row[f"drift:{key}:statistic"] = _value(d.get("statistic"))
            row[f"drift:{key}:threshold"] = _value(d.get("threshold"))
            row[f"drift:{key}:alerts"] = _value(d.get("alerts"))
        feats = data.get("features")
        if isinstance(feats, dict):
            row["features:keys"] = _value(feats.get("keys"))
            for k in FEATURE_COUNTERS:
                now = _value(feats.get(k))
                before = self._features.get(k)
                row[f"features:{k}"] = (
                    None if now is None else (now - before if before is not None else 0.0)
                )
                if now is not None:
                    self._features[k] = now
        self._append(ts, row)
        return row

    def _append(self, ts: float, row: dict[str, float | None]) -> None:
        """One row onto every column (O(series)); a series with no value left in the window
        is dropped, so a model or monitor that went away does not hold a slot for good."""
        self.ts.append(ts)
        n = len(self.ts)
        idle = self._idle
        for name, col in list(self.columns.items()):
            v = row.get(name)
            col.append(v)
            idle[name] = 0 if v is not None else idle[name] + 1
            if idle[name] >= self.points:
                del self.columns[name], idle[name]
        for name in row.keys() - self.columns.keys():
            if row[name] is None:
                continue
            if len(self.columns) >= self.max_series:
                self.dropped_series += 1
                continue
            fresh: deque[float | None] = deque([None] * (n - 1), maxlen=self.points)
            fresh.append(row[name])
            self.columns[name] = fresh
            idle[name] = 0

    def record(self, ts: float, kind: str, r: dict[str, Any]) -> None:
        """Keep a drift episode's start (a ``drift_alert`` record) or end (``drift_end``)."""
        if kind == "drift_alert":
            ep = {
                "monitor": r.get("monitor"),
                "episode": r.get("episode"),
                "detector": r.get("detector"),
                "field": r.get("field"),
                "severity": r.get("severity"),
                "start": ts,
                "end": None if r.get("episode") is not None else ts,
                "start_event": r.get("engine_event"),
                "end_event": None,
                "start_ts": r.get("ts"),
                "end_ts": None,
                "statistic": _value(r.get("statistic")),
                "threshold": _value(r.get("threshold")),
                "reason": None,
            }
            self.episodes.append(ep)
        elif kind == "drift_end":
            for ep in reversed(self.episodes):
                if ep["monitor"] == r.get("monitor") and ep["episode"] == r.get("episode"):
                    ep.update(end=ts, end_event=r.get("engine_event"), end_ts=r.get("end_ts"),
                              reason=r.get("reason"), severity=r.get("severity"),
                              peak_statistic=_value(r.get("peak_statistic")))  # fmt: skip
                    break

    def to_dict(self) -> dict[str, Any]:
        """``{"points", "ts", "series": {name: values}, "drift": {key: ...}, "episodes"}``."""
        return {
            "points": self.points,
            "ts": list(self.ts),
            "series": {k: list(v) for k, v in self.columns.items()},
            "drift": dict(self.drift),
            "episodes": [dict(e) for e in self.episodes],
        }


class FeedHub:
    """Broadcasts feed events to every connected dashboard, never waiting for any of them.

    Each subscriber has its own :class:`~stream_ml.serve.outbox.Outbox`; a full one skips the
    event for that subscriber (and drops a subscriber stalled too long). Predictions are sampled
    to at most ``predictions_per_s`` per second; other events are all sent and the last
    ``history`` of them are replayed to a new subscriber. Every ``metrics`` event also adds a
    row to :attr:`series` (a :class:`SeriesHistory` of ``points`` rows), which a new subscriber
    gets as a ``history`` event with the last sampled predictions.

    Examples
    --------
    >>> hub = FeedHub(wall_clock=lambda: 5.0, history=2)
    >>> hub.publish("drift_alert", {"field": "x1"})
    >>> hub.history[0]["type"], hub.published
    ('drift_alert', 1)
    """

    def __init__(
        self,
        *,
        wall_clock: Callable[[], float],
        history: int = 200,
        predictions_per_s: int = 20,
        clock: Callable[[], float] | None = None,
        points: int = HISTORY_POINTS,
    ) -> None:
        import time

        self.wall_clock = wall_clock
        self.clock = clock or time.monotonic
        self.subscribers: set[Outbox] = set()
        self.history: deque[dict[str, Any]] = deque(maxlen=history)
        self.predictions_per_s = predictions_per_s
        self._second = -1
        self._in_second = 0
        self.published = 0
        self.sampled_out = 0
        self.series = SeriesHistory(points)
        self.predictions: deque[dict[str, Any]] = deque(maxlen=HISTORY_PREDICTIONS)

    def subscribe(self, outbox: Outbox) -> None:
        """Add a subscriber; it is sent the ``history`` event first (after its ``hello``)."""
        outbox.offer(dumps({"type": "history", "ts": self.wall_clock(), "data": self.replay()}))
        self.subscribers.add(outbox)

    def replay(self) -> dict[str, Any]:
        """What a new dashboard gets: the series history and the last sampled predictions."""
        return {**self.series.to_dict(), "predictions": list(self.predictions)}

    def unsubscribe(self, outbox: Outbox) -> None:
        self.subscribers.discard(outbox)

    def publish(self, type: str, data: dict[str, Any], *, keep: bool = True) -> None:
        """Send one event to every subscriber (and keep it for new ones unless ``keep=False``)."""
        ts = self.wall_clock()
        if type == "metrics":
            data = {**data, "point": {"ts": ts, "values": self.series.add(ts, data)}}
        elif type in ("drift_alert", "drift_end"):
            self.series.record(ts, type, data)
        event = {"type": type, "ts": ts, "data": data}
        if keep:
            self.history.append(event)
        self.published += 1
        if not self.subscribers:
            return
        text = dumps(event)
        for box in list(self.subscribers):
            box.offer(text)
            if box.dropped:
                self.subscribers.discard(box)

    def prediction(self, p: dict[str, Any]) -> None:
        """Publish a prediction unless this second's quota is spent (sampling); the sampled
        ones are also kept (the last :data:`HISTORY_PREDICTIONS`) for new dashboards."""
        second = int(self.clock())
        if second != self._second:
            self._second, self._in_second = second, 0
        if self._in_second >= self.predictions_per_s:
            self.sampled_out += 1
            return
        self._in_second += 1
        self.predictions.append(p)
        if self.subscribers:
            self.publish("prediction", p, keep=False)

    def record(self, record: Any) -> str:
        """Publish one of the engine's records (its outbox); its ``kind`` is the event type.

        A record may be a dict or have ``to_dict()``; ``kind="drift"`` is sent as
        ``drift_alert``. Returns the type it was published as.
        """
        if not isinstance(record, dict):
            record = record.to_dict() if hasattr(record, "to_dict") else {"value": str(record)}
        kind = str(record.get("kind") or record.get("type") or "event")
        kind = _ALIASES.get(kind, kind)
        self.publish(kind, _finite(dict(record)))
        return kind
