"""FeatureDriftMonitor: watches named fields of event dicts and emits one alert per shift.

Numeric fields are monitored together by one vectorized detector (KS, CvM or MMD over
``len(fields)`` columns, the threshold calibrated on the maximum over columns). A row in which a
monitored field is missing, not a number, or not finite is skipped and counted (per field) in
``skipped``. Categorical detectors (chi2, PSI) and River's error detectors run one per field;
calibrated ones get ``ert * len(fields)`` each, so that the union of the fields' alarms keeps
the stated ERT (a Bonferroni correction on alarm rates).

Episodes (``episodes=True``; the default follows ``refresh_on_alarm``, which the engine sets):
a detector's alarms are grouped into episodes (:mod:`stream_ml.drift.episodes`): the alarm that
opens one is the alert (with its episode number and severity); alarms while it is open are
absorbed, each re-learning the reference from post-drift values; it ends when a re-learned
reference holds for ``recover_checks`` checks, and the end is queued for :meth:`drain_ends`
(``kind = "drift_end"``). At most ``max_episodes`` alerts per ``rate_window`` events (default:
the ERT) per monitor; episodes beyond that are tracked but not alerted (``suppressed``).

Without episodes (the fixed-reference contract): after an alarm of a detector, its alarms are
muted for ``cooldown`` observations (default: the detector's ERT, or 10 windows), so that one
persistent shift raises one alert, not one per window. With ``refresh_on_alarm`` the detector
takes the next values as its new reference.

Seeds: the monitor derives one seed per detector from its ``seed`` (the engine passes one
derived from its own seed and the monitor's index) and the fields that detector watches
(:func:`~stream_ml.drift.seeding.derive_seed`); a detector config's own ``seed`` overrides it.
Without either, the seed is :data:`~stream_ml.drift.seeding.DEFAULT_SEED`, never OS entropy,
so two runs of one configuration give the same thresholds and the same alerts.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections import deque
from typing import Any

from stream_ml.drift.base import DriftCheck
from stream_ml.drift.episodes import DriftEpisodeEnd, Episode, EpisodeTracker, severity
from stream_ml.drift.seeding import SeedLike, derive_seed
from stream_ml.errors import ConfigError

__all__ = ["DriftAlert", "DriftEpisodeEnd", "FeatureDriftMonitor"]


@dataclasses.dataclass(slots=True, frozen=True)
class DriftAlert:
    """An alarm: which detector and field, the statistic and threshold, where and when.

    Window bounds count the values the detector took (``[start, end)``); ``event`` is the index
    of the observation (0-based, counting every observe call) and ``ts`` its event time.
    ``episode`` is the number (1-based, per monitor) of the episode this alarm opens (None
    without episodes), ``severity`` the statistic's margin over the threshold
    (:func:`~stream_ml.drift.episodes.severity`).
    """

    detector: str
    field: str | None
    statistic: float
    threshold: float
    p_value: float | None
    window_start: int
    window_end: int
    reference_start: int
    reference_end: int
    event: int
    ts: float | None
    kind: str = "drift"
    episode: int | None = None
    severity: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class FeatureDriftMonitor:
    """Drift monitoring of named fields of event dicts, by episodes or with a cool-down.

    Parameters: ``fields`` (the names watched), ``detector`` (a detector config from
    :mod:`stream_ml.drift.config`), ``cooldown`` (without episodes: observations muted after an
    alert; with them: the quiet events that end an episode of a detector without a statistic
    per check), ``refresh_on_alarm`` (take a new reference after each alarm), ``seed`` (an int
    or a :class:`numpy.random.SeedSequence`; each detector's seed derives from it and its
    fields), ``episodes`` (group alarms into episodes; None: as ``refresh_on_alarm``),
    ``recover_checks`` (calm checks that end an episode; None: ``(reference_size +
    window_size) // check_every``), ``max_episodes`` per ``rate_window`` events (None: the
    ERT, else 10,000) and ``keep_episodes`` (how many :meth:`episodes` remembers).

    Examples
    --------
    >>> import numpy as np
    >>> from stream_ml.drift.config import KSConfig
    >>> rng = np.random.default_rng(1)
    >>> cfg = KSConfig(reference_size=200, window_size=100, check_every=10, ert=2000)
    >>> mon = FeatureDriftMonitor(["a", "b"], cfg)
    >>> alerts = []
    >>> for i in range(1500):
    ...     b = rng.normal(0, 1) + (1.5 if i >= 800 else 0.0)
    ...     alerts += mon.observe({"a": rng.normal(0, 1), "b": b}, t=float(i))
    >>> mon.observe({"a": "n/a", "b": 0.0})
    []
    >>> [(a.field, a.event >= 800) for a in alerts], mon.skipped["a"]
    ([('b', True)], 1)
    >>> mon = FeatureDriftMonitor(["b"], cfg, episodes=True)
    >>> rng = np.random.default_rng(3)
    >>> xs = np.r_[rng.normal(0, 1, 1000), rng.normal(1.5, 1, 3000)]
    >>> alerts = [a for i, v in enumerate(xs) for a in mon.observe({"b": v}, t=float(i))]
    >>> [(a.episode, a.event, a.severity) for a in alerts], mon.state
    ([(1, 1029, 'low')], {'b': 'ok'})
    >>> [(e["alarms"], e["end_event"], e["reason"], e["severity"]) for e in mon.episodes()]
    [(6, 1619, 'settled', 'high')]
    >>> [(end.kind, end.episode, end.start_event) for end in mon.drain_ends()]
    [('drift_end', 1, 1029)]
    """

    def __init__(self, fields: list[str] | tuple[str, ...], detector: Any, *,
                 cooldown: int | None = None, refresh_on_alarm: bool = False,
                 seed: SeedLike = None, episodes: bool | None = None,
                 recover_checks: int | None = None, max_episodes: int = 5,
                 rate_window: int | None = None, keep_episodes: int = 100) -> None:  # fmt: skip
        if not fields:
            raise ConfigError("a drift monitor needs at least one field")
        if min(max_episodes, keep_episodes) < 1 or (recover_checks is not None
                                                    and recover_checks < 1):  # fmt: skip
            raise ConfigError("max_episodes, keep_episodes and recover_checks must be >= 1")
        self.fields = tuple(fields)
        self.config = detector
        self.refresh_on_alarm = refresh_on_alarm
        self.seed = seed
        self.family = getattr(detector, "family", "numeric")
        if self.family == "numeric":
            self._groups: list[tuple[str, ...]] = [self.fields]
            self.detectors = [detector.build(len(self.fields), self.fields, None,
                                             self._seed(self.fields))]  # fmt: skip
        else:
            ert = getattr(detector, "ert", None)
            per = None if ert is None else ert * len(self.fields)
            self._groups = [(f,) for f in self.fields]
            self.detectors = [detector.build(1, (f,), per, self._seed((f,))) for f in self.fields]
        ert = getattr(detector, "ert", None)
        if cooldown is None:
            cooldown = int(ert) if ert else 10 * getattr(detector, "window_size", 200)
        self.cooldown = cooldown
        self._muted_until = [0] * len(self.detectors)
        self.skipped = dict.fromkeys(self.fields, 0)
        self.n_events = 0
        self.n_alerts = 0
        # episodes
        self.episodes_on = refresh_on_alarm if episodes is None else episodes
        if recover_checks is None:
            span = getattr(detector, "reference_size", 0) + getattr(detector, "window_size", 0)
            every = getattr(detector, "check_every", None)
            recover_checks = max(1, span // every) if span and every else 1
        self.recover_checks = recover_checks
        self.max_episodes = max_episodes
        self.rate_window = int(ert) if rate_window is None and ert else rate_window or 10_000
        for det in self.detectors:
            if hasattr(det, "lazy_p_value"):
                det.lazy_p_value = True  # p-values for the alerts only (see _alert)
        self._trackers = [EpisodeTracker(recover_checks) for _ in self.detectors]
        self._windowed = [hasattr(d, "n_checks") for d in self.detectors]
        self._history: deque[Episode] = deque(maxlen=keep_episodes)
        self._ends: deque[DriftEpisodeEnd] = deque(maxlen=keep_episodes)
        self._alerted_starts: deque[int] = deque(maxlen=max_episodes)
        self.n_episodes = 0
        self.suppressed = 0

    def _seed(self, group: tuple[str, ...]) -> int:
        """The seed of the detector watching ``group`` (a config's own seed overrides it)."""
        return derive_seed(self.seed, "drift-detector", *group)

    def observe(self, x: dict[str, Any], t: float | None = None) -> list[DriftAlert]:
        """Feed one event's fields; return the alerts it raised (usually none).

        With episodes, an alert opens an episode; episode ends go to :meth:`drain_ends`.
        """
        event = self.n_events
        self.n_events = event + 1
        if self.family == "numeric":  # one detector over every field: the common, hot case
            fields = self.fields
            try:
                row = [x[f] for f in fields]
                fast = _FAST_TYPES.issuperset(map(type, row)) and math.isfinite(sum(row))
            except (KeyError, OverflowError):
                fast = False
            if not fast:
                row = self._numbers(x, fields)  # type: ignore[assignment]
                if row is None:
                    return []
            det = self.detectors[0]
            det.update(row if len(row) > 1 else row[0])
            if not det.drift_detected and (not self.episodes_on
                                           or self._trackers[0].open is None):  # fmt: skip
                return []
            return self._after(0, det, row, event, t, fields, True)
        alerts: list[DriftAlert] = []
        for i, group in enumerate(self._groups):
            det = self.detectors[i]
            value = x.get(group[0])
            if value is None or (self.family == "error" and not _is_number(value)):
                self.skipped[group[0]] += 1
                continue
            det.update(value)
            alerts += self._after(i, det, value, event, t, group, False)
        return alerts

    def _after(self, i: int, det: Any, value: Any, event: int, t: float | None,
               group: tuple[str, ...], numeric: bool) -> list[DriftAlert]:  # fmt: skip
        """After detector ``i`` took ``value``: its alert, if any (episodes or cool-down)."""
        alerts: list[DriftAlert] = []
        if self.episodes_on:
            if det.drift_detected or self._trackers[i].open is not None:
                alert = self._episode_step(i, det, value, event, t, group)
                if alert is not None:
                    alerts.append(alert)
        elif det.drift_detected:
            if event >= self._muted_until[i]:
                self._muted_until[i] = event + self.cooldown
                alerts.append(self._alert(det.state, event, t, group, det=det))
            if self.refresh_on_alarm:
                det.reset_reference()
        self.n_alerts += len(alerts)
        return alerts

    # -- episodes -------------------------------------------------------------------------------
    def _episode_step(self, i: int, det: Any, value: Any, event: int, t: float | None,
                      group: tuple[str, ...]) -> DriftAlert | None:  # fmt: skip
        """After ``det.update``, on an alarm or while an episode is open (then the shadow's)."""
        tracker = self._trackers[i]
        shadow = tracker.shadow  # None if the episode opens here: its copy has this value
        alert = None
        if det.drift_detected:
            alert = self._episode_alarm(i, det, event, t, group)
        else:
            self._episode_calm(i, det, event, t)
        if shadow is None or tracker.open is None:
            return alert
        shadow.update(value if self.family != "numeric" or len(value) > 1 else value[0])
        if shadow.drift_detected:
            shadow.reset_reference()  # still moving: learn the post-drift data again
            tracker.shadow_checks = shadow.n_checks
            tracker.shadow_alarm()
        elif shadow.n_checks != tracker.shadow_checks:
            tracker.shadow_checks = shadow.n_checks
            if shadow.calibrated and tracker.calm_check(shadow=True):
                self.detectors[i] = shadow  # the post-drift reference held: it is the new one
                self._close(tracker.end(event, t, "settled"))
        return alert

    def _episode_alarm(self, i: int, det: Any, event: int, t: float | None,
                       group: tuple[str, ...]) -> DriftAlert | None:  # fmt: skip
        tracker = self._trackers[i]
        check = det.state
        assert check is not None
        over = _over(check, group)
        windowed = self._windowed[i]
        if windowed:
            tracker.checks = det.n_checks
        else:
            det.reset_reference()  # River's detectors: a fresh one after each alarm
        if tracker.open is not None:
            tracker.alarm(check, event, over)
            return None
        starts = self._alerted_starts
        alerted = len(starts) < self.max_episodes or event - starts[0] >= self.rate_window
        self.n_episodes += 1
        field = check.field if check.field is not None else (group[0] if len(group) == 1 else None)
        ep = Episode(self.n_episodes, check.detector, field, over, event, t, check.statistic,
                     check.threshold, event, alerted)  # fmt: skip
        tracker.start(ep, event)
        if windowed and getattr(det, "reference", "fixed") == "fixed":
            # the detector keeps the pre-drift reference; a copy learns the post-drift one
            shadow = copy.deepcopy(det)
            shadow.reset_reference()
            tracker.shadow = shadow
            tracker.shadow_checks = shadow.n_checks
        self._history.append(ep)
        if not alerted:
            self.suppressed += 1
            return None
        starts.append(event)
        return self._alert(check, event, t, group, ep.episode, det=det)

    def _episode_calm(self, i: int, det: Any, event: int, t: float | None) -> None:
        tracker = self._trackers[i]
        if self._windowed[i]:
            if det.n_checks == tracker.checks:
                return  # no check at this event
            tracker.checks = det.n_checks
            if det.calibrated and tracker.calm_check(shadow=False):
                self._close(tracker.end(event, t, "settled" if tracker.relearned else "returned"))
        elif event - tracker.last_alarm >= self.cooldown:
            self._close(tracker.end(event, t, "quiet"))

    def _close(self, ep: Episode) -> None:
        if ep.alerted:
            self._ends.append(DriftEpisodeEnd.of(ep))

    @property
    def state(self) -> dict[str, str]:
        """Each field's state: ``ok``, ``drifting`` or ``recovered`` (its detector's)."""
        return {f: tr.state for tr, group in zip(self._trackers, self._groups, strict=True)
                for f in group}  # fmt: skip

    def episodes(self) -> list[dict[str, Any]]:
        """The last ``keep_episodes`` episodes, oldest first (start, peak, end, state...)."""
        return [ep.to_dict() for ep in self._history]

    def drain_ends(self) -> list[DriftEpisodeEnd]:
        """The episode ends since the last call (at most ``keep_episodes``), oldest first.

        Cheap when there are none (call it after every :meth:`observe`).
        """
        if not self._ends:
            return []
        out = list(self._ends)
        self._ends.clear()
        return out

    # -- helpers ------------------------------------------------------------------------------
    def _numbers(self, x: dict[str, Any], group: tuple[str, ...]) -> list[float] | None:
        row: list[float] = []
        for f in group:
            v: Any = x.get(f)
            if not _finite_number(v):
                for g in group:
                    if not _finite_number(x.get(g)):
                        self.skipped[g] += 1
                return None
            row.append(v)
        return row

    def _alert(self, check: DriftCheck | None, event: int, t: float | None,
               group: tuple[str, ...], episode: int | None = None,
               det: Any = None) -> DriftAlert:  # fmt: skip
        assert check is not None
        field = check.field if check.field is not None else (group[0] if len(group) == 1 else None)
        p_value = check.p_value
        if p_value is None and hasattr(det, "alarm_p_value"):
            p_value = det.alarm_p_value()
        return DriftAlert(check.detector, field, check.statistic, check.threshold, p_value,
                          check.window_start, check.window_end, check.reference_start,
                          check.reference_end, event, t, "drift", episode,
                          severity(check.statistic, check.threshold))  # fmt: skip

    def reset_reference(self) -> None:
        """Every detector takes the next values as its reference (after a retrain/rollback).

        An open episode stays open (its post-drift shadow is dropped); it ends once the new
        reference holds for ``recover_checks`` checks (reason ``settled``).
        """
        for det, tracker in zip(self.detectors, self._trackers, strict=True):
            det.reset_reference()
            if tracker.open is not None:
                tracker.shadow = None
                tracker.relearned = True
                tracker.calm = 0


def _over(check: DriftCheck, group: tuple[str, ...]) -> tuple[str, ...]:
    """The fields whose statistic exceeded the threshold at this alarm (all without them)."""
    stats = check.statistics
    if len(stats) != len(group):
        return group
    return tuple(f for f, s in zip(group, stats, strict=True) if s > check.threshold) or group


#: the types whose finite values the hot path takes without a closer look (bool, numpy scalars
#: and the rest go through :meth:`FeatureDriftMonitor._numbers`)
_FAST_TYPES = frozenset({float, int})


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float)  # bool included: a 0/1 feature


def _finite_number(v: Any) -> bool:
    """A finite number (an int too large for a float is not one)."""
    if not _is_number(v):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False
