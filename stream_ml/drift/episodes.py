"""Drift episodes: one alert per shift, not one per reference refresh.

A detector's alarms are grouped into *episodes* by a small state machine, one per detector
(the fields a detector watches share its state):

* ``ok``: no episode open. An alarm opens an episode (the monitor's alert, ``kind = "drift"``)
  and the state becomes ``drifting``.
* ``drifting``: an episode is open and its last check alarmed. The reference policy while it
  is open: the detector **keeps its pre-drift reference** (no refresh), so its further alarms
  measure the whole shift (they are absorbed: they raise the peak, no alert); a *shadow* copy
  of it learns a reference from the values after the alarm (post-drift data) and checks the
  data against it; a shadow alarm means the post-drift data is still moving: the shadow
  re-learns.
* ``recovered``: the last check of the detector (against the pre-drift reference) or of the
  shadow (against the post-drift one) was under the threshold. ``recover_checks`` such
  checks in a row end the episode (``kind = "drift_end"``; state ``ok``): the detector's
  (reason ``returned``: the data went back, the pre-drift reference stays) or the shadow's
  (reason ``settled``: the shadow, with its post-drift reference, becomes the detector, so a
  later shift raises its own episode). An alarm before that goes back to ``drifting``. Only
  checks under a calibrated threshold count (the interim threshold of a bootstrap in progress
  can be infinite: no evidence).

A lagged-reference detector has no shadow (its reference follows the data): its calm checks
end the episode (``settled``). Detectors without a statistic at every check (River's error
detectors) are reset at each alarm and end an episode once ``quiet`` events (the monitor's
cool-down) pass without an alarm (reason ``quiet``).

Severity is the ratio of a statistic to the threshold it was compared with: ``low`` below
1.25, ``medium`` from 1.25 to 2, ``high`` from 2 (None without a finite statistic). An alert
gets the severity of its own check (an abrupt shift alarms as soon as it crosses the
threshold: often ``low``); an episode, of its peak (the largest ratio among its alarms).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

__all__ = ["DriftEpisodeEnd", "Episode", "EpisodeTracker", "State", "severity"]

State = Literal["ok", "drifting", "recovered"]
#: the severity bounds on statistic / threshold: below the first "low", below the second
#: "medium", else "high"
SEVERITY_BOUNDS = (1.25, 2.0)


def severity(statistic: float, threshold: float) -> str | None:
    """``low`` / ``medium`` / ``high`` from ``statistic / threshold`` (see the module docstring).

    >>> severity(0.22, 0.2), severity(0.3, 0.2), severity(0.5, 0.2), severity(math.nan, 0.2)
    ('low', 'medium', 'high', None)
    """
    if not (math.isfinite(statistic) and math.isfinite(threshold)) or threshold <= 0:
        return None
    ratio = statistic / threshold
    low, high = SEVERITY_BOUNDS
    return "low" if ratio < low else "medium" if ratio < high else "high"


@dataclasses.dataclass(slots=True)
class Episode:
    """One episode of a detector: its start, peak and (once over) its end.

    Events count the monitor's observations (0-based), ``ts`` are event times. ``fields`` are
    the monitored fields whose statistic exceeded the threshold at some alarm of the episode,
    ``field`` the one of the peak. ``alarms`` counts the detector's alarms in it (the first
    included), ``alerted`` is False when the monitor's rate limit muted it.
    """

    episode: int
    detector: str
    field: str | None
    fields: tuple[str, ...]
    start_event: int
    start_ts: float | None
    peak_statistic: float
    peak_threshold: float
    peak_event: int
    alerted: bool = True
    alarms: int = 1
    state: str = "drifting"
    end_event: int | None = None
    end_ts: float | None = None
    reason: str | None = None

    @property
    def severity(self) -> str | None:
        return severity(self.peak_statistic, self.peak_threshold)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["fields"] = list(self.fields)
        d["severity"] = self.severity
        return d


@dataclasses.dataclass(slots=True, frozen=True)
class DriftEpisodeEnd:
    """The end of an episode (``kind = "drift_end"``): its start, peak and end."""

    detector: str
    field: str | None
    fields: tuple[str, ...]
    episode: int
    severity: str | None
    start_event: int
    start_ts: float | None
    end_event: int
    end_ts: float | None
    peak_statistic: float
    peak_threshold: float
    peak_event: int
    alarms: int
    reason: str
    kind: str = "drift_end"

    @classmethod
    def of(cls, ep: Episode) -> DriftEpisodeEnd:
        assert ep.end_event is not None and ep.reason is not None
        return cls(ep.detector, ep.field, ep.fields, ep.episode, ep.severity, ep.start_event,
                   ep.start_ts, ep.end_event, ep.end_ts, ep.peak_statistic, ep.peak_threshold,
                   ep.peak_event, ep.alarms, ep.reason)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["fields"] = list(self.fields)
        return d


class EpisodeTracker:
    """The state of one detector's episodes (see the module docstring); O(1) per call.

    ``shadow`` is the detector that learns a post-drift reference while an episode is open
    (None otherwise); ``calm`` / ``shadow_calm`` count the checks in a row under the
    threshold of the detector (against the pre-drift reference) and of the shadow.
    """

    __slots__ = ("calm", "checks", "last_alarm", "open", "recover_checks", "relearned",
                 "shadow", "shadow_calm", "shadow_checks", "state")  # fmt: skip

    def __init__(self, recover_checks: int) -> None:
        self.recover_checks = recover_checks
        self.state: State = "ok"
        self.open: Episode | None = None
        self.shadow: Any = None
        self.calm = self.shadow_calm = 0
        self.checks = self.shadow_checks = 0  # n_checks last seen while an episode is open
        self.last_alarm = -1
        self.relearned = False

    def start(self, ep: Episode, event: int) -> None:
        self.open = ep
        self.calm = self.shadow_calm = 0
        self.last_alarm = event
        self.relearned = False
        self._set("drifting")

    def alarm(self, check: Any, event: int, fields: tuple[str, ...]) -> None:
        """An alarm of the detector inside the open episode: absorb it (peak, fields)."""
        ep = self.open
        assert ep is not None
        ep.alarms += 1
        ep.fields = _union(ep.fields, fields)
        if _ratio(check.statistic, check.threshold) > _ratio(ep.peak_statistic,
                                                             ep.peak_threshold):  # fmt: skip
            ep.peak_statistic, ep.peak_threshold = check.statistic, check.threshold
            ep.peak_event = event
            ep.field = check.field if check.field is not None else ep.field
        self.calm = 0
        self.last_alarm = event
        self._update()

    def shadow_alarm(self) -> None:
        """The post-drift data is still moving: the shadow re-learns, its calm run restarts."""
        self.shadow_calm = 0
        self._update()

    def calm_check(self, shadow: bool) -> bool:
        """A check under a calibrated threshold; True when it ends the episode."""
        if shadow:
            self.shadow_calm += 1
            done = self.shadow_calm >= self.recover_checks
        else:
            self.calm += 1
            done = self.calm >= self.recover_checks
        self._update()
        return done

    def end(self, event: int, ts: float | None, reason: str) -> Episode:
        ep = self.open
        assert ep is not None
        ep.end_event, ep.end_ts, ep.reason = event, ts, reason
        ep.state = "ended"
        self.open = self.shadow = None
        self.calm = self.shadow_calm = 0
        self.state = "ok"
        return ep

    def _update(self) -> None:
        self._set("recovered" if self.calm or self.shadow_calm else "drifting")

    def _set(self, state: State) -> None:
        self.state = state
        if self.open is not None:
            self.open.state = state


def _ratio(statistic: float, threshold: float) -> float:
    if not (math.isfinite(statistic) and math.isfinite(threshold)) or threshold <= 0:
        return -math.inf
    return statistic / threshold


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return a + tuple(f for f in b if f not in a)
