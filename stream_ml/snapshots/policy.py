"""When to snapshot: every N events and/or every T seconds of *event* time, plus on demand, on
drift alarms (a monitor's ``snapshot`` action) and on promotions (``on_promotion``).

A promotion (an experiment router decided, or a canary aborted) asks the runtime for a snapshot
tagged ``promotion`` through the engine's outbox (``engine.request_snapshot``); the runtime's
driver takes it when there is a store and ``on_promotion`` is true (the default). Inside the
engine the promotion takes effect when the next observation is routed, and the runtime handles
requests before that, so the snapshot
holds the state just *before* the winner serves: the router still unpromoted, its decision in
``pending_promotion``. Restored, it resumes exactly (the promotion takes effect at the first
observation); to undo the promotion, restore it and call ``router.cancel_promotion()``.

The configuration (:class:`SnapshotPolicyConfig`, a frozen pydantic model) builds the logic
(:class:`SnapshotPolicy`, a small picklable object that belongs to the engine state, so a restored
engine keeps its schedule).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SnapshotPolicy", "SnapshotPolicyConfig"]


class SnapshotPolicyConfig(BaseModel):
    """Configuration of the snapshot schedule and retention.

    ``every_events`` and ``every_seconds`` (event time) may both be set: a snapshot is due when
    either is reached. Both None means on demand only. ``on_promotion``: a tagged snapshot just
    before each promotion takes effect (module docs). ``keep_last`` is the retention passed to
    the store (the newest K plus every tagged snapshot are kept; None keeps all).

    Examples:
        >>> cfg = SnapshotPolicyConfig(every_events=500, keep_last=10)
        >>> cfg.build().due(events=500, event_time=None)
        True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["snapshot_policy"] = "snapshot_policy"
    every_events: int | None = Field(default=1000, gt=0)
    every_seconds: float | None = Field(default=None, gt=0)
    on_promotion: bool = True
    keep_last: int | None = Field(default=None, ge=1)

    def build(self) -> SnapshotPolicy:
        """A fresh policy (nothing taken yet)."""
        return SnapshotPolicy(
            every_events=self.every_events,
            every_seconds=self.every_seconds,
            on_promotion=self.on_promotion,
        )


class SnapshotPolicy:
    """Says when a snapshot is due; ``mark`` records that one was taken.

    Counting is from the last ``mark`` (scheduled or on demand): due when
    ``events - marked_events >= every_events`` or ``event_time - marked_time >= every_seconds``.
    Before the first mark, events count from 0 and time from the first event time ``due`` sees
    (that call records it). Event time going backwards never makes a snapshot due.

    Examples:
        >>> policy = SnapshotPolicy(every_events=3, every_seconds=10.0)
        >>> taken = []
        >>> for n, t in enumerate([0.0, 1.0, 2.0, 3.0, 15.0, 16.0], start=1):
        ...     if policy.due(n, t):
        ...         policy.mark(n, t)
        ...         taken.append(n)
        >>> taken
        [3, 5]
    """

    __slots__ = ("_events", "_time", "every_events", "every_seconds", "on_promotion")

    def __init__(
        self,
        every_events: int | None = 1000,
        every_seconds: float | None = None,
        *,
        on_promotion: bool = True,
    ) -> None:
        if every_events is not None and every_events <= 0:
            raise ValueError(f"every_events must be > 0 or None, got {every_events}")
        if every_seconds is not None and not every_seconds > 0:
            raise ValueError(f"every_seconds must be > 0 or None, got {every_seconds}")
        self.every_events = every_events
        self.every_seconds = every_seconds
        self.on_promotion = on_promotion
        self._events = 0
        self._time: float | None = None

    def due(self, events: int, event_time: float | None = None) -> bool:
        """Whether a snapshot is due after ``events`` events, the last at ``event_time``."""
        if self.every_events is not None and events - self._events >= self.every_events:
            return True
        if self.every_seconds is not None and event_time is not None:
            if self._time is None:
                self._time = event_time
            return event_time - self._time >= self.every_seconds
        return False

    def mark(self, events: int, event_time: float | None = None) -> None:
        """Record that a snapshot was taken at this point (scheduled or on demand)."""
        self._events = events
        if event_time is not None:
            self._time = event_time

    @property
    def last(self) -> tuple[int, float | None]:
        """``(events, event_time)`` of the last mark (or the schedule's start)."""
        return self._events, self._time

    def __getstate__(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, object]) -> None:
        state = {"on_promotion": True, **state}  # pickled before on_promotion existed
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return (
            f"SnapshotPolicy(every_events={self.every_events}, every_seconds={self.every_seconds}, "
            f"on_promotion={self.on_promotion}, last={self.last})"
        )
