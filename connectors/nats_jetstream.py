"""NATS JetStream: a source and a sink with offsets, and a durable reader with explicit acks.

**Offsets.** The offset of a message is its *stream sequence* (an int, 1 for the first message of
a stream). ``seek(seq)`` makes the next read start at ``seq`` (inclusive); resume after the
message ``k`` with ``seek(k + 1)`` (the offset rule of :mod:`connectors.base`). Reads go through
an ephemeral pull consumer that starts at that sequence (``DeliverPolicy.BY_START_SEQUENCE``)
and needs no acks.

**Records.** A message's payload is JSON (an engine message or a row); a payload that is not
JSON is yielded as a :class:`~stream_ml.errors.MalformedMessageError` at its offset.

**Sink.** :class:`NatsStreamSink` publishes one message per output with the header
``Nats-Msg-Id: kind:id``: JetStream drops a message whose id it saw within the stream's
``duplicate_window`` (2 minutes by default), so a replay after a crash writes no duplicates as
long as it comes within that window. Widen the window for longer outages.

**Durable consumers.** :class:`NatsDurableReader` reads through a durable pull consumer with
explicit acks (``AckPolicy.EXPLICIT``). Given ``start`` (the sequence after the last message a
snapshot covers), it re-creates the durable consumer at that sequence: the snapshot, not the
consumer's ack floor, decides where reading resumes, and messages come back in stream order.

nats-py is asyncio; these classes run it on a private event loop so that they offer the same
blocking ``read``/``write`` as every other connector.

>>> NatsStreamSource.next_offset(41)
42
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

from connectors.sinks import _output_id, to_json
from stream_ml.errors import ConnectorError, MalformedMessageError

DEFAULT_URL = "nats://127.0.0.1:4222"


class _Conn:
    """A NATS connection on a private event loop."""

    def __init__(self, url: str) -> None:
        import nats

        self.loop = asyncio.new_event_loop()
        try:
            self.nc = self.run(nats.connect(url, connect_timeout=2, max_reconnect_attempts=2))
        except Exception as exc:
            self.loop.close()
            raise ConnectorError(f"cannot connect to NATS at {url!r}: {exc}") from exc
        self.js = self.nc.jetstream()

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        try:
            self.run(self.nc.close())
        finally:
            tasks = asyncio.all_tasks(self.loop)
            for t in tasks:
                t.cancel()
            if tasks:
                self.run(asyncio.gather(*tasks, return_exceptions=True))
            self.loop.close()


def decode_payload(data: bytes) -> Any:
    """A message's record: its JSON payload, or a MalformedMessageError."""
    try:
        return json.loads(data)
    except ValueError as exc:
        text = data.decode(errors="replace")
        return MalformedMessageError(None, f"not JSON: {exc}: {text[:200]!r}")


def ensure_stream(url: str, name: str, subjects: list[str]) -> None:
    """Create the stream ``name`` over ``subjects`` unless it exists."""
    conn = _Conn(url)
    try:

        async def go() -> None:
            try:
                await conn.js.stream_info(name)
            except Exception:
                await conn.js.add_stream(name=name, subjects=subjects)

        conn.run(go())
    finally:
        conn.close()


class NatsStreamSource:
    """Messages of one JetStream stream (optionally one subject), from a stream sequence.

    ``follow=False`` stops at the last message that was in the stream when reading started;
    ``follow=True`` keeps reading and yields ``(None, None)`` when nothing new came within
    ``timeout`` seconds.
    """

    def __init__(
        self,
        stream: str,
        *,
        subject: str | None = None,
        url: str = DEFAULT_URL,
        batch: int = 256,
        timeout: float = 0.2,
        follow: bool = False,
    ) -> None:
        self.stream = stream
        self.subject = subject
        self.url = url
        self.batch = batch
        self.timeout = timeout
        self.follow = follow
        self._start = 1
        self._conn: _Conn | None = None

    def seek(self, offset: int) -> None:
        if offset < 1:
            raise ConnectorError(f"JetStream sequences start at 1, cannot seek to {offset}")
        self._start = int(offset)

    @staticmethod
    def next_offset(offset: int) -> int:
        return int(offset) + 1

    def location(self, offset: int) -> str:
        return f"{self.stream}#{offset}"

    def read(self) -> Iterator[tuple[Any, Any]]:
        import nats.errors
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        conn = self._conn = self._conn or _Conn(self.url)
        info = conn.run(conn.js.stream_info(self.stream))
        last = info.state.last_seq
        if not self.follow and self._start > last:
            return
        cfg = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self._start,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=30.0,
        )
        subject = self.subject or info.config.subjects[0]
        sub = conn.run(conn.js.pull_subscribe(subject, stream=self.stream, config=cfg))
        try:
            while True:
                try:
                    msgs = conn.run(sub.fetch(self.batch, timeout=self.timeout))
                except (nats.errors.TimeoutError, TimeoutError):
                    msgs = []
                for m in msgs:
                    seq = m.metadata.sequence.stream
                    self._start = seq + 1
                    yield seq, decode_payload(m.data)
                    if not self.follow and (seq >= last or m.metadata.num_pending == 0):
                        return
                if not msgs:
                    if not self.follow:
                        return
                    yield None, None
        finally:
            conn.run(sub.unsubscribe())

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class NatsStreamSink:
    """Publishes outputs (canonical JSON) with ``Nats-Msg-Id`` = output id (see module docs)."""

    def __init__(self, subject: str, *, url: str = DEFAULT_URL, buffer: int = 256) -> None:
        self.subject = subject
        self.url = url
        self.buffer = buffer
        self._conn: _Conn | None = None
        self._pending: list[tuple[str, bytes]] = []

    def write(self, output: dict[str, Any]) -> None:
        self._pending.append((_output_id(output), to_json(output).encode()))
        if len(self._pending) >= self.buffer:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        conn = self._conn = self._conn or _Conn(self.url)
        js, subject = conn.js, self.subject

        async def go() -> None:
            await asyncio.gather(
                *(js.publish(subject, data, headers={"Nats-Msg-Id": oid})
                  for oid, data in self._pending)
            )  # fmt: skip

        try:
            conn.run(go())
        except Exception as exc:
            raise ConnectorError(f"cannot publish to {subject!r}: {exc}") from exc
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class NatsDurableReader:
    """A durable pull consumer with explicit acks (``pending``/``new``/``ack``, as Redis's)."""

    def __init__(
        self,
        stream: str,
        durable: str,
        *,
        subject: str | None = None,
        url: str = DEFAULT_URL,
        start: int | None = None,
        batch: int = 100,
        timeout: float = 0.2,
        ack_wait: float = 30.0,
    ) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        self.conn = _Conn(url)
        self.batch = batch
        self.timeout = timeout
        self._msgs: dict[int, Any] = {}
        js = self.conn.js
        info = self.conn.run(js.stream_info(stream))
        subject = subject or info.config.subjects[0]
        if start is not None:
            with contextlib.suppress(Exception):  # it may not exist
                self.conn.run(js.delete_consumer(stream, durable))
        cfg = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait,
            deliver_policy=DeliverPolicy.ALL if start is None else DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            max_ack_pending=-1,
        )
        self.sub = self.conn.run(
            js.pull_subscribe(subject, durable=durable, stream=stream, config=cfg)
        )

    def pending(self) -> Iterator[tuple[int, Any]]:
        return iter(())  # resuming is done by re-creating the consumer at ``start``

    def new(self) -> list[tuple[int, Any]]:
        import nats.errors

        try:
            msgs = self.conn.run(self.sub.fetch(self.batch, timeout=self.timeout))
        except (nats.errors.TimeoutError, TimeoutError):
            return []
        out = []
        for m in msgs:
            seq = m.metadata.sequence.stream
            self._msgs[seq] = m
            out.append((seq, decode_payload(m.data)))
        return out

    def ack(self, ids: list[int]) -> None:
        msgs = [self._msgs.pop(i) for i in ids if i in self._msgs]
        if msgs:

            async def go() -> None:
                await asyncio.gather(*(m.ack() for m in msgs))

            self.conn.run(go())

    def close(self) -> None:
        self.conn.close()
