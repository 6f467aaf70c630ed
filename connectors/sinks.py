"""Sinks: JSON Lines file, stdout, SQLite table, memory. Idempotent by output id.

A sink writes dicts that have an ``id`` (predictions, acknowledgements, alerts). Writing the
same id twice keeps one copy: the JSONL sink remembers the ids already in its file (it reads
them when it opens, so a resumed run appends no duplicates), the SQLite sink upserts on the
primary key ``id``.

>>> sink = MemorySink()
>>> sink.write({"id": "a", "y": 1}); sink.write({"id": "a", "y": 1}); sink.write({"id": "b"})
>>> [o["id"] for o in sink.outputs]
['a', 'b']
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import IO, Any

import sqlite_utils

from stream_ml.errors import ConnectorError


def to_json(output: dict[str, Any]) -> str:
    """Canonical JSON: sorted keys, so equal outputs are equal bytes."""
    return json.dumps(output, sort_keys=True, default=_default, separators=(",", ":"))


def _default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return str(obj)


def _output_id(output: dict[str, Any]) -> str:
    kind = output.get("kind", "output")
    return f"{kind}:{output.get('id')}"


class MemorySink:
    """Keeps outputs in a list (tests, embedded apps)."""

    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []
        self._seen: set[str] = set()

    def write(self, output: dict[str, Any]) -> None:
        oid = _output_id(output)
        if oid not in self._seen:
            self._seen.add(oid)
            self.outputs.append(output)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class JsonlSink:
    """Appends one canonical JSON object per line; skips ids already in the file."""

    def __init__(self, path: str | Path, *, buffer: int = 512) -> None:
        self.path = Path(path)
        self.buffer = buffer
        self._seen: set[str] = set()
        self._pending: list[str] = []
        if self.path.exists():
            with open(self.path, encoding="utf-8") as f:
                lines = f.read().split("\n")
            complete = lines[:-1]  # a last line without newline is a torn write: drop it
            if lines[-1]:
                with open(self.path, "w", encoding="utf-8") as f:
                    f.write("".join(line + "\n" for line in complete))
            for line in complete:
                if line:
                    self._seen.add(_output_id(json.loads(line)))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f: IO[str] = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise ConnectorError(f"cannot open sink {str(self.path)!r}: {exc}") from exc

    def write(self, output: dict[str, Any]) -> None:
        oid = _output_id(output)
        if oid in self._seen:
            return
        self._seen.add(oid)
        self._pending.append(to_json(output))
        if len(self._pending) >= self.buffer:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._f.write("\n".join(self._pending) + "\n")
            self._pending.clear()
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self.flush()
            self._f.close()


class StdoutSink:
    """Prints canonical JSON lines to standard output."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def write(self, output: dict[str, Any]) -> None:
        print(to_json(output), file=self.stream or sys.stdout)

    def flush(self) -> None:
        (self.stream or sys.stdout).flush()

    def close(self) -> None:
        self.flush()


class SqliteSink:
    """Upserts outputs into a SQLite table keyed by ``output_id`` = kind:id (sqlite-utils).

    Rows are written in batches of ``buffer``, each batch in one transaction.
    """

    def __init__(self, path: str | Path, *, table: str = "predictions", buffer: int = 1000) -> None:
        self.path = Path(path)
        self.table_name = table
        self.buffer = buffer
        self._pending: list[dict[str, Any]] = []
        try:
            # one owner at a time, but not always the thread that opened it (the server's engine
            # worker, a runtime's thread): the connection may move between threads
            self.db = sqlite_utils.Database(
                sqlite3.connect(str(self.path), check_same_thread=False)
            )
        except Exception as exc:
            raise ConnectorError(f"cannot open sqlite sink {str(self.path)!r}: {exc}") from exc
        self.db.enable_wal()

    def write(self, output: dict[str, Any]) -> None:
        row = {k: (to_json(v) if isinstance(v, dict | list) else v) for k, v in output.items()}
        row["output_id"] = _output_id(output)
        self._pending.append(row)
        if len(self._pending) >= self.buffer:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        with self.db.conn:
            self.db[self.table_name].upsert_all(self._pending, pk="output_id", alter=True)
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        self.db.close()
