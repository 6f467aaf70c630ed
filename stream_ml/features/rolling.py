"""The generic event-time window over one key: any state with ``update``/``revert`` rolls.

One object per (key, window) holds the key's events sorted by (event time, arrival) in two
parallel lists, ``times`` and ``rows``, and the window's aggregate states. It is River's
``utils.Rolling`` idea, in event time, with out-of-order inserts.

Invariants (``F`` is the *frontier*: the time of the last read on the fast path):

* ``rows[lo:hi]`` are exactly the events in the window at ``F`` and ``states`` aggregate them;
* ``rows[hi:]`` are *pending*: events with ``ts >= F``, not yet in the states;
* ``rows[:lo]`` left the window and are kept only while a late event (``ts >= watermark``) could
  still need them, then trimmed.

An event at ``t >= F`` (the usual case) folds the pending events with ``ts < t`` in, reverts the
ones that left the window and reads the states: amortised O(1) per aggregate. An event at
``t < F`` that is within the allowed lateness is *late*: its features come from a fresh state over
the buffer slice of its own window (exact, O(window)), and it is inserted at its place, into the
states too when it falls in the window at ``F``. Unbounded windows (all-time, decay) cannot
revert, so they keep a second, *settled* state of the events older than the watermark, and a late
read is a copy of it plus the buffer slice.

>>> from stream_ml.features.plan import compile_specs
>>> from stream_ml.features.specs import Sum
>>> group = compile_specs([Sum("v", by="k", window="10s")], allowed_lateness=5.0)[0].groups[0]
>>> w = TimeWindow(group)
>>> [group.read(w.observe(t, (v,), 0.0), t)["v_sum_10s_by_k"] for t, v in
...  [(0.0, 1.0), (4.0, 2.0), (12.0, 4.0), (8.0, 8.0), (13.0, 1.0)]]
[0.0, 1.0, 2.0, 3.0, 14.0]
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stream_ml.features.plan import Group

_TRIM = 16


class KeyBuffer:
    """What every window over one key shares: the buffer of its events, sorted by (event time,
    arrival), in two parallel lists, the pointers ``lo``/``hi`` into it, the frontier and the
    aggregate states (the module docstring's invariants). Subclasses decide what leaves."""

    __slots__ = ("frontier", "group", "hi", "lo", "rows", "states", "times")

    def __init__(self, group: Group) -> None:
        self.group = group
        self.times: list[float] = []
        self.rows: list[tuple] = []
        self.lo = 0
        self.hi = 0
        self.frontier = -math.inf
        self.states: list[Any] = group.make_states()

    def _fold_to(self, t: float) -> int:
        """Fold the pending events with ts < t into the states; the new ``hi`` (not stored)."""
        times, rows, states = self.times, self.rows, self.states
        hi, n = self.hi, len(times)
        while hi < n and times[hi] < t:
            r = rows[hi]
            ts = times[hi]
            for s in states:
                s.update(r, ts)
            hi += 1
        return hi

    def _insert(self, t: float, row: tuple) -> int:
        """Insert the event at its place (after the events with the same time); its index."""
        times = self.times
        if not times or t >= times[-1]:
            times.append(t)
            self.rows.append(row)
            return len(times) - 1
        pos = bisect_right(times, t)
        times.insert(pos, t)
        self.rows.insert(pos, row)
        return pos

    def _trim(self, cut: int) -> None:
        """Forget the first ``cut`` events (they left the window and no late event needs them)."""
        if cut:
            del self.times[:cut]
            del self.rows[:cut]
            self.lo -= cut
            self.hi -= cut


class TimeWindow(KeyBuffer):
    """A sliding or tumbling duration window over one key."""

    __slots__ = ()

    def observe(self, t: float, row: tuple, wm: float) -> list[Any]:
        """Return the states as of ``t`` (events strictly before t), then insert the event."""
        times = self.times
        rows = self.rows
        states = self.states
        start_of = self.group.window.start
        if t >= self.frontier:
            hi = self._fold_to(t)
            start = start_of(t)
            lo = self.lo
            while lo < hi and times[lo] < start:
                r = rows[lo]
                ts = times[lo]
                for s in states:
                    s.revert(r, ts)
                lo += 1
            self.frontier = t
            self.hi = hi
            self.lo = lo
            out = states
            self._insert(t, row)
        else:
            out = self.peek(t)
            self._insert(t, row)
            if t < start_of(self.frontier):
                self.lo += 1
            else:
                for s in states:
                    s.update(row, t)
            self.hi += 1
        lo = self.lo
        if lo > _TRIM and 2 * lo > len(times):
            self._trim(min(lo, bisect_left(times, start_of(wm))))
        return out

    def peek(self, t: float) -> list[Any]:
        """Fresh states over the buffered events in t's window (read-only)."""
        times = self.times
        i0 = bisect_left(times, self.group.window.start(t))
        i1 = bisect_left(times, t, i0)
        return self.group.fold(self.rows, times, i0, i1)


class CountWindow(KeyBuffer):
    """The last ``n`` events of one key before t (by event time, then arrival)."""

    __slots__ = ()

    def observe(self, t: float, row: tuple, wm: float) -> list[Any]:
        """Return the states as of ``t``, then insert the event."""
        times = self.times
        rows = self.rows
        states = self.states
        size = self.group.window.n
        if t >= self.frontier:
            hi = self.hi
            lo = self.lo
            n = len(times)
            while hi < n and times[hi] < t:
                r = rows[hi]
                ts = times[hi]
                for s in states:
                    s.update(r, ts)
                hi += 1
                if hi - lo > size:
                    r = rows[lo]
                    ts = times[lo]
                    for s in states:
                        s.revert(r, ts)
                    lo += 1
            self.frontier = t
            self.hi = hi
            self.lo = lo
            out = states
            self._insert(t, row)
        else:
            out = self.peek(t)
            pos = self._insert(t, row)
            if self.hi - self.lo >= size and pos <= self.lo:
                self.lo += 1
                self.hi += 1
            else:
                for s in states:
                    s.update(row, t)
                self.hi += 1
                if self.hi - self.lo > size:
                    lo = self.lo
                    for s in states:
                        s.revert(rows[lo], times[lo])
                    self.lo = lo + 1
        lo = self.lo
        if lo > _TRIM and 2 * lo > len(times):
            self._trim(min(lo, max(bisect_left(times, wm) - size, 0)))
        return out

    def peek(self, t: float) -> list[Any]:
        """Fresh states over the last ``n`` buffered events before t (read-only)."""
        i1 = bisect_left(self.times, t)
        return self.group.fold(self.rows, self.times, max(i1 - self.group.window.n, 0), i1)


class UnboundedWindow:
    """An all-time or decayed window over one key (states that cannot revert)."""

    __slots__ = (
        "frontier",
        "group",
        "hi",
        "rows",
        "settled",
        "settled_to",
        "sn",
        "states",
        "times",
    )

    def __init__(self, group: Group) -> None:
        self.group = group
        self.times: list[float] = []
        self.rows: list[tuple] = []
        self.hi = 0
        self.frontier = -math.inf
        self.states: list[Any] = group.make_states()
        # events with ts < settled_to, i.e. rows[:sn] and everything trimmed, are in `settled`
        self.settled: list[Any] | None = group.make_states() if group.settle else None
        self.settled_to = -math.inf
        self.sn = 0

    def observe(self, t: float, row: tuple, wm: float) -> list[Any]:
        """Return the states as of ``t``, then insert the event."""
        times = self.times
        rows = self.rows
        states = self.states
        settled = self.settled
        if t >= self.frontier:
            hi = self.hi
            n = len(times)
            while hi < n and times[hi] < t:
                r = rows[hi]
                ts = times[hi]
                for s in states:
                    s.update(r, ts)
                hi += 1
            self.hi = hi
            self.frontier = t
            out = states
            if not n or t >= times[-1]:
                times.append(t)
                rows.append(row)
            else:
                pos = bisect_right(times, t)
                times.insert(pos, t)
                rows.insert(pos, row)
        else:
            out = self.peek(t)
            pos = bisect_right(times, t)
            times.insert(pos, t)
            rows.insert(pos, row)
            for s in states:
                s.update(row, t)
            self.hi += 1
        if settled is not None:
            sn = self.sn
            if t < self.settled_to:  # a too-late event that was let in: settle it now
                for s in settled:
                    s.update(row, t)
                sn += 1
            n = len(times)
            while sn < n and times[sn] < wm:
                r = rows[sn]
                ts = times[sn]
                for s in settled:
                    s.update(r, ts)
                sn += 1
            if wm > self.settled_to:
                self.settled_to = wm
            self.sn = sn
            cut = min(sn, self.hi)
        else:
            cut = self.hi
        if cut > _TRIM:
            del times[:cut]
            del rows[:cut]
            self.hi -= cut
            if settled is not None:
                self.sn -= cut
        return out

    def peek(self, t: float) -> list[Any]:
        """States over the events before t (exact when ``t >= settled_to``; read-only)."""
        settled = self.settled
        if settled is None:
            return [s.copy() for s in self.states]
        out = [s.copy() for s in settled]
        if t < self.settled_to:  # too late: the settled events are the closest we have
            return out
        times = self.times
        rows = self.rows
        for i in range(self.sn, bisect_left(times, t, self.sn)):
            r = rows[i]
            ts = times[i]
            for s in out:
                s.update(r, ts)
        return out
