"""ServeSettings: everything the server needs besides the engine (auth, limits, fallback, feed).

A frozen pydantic model with ``extra="forbid"``, like every configuration of stream-ml: it may be
read from a ``[serve]`` table of the engine's TOML file, built in Python, or from CLI options.
The bearer token is a :class:`pydantic.SecretStr`, so it never shows in a ``repr`` or a log line;
when none is given, ``STREAM_ML_TOKEN`` from the environment is used (:meth:`with_env_token`).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class ServeSettings(BaseModel):
    """Settings of ``stream-ml serve``: security, limits, fallback, latency budget, feed.

    Parameters
    ----------
    token
        Bearer token protecting feedback, rollback and admin routes (and everything with
        ``auth="all"``). ``None``: read ``STREAM_ML_TOKEN``; if that is unset too, feedback is
        open and rollback is refused.
    auth
        ``"writes"``: the token guards feedback, rollback and admin routes; ``"all"``: every
        route and websocket except ``/healthz`` and the dashboard's static files.
    origins
        Browser origins allowed (``Origin`` header), besides the server's own; ``["*"]`` = any.
        Requests without an ``Origin`` header (non-browser clients) are not affected.
    max_message_bytes, max_batch, rate, burst, max_connections
        Limits: one websocket message / REST body; observations in one batch; messages per
        second per connection (token bucket of ``burst``); concurrent websocket connections.
    send_queue, slow_client_timeout
        Each connection's bounded send queue, and how long (seconds) a client may leave it full
        (or leave one send unfinished) before it is dropped.
    queue_size, latency_budget
        The engine's bounded job queue, and the seconds a job may wait in it; beyond either the
        answer comes from the fallback, marked ``fallback: true``.
    fallback, fallback_value, fallback_keys
        ``"last"``: the last good prediction for the key, else ``fallback_value``;
        ``"default"``: always ``fallback_value``. ``fallback_keys`` bounds the per-key memory.
    feed_predictions_per_s, metrics_interval, feed_history
        Predictions broadcast on ``/v1/feed`` per second at most (sampled beyond), the period of
        the metric updates, and how many non-prediction feed events a new dashboard is replayed.

    Examples
    --------
    >>> s = ServeSettings(token="s3cret", max_batch=100)
    >>> s.token
    SecretStr('**********')
    >>> s.max_message_bytes, s.token_value()
    (65536, 's3cret')
    >>> ServeSettings(max_bacth=1)
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for ServeSettings
    ...
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["serve"] = "serve"
    token: SecretStr | None = None
    auth: Literal["writes", "all"] = "writes"
    origins: list[str] = Field(default_factory=list)
    max_message_bytes: int = Field(default=64 * 1024, ge=64)
    max_batch: int = Field(default=256, ge=1)
    rate: float = Field(default=2000.0, gt=0, description="messages per second per connection")
    burst: int = Field(default=4000, ge=1)
    max_connections: int = Field(default=256, ge=1)
    send_queue: int = Field(default=1024, ge=1)
    slow_client_timeout: float = Field(default=10.0, gt=0)
    queue_size: int = Field(default=1024, ge=1)
    latency_budget: float = Field(default=0.5, gt=0, description="seconds a job may wait")
    fallback: Literal["last", "default"] = "last"
    fallback_value: Any = None
    fallback_keys: int = Field(default=10_000, ge=0)
    feed_predictions_per_s: int = Field(default=20, ge=0)
    metrics_interval: float = Field(default=1.0, gt=0)
    feed_history: int = Field(default=200, ge=0)

    def token_value(self) -> str | None:
        """The token in clear (only for comparing; never log it)."""
        return self.token.get_secret_value() if self.token is not None else None

    def with_env_token(self) -> ServeSettings:
        """These settings, with ``STREAM_ML_TOKEN`` as the token when none is set."""
        if self.token is None and os.environ.get("STREAM_ML_TOKEN"):
            return self.model_copy(update={"token": SecretStr(os.environ["STREAM_ML_TOKEN"])})
        return self
