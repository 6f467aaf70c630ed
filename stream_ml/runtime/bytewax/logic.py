"""The stateful step: the :class:`KeyDriver` of every key of one *key group*, for recovery too.

Bytewax keys the state of a stateful step by the routing key it is given. Routing by the record's
own key (one Bytewax state per store, user or tenant) is correct but slow when keys are many and
sparse: a batch of 2,000 rows over 10,000 keys reaches each key's state with about one row, so
the cost of the call (Rust -> Python, per-key buffers) is paid per row. So, as Flink does with
its *key groups*, the dataflow routes by ``key_group(key, groups)`` (a stable CRC-32 of the key,
modulo ``groups``) and one :class:`EngineLogic` holds the drivers of all keys of its group: a
batch reaches a group with many rows, which the logic splits by key, keeping each key's order.
Each key still has its own engine; a key is always in the same group, and a group is owned by
one worker (Bytewax's stable routing), so outputs equal one engine per key in arrival order.

The state Bytewax snapshots at the end of an epoch is ``{key: pickled driver}`` for the group:
only the drivers touched since the previous snapshot are pickled again; the others keep their
bytes. So recovery costs what it did with one state per key, and a resumed run (with the same
``groups``, any worker count) continues exactly.

Each call emits *one* item, the list of its outputs: Bytewax then moves one item per call
instead of one per output, and the sink adapters (:mod:`~stream_ml.runtime.bytewax.sink`) write
the lists' elements. The logic for ``DEAD_LETTER`` holds no engine: it passes error outputs
through, as one list.

>>> from river import linear_model
>>> from stream_ml import Engine
>>> build = logic_builder(lambda key: Engine({"lr": linear_model.LogisticRegression()}),
...                       keyed=True)
>>> logic = build(None)
>>> (out,), discard = logic.on_batch([(0, ({"x": 1.0}, True, "e0", "s1", None)),
...                                   (1, ({"x": 2.0}, True, "e1", "s2", None))])
>>> [o["id"] for o in out], discard
(['e0', 'e1'], False)
>>> again = build(logic.snapshot())
>>> sorted((k, d.engine.seq) for k, d in again.drivers.items())
[('s1', 1), ('s2', 1)]
>>> key_group("s1", 128)
'g112'
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

from bytewax.operators import StatefulBatchLogic

from stream_ml.engine import Engine
from stream_ml.errors import StreamMLError
from stream_ml.runtime.bytewax.decode import DEAD_LETTER, DEFAULT_GROUPS, GLOBAL_KEY, key_group
from stream_ml.runtime.bytewax.driver import KeyDriver

EngineFactory = Callable[[str], Engine]


class EngineLogic(StatefulBatchLogic):
    """Bytewax logic around the :class:`KeyDriver` of each key of one group (module docstring).

    ``keyed=False``: one driver (``GLOBAL_KEY``) for everything routed here. ``summaries``: at
    the end of the input, emit each key's engine summary as a ``summary`` output. ``snapshots``:
    return the group's state from :meth:`snapshot` (needed for recovery; turning it off saves the
    pickling cost when the dataflow runs without a recovery directory).
    """

    def __init__(
        self,
        factory: EngineFactory,
        delay: int,
        keyed: bool,
        state: dict[str, bytes] | None = None,
        *,
        summaries: bool = True,
        snapshots: bool = True,
        decoder: Any = None,
    ) -> None:
        self.decoder = decoder
        self.factory = factory
        self.delay = delay
        self.keyed = keyed
        self.summaries = summaries
        self.snapshots = snapshots
        self.pickled: dict[str, bytes] = dict(state or {})  # bytes of the drivers not touched
        self.drivers: dict[str, KeyDriver] = {k: pickle.loads(b) for k, b in self.pickled.items()}
        self.dirty: set[str] = set()

    def _driver(self, key: str) -> KeyDriver:
        driver = self.drivers.get(key)
        if driver is None:
            driver = self.drivers[key] = KeyDriver(self.factory(key), delay=self.delay, key=key)
        return driver

    def on_batch(self, values: list[Any]) -> tuple[list[Any], bool]:
        out: list[Any] = []
        if type(values[0]) is dict:  # dead letters: pass through
            return [values], StatefulBatchLogic.RETAIN
        decoder = self.decoder
        if decoder is not None:  # rows routed undecoded (Decoder.route): decode them now
            decode, good = decoder.rows.decode, []
            for value in values:
                row = value[1]
                if type(row) is dict:
                    try:
                        value = (value[0], decode(row))
                    except StreamMLError as err:
                        out.append(decoder.dead(err, value[0]))
                        continue
                good.append(value)
            if not good:
                return [out], StatefulBatchLogic.RETAIN
            values = good
        if not self.keyed:
            self._driver(GLOBAL_KEY).step_batch(values, out)
            self.dirty.add(GLOBAL_KEY)
            return [out], False  # StatefulBatchLogic.RETAIN
        self.dirty |= KeyDriver.step_keys(self.drivers, self._driver, values, out)
        return [out], False  # StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[list[Any], bool]:
        out: list[Any] = []
        for driver in self.drivers.values():
            out += driver.finish()
            if self.summaries:
                out.append(driver.summary())
        self.dirty.update(self.drivers)
        return ([out] if out else []), StatefulBatchLogic.RETAIN

    def snapshot(self) -> Any:
        if not self.snapshots or not self.drivers:
            return None
        pickled, drivers = self.pickled, self.drivers
        for key in self.dirty:
            pickled[key] = pickle.dumps(drivers[key], protocol=pickle.HIGHEST_PROTOCOL)
        self.dirty.clear()
        return dict(pickled)


def logic_builder(
    factory: EngineFactory,
    *,
    delay: int = 0,
    keyed: bool = False,
    summaries: bool = True,
    snapshots: bool = True,
    decoder: Any = None,
) -> Callable[[Any], EngineLogic]:
    """The ``builder`` of ``op.stateful_batch``: fresh logic, or logic resumed from a snapshot.

    ``decoder``: the flow's :class:`~stream_ml.runtime.bytewax.decode.Decoder` when rows are
    routed undecoded (:meth:`Decoder.route`); the logic then decodes each row just before its
    engine step.
    """

    def build(resume: Any) -> EngineLogic:
        return EngineLogic(
            factory,
            delay,
            keyed,
            resume,
            summaries=summaries,
            snapshots=snapshots,
            decoder=decoder,
        )

    return build


__all__ = ["DEAD_LETTER", "DEFAULT_GROUPS", "EngineLogic", "key_group", "logic_builder"]
