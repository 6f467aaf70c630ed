"""File sources: CSV (plain or gzip, detected from the name) and JSON Lines.

Both yield ``(offset, record)`` with ``offset`` the 0-based record number (the CSV header and
blank JSONL lines do not count); ``seek(k)`` restarts reading at record ``k`` (see
:mod:`connectors.base` for the offset rule). Records are raw: a CSV row is a dict of strings, a
JSONL line is whatever JSON object it holds. Turning a record into an observation and a label is
the job of :class:`connectors.rows.RowDecoder`.

``location(offset)`` names the record as ``file:line``, the 1-based line where it starts, as an
editor shows it: a CSV row at offset ``k`` is on line ``k + 2`` (the header is line 1) unless a
quoted cell spans lines before it; a JSONL record on line ``k + 1`` unless blank lines come
before it. The exact line is worked out only when asked (an error to report), by one scan of the
file shared by every call (:class:`LineIndex`), never per record read. A file with no record (a
CSV with only its header, an empty JSONL file) is a :class:`ConnectorError` when the source is
opened: there is nothing to run.

>>> import gzip, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "d.csv.gz")
>>> with gzip.open(path, "wt") as f:
...     _ = f.write("x,y\\n1,0\\n2,1\\n3,1\\n")
>>> src = CsvSource(path)
>>> src.seek(1)
>>> [(o, r["x"]) for o, r in src.read()]
[(1, '2'), (2, '3')]
>>> src.location(2)
'd.csv.gz:4'
>>> with open(os.path.join(os.path.dirname(path), "m.jsonl"), "w") as f:
...     _ = f.write('{"a": 1}\\n\\n{"a": 2}\\n')
>>> JsonlSource(f.name).location(1)  # record 1 is on line 3
'm.jsonl:3'
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from bisect import bisect_right
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from stream_ml.errors import ConnectorError, MalformedMessageError


def open_text(path: str | Path) -> IO[str]:
    """Open a text file for reading, through gzip when its name ends with ``.gz``."""
    p = Path(path)
    try:
        if p.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8", newline="")
        return open(p, encoding="utf-8", newline="")
    except OSError as exc:
        raise ConnectorError(f"cannot open {str(p)!r}: {exc.strerror or exc}") from exc


class LineIndex:
    """Maps record offsets to the line each record starts on, scanning the file on demand.

    ``scan()`` yields the first line (1-based) of each record, in order. The index keeps only
    the offsets where ``line - offset`` changes (blank lines, multi-line cells), so it is small;
    it scans no further than the largest offset asked, and never twice.

    >>> idx = LineIndex(lambda: iter([2, 3, 5, 6]))  # a record spans lines 3-4
    >>> [idx.line(k) for k in (3, 0, 2)], idx.line(9)
    ([6, 2, 5], None)
    """

    def __init__(self, scan: Callable[[], Iterator[int]]) -> None:
        self._scan = scan
        self._reset()

    def _reset(self) -> None:
        self._it: Iterator[int] | None = None
        self._n = 0  # records scanned
        self._starts: list[int] = []  # offsets where the delta changes
        self._deltas: list[int] = []  # line - offset from each start on
        self._done = False

    def line(self, offset: int) -> int | None:
        """The line record ``offset`` starts on; None when the file has no such record."""
        if offset < 0:
            return None
        if offset >= self._n and not self._done:
            if self._it is None:
                self._it = self._scan()
            starts, deltas = self._starts, self._deltas
            for line in self._it:
                delta = line - self._n
                if not deltas or deltas[-1] != delta:
                    starts.append(self._n)
                    deltas.append(delta)
                self._n += 1
                if self._n > offset:
                    break
            else:
                self._done, self._it = True, None
        if offset >= self._n:
            return None
        i = bisect_right(self._starts, offset) - 1
        return offset + self._deltas[i]

    def __getstate__(self) -> dict[str, Any]:
        return {"_scan": self._scan}  # the open scan does not pickle: a copy scans anew

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._scan = state["_scan"]
        self._reset()


class CsvSource:
    """Rows of a CSV file (gzip detected from the name), as dicts of strings.

    Parameters
    ----------
    path
        The file.
    delimiter
        The column separator.
    """

    def __init__(self, path: str | Path, *, delimiter: str = ",") -> None:
        self.path = Path(path)
        self.delimiter = delimiter
        self._start = 0
        with open_text(self.path) as f:
            reader = csv.reader(f, delimiter=delimiter)
            try:
                header = next(reader, None)
                if not header:
                    raise ConnectorError(f"{str(self.path)!r} is empty: no header row")
                if not any(row for row in reader):
                    raise ConnectorError(
                        f"{str(self.path)!r} has a header but no data rows: nothing to run"
                    )
            except csv.Error as exc:
                raise ConnectorError(f"{str(self.path)!r} is not CSV: {exc}") from exc
        self.columns = header
        self._lines = LineIndex(self._scan_lines)

    def seek(self, offset: int) -> None:
        if offset < 0:
            raise ConnectorError(f"cannot seek to a negative offset: {offset}")
        self._start = offset

    def location(self, offset: int) -> str:
        """``file:line`` of the row at ``offset`` (the line it starts on; the header is line 1)."""
        if not isinstance(offset, int):
            return f"{self.path.name}:{offset}"
        line = self._lines.line(offset)
        return f"{self.path.name}:{line if line is not None else offset + 2}"

    def _scan_lines(self) -> Iterator[int]:
        with open_text(self.path) as f:
            reader = csv.reader(f, delimiter=self.delimiter)
            next(reader)
            last = reader.line_num
            for _ in reader:
                yield last + 1
                last = reader.line_num

    def read(self) -> Iterator[tuple[int, dict[str, Any]]]:
        start = self._start
        with open_text(self.path) as f:
            reader = csv.reader(f, delimiter=self.delimiter)
            columns = next(reader)
            n = len(columns)
            for offset, row in enumerate(reader):
                if offset < start:
                    continue
                if len(row) != n:
                    # short or long rows are kept: the decoder names the missing field
                    row = (row + [""] * n)[:n]
                yield offset, dict(zip(columns, row))
                self._start = offset + 1

    def column(self, name: str) -> Iterator[str]:
        """All values of one column (used to infer the target type)."""
        with open_text(self.path) as f:
            reader = csv.DictReader(f, delimiter=self.delimiter)
            for row in reader:
                yield row.get(name) or ""


_SCAN = json.JSONDecoder().scan_once  # the C scanner behind json.loads
_JSON_SPACE = " \t\n\r"


def _object(line: str) -> Any:
    """``json.loads(line)`` for a line that starts with ``{`` (the C scanner, without
    ``loads``'s Python layers); any other line, or one the scanner refuses, goes through
    ``json.loads`` itself (the same value, or the same error)."""
    if line[:1] == "{":
        try:
            record, end = _SCAN(line, 0)
        except (StopIteration, ValueError):
            pass
        else:
            if end == len(line) or not line[end:].strip(_JSON_SPACE):
                return record
    return json.loads(line)


class JsonlSource:
    """JSON objects, one per line. A line that is not a JSON object is yielded as an error.

    A malformed line is yielded as ``(offset, MalformedMessageError)`` so that the consumer can
    count it and go on; it still has an offset, so resuming never reads it twice.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._start = 0
        if not self.path.exists():
            raise ConnectorError(f"cannot open {str(self.path)!r}: no such file")
        with open_text(self.path) as f:
            if not any(line.strip() for line in f):
                raise ConnectorError(f"{str(self.path)!r} holds no records: nothing to run")
        self._lines = LineIndex(self._scan_lines)

    def seek(self, offset: int) -> None:
        if offset < 0:
            raise ConnectorError(f"cannot seek to a negative offset: {offset}")
        self._start = offset

    def location(self, offset: int) -> str:
        """``file:line`` of the record at ``offset`` (1-based lines; blank lines count)."""
        if not isinstance(offset, int):
            return f"{self.path.name}:{offset}"
        line = self._lines.line(offset)
        return f"{self.path.name}:{line if line is not None else offset + 1}"

    def _scan_lines(self) -> Iterator[int]:
        with open_text(self.path) as f:
            for i, line in enumerate(f, 1):
                if line.strip():
                    yield i

    def read(self) -> Iterator[tuple[int, Any]]:
        start = self._start
        offset = -1
        with open_text(self.path) as f:
            for line in f:
                if not line.strip():
                    continue
                offset += 1
                if offset < start:
                    continue
                try:
                    record = _object(line)
                    if type(record) is not dict:
                        raise ValueError(f"a JSON {type(record).__name__}, not an object")
                except ValueError as exc:
                    yield offset, MalformedMessageError(None, f"not a JSON object: {exc}")
                else:
                    yield offset, record
                self._start = offset + 1

    def column(self, name: str) -> Iterator[Any]:
        for _, rec in JsonlSource(self.path).read():
            if isinstance(rec, dict):
                yield rec.get(name)
