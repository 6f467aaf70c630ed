"""Event-time windows: parsing of window strings and the window specs.

A window string is one of

========================  =====================================================================
``"1h"``, ``"sliding 1h"``  sliding duration: at time t, the events with ts in ``[t - 1h, t)``
``"100 events"``            the last 100 events of the key strictly before t (by ts, then arrival)
``"tumbling 1h"``           the events of the current bucket: ts in ``[floor(t / 1h) * 1h, t)``
``"decay 1h"``              all events before t, weighted ``2 ** (-(t - ts) / 1h)`` (half-life)
``"session 30m"``           the events before t of t's session: the run of the key's events, back
                            from t, whose consecutive gaps are all ``< 30m`` (empty when the
                            latest earlier event is ``>= 30m`` before t: t starts a new session)
``"all"``                   all events of the key strictly before t
========================  =====================================================================

Durations: a number with a unit ``ms``, ``s``, ``m``, ``h``, ``d``, ``w`` (or a plain number of
seconds). A string that does not parse is a :class:`~stream_ml.errors.ConfigError`.

>>> parse_window("1h")
Sliding(width=3600.0)
>>> parse_window("100 events"), parse_window("tumbling 30m"), parse_window("decay 2d")
(Count(n=100), Tumbling(width=1800.0), Decay(half_life=172800.0))
>>> parse_window("session 30m")
Session(gap=1800.0)
>>> parse_window("1 fortnight")
Traceback (most recent call last):
...
stream_ml.errors.ConfigError: window '1 fortnight' does not parse: ...
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from stream_ml.errors import ConfigError

_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|sec|min|s|m|h|d|w)?\s*$")
_COUNT = re.compile(r"^\s*(\d+)\s*events?\s*$")


def parse_duration(value: str | float | int, what: str = "duration") -> float:
    """Seconds from ``"5m"``, ``"1.5h"``, ``"250ms"`` or a number of seconds.

    >>> parse_duration("5m"), parse_duration(2), parse_duration("250ms")
    (300.0, 2.0, 0.25)
    """
    if isinstance(value, bool):
        raise ConfigError(f"{what} {value!r} is not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if m is None:
            raise ConfigError(
                f"{what} {value!r} does not parse: expected a number and a unit "
                f"(ms, s, m, h, d, w), e.g. '5m'"
            )
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"{what} {value!r} must be a finite, non-negative duration")
    return seconds


@dataclass(frozen=True, slots=True)
class Sliding:
    """Sliding duration window: ``[t - width, t)``."""

    width: float

    def start(self, t: float) -> float:
        return t - self.width


@dataclass(frozen=True, slots=True)
class Tumbling:
    """Tumbling window: ``[floor(t / width) * width, t)`` (buckets aligned on the epoch)."""

    width: float

    def start(self, t: float) -> float:
        return math.floor(t / self.width) * self.width


@dataclass(frozen=True, slots=True)
class Count:
    """The last ``n`` events of the key before t, ordered by (ts, arrival)."""

    n: int


@dataclass(frozen=True, slots=True)
class Decay:
    """Every event before t with weight ``2 ** (-(t - ts) / half_life)``."""

    half_life: float


@dataclass(frozen=True, slots=True)
class Session:
    """The events before t of t's session: consecutive gaps ``< gap`` (see :mod:`.session`)."""

    gap: float


@dataclass(frozen=True, slots=True)
class AllTime:
    """Every event of the key before t."""


Window = Sliding | Tumbling | Count | Decay | Session | AllTime


def parse_window(text: str | float | int) -> Window:
    """Parse a window string (see the module docstring)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return _positive(Sliding(parse_duration(text, "window")), text)
    if not isinstance(text, str):
        raise ConfigError(f"window {text!r} does not parse: expected a string such as '1h'")
    s = text.strip().lower()
    if s in ("all", "all-time", "alltime", "forever"):
        return AllTime()
    m = _COUNT.match(s)
    if m is not None:
        n = int(m.group(1))
        if n < 1:
            raise ConfigError(f"window {text!r}: a count window needs at least 1 event")
        return Count(n)
    head, _, rest = s.partition(" ")
    try:
        if head == "sliding":
            return _positive(Sliding(parse_duration(rest, "window")), text)
        if head == "tumbling":
            return _positive(Tumbling(parse_duration(rest, "window")), text)
        if head in ("decay", "half-life", "halflife"):
            return _positive(Decay(parse_duration(rest, "window")), text)
        if head == "session":
            return _positive(Session(parse_duration(rest, "window")), text)
        return _positive(Sliding(parse_duration(s, "window")), text)
    except ConfigError as exc:
        if "does not parse" in str(exc) or "must be" in str(exc):
            raise ConfigError(
                f"window {text!r} does not parse: expected '1h', '100 events', 'tumbling 1h', "
                f"'decay 1h', 'session 30m' or 'all'"
            ) from exc
        raise


def _positive(w: Window, text: object) -> Window:
    size = getattr(w, "width", None) or getattr(w, "half_life", None) or getattr(w, "gap", None)
    if not size or size <= 0:
        raise ConfigError(f"window {text!r} must be longer than zero")
    return w
