"""The stateful step: one :class:`KeyDriver` per key, snapshotted as a pickle for recovery.

Bytewax calls :meth:`EngineLogic.on_batch` with the values routed to one key, in arrival order.
The logic's state is the pickled driver (the key's engine and the labels it holds back):
Bytewax's recovery stores it at the end of every epoch in which the key was touched, next to
the source partitions' offsets of the same epoch, so a resumed run continues from a consistent
pair (engine state, offset).

The logic for ``DEAD_LETTER`` holds no engine: it passes error outputs through.

>>> from river import linear_model
>>> from stream_ml import Engine
>>> build = logic_builder(lambda key: Engine({"lr": linear_model.LogisticRegression()}))
>>> logic = build(None)
>>> out, discard = logic.on_batch([(0, ({"x": 1.0}, True, "e0", "s1", None))])
>>> [o["id"] for o in out], discard
(['e0'], False)
>>> again = build(logic.snapshot())
>>> again.driver.engine.seq
1
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

from bytewax.operators import StatefulBatchLogic

from stream_ml.engine import Engine
from stream_ml.errors import StreamMLError
from stream_ml.runtime.bytewax.decode import DEAD_LETTER, GLOBAL_KEY
from stream_ml.runtime.bytewax.driver import KeyDriver

EngineFactory = Callable[[str], Engine]


def _route_key(value: Any) -> str | None:
    payload = value[1]
    if isinstance(payload, tuple):
        return payload[3]
    return getattr(payload, "key", None)


class EngineLogic(StatefulBatchLogic):
    """Bytewax logic around one key's :class:`KeyDriver` (built lazily on the first item).

    ``summaries``: at the end of the input, emit the key's engine summary as a ``summary`` output.
    ``snapshots``: return the pickled driver from :meth:`snapshot` (needed for recovery; turning
    it off saves the pickling cost when the dataflow runs without a recovery directory).
    """

    def __init__(
        self,
        factory: EngineFactory,
        delay: int,
        keyed: bool,
        driver: KeyDriver | None = None,
        *,
        summaries: bool = True,
        snapshots: bool = True,
        decoder: Any = None,
    ) -> None:
        self.decoder = decoder
        self.factory = factory
        self.delay = delay
        self.keyed = keyed
        self.driver = driver
        self.summaries = summaries
        self.snapshots = snapshots

    def on_batch(self, values: list[Any]) -> tuple[list[Any], bool]:
        driver = self.driver
        out: list[Any] = []
        if type(values[0]) is dict:  # dead letters: pass through
            return values, StatefulBatchLogic.RETAIN
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
                return out, StatefulBatchLogic.RETAIN
            values = good
        if driver is None:
            first = values[0]
            key = (_route_key(first) or GLOBAL_KEY) if self.keyed else GLOBAL_KEY
            driver = self.driver = KeyDriver(self.factory(key), delay=self.delay, key=key)
        driver.step_batch(values, out)
        return out, False  # StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[list[Any], bool]:
        if self.driver is None:
            return [], StatefulBatchLogic.RETAIN
        out = self.driver.finish()
        if self.summaries:
            out.append(self.driver.summary())
        return out, StatefulBatchLogic.RETAIN

    def snapshot(self) -> Any:
        if not self.snapshots or self.driver is None:
            return None
        return pickle.dumps(self.driver, protocol=pickle.HIGHEST_PROTOCOL)


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
        driver = pickle.loads(resume) if resume is not None else None
        return EngineLogic(
            factory,
            delay,
            keyed,
            driver,
            summaries=summaries,
            snapshots=snapshots,
            decoder=decoder,
        )

    return build


__all__ = ["DEAD_LETTER", "EngineLogic", "logic_builder"]
