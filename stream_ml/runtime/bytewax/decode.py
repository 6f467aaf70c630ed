"""Validation at the dataflow's boundary: raw records -> keyed items, or dead letters.

:class:`Decoder` runs once per batch of source items (Bytewax ``flat_map_batch``) and returns a
list of ``(routing_key, value)`` pairs, which is what Bytewax's keyed operators route on:

* a good record -> ``(key, (offset, payload))``; ``payload`` is a row tuple
  ``(x, label, id, key, ts)`` from :class:`~connectors.rows.RowDecoder`, or a validated
  :class:`~stream_ml.events.Observation` / :class:`~stream_ml.events.Feedback`;
* a bad record -> ``(DEAD_LETTER, error_output)``: it is never sent to an engine, it goes to the
  dead-letter sink with its code, field, reason and offset.

The routing key is ``GLOBAL_KEY`` for one global engine, else the group of the record's key
(``key_group(key, groups)``; the key itself with ``groups=None``): the row's key column, or the
message's ``key`` (:attr:`Observation.key <stream_ml.events.Observation.key>`,
:attr:`Feedback.key <stream_ml.events.Feedback.key>`). So in a keyed dataflow feedback names the
key of its observation: ``{"kind": "feedback", "id": "e1", "label": true, "key": "store-7"}``
(the same JSON as the envelope form earlier versions read; it is now validated like the
observation's key: a string of at most 256 characters). A message without a key in a keyed
dataflow is a dead letter (``MissingFieldError``: code ``missing_field``, field ``key``), never
guessed and never sent to an engine.

>>> from connectors import RowDecoder
>>> dec = Decoder(RowDecoder(target="y", target_type="int", key="store"), keyed=True)
>>> dec.batch([(0, {"store": "s1", "a": "1", "y": "1"}),
...            (1, {"store": "s2", "a": "x", "y": "0"})])
[('g112', (0, ({'a': 1.0}, 1, None, 's1', None))), ('__dead_letter__', {'kind': 'error', ...})]
>>> Decoder(None, keyed=True).one(5, {"kind": "feedback", "id": "e1", "label": 1, "key": "s1"})
('g112', (5, Feedback(kind='feedback', id='e1', key='s1', label=1, ...)))
>>> Decoder(None, keyed=True).one(6, {"kind": "feedback", "id": "e1", "label": 1})[1]["field"]
'key'
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Any

from stream_ml.errors import MalformedMessageError, MissingFieldError, StreamMLError
from stream_ml.events import parse_message
from stream_ml.runtime.bytewax.driver import GLOBAL_KEY, error_output

DEAD_LETTER = "__dead_letter__"
DEFAULT_GROUPS = 128


def key_group(key: str, groups: int) -> str:
    """The routing key of ``key``'s group (:mod:`~stream_ml.runtime.bytewax.logic`): a CRC-32 of
    the key modulo ``groups``, stable across processes, runs and Python builds."""
    return f"g{zlib.crc32(key.encode()) % groups}"


class Decoder:
    """Turn ``(offset, record)`` items into keyed engine inputs or dead letters.

    Parameters
    ----------
    rows
        A :class:`~connectors.rows.RowDecoder` for row sources; ``None`` for message streams.
    keyed
        Route by the record's key (one engine per key) instead of to one global engine.
    groups
        With ``keyed``: route by the key's group, ``key_group(key, groups)``, so that one
        Bytewax state holds the engines of many keys (:mod:`~stream_ml.runtime.bytewax.logic`);
        ``None`` routes by the key itself (one Bytewax state per key).
    where
        Names the source in error outputs (``where:offset``) when there is no ``locate``.
    locate
        Maps an offset to the location error outputs name (the source's ``location``:
        ``file:line``), as the engine's driver names the errors it counts; so a dead letter
        names its record as the embedded replay does.

    >>> Decoder(None, keyed=True, locate=lambda o: f"m.jsonl:{o + 1}").dead(
    ...     ValueError("x"), 57)["offset"]
    'm.jsonl:58'
    """

    def __init__(self, rows: Any = None, *, keyed: bool = False, where: str = "source",
                 groups: int | None = DEFAULT_GROUPS,
                 locate: Callable[[Any], Any] | None = None) -> None:  # fmt: skip
        if keyed and rows is not None and rows.key is None:
            from stream_ml.errors import ConfigError

            raise ConfigError("a keyed dataflow over rows needs the source's `key` column")
        self.rows = rows
        self.keyed = keyed
        self.where = where
        self.locate = locate
        if groups is not None and groups < 1:
            raise ValueError(f"groups must be >= 1 or None, got {groups}")
        self.groups = groups if keyed else None

    def _key(self, key: str) -> str:
        groups = self.groups
        return key if groups is None else key_group(key, groups)

    def _dead(self, err: Exception, offset: Any) -> tuple[str, Any]:
        if not self.keyed and isinstance(err, StreamMLError):
            return GLOBAL_KEY, (offset, err)  # the engine's driver counts it
        where = self.locate(offset) if self.locate is not None else f"{self.where}:{offset}"
        return DEAD_LETTER, error_output(err, where, offset)

    def one(self, offset: Any, record: Any) -> tuple[str, Any]:
        """Decode one record (see the module docstring)."""
        if isinstance(record, Exception):
            return self._dead(record, offset)
        try:
            if self.rows is not None:
                payload = self.rows.decode(record)
                key = self._key(payload[3]) if self.keyed else GLOBAL_KEY
                return key, (offset, payload)
            if isinstance(record, str | bytes | bytearray):
                try:
                    record = json.loads(record)
                except ValueError as exc:
                    raise MalformedMessageError(None, f"not JSON: {exc}") from None
            msg = parse_message(record)
            if not self.keyed:
                return GLOBAL_KEY, (offset, msg)
            if not msg.key:
                raise MissingFieldError(
                    "key", f"a keyed dataflow routes by key: this {msg.kind} has none"
                )
            return self._key(msg.key), (offset, msg)
        except StreamMLError as err:
            return self._dead(err, offset)

    def route(self, items: list[tuple[Any, Any]]) -> list[tuple[str, Any]]:
        """Route a batch, deferring the row decode to the key's engine step (the flow's mapper).

        For rows, only the routing key is read here: a row with a usable key goes out as
        ``(key, (offset, row))`` and is decoded by
        :class:`~stream_ml.runtime.bytewax.logic.EngineLogic` right before its engine sees it
        (a row that fails there becomes the same ``error`` output as here), so the decoded
        features never wait in the dataflow's buffers. A row without a key (or a non-row
        record) is decoded here, as :meth:`batch` does. Messages: :meth:`batch`.
        """
        rows = self.rows
        if rows is None:
            return self.batch(items)
        one = self.one
        keycol = rows.key if self.keyed else None
        out: list[tuple[str, Any]] = []
        append = out.append
        for item in items:
            record = item[1]
            if type(record) is not dict:
                append(one(item[0], record))
            elif keycol is None:
                append((GLOBAL_KEY, item if type(item) is tuple else (item[0], record)))
            else:
                key = record.get(keycol)
                if key is None or key == "":
                    append(one(item[0], record))
                else:
                    route = self._key(str(key))
                    append((route, item if type(item) is tuple else (item[0], record)))
        return out

    def dead(self, err: Exception, offset: Any) -> Any:
        """The ``error`` output of a record that failed to decode at ``offset``."""
        return self._dead(err, offset)[1]

    def batch(self, items: list[tuple[Any, Any]]) -> list[tuple[str, Any]]:
        """Decode a batch (the ``flat_map_batch`` mapper).

        Rows take a fast path (one loop, locals cached, no per-record method call); a record that
        fails, or is not a plain row, goes through :meth:`one` (same outputs).
        """
        one = self.one
        if self.rows is None:
            return [one(offset, record) for offset, record in items]
        decode = self.rows.decode
        keyed = self.keyed
        out: list[tuple[str, Any]] = []
        append = out.append
        for item in items:
            record = item[1]
            if type(record) is dict:
                try:
                    payload = decode(record)
                except StreamMLError:
                    append(one(item[0], record))
                    continue
                append((self._key(payload[3]) if keyed else GLOBAL_KEY, (item[0], payload)))
            else:
                append(one(item[0], record))
        return out
