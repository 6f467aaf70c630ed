"""Our :class:`~connectors.base.Source` protocol as a Bytewax ``FixedPartitionedSource``.

Each named source is one Bytewax partition. The partition's **resume state is the offset of the
next record to read** (the offset rule of :mod:`connectors.base`): after emitting the record at
offset ``k`` the partition's snapshot is ``next_offset(k)`` — ``k + 1`` for integer offsets, or
what the source's own ``next_offset(k)`` says (a Redis stream entry id ``ms-seq`` gives
``ms-(seq+1)``). A resumed partition calls ``source.seek(resume_state)``, so the first record it
emits is the one *after* the last record emitted before the snapshot, never that record again.
Before anything was emitted the snapshot is the resume state it was built with (``None`` when it
started from the beginning).

Items are ``(offset, record)``; with several partitions the offset in the item is
``"name@offset"`` so that default ids stay unique. A source may yield ``(None, None)`` to say "no
record right now" (a broker being followed): the partition then ends its batch early instead of
blocking the worker.

>>> from connectors import IterableSource
>>> part = SourceAdapter({"0": lambda: IterableSource(list("abcd"))}, batch_size=3).build_part(
...     "inp", "0", 1)
>>> part.next_batch(), part.snapshot()
([(1, 'b'), (2, 'c'), (3, 'd')], 4)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

SourceFactory = Callable[[], Any]


def next_offset(source: Any, offset: Any) -> Any:
    """The offset of the record after ``offset`` (the resume state after emitting it)."""
    step = getattr(source, "next_offset", None)
    return step(offset) if step is not None else offset + 1


class _Partition(StatefulSourcePartition):
    def __init__(self, source: Any, resume: Any, batch_size: int, tag: str | None) -> None:
        self.source = source
        if resume is not None:
            source.seek(resume)
        self.resume = resume
        self.batch_size = batch_size
        self.tag = tag
        self._it: Iterator[tuple[Any, Any]] = iter(source.read())

    def next_batch(self) -> list[tuple[Any, Any]]:
        batch: list[tuple[Any, Any]] = []
        it, n, tag = self._it, self.batch_size, self.tag
        last = None
        append = batch.append
        for item in it:
            offset = item[0]
            if offset is None:  # idle: nothing to read right now
                break
            last = offset
            append(item if tag is None else (f"{tag}@{offset}", item[1]))
            if len(batch) >= n:
                break
        else:
            if not batch:
                raise StopIteration
        if last is not None:
            self.resume = next_offset(self.source, last)
        return batch

    def snapshot(self) -> Any:
        return self.resume

    def close(self) -> None:
        close = getattr(self.source, "close", None)
        if close is not None:
            close()


class SourceAdapter(FixedPartitionedSource):
    """Bytewax input over named sources (each built on the worker that owns its partition).

    Parameters
    ----------
    sources
        Partition name -> a function that builds the source (a :class:`connectors.base.Source`).
    batch_size
        The most records one ``next_batch`` returns.
    """

    def __init__(self, sources: Mapping[str, SourceFactory], *, batch_size: int = 1000) -> None:
        if not sources:
            raise ValueError("SourceAdapter needs at least one source")
        self.sources = dict(sources)
        self.batch_size = batch_size

    def list_parts(self) -> list[str]:
        return list(self.sources)

    def build_part(self, step_id: str, for_part: str, resume_state: Any) -> _Partition:
        tag = None if len(self.sources) == 1 else for_part
        return _Partition(self.sources[for_part](), resume_state, self.batch_size, tag)
