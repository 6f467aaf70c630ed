"""ServeState: what one app holds (engine worker, feed hub, metrics, settings, clocks, counts)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from stream_ml.serve.feed import FeedHub
from stream_ml.serve.metrics import ServeMetrics
from stream_ml.serve.security import ServeError, origin_ok, presented_token, token_ok
from stream_ml.serve.settings import ServeSettings
from stream_ml.serve.worker import EngineWorker


@dataclasses.dataclass
class ServeState:
    """The parts of one running app; ``app.state.serve`` holds it."""

    engine: Any
    settings: ServeSettings
    worker: EngineWorker
    hub: FeedHub
    metrics: ServeMetrics
    clock: Callable[[], float]
    wall_clock: Callable[[], float]
    connections: int = 0
    dropped: Counter[str] = dataclasses.field(default_factory=Counter)
    outboxes: set[Any] = dataclasses.field(default_factory=set)

    async def watchdog(self) -> None:
        """Every so often, drop the clients whose sends are stuck (see ``Outbox.check``)."""
        import asyncio

        period = min(1.0, self.settings.slow_client_timeout / 4)
        while True:
            await asyncio.sleep(period)
            for box in list(self.outboxes):
                box.check()

    @property
    def token(self) -> str | None:
        return self.settings.token_value()

    def authenticated(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        return token_ok(self.token, presented_token(headers, query))

    def check(self, need: str, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        """Raise :class:`ServeError` unless the request may do ``need`` (read, write, admin).

        Returns whether it presented the right token.
        """
        origin = headers.get("origin")
        if not origin_ok(origin, headers.get("host"), self.settings.origins):
            raise ServeError("origin", f"origin {origin!r} is not allowed", 403, "origin")
        ok = self.authenticated(headers, query)
        if ok:
            return True
        if need == "admin" and self.token is None:
            raise ServeError("unauthorized", "admin routes are disabled: no token is configured "
                             "(set STREAM_ML_TOKEN)", 403, "token")  # fmt: skip
        needs_token = self.token is not None and (
            need in ("write", "admin") or self.settings.auth == "all"
        )
        if needs_token:
            presented = presented_token(headers, query) is not None
            reason = "wrong token" if presented else "a bearer token is required"
            raise ServeError("unauthorized", reason, 401, "token")
        return False
