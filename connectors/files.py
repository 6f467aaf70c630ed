"""File sources: CSV (plain or gzip, detected from the name) and JSON Lines.

Both yield ``(offset, record)`` with ``offset`` the 0-based record number (the CSV header and
blank JSONL lines do not count); ``seek(k)`` restarts reading at record ``k`` (see
:mod:`connectors.base` for the offset rule). Records are raw: a CSV row is a dict of strings, a
JSONL line is whatever JSON object it holds. Turning a record into an observation and a label is
the job of :class:`connectors.rows.RowDecoder`.

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
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
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
            header = next(csv.reader(f, delimiter=delimiter), None)
        if not header:
            raise ConnectorError(f"{str(self.path)!r} is empty: no header row")
        self.columns = header

    def seek(self, offset: int) -> None:
        if offset < 0:
            raise ConnectorError(f"cannot seek to a negative offset: {offset}")
        self._start = offset

    def location(self, offset: int) -> str:
        return f"{self.path.name}:{offset + 2}"

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

    def seek(self, offset: int) -> None:
        if offset < 0:
            raise ConnectorError(f"cannot seek to a negative offset: {offset}")
        self._start = offset

    def location(self, offset: int) -> str:
        return f"{self.path.name}:record {offset}"

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
                    record = json.loads(line)
                    if not isinstance(record, dict):
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
