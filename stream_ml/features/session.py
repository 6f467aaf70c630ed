"""Session (gap) windows over one key, in event time, with exact out-of-order inserts.

A *session* is a maximal run of the key's events (sorted by time) whose consecutive gaps are all
``< gap``. The window of an event at time t holds the events of the key that arrived before it,
with ``ts < t``, that are in t's session: walking back from t, the latest earlier event is in it
when ``t - ts < gap``, the one before when the gap between the two is ``< gap``, and so on. If
the latest earlier event is ``gap`` or more before t (or there is none), the window is empty: t
starts a new session. Events after t never matter, so the window is ``[start(t), t)`` for a start
that depends on the key's events; it rolls like the sliding window of
:mod:`~stream_ml.features.rolling` (same buffer, same ``update``/``revert`` states).

Out of order. An event inside the allowed lateness is inserted at its place; it can extend the
session at the frontier or *merge* it with the previous one (its gap to both sides is ``< gap``):
then the earlier session's events, still buffered, go back into the states. Two sessions are
never split by an insert (an insert only shortens gaps).

Sealing. Buffered events are forgotten once no event at or after the watermark can reach them:
the *seal* is the first event of the session that holds the key's latest event before the
watermark (taken when the key sees an event, and only when that session has an earlier one).
An event older than the seal can only arrive too late (``ts < watermark``); with
``late_events="include"`` it is left out of the session windows (the sessions it could have
joined or merged are closed). :func:`~stream_ml.features.offline.compute_offline` applies the same
rule, so online == offline holds for every event that is not too late.

>>> from stream_ml.features.plan import compile_specs
>>> from stream_ml.features.specs import Sum
>>> group = compile_specs([Sum("v", by="k", window="session 5s")], allowed_lateness=10.0)
>>> w = SessionWindow(group[0].groups[0])
>>> [group[0].groups[0].read(w.observe(t, (v,), -1.0), t)["v_sum_session_5s_by_k"]
...  for t, v in [(0.0, 1.0), (4.0, 2.0), (12.0, 4.0), (15.0, 8.0), (8.0, 16.0), (16.0, 1.0)]]
[0.0, 1.0, 0.0, 4.0, 3.0, 31.0]
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import TYPE_CHECKING, Any

from stream_ml.features.rolling import _TRIM, KeyBuffer

if TYPE_CHECKING:
    from stream_ml.features.plan import Group


class SessionWindow(KeyBuffer):
    """A session (gap) window over one key.

    ``rows[lo:hi]`` are the events of the session at the frontier ``F`` (the time of the last
    fast-path read) and ``states`` aggregate them; ``rows[hi:]`` are pending (``ts >= F``). The
    gap before ``lo`` is ``>= gap`` (or ``lo`` is the first buffered event). ``rows[si:sp + 1]``
    is one chain of gaps ``< gap`` starting at the seal (``si`` is the seal's index once
    ``seal > -inf``).

    Examples
    --------
    >>> from stream_ml.features.plan import compile_specs
    >>> from stream_ml.features.specs import Count
    >>> g = compile_specs([Count(by="k", window="session 10s")], allowed_lateness=60.0)
    >>> g = g[0].groups[0]
    >>> w = SessionWindow(g)
    >>> [g.read(w.observe(t, (), -math.inf), t)["count_session_10s_by_k"]
    ...  for t in (0.0, 5.0, 22.0, 27.0, 14.0)]
    [0, 1, 0, 1, 2]
    >>> g.read(w.observe(28.0, (), -math.inf), 28.0)  # 14 merged [0, 5] and [22, 27]
    {'count_session_10s_by_k': 5}
    """

    __slots__ = ("seal", "si", "sp")

    def __init__(self, group: Group) -> None:
        super().__init__(group)
        self.seal = -math.inf
        self.si = 0
        self.sp = -1

    def _advance_seal(self, wm: float) -> None:
        times = self.times
        q = bisect_left(times, wm) - 1
        if q <= self.sp:
            return
        gap = self.group.window.gap
        si = self.si
        for j in range(max(self.sp + 1, si + 1), q + 1):
            if times[j] - times[j - 1] >= gap:
                si = j
        if si != self.si:
            self.si = si
            self.seal = times[si]
        self.sp = q

    def observe(self, t: float, row: tuple, wm: float) -> list[Any]:
        """Return the states as of ``t`` (t's session before t), then insert the event."""
        self._advance_seal(wm)
        if t < self.seal:  # too late for a closed session: left out
            return self.peek(t)
        times = self.times
        rows = self.rows
        states = self.states
        gap = self.group.window.gap
        if t >= self.frontier:
            hi0 = self.hi
            hi = self._fold_to(t)
            lo = self.lo
            if hi == 0 or t - times[hi - 1] >= gap:
                start = hi
            else:
                start = hi - 1
                while start > lo:
                    if start < hi0:  # inside the old session: one chain down to lo
                        start = lo
                        break
                    if times[start] - times[start - 1] >= gap:
                        break
                    start -= 1
            while lo < start:
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
            self.hi += 1
            if pos <= self.sp:
                self.sp += 1
                if pos == 0 and times[1] - times[0] >= gap:  # a new first session
                    self.si = 1
                    self.seal = times[1]
            if pos < self.lo:
                self.lo += 1
            else:
                nxt = times[pos + 1] if pos + 1 < self.hi else self.frontier
                if nxt - t < gap:
                    j = pos
                    if pos == self.lo:  # may merge with the session before
                        while j > 0 and times[j] - times[j - 1] < gap:
                            j -= 1
                        self.lo = j
                    for i in range(j, pos + 1):
                        r = rows[i]
                        ts = times[i]
                        for s in states:
                            s.update(r, ts)
                else:  # before the frontier's session, not joined to it
                    self.lo = pos + 1
        lo = self.lo
        if lo > _TRIM and 2 * lo > len(times):
            cut = min(lo, self.si)
            self._trim(cut)
            self.si -= cut
            self.sp -= cut
        return out

    def peek(self, t: float) -> list[Any]:
        """Fresh states over the buffered events of t's session before t (read-only)."""
        times = self.times
        i1 = bisect_left(times, t)
        gap = self.group.window.gap
        if i1 == 0 or t - times[i1 - 1] >= gap:
            return self.group.make_states()
        i0 = i1 - 1
        while i0 > 0 and times[i0] - times[i0 - 1] < gap:
            i0 -= 1
        return self.group.fold(self.rows, times, i0, i1)
