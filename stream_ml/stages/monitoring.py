"""The drift stage: monitors on features, predictions, labels and errors, and actions on alarms.

What to watch is configuration (``[[drift]]`` tables, or :class:`MonitorConfig` in Python)::

    [[drift]]
    on = "features"                  # "features" | "prediction" | "label" | "error"
    fields = ["x1", "x2"]            # features only; the others watch one value per event
    detector = {kind = "ks", reference_size = 500, window_size = 200, check_every = 20, ert = 10000}
    action = "alert"   # or "snapshot", "rollback", "reset_reference", "challenger"

* ``prediction`` watches the primary model's score (P(positive) for a classifier, the value for a
  regressor), ``label`` the labels as they arrive, ``error`` the primary's 0/1 error (or absolute
  error for a regressor); ``model = "name"`` watches another model.
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
  new reference; ``challenger`` starts a fresh copy of the watched model that learns from the
  post-drift labels only, and promotes it (its model replaces the primary's) once its rolling
  metric beats the primary's over ``challenger_min_labels`` labels.
* ``router = "reset"`` or ``"discount"`` (with ``router_factor``) also tells the experiment
  router, on every alarm, to forget (or shrink by the factor) its statistics, so that a bandit
  re-learns which model is best after the change (``on_drift``: docs/experiments.md). The
  default ``"keep"`` leaves it alone.
"""

from __future__ import annotations

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
    action: Literal["alert", "snapshot", "rollback", "reset_reference", "challenger"] = "alert"
    challenger_min_labels: int = Field(default=500, ge=10)
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
        self.alerts = 0
        self.challengers: dict[str, dict[str, Any]] = {}

    # -- observation --------------------------------------------------------------------------

    def on_predict(self, engine: Any, x: dict, answers: dict[str, Any], ts: float) -> None:
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
            ends = m.monitor.drain_ends()
            if ends:
                self._episode_ends(engine, m, ends)
        if self.challengers:
            self._check_challengers(engine)

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

    def _rollback(self, engine: Any, m: _Monitor) -> None:
        if engine.snapshots is None:
            return
        window = getattr(m.config.detector, "window_size", 200)
        horizon = engine.seq - window
        older = [i for i in engine.snapshots.store.list() if i.events <= horizon]
        if older:
            engine.rollback(older[-1].version, reason=f"drift on {m.name}")
            m.monitor.reset_reference()

    def _start_challenger(self, engine: Any, m: _Monitor) -> None:
        if m.model in self.challengers:
            return  # one challenger at a time per model
        from stream_ml.models.slot import ModelSlot

        base = next(s for s in engine.slots if s.name == m.model)
        name = f"{m.model}~challenger"
        slot = ModelSlot(
            name, base.model.clone(), metrics=base.prequential.names, window=base.prequential.window
        )
        engine.add_slot(slot)
        self.challengers[m.model] = {
            "slot": name,
            "since": engine.seq,
            "min_labels": m.config.challenger_min_labels,
        }
        engine.emit(
            {
                "kind": "challenger",
                "id": f"challenger:{name}:{engine.seq}",
                "model": m.model,
                "challenger": name,
                "events": engine.seq,
            }
        )

    def _check_challengers(self, engine: Any) -> None:
        for model, info in list(self.challengers.items()):
            ch = next((s for s in engine.slots if s.name == info["slot"]), None)
            base = next((s for s in engine.slots if s.name == model), None)
            if ch is None or base is None or not ch.prequential.names:
                continue
            n = ch.prequential.n
            if n < info["min_labels"] or n % 100:
                continue
            metric = ch.prequential.names[0]
            mine = ch.prequential.rolling()[metric]
            theirs = base.prequential.rolling()[metric]
            better = (
                mine < theirs if not ch.prequential.metrics[0].bigger_is_better else mine > theirs
            )
            if better:
                base.replace(ch.model)
                engine.remove_slot(ch.name)
                del self.challengers[model]
                engine.request_snapshot("promotion", f"{ch.name} promoted")
                engine.emit(
                    {
                        "kind": "promotion",
                        "id": f"promotion:{ch.name}:{engine.seq}",
                        "experiment": "drift-challenger",
                        "winner": ch.name,
                        "replaces": model,
                        "metric": metric,
                        "challenger": mine,
                        "primary": theirs,
                        "events": engine.seq,
                    }
                )
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
                    "detectors": dets,
                }
            )
        return out
