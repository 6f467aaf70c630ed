"""Who may connect and how much: bearer tokens, the Origin allowlist, rate limits, log redaction.

Tokens are compared in constant time (:func:`hmac.compare_digest`) and never logged: the
:class:`RedactTokens` filter rewrites ``token=...`` query parameters and ``Bearer ...`` values in
every record of the loggers it is attached to (uvicorn logs websocket paths with their query).
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from stream_ml.errors import StreamMLError

Clock = Callable[[], float]


class ServeError(StreamMLError):
    """A request the server refuses (auth, origin, limits); ``status`` is its HTTP status."""

    code = "refused"

    def __init__(self, code: str, reason: str, status: int, field: str | None = None) -> None:
        self.code = code
        self.reason = reason
        self.status = status
        self.field = field
        super().__init__(reason)

    def to_dict(self) -> dict[str, object]:
        return {"kind": "error", "code": self.code, "field": self.field, "reason": self.reason,
                "offset": None}  # fmt: skip


def presented_token(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The token a client presents: ``Authorization: Bearer T`` or ``?token=T``."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return query.get("token") or None


def token_ok(expected: str | None, presented: str | None) -> bool:
    """Constant-time comparison; no expected token means nothing can match."""
    if expected is None or presented is None:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def origin_ok(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """A browser origin is allowed if it is listed, ``*`` is listed, or it is the server itself.

    >>> origin_ok(None, "h:1", []), origin_ok("http://h:1", "h:1", [])
    (True, True)
    >>> origin_ok("http://evil", "h:1", [])
    False
    """
    if origin is None:
        return True
    if "*" in allowed or origin in allowed:
        return True
    return host is not None and urlsplit(origin).netloc == host


class TokenBucket:
    """A per-connection rate limit: ``rate`` tokens per second, at most ``burst`` saved up.

    Examples
    --------
    >>> t = [0.0]
    >>> bucket = TokenBucket(rate=10, burst=5, clock=lambda: t[0])
    >>> [bucket.take() for _ in range(6)]
    [True, True, True, True, True, False]
    >>> t[0] = 0.5
    >>> bucket.take(5), bucket.take()
    (True, False)
    """

    __slots__ = ("burst", "clock", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.tokens = float(burst)
        self.last = clock()

    def take(self, n: int = 1) -> bool:
        """Spend ``n`` tokens if there are that many; return whether it did."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False


_SECRET = re.compile(r"(token=)[^&\s\"']+|(Bearer\s+)[^\s\"']+", re.IGNORECASE)


def redact(text: str) -> str:
    """Hide token values in ``text``.

    >>> redact('GET /v1/feed?token=abc&x=1 "Authorization: Bearer xyz"')
    'GET /v1/feed?token=***&x=1 "Authorization: Bearer ***"'
    """
    return _SECRET.sub(lambda m: (m.group(1) or m.group(2)) + "***", text)


class RedactTokens(logging.Filter):
    """A logging filter that removes token values from a record's formatted message.

    It also drops uvicorn's "returned without completing handshake" error, which uvicorn's
    sans-I/O websocket protocol logs after every handshake refused with a denial response (an
    HTTP 401/403/503 with a JSON body), the way this server refuses connections.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "ASGI callable returned without completing handshake.":
            return False
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):  # keep the shape: uvicorn's formatters unpack it
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_redaction(names: tuple[str, ...] = ("uvicorn", "uvicorn.error", "uvicorn.access",
                                                "stream_ml.serve")) -> RedactTokens:  # fmt: skip
    """Attach one :class:`RedactTokens` to the named loggers (idempotent)."""
    flt = RedactTokens()
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(flt)
    return flt
