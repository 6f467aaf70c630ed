"""One key's engine inside a dataflow: the replay runner's semantics, one record at a time.

A :class:`KeyDriver` owns one :class:`~stream_ml.engine.Engine` (one key's models) and the labels
it holds back. It applies records in arrival order and returns the outputs as dicts:

* **rows** ``(x, label, id, key, ts)`` (decoded by a :class:`~connectors.rows.RowDecoder`): the
  label is released ``delay`` observations later *within this key's engine*, with the order of
  :class:`~stream_ml.runtime.replay.Replay` (before observation ``i`` is predicted, every label of
  an observation ``j`` with ``j + delay <= i`` is learned; the rest at the end of the input). So a
  per-key driver fed the records of one key gives exactly the outputs and final metrics of a
  ``Replay`` over that key's records alone.
* **messages** (a validated :class:`~stream_ml.events.Observation` or
  :class:`~stream_ml.events.Feedback`): applied through ``Engine.process``.

A record the engine refuses (a duplicate id, feedback for an unknown id) is counted by the engine
and returned as an ``error`` output; nothing else changes. No stage is re-implemented here: the
driver only decides *when* the engine's verbs are called.

>>> from river import linear_model
>>> from stream_ml import Engine
>>> d = KeyDriver(Engine({"lr": linear_model.LogisticRegression()}), delay=1)
>>> [o["kind"] for o in d.step(0, ({"x": 1.0}, True, None, "k", None))]
['prediction']
>>> _ = d.step(1, ({"x": 2.0}, False, None, "k", None))
>>> d.engine.n_labels, d.finish(), d.engine.n_labels
(1, [], 2)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from stream_ml.engine import Engine
from stream_ml.errors import StreamMLError
from stream_ml.events import ErrorRecord, Feedback, Observation

Output = dict[str, Any]
GLOBAL_KEY = "__global__"  # the key of the one engine of a global (unkeyed) dataflow


def error_output(err: Exception, where: Any, id: str) -> Output:
    """An ``error`` output: the ErrorRecord's fields plus an ``id`` (idempotent sinks need one)."""
    out = ErrorRecord.from_error(err, where).to_dict()
    out["id"] = id
    return out


def _row_now(engine: Engine, offset: Any, payload: tuple, out: list[Output]) -> None:
    """A row with no label delay (nothing held back): predict, then learn its label at once, as
    :meth:`KeyDriver.step` does when ``delay == 0``; outputs appended to ``out``."""
    x, label, id, key, ts = payload
    try:
        p = engine.predict(x, id=id if id is not None else str(offset), key=key, ts=ts)
    except StreamMLError as err:
        engine.annotate_last_error(offset)
        out.append(error_output(err, offset, str(offset)))
        return
    pid = p.id
    try:
        engine.learn(pid, label)
    except StreamMLError as err:
        out.append(error_output(err, None, f"learn:{pid}"))
    out.append(p.to_dict())


class KeyDriver:
    """Drive one key's engine from decoded rows or validated messages.

    Parameters
    ----------
    engine
        The engine of this key (built by the dataflow's engine factory).
    delay
        Observations of *this key* between a prediction and its label (rows only).
    key
        The routing key this driver owns (reports).
    """

    __slots__ = ("delay", "engine", "held", "key")

    def __init__(self, engine: Engine, *, delay: int = 0, key: str | None = None) -> None:
        if delay < 0:
            raise ValueError(f"delay must be >= 0, got {delay}")
        self.engine = engine
        self.delay = delay
        self.key = key
        self.held: deque[tuple[int, str, Any]] = deque()

    def _release(self, upto: float, out: list[Output]) -> None:
        held, learn = self.held, self.engine.learn
        while held and held[0][0] <= upto:
            _, id, label = held.popleft()
            try:
                learn(id, label)
            except StreamMLError as err:
                out.append(error_output(err, None, f"learn:{id}"))

    def step(self, offset: Any, payload: Any) -> list[Output]:
        """Apply one record (a decoded row tuple or a validated message); return its outputs."""
        out: list[Output] = []
        engine = self.engine
        if isinstance(payload, tuple):
            x, label, id, key, ts = payload
            i = engine.seq
            if self.held:
                self._release(i, out)
            try:
                p = engine.predict(x, id=id if id is not None else str(offset), key=key, ts=ts)
            except StreamMLError as err:
                engine.annotate_last_error(offset)
                out.append(error_output(err, offset, str(offset)))
                return out
            self.held.append((i + self.delay, p.id, label))
            if self.delay == 0:
                self._release(i, out)
            out.append(p.to_dict())
            return out
        if isinstance(payload, Observation | Feedback):
            try:
                out.append(engine.process(payload).to_dict())
            except StreamMLError as err:
                engine.annotate_last_error(offset)
                out.append(error_output(err, offset, str(offset)))
            return out
        raise TypeError(f"KeyDriver.step: expected a row tuple or a message, got {type(payload)}")

    def step_batch(self, values: list[tuple[Any, Any]], out: list[Output]) -> None:
        """Apply ``(offset, payload)`` items in order, appending their outputs to ``out``.

        The same calls, in the same order, as :meth:`step` per item; rows with ``delay == 0``
        (nothing held back) take a shorter path: predict, then learn the label at once (what
        :meth:`_release` would do right after the predict).
        """
        if self.delay or self.held:
            step = self.step
            for offset, payload in values:
                out += step(offset, payload)
            return
        engine = self.engine
        for offset, payload in values:
            if type(payload) is tuple:
                _row_now(engine, offset, payload, out)
            else:
                out += self.step(offset, payload)

    @staticmethod
    def step_keys(
        drivers: dict[str, KeyDriver],
        new: Callable[[str], KeyDriver],
        values: list[tuple[Any, Any]],
        out: list[Output],
    ) -> set[str]:
        """Apply the values of many keys in order, each by its key's driver; the keys touched.

        ``drivers`` maps a key to its driver; ``new(key)`` makes (and records) a missing one.
        The same calls, in the same order, as :meth:`step` on each value's driver; rows of a
        driver with ``delay == 0`` and nothing held take :meth:`step_batch`'s shorter path.
        """
        touched: set[str] = set()
        add = touched.add
        for offset, payload in values:
            row = type(payload) is tuple
            key = payload[3] if row else (getattr(payload, "key", None) or GLOBAL_KEY)
            driver = drivers.get(key)
            if driver is None:
                driver = new(key)
            add(key)
            if row and not driver.delay and not driver.held:
                _row_now(driver.engine, offset, payload, out)
            else:
                out += driver.step(offset, payload)
        return touched

    def finish(self) -> list[Output]:
        """End of input: learn every label still held back (as the replay runner does)."""
        out: list[Output] = []
        self._release(float("inf"), out)
        return out

    def summary(self) -> Output:
        """The engine's summary as a ``summary`` output whose id is the key."""
        return {"kind": "summary", "id": self.key, **self.engine.summary()}
