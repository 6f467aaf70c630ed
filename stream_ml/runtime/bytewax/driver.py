"""Each key's engine in a dataflow is driven by the one :class:`~stream_ml.runtime.driver.Driver`.

The Bytewax step (:mod:`~stream_ml.runtime.bytewax.logic`) holds one driver per key and calls
:meth:`Driver.apply <stream_ml.runtime.driver.Driver.apply>` for each of the key's records in
arrival order, so a per-key driver fed the records of one key gives exactly the outputs (engine
records included) and the final state of a replay over that key's records alone. This module
only splits a batch of many keys over their drivers; no stage and no part of the per-record
protocol is written here.

>>> from river import linear_model
>>> from stream_ml import Engine
>>> from stream_ml.runtime.driver import Driver, as_dict
>>> drivers = {}
>>> new = lambda key: drivers.setdefault(key, Driver(
...     Engine({"lr": linear_model.LogisticRegression()}), delay=1))
>>> out = []
>>> sorted(step_keys(drivers, new, [(0, ({"x": 1.0}, True, None, "a", None)),
...                                 (1, ({"x": 2.0}, False, None, "b", None))], out))
['a', 'b']
>>> [o["id"] for o in out], drivers["a"].engine.n_labels
(['0', '1'], 0)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stream_ml.events import ErrorRecord
from stream_ml.runtime.driver import Driver, as_dict

Output = dict[str, Any]
GLOBAL_KEY = "__global__"  # the key of the one engine of a global (unkeyed) dataflow


def error_output(err: Exception, where: Any, offset: Any) -> Output:
    """The ``error`` output of a record that reached no engine (the one error shape)."""
    return ErrorRecord.from_error(err, where, f"error:{offset}").to_dict()


def as_dicts(outputs: list[Any], into: list[Output]) -> None:
    """Append the outputs as the JSON-ready dicts the dataflow's sinks write."""
    into.extend(map(as_dict, outputs))


def step_keys(
    drivers: dict[str, Driver],
    new: Callable[[str], Driver],
    values: list[tuple[Any, Any]],
    out: list[Output],
) -> set[str]:
    """Apply the ``(offset, record)`` values of many keys in order, each by its key's driver
    (``new(key)`` makes and records a missing one); returns the keys touched."""
    touched: set[str] = set()
    add = touched.add
    outs: list[Any] = []
    for offset, payload in values:
        row = type(payload) is tuple
        key = payload[3] if row else (getattr(payload, "key", None) or GLOBAL_KEY)
        driver = drivers.get(key)
        if driver is None:
            driver = new(key)
        add(key)
        driver.apply(offset, payload, outs)
    as_dicts(outs, out)
    return touched
