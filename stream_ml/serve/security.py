"""Who may connect and how much: bearer tokens, the Host and Origin allowlists, rate limits, logs.

Tokens are compared in constant time (:func:`hmac.compare_digest`) and never logged: the
:class:`RedactTokens` filter rewrites ``token=...`` query parameters and ``Bearer ...`` values in
every record of the loggers it is attached to (uvicorn logs websocket paths with their query).

The ``Host`` header is checked against an allowlist (:func:`host_ok`) so that DNS rebinding
fails: a page on ``evil.example`` whose name was re-pointed at this server sends
``Host: evil.example`` (and an ``Origin`` to match), and is refused. :class:`LogLimiter` bounds
the warning and error lines that clients can cause (uvicorn logs a traceback for every invalid
UTF-8 frame): at most ``lines`` per ``interval`` for each kind of line, then a count.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import urlsplit

from stream_ml.errors import StreamMLError
from stream_ml.events import ErrorRecord

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
        """The documented error record (:class:`~stream_ml.events.ErrorRecord`)."""
        return ErrorRecord(self.code, self.field, self.reason).to_dict()


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


LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def host_name(host: str | None) -> str | None:
    """The name in a ``Host`` header, without its port, lower case (IPv6 without brackets).

    >>> host_name("Example.COM:8000"), host_name("[::1]:80"), host_name("::1"), host_name(None)
    ('example.com', '::1', '::1', None)
    """
    if host is None:
        return None
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


def host_ok(host: str | None, allowed: Iterable[str] | None, local: Iterable[str] = ()) -> bool:
    """Whether a request's ``Host`` header names this server (the DNS rebinding guard).

    Always allowed: the addresses the server listens on (``local``: the socket's own address,
    from the ASGI scope), ``localhost``, ``127.0.0.1`` and ``::1``, and a request without a
    ``Host`` (not a browser: browsers always send one). Besides those, the names in
    ``allowed`` (``None``: none; ``"*"``: any host, the check is off). Ports are not compared.

    >>> host_ok("127.0.0.1:8000", None), host_ok("localhost:1", None), host_ok("[::1]:8", None)
    (True, True, True)
    >>> host_ok("evil.example:8000", None), host_ok("10.0.0.5:80", None, local=["10.0.0.5"])
    (False, True)
    >>> host_ok("api.example.com", ["API.example.com"]), host_ok("evil.example", ["*"])
    (True, True)
    """
    name = host_name(host)
    if name is None or name in LOCAL_NAMES or name in local:
        return True
    if allowed is None:
        return False
    return any(a == "*" or host_name(a) == name for a in allowed)


def wrong_token(expected: str | None, headers: Mapping[str, str],
                query: Mapping[str, str]) -> ServeError | None:  # fmt: skip
    """The refusal for a request that presents a token which is not the configured one.

    A wrong token is refused on every route that reads tokens, whatever the ``auth`` mode (a
    client with a wrong token is misconfigured or guessing); no token configured: nothing to
    check against, so none is wrong.

    >>> wrong_token("s3cret", {"authorization": "Bearer nope"}, {}).reason
    'wrong token'
    >>> wrong_token("s3cret", {}, {"token": "s3cret"}), wrong_token(None, {}, {"token": "x"})
    (None, None)
    """
    presented = presented_token(headers, query)
    if expected is None or presented is None or token_ok(expected, presented):
        return None
    return ServeError("unauthorized", "wrong token", 401, "token")


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


class LogLimiter(logging.Filter):
    """A logging filter: at most ``lines`` records per ``interval`` seconds for each kind of
    warning or error line (its logger and message template); the rest are dropped and counted,
    and the next line of that kind that passes says how many were suppressed.

    Lines below WARNING pass untouched. Client faults that uvicorn logs as an ERROR with a
    traceback (an invalid UTF-8 frame) become one WARNING line, without the traceback.

    Examples
    --------
    >>> t = [0.0]
    >>> lim = LogLimiter(lines=2, interval=10, clock=lambda: t[0])
    >>> rec = lambda: logging.LogRecord("x", logging.ERROR, "f", 1, "bad frame", None, None)
    >>> [lim.filter(rec()) for _ in range(5)]
    [True, True, False, False, False]
    >>> t[0] = 11.0
    >>> r = rec()
    >>> lim.filter(r), r.getMessage()
    (True, 'bad frame [3 similar lines suppressed in the last 10s]')
    """

    CLIENT_FAULTS = frozenset({"Invalid UTF-8 sequence received from client."})

    def __init__(self, lines: int = 10, interval: float = 60.0, clock: Clock = time.monotonic,
                 max_kinds: int = 1000) -> None:  # fmt: skip
        super().__init__()
        self.lines, self.interval, self.clock, self.max_kinds = lines, interval, clock, max_kinds
        self.windows: dict[tuple[str, str], list[float]] = {}  # kind -> [start, passed, dropped]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        if record.msg in self.CLIENT_FAULTS:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        kind = (record.name, str(record.msg))
        now = self.clock()
        w = self.windows.get(kind)
        if w is None:
            if len(self.windows) >= self.max_kinds:  # bounded: forget the oldest kind
                self.windows.pop(next(iter(self.windows)))
            w = self.windows[kind] = [now, 0.0, 0.0]
        elif now - w[0] >= self.interval:
            if w[2]:
                record.msg = f"{record.msg} [{int(w[2])} similar lines suppressed in the last " \
                             f"{self.interval:g}s]"  # fmt: skip
            w[0], w[1], w[2] = now, 0.0, 0.0
        if w[1] >= self.lines:
            w[2] += 1
            return False
        w[1] += 1
        return True


def install_log_limit(lines: int, interval: float, names: tuple[str, ...] = (
        "uvicorn", "uvicorn.error", "stream_ml.serve")) -> LogLimiter:  # fmt: skip
    """Attach one :class:`LogLimiter` to the named loggers, replacing any attached before."""
    flt = LogLimiter(lines, interval)
    for name in names:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, LogLimiter)]:
            logger.removeFilter(old)
        logger.addFilter(flt)
    return flt


def install_redaction(names: tuple[str, ...] = ("uvicorn", "uvicorn.error", "uvicorn.access",
                                                "stream_ml.serve")) -> RedactTokens:  # fmt: skip
    """Attach one :class:`RedactTokens` to the named loggers (idempotent)."""
    flt = RedactTokens()
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(flt)
    return flt
