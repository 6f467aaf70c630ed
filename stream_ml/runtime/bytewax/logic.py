"""The stateful step: the :class:`~stream_ml.runtime.driver.Driver` of every key of one *key group*.

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
through, as one list (records that reached no engine: a message with no key in a keyed flow).

Snapshots. With ``store`` (a function that opens the config's
:class:`~stream_ml.stages.snapshotting.SnapshotStage`), each driver takes the snapshots its
engine's policy and stages ask for, as every runtime does, and they come out as ``snapshot``
records; the SQLite store is the engine's own (rollback, lineage). Bytewax's recovery is the
runtime's: its epoch snapshots are what a resumed dataflow continues from.

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
from stream_ml.runtime.bytewax.driver import as_dicts, step_keys
from stream_ml.runtime.driver import Driver

EngineFactory = Callable[[str], Engine]


class EngineLogic(StatefulBatchLogic):
    """Bytewax logic around the :class:`Driver` of each key of one group (module docstring).

    ``keyed=False``: one driver (``GLOBAL_KEY``) for everything routed here. ``summaries``: at
    the end of the input, emit each key's engine summary (with its digest) as a ``summary``
    output. ``snapshots``: return the group's state from :meth:`snapshot` (needed for recovery;
    turning it off saves the pickling cost when the dataflow runs without a recovery
    directory). ``store``: opens the engine's snapshot store (None: no engine snapshots).
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
        store: Callable[..., Any] | None = None,
        locate: Callable[[Any], Any] | None = None,
    ) -> None:
        self.decoder = decoder
        self.factory = factory
        self.delay = delay
        self.keyed = keyed
        self.summaries = summaries
        self.snapshots = snapshots
        self.store = store
        self.locate = locate
        self._stage: Any = None
        self.pickled: dict[str, bytes] = dict(state or {})  # bytes of the drivers not touched
        self.drivers: dict[str, Driver] = {}
        for k, b in self.pickled.items():
            self.drivers[k] = self._attach(pickle.loads(b))
        self.dirty: set[str] = set()

    def _attach(self, driver: Driver) -> Driver:
        """Give a (new or unpickled) driver its runtime parts: snapshot store, locations."""
        driver.locate = self.locate
        if self.store is not None:
            if self._stage is None:
                self._stage = self.store(None)
            self.store(driver.engine, self._stage)
            driver.snapshots = self._stage
        return driver

    def _driver(self, key: str) -> Driver:
        driver = self.drivers.get(key)
        if driver is None:
            driver = Driver(self.factory(key), delay=self.delay)
            self.drivers[key] = self._attach(driver)
        return driver

    def on_batch(self, values: list[Any]) -> tuple[list[Any], bool]:
        out: list[Any] = []
        if type(values[0]) is dict:  # dead letters: pass through
            return [values], StatefulBatchLogic.RETAIN
        decoder = self.decoder
        if decoder is not None:  # rows routed undecoded (Decoder.route): decode them now
            decode, good = decoder.rows.decode, []
            keycol = decoder.rows.key if self.keyed else None
            for value in values:
                row = value[1]
                if type(row) is dict:
                    try:
                        value = (value[0], decode(row))
                    except StreamMLError as err:
                        if keycol is None:
                            value = (value[0], err)
                        else:  # the key's engine counts it
                            outs: list[Any] = []
                            key = str(row.get(keycol))
                            self._driver(key).apply(value[0], err, outs)
                            self.dirty.add(key)
                            as_dicts(outs, out)
                            continue
                good.append(value)
            if not good:
                return [out], StatefulBatchLogic.RETAIN
            values = good
        if not self.keyed:
            outs = []
            self._driver(GLOBAL_KEY).apply_many(values, outs)
            as_dicts(outs, out)
            self.dirty.add(GLOBAL_KEY)
            return [out], False  # StatefulBatchLogic.RETAIN
        self.dirty |= step_keys(self.drivers, self._driver, values, out)
        return [out], False  # StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[list[Any], bool]:
        out: list[Any] = []
        for key, driver in self.drivers.items():
            outs: list[Any] = []
            driver.finish(outs)
            as_dicts(outs, out)
            if self.summaries:
                engine = driver.engine
                out.append({"kind": "summary", "id": key, **engine.summary(),
                            "digest": engine.digest()})  # fmt: skip
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
    store: Callable[..., Any] | None = None,
    locate: Callable[[Any], Any] | None = None,
) -> Callable[[Any], EngineLogic]:
    """The ``builder`` of ``op.stateful_batch``: fresh logic, or logic resumed from a snapshot.

    ``decoder``: the flow's :class:`~stream_ml.runtime.bytewax.decode.Decoder` when rows are
    routed undecoded (:meth:`Decoder.route`); the logic then decodes each row just before its
    engine step. ``store(None)`` opens the engine snapshot store, ``store(engine, stage)``
    attaches it and its policy to an engine (None: no engine snapshots). ``locate``: the
    location errors name for an offset.
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
            store=store,
            locate=locate,
        )

    return build


__all__ = ["DEAD_LETTER", "DEFAULT_GROUPS", "EngineLogic", "key_group", "logic_builder"]
