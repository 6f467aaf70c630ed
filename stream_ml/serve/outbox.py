"""Outbox: one connection's bounded send queue and its writer task; slow consumers are dropped.

Every websocket connection writes through an outbox, never directly, so that a client that does
not read cannot slow down the engine or the other clients:

* the queue holds at most ``size`` messages (memory is bounded by it, the transport's write
  buffer and the kernel's socket buffer);
* :meth:`offer` never waits: when the queue is full the message is not queued (the feed samples)
  and the connection is marked *stalled*; :meth:`put` (the prediction stream, where nothing may
  be skipped) waits for room, which stops reading from that client (back-pressure);
* a connection stalled for ``timeout`` seconds, or with one send unfinished for ``timeout``
  seconds (checked by :meth:`check`, which the server's watchdog calls every second), is
  dropped: its queue is emptied, its writer stopped and its handler ends (the server then closes
  the connection with code 1008, "slow consumer", if the socket still takes a close frame).

Times come from an injected clock (``time.monotonic`` by default).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

Clock = Callable[[], float]
SLOW_CONSUMER = 1008


class Outbox:
    """A bounded send queue with a writer task (see the module docstring).

    Examples
    --------
    >>> async def demo():
    ...     sent = []
    ...     async def send(text):
    ...         sent.append(text)
    ...     box = Outbox(send, size=2, timeout=1.0)
    ...     box.start()
    ...     box.offer("a"); await box.put("b")
    ...     await box.close()
    ...     return sent, box.dropped
    >>> asyncio.run(demo())
    (['a', 'b'], False)
    """

    def __init__(
        self,
        send: Callable[[str], Awaitable[Any]],
        *,
        size: int,
        timeout: float,
        clock: Clock | None = None,
        on_drop: Callable[[], Any] | None = None,
    ) -> None:
        import time

        self.send = send
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=size)
        self.timeout = timeout
        self.clock = clock or time.monotonic
        self.on_drop = on_drop
        self.stalled_since: float | None = None
        self.sending_since: float | None = None
        self.dropped = False
        self.skipped = 0
        self.closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._write())

    def offer(self, text: str) -> bool:
        """Queue ``text`` if there is room; never waits. Returns whether it was queued."""
        if self.dropped:
            return False
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.skipped += 1
            now = self.clock()
            if self.stalled_since is None:
                self.stalled_since = now
            elif now - self.stalled_since >= self.timeout:
                self.drop()
            return False
        self.stalled_since = None
        return True

    async def put(self, text: str) -> bool:
        """Queue ``text``, waiting up to ``timeout`` for room; drop the client after that."""
        if self.dropped:
            return False
        if self.sending_since is None and self.queue.empty():
            # the writer is idle: send from here, which saves waking it (the common case)
            self.sending_since = self.clock()
            try:
                await self.send(text)
            except Exception:
                self.dropped = True
                return False
            finally:
                self.sending_since = None
            return not self.dropped
        if self.offer(text):
            return True
        try:
            await asyncio.wait_for(self.queue.put(text), self.timeout)
        except TimeoutError:
            self.drop()
            return False
        self.stalled_since = None
        return not self.dropped

    def check(self) -> bool:
        """Drop the client if one send has been unfinished for ``timeout`` (a watchdog calls
        this periodically); returns whether it is dropped."""
        now = self.clock()
        for since in (self.sending_since, self.stalled_since):
            if since is not None and now - since >= self.timeout:
                self.drop()
        return self.dropped

    def drop(self) -> None:
        """Give up on this client: stop writing, empty the queue, tell the owner."""
        if self.dropped:
            return
        self.dropped = True
        while not self.queue.empty():
            self.queue.get_nowait()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        self.closed.set()
        if self.on_drop is not None:
            self.on_drop()

    async def _write(self) -> None:
        queue, send = self.queue, self.send
        try:
            while True:
                text = await queue.get()
                if text is None:
                    break
                self.sending_since = self.clock()
                await send(text)
                self.sending_since = None
        except asyncio.CancelledError:
            raise
        except Exception:  # the peer went away: nothing more to write
            self.dropped = True
        finally:
            self.closed.set()

    async def close(self) -> None:
        """Flush what is queued (bounded by ``timeout``), then stop the writer."""
        if self._task is None:
            return
        if not self.dropped:
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._task), self.timeout)
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
