"""The drift stage: monitors on features, predictions, labels and errors, and actions on alarms.

What to watch is configuration (``[[drift]]`` tables, or :class:`MonitorConfig` in Python)::

    [[drift]]
    on = "features"                  # "features" | "prediction" | "label" | "error"
    fields = ["x1", "x2"]            # features only; the others watch one value per event
    detector = {kind = "ks", reference_size = 500, window_size = 200, check_every = 20, ert = 10000}
    action = "alert"   # or "snapshot", "rollback", "reset_reference", "challenger"

* ``prediction`` watches the primary model's score (P(positive) for a classifier, the value for a
  regressor), ``label`` the labels as they arrive, ``error`` the primary's 0/1 error (or absolute
  error for a regressor); ``model = "name"`` watches another model. Behind a router the watched
  model answers every observation (in shadow when another model is served), so that its monitor
  sees every event, not only those the router gave it.
* Alarms come as **episodes**: the alarm that opens one is an output record (``kind =
  "drift"``, with detector, field, statistic, threshold, window bounds in events and event time,
  ``episode`` and ``severity``), never an exception; further alarms of the same shift are
  absorbed into it, and its end is a ``drift_end`` record (start, end, peak, why it ended:
  the data went back, or a reference learned after the shift holds). A persistent shift raises
  one alert, a later shift its own (docs/drift.md). ``max_episodes`` per ``rate_window`` events
  caps the alerts of one monitor. Without episodes (``episodes = false``) the old rule holds:
  after an alarm the reference is refreshed (``refresh_on_alarm``) and the monitor is muted for
  ``cooldown`` events (default: two windows); ``cooldown`` is also the quiet period that ends
  an episode of River's detectors. ``warmup`` events are ignored first (a model's first
  predictions are not a reference for its later ones).
* Actions: ``snapshot`` asks the runtime for a snapshot at the next record boundary (tagged
  ``drift``); ``rollback`` puts back the models of the newest snapshot taken at least one
  detection window before the alarm; ``reset_reference`` makes the monitor's current window its
  new reference; ``reset`` replaces the watched model by a fresh copy of itself (``clone()``: same
  parameters, nothing learned) at every alarm, as the usual River loop does (a ``reset`` record;
  the version goes up); ``challenger`` starts a fresh copy of the watched model that learns from
  the post-drift labels and answers every event beside it, and promotes it (its model replaces
  the watched one's) once it wins a **paired comparison** on the same recent labels (below).
* Challengers. Up to ``challengers`` of them run at once per watched model (default 3, named
  ``model~challenger``, ``model~challenger2``, ...); an alarm when all are busy restarts the
  oldest. A challenger starts at every alarm of the monitor, also the later alarms of an episode
  (which raise no alert of their own: River's detectors keep alarming while the errors still
  move). Each compares itself with the watched model on the labels both answered since it started:
  ``d = error(watched) - error(challenger)`` per label (0/1 error, or absolute error for a
  regressor; a model with no answer yet, ``y_pred`` None, counts as wrong), over the last
  ``challenger_window`` such labels (default 200). It is promoted as soon as at least
  ``challenger_min_labels`` pairs are in since it started (default 50) and ``sum(d) > 0`` and
  ``sum(d) >= challenger_z * sqrt(sum(d**2))`` (a one-sided sign-type z test on the paired
  differences; the default ``z = 0`` promotes a challenger that made fewer errors than the watched
  model on the same recent labels; ``z = 1`` asks for one standard error of the sum more). The
  promotion is a ``promotion`` record (``experiment = "drift-challenger"``, with ``pairs``,
  ``wins`` and ``losses``) and a snapshot request tagged ``promotion``; the monitors of the model
  take a new reference. The younger challengers of the model are dropped with it (slots are only
  removed from the end). A false alarm costs little: a fresh model rarely beats a trained one on
  the same labels, and it is restarted by a later alarm. ``challenger_start = "serving"`` swaps
  the two at the alarm: the fresh copy serves at once (a reset) and the old model is the
  challenger, put back if it wins (a reset that can be undone; give it ``challenger_min_labels``
  of a few hundred, since a fresh model loses the first comparisons to any trained one). Figures
  (``benchmarks/bench_actions.py``): the defaults match or beat the River loop that resets on
  every alarm on the drift scenarios and beat it on the weather stream.
* ``router = "reset"`` or ``"discount"`` (with ``router_factor``) also tells the experiment
  router, on every alarm, to forget (or shrink by the factor) its statistics, so that a bandit
  re-learns which model is best after the change (``on_drift``: docs/experiments.md). The
  default ``"keep"`` leaves it alone.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from stream_ml.errors import ConfigError, StreamMLError
from stream_ml.models.scores import error_of, positive_proba


class MonitorConfig(BaseModel):
    """One drift monitor: what it watches, with which detector, and what to do on an alarm."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    on: Literal["features", "prediction", "label", "error"]
    fields: list[str] = Field(default_factory=list)
    model: str | None = None
    detector: Any = Field(default_factory=lambda: {"kind": "ks"}, validate_default=True)
    cooldown: int | None = Field(default=None, ge=0, description="events muted after an alarm")
    warmup: int = Field(default=0, ge=0, description="events ignored before the reference")
    refresh_on_alarm: bool = True
    action: Literal["alert", "snapshot", "rollback", "reset_reference", "reset", "challenger"] = (
        "alert"
    )
    challengers: int = Field(default=3, ge=1, le=16, description="challengers at once per model")
    challenger_min_labels: int = Field(
        default=50, ge=10, description="paired labels before a challenger can be promoted"
    )
    challenger_window: int = Field(
        default=200, ge=10, description="the most recent paired labels a comparison covers"
    )
    challenger_z: float = Field(default=0.0, ge=0.0, description="margin of the paired test")
    challenger_start: Literal["shadow", "serving"] = Field(
        default="shadow",
        description="serving: the fresh copy serves at once, the old model "
        "is the challenger and comes back if it wins",
    )
    episodes: bool | None = Field(
        default=None, description="one alert per episode (default: with refresh_on_alarm)"
    )
    recover_checks: int | None = Field(default=None, ge=1)
    max_episodes: int = Field(default=5, ge=1, description="alerts per rate_window events")
    rate_window: int | None = Field(default=None, ge=1)
    router: Literal["keep", "reset", "discount"] = Field(
        default="keep", description="on an alarm: the experiment router's statistics"
    )
    router_factor: float = Field(default=0.5, ge=0.0, lt=1.0)

    @field_validator("detector", mode="before")
    @classmethod
    def _detector(cls, v: Any) -> Any:
        from stream_ml.drift import parse_detector_config

        if isinstance(v, dict):
            try:
                return parse_detector_config(v)
            except StreamMLError as exc:
                raise ValueError(str(exc)) from None
        return v

    def watched(self) -> list[str]:
        if self.on == "features":
            if not self.fields:
                raise ConfigError("a features drift monitor needs fields = [...]")
            return list(self.fields)
        return [self.on]


def monitor_seed(seed: int, index: int) -> int:
    """The seed of the ``index``-th monitor of an engine seeded ``seed`` (a pure function)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


class _Monitor:
    __slots__ = ("config", "model", "monitor", "name")

    def __init__(self, config: MonitorConfig, model: str, index: int, seed: int = 0) -> None:
        from stream_ml.drift import FeatureDriftMonitor

        self.config = config
        self.model = model
        self.name = config.name or f"{config.on}-{index}"
        cooldown = config.cooldown
        if cooldown is None:
            cooldown = 2 * getattr(config.detector, "window_size", 100)
        self.monitor = FeatureDriftMonitor(
            config.watched(),
            config.detector,
            cooldown=cooldown,
            refresh_on_alarm=config.refresh_on_alarm,
            seed=monitor_seed(seed, index),
            episodes=config.episodes,
            recover_checks=config.recover_checks,
            max_episodes=config.max_episodes,
            rate_window=config.rate_window,
        )


def _score(y_pred: Any, proba: Any) -> float | None:
    """The value a prediction monitor watches: P(positive), or the prediction itself."""
    p = positive_proba(proba)
    if p is not None:
        return p
    return float(y_pred) if isinstance(y_pred, bool | int | float) else None


def _absorbed(monitor: Any) -> bool:
    """Whether the last observation raised an alarm that an open episode absorbed (no alert:
    the episode's alert was its first alarm). A challenger is started on those too."""
    event = monitor.n_events - 1
    return any(
        t.open is not None and t.last_alarm == event for t in getattr(monitor, "_trackers", ())
    )


def _ch_name(model: str, i: int) -> str:
    return f"{model}~challenger" if i == 1 else f"{model}~challenger{i}"


def _err(label: Any, y_pred: Any, is_classifier: bool) -> float:
    """The error the paired comparison uses; no answer yet counts as wrong (1, or |label|)."""
    e = error_of(label, y_pred, is_classifier=is_classifier)
    if e is not None:
        return e
    if is_classifier:
        return 1.0
    return abs(float(label)) if isinstance(label, int | float) else 0.0


class _Challenger:
    """One drift challenger's paired comparison with the model it challenges (module docs):
    the differences ``error(watched) - error(challenger)`` over the last ``window`` labels."""

    __slots__ = ("d", "losses", "min_labels", "n", "name", "q", "restarts", "s", "since",
                 "since_ts", "watched", "wins", "z")  # fmt: skip

    def __init__(self, name: str, watched: str, config: MonitorConfig, since: int,
                 since_ts: float | None) -> None:  # fmt: skip
        self.name = name
        self.watched = watched
        self.min_labels = config.challenger_min_labels
        self.z = config.challenger_z
        self.d: deque[float] = deque(maxlen=config.challenger_window)
        self.restarts = 0
        self.restart(since, since_ts)
        self.restarts = 0

    def restart(self, since: int, since_ts: float | None) -> None:
        self.since = since
        self.since_ts = float("-inf") if since_ts is None else since_ts
        self.restarts += 1
        self.clear()

    def clear(self) -> None:
        self.d.clear()
        self.n = 0
        self.s = 0.0
        self.q = 0.0
        self.wins = 0
        self.losses = 0

    def update(self, diff: float) -> bool:
        """One paired difference; True when the challenger has won (module docs)."""
        d = self.d
        if len(d) == d.maxlen:
            old = d[0]
            self.s -= old
            self.q -= old * old
        d.append(diff)
        self.s += diff
        self.q += diff * diff
        self.n += 1
        if diff > 0:
            self.wins += 1
        elif diff < 0:
            self.losses += 1
        if self.n < self.min_labels:
            return False
        s = self.s
        return s > 1e-12 and s * s >= self.z * self.z * self.q

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.watched, "since": self.since,
                "pairs": self.n, "wins": self.wins, "losses": self.losses,
                "difference": self.s, "window": len(self.d)}  # fmt: skip


class DriftStage:
    """The engine's monitors; see the module docstring."""

    def __init__(
        self, configs: Sequence[MonitorConfig], model_names: Sequence[str], *, seed: int = 0
    ) -> None:
        self.monitors: list[_Monitor] = []
        for i, c in enumerate(configs):
            model = c.model or model_names[0]
            if model not in model_names:
                raise ConfigError(
                    f"drift monitor watches model {model!r}, not among {list(model_names)}"
                )
            self.monitors.append(_Monitor(c, model, i, seed))
        self._on_predict = [m for m in self.monitors if m.config.on in ("features", "prediction")]
        self._on_label = [m for m in self.monitors if m.config.on in ("label", "error")]
        # behind a router, the models these monitors watch answer every observation
        self._answers_of = frozenset(
            m.model for m in self.monitors if m.config.on in ("prediction", "error")
        )
        self.alerts = 0
        # model watched -> its live challengers (oldest first)
        self.lanes: dict[str, list[_Challenger]] = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a stage pickled before several challengers: its one challenger is not carried over
        state.pop("challengers", None)
        state.setdefault("lanes", {})
        self.__dict__.update(state)

    # -- observation --------------------------------------------------------------------------

    def _watch(self, engine: Any) -> None:
        """Tell the router stage which models must answer every observation (once)."""
        watched: frozenset[str] = getattr(self, "_answers_of", frozenset())
        if engine.router.watched != watched:
            engine.router.watch(watched)

    def on_predict(self, engine: Any, x: dict, answers: dict[str, Any], ts: float) -> None:
        if engine.router is not None:
            self._watch(engine)
        for m in self._on_predict:
            if engine.seq <= m.config.warmup:
                continue
            if m.config.on == "features":
                alerts = m.monitor.observe(x, ts)
            else:
                answer = answers.get(m.model)
                if answer is None:
                    continue
                alerts = m.monitor.observe({"prediction": _score(*answer)}, ts)
            if alerts:
                self._alarm(engine, m, alerts)
            ends = m.monitor.drain_ends()
            if ends:
                self._episode_ends(engine, m, ends)

    def on_label(self, engine: Any, label: Any, answers: dict[str, Any], ts: float) -> None:
        if engine.router is not None:
            self._watch(engine)
        for m in self._on_label:
            if engine.n_labels <= m.config.warmup:
                continue
            if m.config.on == "label":
                value = float(label) if isinstance(label, bool | int | float) else None
                alerts = m.monitor.observe({"label": value}, ts)
            else:
                answer = answers.get(m.model)
                if answer is None:
                    continue
                slot = next(s for s in engine.slots if s.name == m.model)
                alerts = m.monitor.observe(
                    {"error": error_of(label, answer[0], is_classifier=slot.is_classifier)}, ts
                )
            if alerts:
                self._alarm(engine, m, alerts)
            elif m.config.action == "challenger" and _absorbed(m.monitor):
                self._start_challenger(engine, m)  # a later alarm of the same episode
            ends = m.monitor.drain_ends()
            if ends:
                self._episode_ends(engine, m, ends)
        if self.lanes:
            self._pair(engine, label, answers, ts)

    # -- alarms and actions -------------------------------------------------------------------

    @staticmethod
    def _emit(engine: Any, m: _Monitor, record: dict[str, Any], id: str, **extra: Any) -> None:
        """A monitor's record, stamped with its id, the monitor and the engine's position."""
        record.update(id=id, monitor=m.name, on=m.config.on, model=m.model,
                      engine_event=engine.seq, **extra)  # fmt: skip
        engine.emit(record)

    def _episode_ends(self, engine: Any, m: _Monitor, ends: list[Any]) -> None:
        """A ``drift_end`` record per episode that ended (start, end, peak, why)."""
        for e in ends:
            self._emit(engine, m, e.to_dict(), f"drift_end:{m.name}:{e.episode}")

    def _alarm(self, engine: Any, m: _Monitor, alerts: list[Any]) -> None:
        for a in alerts:
            self.alerts += 1
            id = f"drift:{m.name}:{engine.seq}:{a.field}"
            self._emit(engine, m, a.to_dict(), id, action=m.config.action)
        if m.config.router != "keep" and engine.router is not None:
            engine.router.router.on_drift(m.config.router, m.config.router_factor)
        action = m.config.action
        if action == "reset_reference" and not m.config.refresh_on_alarm:
            m.monitor.reset_reference()
        elif action == "snapshot":
            engine.request_snapshot("drift", f"drift on {m.name}")
        elif action == "rollback":
            self._rollback(engine, m)
        elif action == "challenger":
            self._start_challenger(engine, m)
        elif action == "reset":
            self._reset(engine, m)

    def _rollback(self, engine: Any, m: _Monitor) -> None:
        if engine.snapshots is None:
            return
        window = getattr(m.config.detector, "window_size", 200)
        horizon = engine.seq - window
        older = [i for i in engine.snapshots.store.list() if i.events <= horizon]
        if older:
            engine.rollback(older[-1].version, reason=f"drift on {m.name}")
            m.monitor.reset_reference()

    def _reset(self, engine: Any, m: _Monitor) -> None:
        """The ``reset`` action: the watched model starts over from a fresh copy of itself."""
        base = next(s for s in engine.slots if s.name == m.model)
        base.replace(base.model.clone())
        engine.emit(
            {
                "kind": "reset",
                "id": f"reset:{m.model}:{engine.seq}",
                "model": m.model,
                "version": base.version,
                "events": engine.seq,
            }
        )

    def _start_challenger(self, engine: Any, m: _Monitor) -> None:
        from stream_ml.models.slot import ModelSlot

        base = next(s for s in engine.slots if s.name == m.model)
        lane = self.lanes.setdefault(m.model, [])
        cfg = m.config
        fresh = base.model.clone()
        if cfg.challenger_start == "serving":  # the fresh copy serves, the old one challenges
            fresh, old = base.model, fresh
            base.replace(old)
            if engine.router is not None:
                engine.router.arm_replaced(base.name)
        if len(lane) >= cfg.challengers:  # all busy: the oldest starts over
            ch = min(lane, key=lambda c: c.since)
            slot = next(s for s in engine.slots if s.name == ch.name)
            slot.replace(fresh)
            slot.reset_counts(engine.seq)
            ch.restart(engine.seq, engine.last_ts)
            if engine.router is not None:
                engine.router.restarted(ch.name)
        else:
            taken = {c.name for c in lane}
            i = next(i for i in range(1, cfg.challengers + 1) if _ch_name(m.model, i) not in taken)
            name = _ch_name(m.model, i)
            slot = ModelSlot(
                name,
                fresh,
                metrics=base.prequential.names,
                window=base.prequential.window,
            )
            slot.created = engine.seq
            engine.add_slot(slot)
            ch = _Challenger(name, m.model, cfg, engine.seq, engine.last_ts)
            lane.append(ch)
            if engine.router is not None:
                engine.router.join(name, m.model)
        engine.emit(
            {
                "kind": "challenger",
                "id": f"challenger:{ch.name}:{engine.seq}",
                "model": m.model,
                "challenger": ch.name,
                "events": engine.seq,
            }
        )

    def _pair(self, engine: Any, label: Any, answers: dict[str, Any], ts: float) -> None:
        """Feed every challenger the paired difference on this label; promote a winner."""
        for model, lane in list(self.lanes.items()):
            base = next((s for s in engine.slots if s.name == model), None)
            if base is None or not lane:
                continue
            mine = answers.get(model)
            if mine is None:  # the watched model did not answer (a router served another)
                continue
            cls = base.is_classifier
            e_base = _err(label, mine[0], cls)
            for ch in lane:
                theirs = answers.get(ch.name)
                if theirs is None or (ch.restarts and ts <= ch.since_ts):
                    continue  # not answered, or answered by the model it had before a restart
                if ch.update(e_base - _err(label, theirs[0], cls)):
                    self._promote(engine, model, ch)
                    break

    def _promote(self, engine: Any, model: str, ch: _Challenger) -> None:
        base = next(s for s in engine.slots if s.name == model)
        slot = next(s for s in engine.slots if s.name == ch.name)
        router = engine.router
        if router is not None and getattr(router.router, "promoted", None) == ch.name:
            return  # the experiment made it the primary: not the drift stage's to move
        base.replace(slot.model)
        lane = self.lanes[model]
        # slots leave from the end only: this challenger and every slot added after it go, if
        # they are all challengers; otherwise it starts over in place
        i = engine.slots.index(slot)
        tail = engine.slots[i:]
        mine = {c.name: (lst, c) for lst in self.lanes.values() for c in lst}
        if all(s.name in mine for s in tail):
            for s in reversed(tail):
                lst, c = mine[s.name]
                lst.remove(c)
                if router is not None:
                    router.leave(s.name)
                engine.remove_slot(s.name)
        else:
            slot.replace(base.model.clone())
            slot.reset_counts(engine.seq)
            ch.restart(engine.seq, engine.last_ts)
            if router is not None:
                router.restarted(ch.name)
        if router is not None:
            router.arm_replaced(model)
        for c in lane:  # the others now face the promoted model: their comparisons start over
            c.clear()
        engine.request_snapshot("promotion", f"{ch.name} promoted")
        engine.emit(
            {
                "kind": "promotion",
                "id": f"promotion:{ch.name}:{engine.seq}",
                "experiment": "drift-challenger",
                "winner": ch.name,
                "replaces": model,
                "pairs": ch.n,
                "wins": ch.wins,
                "losses": ch.losses,
                "difference": ch.s,
                "events": engine.seq,
            }
        )
        ch.clear()
        for m in self.monitors:
            if m.model == model:
                m.monitor.reset_reference()

    def summary(self) -> list[dict[str, Any]]:
        out = []
        for m in self.monitors:
            dets = []
            for d in m.monitor.detectors:
                state = getattr(d, "state", None)
                calibration = getattr(d, "calibration", None)
                dets.append(
                    {
                        "detector": type(d).__name__,
                        "field": getattr(state, "field", None),
                        "calibration": calibration,
                        "calibration_status": (
                            calibration.get("status") if isinstance(calibration, dict) else None
                        ),
                        "last_statistic": getattr(state, "statistic", None),
                        "threshold": getattr(state, "threshold", None),
                        "drift": getattr(state, "drift", None),
                    }
                )
            out.append(
                {
                    "name": m.name,
                    "on": m.config.on,
                    "model": m.model,
                    "fields": list(m.monitor.fields),
                    "alerts": m.monitor.n_alerts,
                    "events": m.monitor.n_events,
                    "skipped": dict(m.monitor.skipped),
                    "episodes_on": m.monitor.episodes_on,
                    "episodes": m.monitor.n_episodes,
                    "suppressed": m.monitor.suppressed,
                    "state": dict(m.monitor.state),
                    "recent_episodes": [
                        e.to_dict() if hasattr(e, "to_dict") else e
                        for e in m.monitor.episodes()[-10:]
                    ],
                    "action": m.config.action,
                    "challengers": [c.as_dict() for c in self.lanes.get(m.model, ())]
                    if m.config.action == "challenger"
                    else [],
                    "detectors": dets,
                }
            )
        return out
