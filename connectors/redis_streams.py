"""Redis Streams: a source and a sink with offsets, and a consumer-group reader with acks.

**Offsets.** The offset of an entry is its stream entry id ``"ms-seq"``. Following the offset
rule of :mod:`connectors.base`, ``seek(id)`` makes the next read start *at* ``id`` (inclusive,
``XRANGE`` semantics) and :meth:`RedisStreamSource.next_offset` gives the id right after one
(``"ms-(seq+1)"``): resume after the entry ``k`` with ``seek(next_offset(k))``.

**Records.** An entry whose field ``data`` holds JSON is that JSON value (an engine message or a
row); an entry without ``data`` is the dict of its fields (strings). ``data`` that is not JSON is
yielded as a :class:`~stream_ml.errors.MalformedMessageError` at its offset, so that the consumer
counts it, dead-letters it and goes on: it never blocks the stream.

**Sink.** :class:`RedisStreamSink` appends one entry per output (``data`` = canonical JSON) and
is idempotent by output id: a Lua script adds ``kind:id`` to a set and appends only when the id
was new, atomically, so a replay after a crash writes no duplicates.

**Consumer groups.** :class:`RedisGroupReader` reads as one consumer of a group: first its own
pending entries (``XREADGROUP ... 0``: delivered before, never acknowledged), then new ones
(``>``). Acknowledging is explicit (:meth:`RedisGroupReader.ack`).

Example (needs a Redis server; the tests in ``tests/brokers`` run it)::

    sink = RedisStreamSink("preds", url="redis://127.0.0.1:6379/0")
    sink.write({"kind": "prediction", "id": "e0", "y_pred": True}); sink.flush()
    src = RedisStreamSource("preds")
    for offset, record in src.read(): ...          # offset = "1700000000000-0"
    src.seek(src.next_offset(offset))              # resume after it

>>> RedisStreamSource.next_offset("1700000000000-0")
'1700000000000-1'
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from connectors.sinks import _output_id, to_json
from stream_ml.errors import ConnectorError, MalformedMessageError

DEFAULT_URL = "redis://127.0.0.1:6379/0"

_XADD_ONCE = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  return redis.call('XADD', KEYS[1], '*', 'data', ARGV[2])
end
return false
"""


def _client(client: Any, url: str) -> Any:
    if client is not None:
        return client
    import redis

    try:
        return redis.Redis.from_url(url)
    except Exception as exc:  # a bad URL
        raise ConnectorError(f"cannot connect to Redis at {url!r}: {exc}") from exc


def parse_id(entry_id: Any) -> tuple[int, int]:
    """``"ms-seq"`` (str or bytes) as a pair of ints, for comparing entry ids.

    >>> parse_id(b"1700000000000-3") < parse_id("1700000000000-10")
    True
    """
    s = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    ms, _, seq = s.partition("-")
    return int(ms), int(seq or 0)


def decode_entry(fields: dict[Any, Any], field: str = "data") -> Any:
    """An entry's record: the JSON in ``field``, or the dict of its fields; bad JSON -> error."""
    raw = fields.get(field.encode(), fields.get(field))
    if raw is None:
        return {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in fields.items()
        }
    try:
        return json.loads(raw)
    except ValueError as exc:
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        return MalformedMessageError(None, f"not JSON: {exc}: {text[:200]!r}")


class RedisStreamSource:
    """Entries of one Redis stream, in order, from an offset (entry id).

    Parameters
    ----------
    stream
        The stream's key.
    client, url
        A ``redis.Redis`` client, or the URL to build one.
    count
        Entries per ``XRANGE`` page.
    follow
        Keep reading new entries after the end (``XREAD BLOCK``); when there is nothing new,
        ``read`` yields ``(None, None)`` so that a dataflow worker is never blocked.
    block_ms
        How long one ``XREAD BLOCK`` waits in follow mode.
    """

    def __init__(
        self,
        stream: str,
        *,
        client: Any = None,
        url: str = DEFAULT_URL,
        field: str = "data",
        count: int = 1000,
        follow: bool = False,
        block_ms: int = 100,
    ) -> None:
        self.stream = stream
        self.r = _client(client, url)
        self.field = field
        self.count = count
        self.follow = follow
        self.block_ms = block_ms
        self._start = "0-0"

    def seek(self, offset: Any) -> None:
        """Make the next read start at entry id ``offset`` (inclusive)."""
        if isinstance(offset, bytes):
            offset = offset.decode()
        parse_id(offset)  # validates
        self._start = str(offset)

    @staticmethod
    def next_offset(offset: Any) -> str:
        """The smallest entry id after ``offset``: resume after ``offset`` from there."""
        ms, seq = parse_id(offset)
        return f"{ms}-{seq + 1}"

    def location(self, offset: Any) -> str:
        return f"{self.stream}:{offset}"

    def read(self) -> Iterator[tuple[Any, Any]]:
        start = self._start
        while True:
            try:
                entries = self.r.xrange(self.stream, min=start, max="+", count=self.count)
            except Exception as exc:
                raise ConnectorError(f"cannot read Redis stream {self.stream!r}: {exc}") from exc
            for eid, fields in entries:
                offset = eid.decode()
                self._start = start = self.next_offset(offset)
                yield offset, decode_entry(fields, self.field)
            if len(entries) == self.count:
                continue
            if not self.follow:
                return
            last = f"{parse_id(start)[0]}-{parse_id(start)[1] - 1}" if start != "0-0" else "0-0"
            got = self.r.xread({self.stream: last}, count=1, block=self.block_ms)
            if not got:
                yield None, None

    def close(self) -> None:
        pass


class RedisStreamSink:
    """Appends outputs to a Redis stream, once per output id (see the module docstring).

    Parameters
    ----------
    stream
        The stream's key; the ids written are kept in the set ``ids_key`` (``stream:ids``).
    buffer
        Outputs per pipelined round trip.
    """

    def __init__(
        self,
        stream: str,
        *,
        client: Any = None,
        url: str = DEFAULT_URL,
        ids_key: str | None = None,
        buffer: int = 200,
    ) -> None:
        self.stream = stream
        self.ids_key = ids_key or f"{stream}:ids"
        self.r = _client(client, url)
        self.buffer = buffer
        self._script = self.r.register_script(_XADD_ONCE)
        self._pending: list[tuple[str, str]] = []

    def write(self, output: dict[str, Any]) -> None:
        self._pending.append((_output_id(output), to_json(output)))
        if len(self._pending) >= self.buffer:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        try:
            pipe = self.r.pipeline(transaction=False)
            for oid, data in self._pending:
                self._script(keys=[self.stream, self.ids_key], args=[oid, data], client=pipe)
            pipe.execute()
        except Exception as exc:
            raise ConnectorError(f"cannot write to Redis stream {self.stream!r}: {exc}") from exc
        self._pending.clear()

    def close(self) -> None:
        self.flush()


class RedisGroupReader:
    """One consumer of a consumer group: its pending entries first, then new ones; explicit acks.

    The group is created (from the start of the stream, ``MKSTREAM``) if it does not exist.
    """

    def __init__(
        self,
        stream: str,
        group: str,
        consumer: str,
        *,
        client: Any = None,
        url: str = DEFAULT_URL,
        field: str = "data",
        count: int = 100,
        block_ms: int = 200,
    ) -> None:
        self.stream, self.group, self.consumer = stream, group, consumer
        self.r = _client(client, url)
        self.field = field
        self.count = count
        self.block_ms = block_ms
        try:
            self.r.xgroup_create(stream, group, id="0", mkstream=True)
        except Exception as exc:
            if "BUSYGROUP" not in str(exc):
                raise ConnectorError(f"cannot create group {group!r} on {stream!r}: {exc}") from exc

    def _read(self, start: str, block: int | None) -> list[tuple[str, Any]]:
        got = self.r.xreadgroup(
            self.group, self.consumer, {self.stream: start}, count=self.count, block=block
        )
        if not got:
            return []
        return [
            (eid.decode(), decode_entry(fields, self.field))
            for eid, fields in got[0][1]
            if fields is not None  # a pending entry deleted from the stream meanwhile
        ]

    def pending(self) -> Iterator[tuple[str, Any]]:
        """This consumer's own pending entries (delivered earlier, not acknowledged), in order."""
        start = "0"
        while True:
            batch = self._read(start, None)
            if not batch:
                return
            yield from batch
            start = batch[-1][0]

    def new(self) -> list[tuple[str, Any]]:
        """New entries for this consumer (blocks up to ``block_ms``); may be empty."""
        return self._read(">", self.block_ms)

    def ack(self, ids: list[str]) -> None:
        if ids:
            self.r.xack(self.stream, self.group, *ids)
