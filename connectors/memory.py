"""An in-memory source over any iterable (a list, a generator).

A sequence can seek anywhere; a one-shot iterator can only seek forward (records before the
offset are skipped as they are read).

>>> src = IterableSource([{"x": 1}, {"x": 2}, {"x": 3}])
>>> src.seek(2)
>>> list(src.read())
[(2, {'x': 3})]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from stream_ml.errors import ConnectorError


class IterableSource:
    """Records from an iterable, with their 0-based position as offset."""

    def __init__(self, records: Iterable[Any], *, name: str = "memory") -> None:
        self._records = records
        self._start = 0
        self._consumed = 0
        self.name = name

    def seek(self, offset: int) -> None:
        if offset < 0:
            raise ConnectorError(f"cannot seek to a negative offset: {offset}")
        if not isinstance(self._records, list | tuple) and offset < self._consumed:
            raise ConnectorError(
                f"{self.name}: a one-shot iterator cannot seek back to {offset} "
                f"(already read {self._consumed})"
            )
        self._start = offset

    def location(self, offset: int) -> str:
        return f"{self.name}:{offset}"

    def read(self) -> Iterator[tuple[int, Any]]:
        start = self._start
        if isinstance(self._records, list | tuple):
            for offset in range(start, len(self._records)):
                yield offset, self._records[offset]
                self._start = offset + 1
            return
        for offset, record in enumerate(self._records, start=self._consumed):
            self._consumed = offset + 1
            if offset < start:
                continue
            yield offset, record
            self._start = offset + 1
