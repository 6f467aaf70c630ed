"""The dashboard feed: one JSON envelope for everything, broadcast to read-only clients.

Every message on ``/v1/feed`` is a :class:`FeedEvent` ``{"type", "ts", "data"}``:

=================  ==========================================================================
type               data
=================  ==========================================================================
``hello``          ``{"engine", "models", "history": [recent non-prediction events]}``
``metrics``        every ``metrics_interval`` s: ``events``, ``feedback``, ``models`` (rolling
                   and cumulative metrics, role), ``traffic`` (share per model), ``labels``
                   (pending, expired, evicted, ``lag_mean``, ``lag_max``), ``errors``,
                   ``drift`` (per monitor: statistic, threshold, drift), ``snapshot``
``prediction``     a ``Prediction.to_dict()``, sampled to ``feed_predictions_per_s``
``drift_alert``,   a record of the engine's outbox as it came (its ``kind`` becomes the
``promotion``,     ``type``); any other kind is passed on the same way, so stages added later
``snapshot``,      publish without a change here
``rollback``, ...
=================  ==========================================================================

``ts`` is the server's wall-clock time (seconds since the epoch, from the injected clock) when
the event was published; event times are inside ``data``.
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


class FeedHub:
    """Broadcasts feed events to every connected dashboard, never waiting for any of them.

    Each subscriber has its own :class:`~stream_ml.serve.outbox.Outbox`; a full one skips the
    event for that subscriber (and drops a subscriber stalled too long). Predictions are sampled
    to at most ``predictions_per_s`` per second; other events are all sent and the last
    ``history`` of them are replayed to a new subscriber.

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

    def subscribe(self, outbox: Outbox) -> None:
        self.subscribers.add(outbox)

    def unsubscribe(self, outbox: Outbox) -> None:
        self.subscribers.discard(outbox)

    def publish(self, type: str, data: dict[str, Any], *, keep: bool = True) -> None:
        """Send one event to every subscriber (and keep it for new ones unless ``keep=False``)."""
        event = {"type": type, "ts": self.wall_clock(), "data": data}
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
        """Publish a prediction unless this second's quota is spent (sampling)."""
        if not self.subscribers:
            return
        second = int(self.clock())
        if second != self._second:
            self._second, self._in_second = second, 0
        if self._in_second >= self.predictions_per_s:
            self.sampled_out += 1
            return
        self._in_second += 1
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
