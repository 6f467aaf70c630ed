"""The evaluation stage: what the engine runs at each label join beyond the prequential
metrics: the slices (:mod:`.slices`) and the calibration monitor (:mod:`.calibration`).

The engine holds one (``Engine.evaluation``), or None when neither is configured: the label
join then pays one ``None`` check. The calibration monitor reads the Prequential rings every
``ece_check_every`` labels (not per label) and keeps episodes: one ``calibration_alarm``
record when a model's rolling ECE goes above ``ece_alarm``; the episode ends at the first check
where it is back at or below it. No episode opens while the ring holds fewer than ``ece_min_n``
(default 200) events with probabilities: a perfectly calibrated classifier's ECE is above 0.1
on 86 % of 20-event windows, 47 % at 50, 10 % at 100 and none of 400 at 200 (a new challenger,
a low-traffic arm or shadow, a small ``window``). With ``window`` below ``ece_min_n`` the
alarm never fires.

>>> from river import linear_model
>>> from stream_ml import Engine
>>> e = Engine({"lr": linear_model.LogisticRegression()}, slices=["x_sign:0"], seed=1)
>>> for i in range(40):
...     x = {"x": (-1) ** i * 1.0, "x_sign": (-1) ** i * 1.0}
...     _ = e.predict(x, id=str(i))
...     e.learn(str(i), i % 2 == 0)
>>> [(s["slice"], s["n"], s["value"]) for s in e.summary()["slices"]["models"]["lr"]["slices"]]
[('x_sign>=0', 20, 0.95), ('x_sign<0', 20, 1.0)]
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Any

from stream_ml.errors import ConfigError
from stream_ml.evaluation.slices import SliceStage


class EvaluationStage:
    """Slices (a :class:`~stream_ml.evaluation.slices.SliceStage` or None) and the ECE monitor
    (``ece_alarm`` None: off; no alarm on fewer than ``ece_min_n`` events)."""

    ece_min_n = 200  # stages pickled before it existed

    def __init__(
        self,
        slices: Any = None,
        *,
        ece_alarm: float | None = None,
        ece_check_every: int = 500,
        ece_min_n: int = 200,
    ) -> None:
        if ece_alarm is not None and not 0 < ece_alarm < 1:
            raise ConfigError(f"ece_alarm must be in (0, 1), got {ece_alarm}")
        if ece_check_every < 1:
            raise ConfigError(f"ece_check_every must be >= 1, got {ece_check_every}")
        if ece_min_n < 1:
            raise ConfigError(f"ece_min_n must be >= 1, got {ece_min_n}")
        self.slices: SliceStage | None = (
            slices if isinstance(slices, SliceStage) or slices is None else SliceStage(slices)
        )
        self.needs_key = self.slices is not None and self.slices.needs_key
        self.ece_alarm = ece_alarm
        self.ece_check_every = ece_check_every
        self.ece_min_n = ece_min_n
        self.labels = 0
        self.ece_open: dict[str, dict[str, Any]] = {}
        self.ece_episodes: deque[dict[str, Any]] = deque(maxlen=100)
        # prediction id -> key, for records that hold none (oldest first: see remember_key)
        self.keys: OrderedDict[str, Any] = OrderedDict()
        self._bind()

    def _bind(self) -> None:
        # slices alone, with no key to look up: the engine calls the slices' own on_label
        if self.slices is not None and self.ece_alarm is None and not self.needs_key:
            self.on_label = self.slices.on_label  # type: ignore[method-assign]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("on_label", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        keys = state.get("keys")
        if type(keys) is dict:  # a snapshot written when the map was a plain dict
            state["keys"] = OrderedDict(keys)
        self.__dict__.update(state)
        self._bind()

    def remember_key(self, id: str, key: Any, pending: dict[str, Any]) -> None:
        """Keep a routed / multi-model prediction's key until its label (slices by key).

        Bounded at O(1) per call, worst case: once the map holds 1,024 more ids than the
        pending store, each call takes its two oldest ids (``popitem(last=False)`` of an
        ``OrderedDict``: a plain dict's first item is found by walking over the deleted
        entries at its front, O(n) between resizes), drops those no longer pending (evicted,
        expired) and puts the others back at the end; the map stays within about twice the
        pending store, and no call rebuilds it (a rebuild of 200k ids is tens of ms).
        """
        keys = self.keys
        keys[id] = key
        if len(keys) > len(pending) + 1024:
            for _ in range(2):
                oldest, value = keys.popitem(last=False)
                if oldest in pending:  # still waiting for its label: to the back
                    keys[oldest] = value

    def on_label(
        self, engine: Any, id: str, x: dict, key: Any, label: Any, answers: Sequence[Any]
    ) -> None:
        if self.needs_key and key is None:
            key = self.keys.pop(id, None)
        if self.slices is not None:
            self.slices.on_label(engine, id, x, key, label, answers)
        if self.ece_alarm is not None:
            self.labels += 1
            if not self.labels % self.ece_check_every:
                self.check_ece(engine)

    def check_ece(self, engine: Any) -> None:
        threshold = self.ece_alarm
        assert threshold is not None
        if self.ece_open:  # the episodes of a model no longer in the engine end here
            names = {slot.name for slot in engine.slots}
            for name in [m for m in self.ece_open if m not in names]:
                ep = self.ece_open.pop(name)
                ep["end"] = engine.seq
                ep["reason"] = "model removed"
        for slot in engine.slots:
            if not slot.is_classifier:
                continue
            cal = slot.prequential.calibration()
            ece = cal["ece"]
            ep = self.ece_open.get(slot.name)
            if ep is not None:
                if ece is None or ece <= threshold:
                    ep["end"] = engine.seq
                    del self.ece_open[slot.name]
                continue
            if ece is None or ece <= threshold or cal["n"] < self.ece_min_n:
                continue
            ep = {"model": slot.name, "start": engine.seq, "end": None, "ece": ece}
            self.ece_open[slot.name] = ep
            self.ece_episodes.append(ep)
            engine.emit(
                {
                    "kind": "calibration_alarm",
                    "type": "calibration_alarm",
                    "id": f"calibration_alarm:{slot.name}:{engine.seq}",
                    "model": slot.name,
                    "ece": ece,
                    "threshold": threshold,
                    "n": cal["n"],
                    "event": engine.seq,
                }
            )

    def calibration_alarms(self, name: str) -> list[dict[str, Any]]:
        """Model ``name``'s episodes among the last 100, and its open one if older."""
        out = [dict(e) for e in self.ece_episodes if e["model"] == name]
        ep = self.ece_open.get(name)
        if ep is not None and all(e is not ep for e in self.ece_episodes):
            out.insert(0, dict(ep))
        return out
