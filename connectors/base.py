"""The source and sink protocols, and the offset rule every connector follows.

Offset rule (spelled out once, for every source): ``read()`` yields ``(offset, record)`` where
``offset`` is the position of *that* record (0 for the first). A consumer that has fully handled
the record at offset ``k`` resumes with ``seek(k + 1)``: the next record read is then the one at
``k + 1``. A snapshot therefore stores "the offset of the next record to read".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

Offset = int


@runtime_checkable
class Source(Protocol):
    """Records with offsets; ``seek`` makes the next ``read`` start at an offset."""

    def read(self) -> Iterator[tuple[Offset, dict[str, Any]]]: ...

    def seek(self, offset: Offset) -> None: ...

    def location(self, offset: Offset) -> str: ...


@runtime_checkable
class Sink(Protocol):
    """Where outputs go. ``write`` is idempotent by output id where the medium allows it."""

    def write(self, output: dict[str, Any]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
