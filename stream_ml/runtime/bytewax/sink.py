"""Our :class:`~connectors.base.Sink` protocol as Bytewax outputs.

* :class:`SinkAdapter` (a ``FixedPartitionedSink`` with one partition): every output goes to the
  one worker that owns the partition, which writes it to the sinks it built there. Use it for a
  file or a SQLite table (one writer).
* :class:`SharedSinkAdapter` (a ``DynamicSink``): every worker builds its own sinks and writes its
  own outputs. Use it for media that take concurrent writers (a Redis or NATS stream).

Exactly-once *effect* comes from the sinks being idempotent by output id (``kind:id``): after a
resume, Bytewax replays the epoch that was cut short and the outputs of that replay are the same
outputs with the same ids (the engine is deterministic), so the sinks keep one copy. The sink
partitions therefore keep no resume state of their own.

``error`` outputs go to the dead-letter sinks when there are any, else to the main sinks.

>>> from connectors import MemorySink
>>> mem, dead = MemorySink(), MemorySink()
>>> part = SinkAdapter([lambda: mem], dead_letters=[lambda: dead]).build_part("out", "0", None)
>>> part.write_batch([{"kind": "prediction", "id": "a"}, {"kind": "error", "id": "s:3"}])
>>> [o["id"] for o in mem.outputs], [o["id"] for o in dead.outputs]
(['a'], ['s:3'])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bytewax.outputs import (
    DynamicSink,
    FixedPartitionedSink,
    StatefulSinkPartition,
    StatelessSinkPartition,
)

SinkFactory = Callable[[], Any]


class _Writer:
    def __init__(self, sinks: Sequence[SinkFactory], dead: Sequence[SinkFactory]) -> None:
        self.sinks = [f() for f in sinks]
        self.dead = [f() for f in dead] or self.sinks

    def write_batch(self, items: list[Any]) -> None:
        sinks, dead = self.sinks, self.dead
        flat: list[Any] = []  # (key, [outputs]) pairs from the stateful step, or outputs
        for item in items:
            value = item[1] if type(item) is tuple else item
            if type(value) is list:
                flat += value
            else:
                flat.append(value)
        items = flat
        if dead is sinks:  # no dead-letter sinks: every output goes to the main sinks
            for sink in sinks:
                write = sink.write
                for out in items:
                    write(out)
        else:
            for out in items:
                for sink in dead if out.get("kind") == "error" else sinks:
                    sink.write(out)
        for sink in sinks:
            sink.flush()
        if dead is not sinks:
            for sink in dead:
                sink.flush()

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
        if self.dead is not self.sinks:
            for sink in self.dead:
                sink.close()


class _FixedPartition(_Writer, StatefulSinkPartition):
    def snapshot(self) -> None:
        return None


class _DynamicPartition(_Writer, StatelessSinkPartition):
    pass


class SinkAdapter(FixedPartitionedSink):
    """One writer for the whole dataflow: outputs are routed to the worker owning partition 0."""

    def __init__(
        self, sinks: Sequence[SinkFactory], *, dead_letters: Sequence[SinkFactory] = ()
    ) -> None:
        self.sinks = list(sinks)
        self.dead_letters = list(dead_letters)

    def list_parts(self) -> list[str]:
        return ["0"]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: Any) -> _FixedPartition:
        return _FixedPartition(self.sinks, self.dead_letters)


class SharedSinkAdapter(DynamicSink):
    """Every worker writes its own outputs to sinks it builds (concurrent writers)."""

    def __init__(
        self, sinks: Sequence[SinkFactory], *, dead_letters: Sequence[SinkFactory] = ()
    ) -> None:
        self.sinks = list(sinks)
        self.dead_letters = list(dead_letters)

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _DynamicPartition:
        return _DynamicPartition(self.sinks, self.dead_letters)
