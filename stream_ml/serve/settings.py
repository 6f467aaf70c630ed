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

Kind = Literal["float", "int", "bool", "str"]


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
    allowed_hosts
        Names a request's ``Host`` header may carry besides the addresses the server listens
        on and ``localhost``/``127.0.0.1``/``::1`` (always allowed); ``["*"]`` turns the check
        off. Anything else gets 403 on every route (DNS rebinding). ``None``: no other name.
    reserved_connections
        Of ``max_connections``, how many only clients with the right token may take (when a
        token is configured): an anonymous client is refused at ``max_connections -
        reserved_connections`` open connections, an authenticated one at ``max_connections``.
        At most ``max_connections - 1`` are reserved.
    schema, undeclared, schema_max_fields
        The kinds observation features must have (``{name = "float" | "int" | "bool" |
        "str"}``), and the rule for fields not declared: ``"auto"`` (the training source's rule
        when the engine's ``[source]`` reads rows -- numbers, except ``categorical`` columns --,
        else ``"first"``), ``"first"`` (locked to the kind of the field's first value),
        ``"float"``, ``"any"`` (not checked) or ``"refuse"``. Locked kinds are kept for at
        most ``schema_max_fields`` fields (beyond, new fields are not checked).
    log_lines, log_interval
        At most ``log_lines`` warning or error lines of one kind per ``log_interval`` seconds
        (a client sending bad frames cannot flood the log); the next one counts the others.
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
    >>> ServeSettings.model_validate({"schema": {"feat_1": "float"}}).schema_
    {'feat_1': 'float'}
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
    allowed_hosts: list[str] | None = None
    max_message_bytes: int = Field(default=64 * 1024, ge=64)
    max_batch: int = Field(default=256, ge=1)
    rate: float = Field(default=2000.0, gt=0, description="messages per second per connection")
    burst: int = Field(default=4000, ge=1)
    max_connections: int = Field(default=256, ge=1)
    reserved_connections: int = Field(default=1, ge=0)
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
    schema_: dict[str, Kind] = Field(default_factory=dict, alias="schema")
    undeclared: Literal["auto", "first", "float", "any", "refuse"] = "auto"
    schema_max_fields: int = Field(default=10_000, ge=0)
    log_lines: int = Field(default=10, ge=1)
    log_interval: float = Field(default=60.0, gt=0)

    def reserved(self) -> int:
        """The connection slots kept for authenticated clients (none without a token)."""
        if self.token is None:
            return 0
        return min(self.reserved_connections, self.max_connections - 1)

    def token_value(self) -> str | None:
        """The token in clear (only for comparing; never log it)."""
        return self.token.get_secret_value() if self.token is not None else None

    def with_env_token(self) -> ServeSettings:
        """These settings, with ``STREAM_ML_TOKEN`` as the token when none is set."""
        if self.token is None and os.environ.get("STREAM_ML_TOKEN"):
            return self.model_copy(update={"token": SecretStr(os.environ["STREAM_ML_TOKEN"])})
        return self
