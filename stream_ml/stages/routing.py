"""The router stage: wires an experiment router (``stream_ml.experiments``) into the engine.

For each observation the router decides which models answer and which answer is served, with
what propensity; the decision is kept with the pending prediction. When the feedback arrives:

* the served model's **reward** goes to ``router.reward``: the feedback's ``reward`` when it has
  one, else from the label: 1.0 for a correct classification, minus the absolute error for a
  regression, 1.0 if anything was clicked for a ranking;
* every other model that answered gets its own score through ``router.record_outcome`` (shadow
  candidates, canary guards);
* an interleaved ranking is credited with ``router.credit(interleaved, clicks)``;
* the decision and reward are logged for off-policy evaluation (a bounded log).

Promotions. The stage sets the router's ``defer_promotions``. A promotion the router decides
during an event is forwarded at the end of that event: a ``promotion`` record in
``engine.events`` and, when the engine has a snapshot store and its snapshot policy's
``on_promotion`` is on (the default), a request ``("snapshot", "promotion", note)`` in
``engine.requests``. It takes effect when the engine routes its *next* observation (feedback
in between is credited as usual and cannot promote again). A runtime that handles requests
between events (the replay runner does) therefore snapshots the state just before the
promotion takes effect. (A promotion decided inside a ``summary()`` call is forwarded at the
end of the next observation and takes effect at the one after.)

Ranking requests: an observation with ``candidates`` (each a dict of features with an ``id``) is
scored candidate by candidate (``{**x, **candidate}``); a model's answer is its ranking (ids by
decreasing score).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from stream_ml.errors import EventError, MissingFieldError, ModelError, StreamMLError
from stream_ml.events import Prediction
from stream_ml.experiments import INTERLEAVED, Decision, OffPolicyLog
from stream_ml.experiments.ope import Estimate
from stream_ml.models.scores import error_of, positive_proba


def score_one(slot: Any, x: dict) -> float:
    """A ranking score: P(positive) for a classifier, the prediction for a regressor."""
    if slot.is_classifier:
        p = positive_proba(slot.model.predict_proba_one(x))
        return 0.0 if p is None else p
    y = slot.model.predict_one(x)
    return float(y) if y is not None else 0.0


def candidate_rows(x: dict, candidates: Sequence[dict]) -> list[tuple[str, dict]]:
    """``(id, features)`` for each candidate; the request's features are shared."""
    rows = []
    seen = set()
    for i, c in enumerate(candidates):
        cid = c.get("id")
        if cid is None or cid == "":
            raise MissingFieldError(f"candidates[{i}].id", "every candidate needs an id")
        cid = str(cid)
        if cid in seen:
            raise EventError(f"candidates[{i}].id", f"duplicate candidate id {cid!r}")
        seen.add(cid)
        rows.append((cid, {**x, **{k: v for k, v in c.items() if k != "id"}}))
    return rows


def rank(slot: Any, rows: list[tuple[str, dict]]) -> list[str]:
    """Candidate ids by decreasing score (ties keep the request's order)."""
    scores = [score_one(slot, f) for _, f in rows]
    order = sorted(range(len(rows)), key=lambda i: -scores[i])
    return [rows[i][0] for i in order]


class RouterStage:
    """The router, its reward rule and its off-policy log.

    Parameters
    ----------
    router
        A router from :mod:`stream_ml.experiments` (built from its config).
    model_names
        The engine's model names, in slot order.
    log_size
        How many (decision, reward) records the off-policy log keeps (the newest).
    """

    defers = False  # a stage pickled before promotions were deferred: they act at once

    def __init__(self, router: Any, model_names: Sequence[str], *, log_size: int = 100_000):
        self.router = router
        self.names = tuple(model_names)
        self.log_size = log_size
        self._log: deque[tuple[str, float, float]] = deque(maxlen=log_size)
        self.defers = hasattr(router, "apply_promotion")
        if self.defers:
            router.defer_promotions = True

    def settle(self) -> None:
        """Let a promotion decided and forwarded at an earlier event take effect (called before
        each observation is routed)."""
        router = self.router
        if self.defers and router.pending_promotion is not None and not router.events:
            router.apply_promotion()

    def forward(self, engine: Any) -> None:
        """The router's promotion events: ``promotion`` records, and snapshot requests when the
        engine has a store and its policy's ``on_promotion`` is on (module docstring)."""
        router = self.router
        if not getattr(router, "events", None):
            return
        policy = engine.snapshot_policy
        snapshot = engine.snapshots is not None and getattr(policy, "on_promotion", True)
        for ev in router.pop_events():
            engine.events.append(
                {
                    "kind": "promotion",
                    "id": f"{ev.experiment}:{ev.decisions}",
                    "experiment": ev.experiment,
                    "winner": ev.winner,
                    "reason": ev.reason,
                    "decisions": ev.decisions,
                }
            )
            if snapshot:
                note = f"{ev.experiment}: {ev.winner} promoted ({ev.reason})"
                engine.requests.append(("snapshot", "promotion", note))

    def route(self, key: str | None, rng: np.random.Generator) -> Decision:
        self.settle()
        return self.router.route(key, rng)

    def interleave(self, decision: Decision, rankings: dict[str, list[str]], rng: Any) -> Any:
        return self.router.interleave(decision, rankings, rng)

    @staticmethod
    def reward_of(slot: Any, answer: Any, label: Any, clicks: Any) -> float | None:
        """The reward a model earned on one event (None when there is nothing to score)."""
        if clicks is not None:
            return 1.0 if clicks else 0.0
        if label is None or answer is None:
            return None
        if answer[0] is None:  # no answer yet: a classifier earned nothing
            return 0.0 if slot.is_classifier else None
        err = error_of(label, answer[0], is_classifier=slot.is_classifier)
        if err is None:
            return None
        return 1.0 - err if slot.is_classifier else -err

    def feedback(
        self,
        decision: Decision,
        interleaved: Any,
        slots: Sequence[Any],
        answers: Sequence[Any],
        label: Any,
        reward: float | None,
        clicks: list[str] | None,
    ) -> None:
        """Reward the router for one decision (see the module docstring)."""
        router = self.router
        if interleaved is not None:
            router.credit(interleaved, clicks or [])
            return
        served_slot = None
        for slot, answer in zip(slots, answers):
            if answer is None or slot.name == decision.served:
                if slot.name == decision.served:
                    served_slot = slot
                continue
            r = self.reward_of(slot, answer, label, clicks)
            if r is not None:
                router.record_outcome(slot.name, r)
        if reward is None and served_slot is not None:
            i = self.names.index(served_slot.name)
            reward = self.reward_of(served_slot, answers[i], label, clicks)
        if reward is None:
            return
        router.reward(decision, reward)
        if decision.arm != INTERLEAVED:
            self._log.append((decision.arm, decision.propensity, float(reward)))

    def off_policy(self) -> dict[str, dict[str, Any]]:
        """IPS, SNIPS and DR estimates of serving each model always, from the log."""
        arms = [a for a in self.router.arms if a != INTERLEAVED]
        if not self._log or not arms:
            return {}
        log = OffPolicyLog(arms)
        for arm, p, r in self._log:
            if arm in arms and p > 0:
                log.add(arm, p, r)
        out: dict[str, dict[str, Any]] = {}
        for a in arms:
            ests: list[Estimate] = [log.ips(a), log.snips(a), log.doubly_robust(a)]
            out[a] = {
                e.method: {"value": e.value, "low": e.low, "high": e.high, "n": e.n} for e in ests
            }
        return out

    def summary(self) -> dict[str, Any]:
        s = dict(self.router.summary())
        s["off_policy"] = self.off_policy()
        return s


def predict_routed(
    engine: Any, x: dict, id: str, key: str | None, ts: float, seq: int, candidates: Any
) -> Any:
    slots, stage = engine.slots, engine.router
    rows = None
    if candidates is not None:
        try:
            rows = candidate_rows(x, candidates)
        except StreamMLError as err:
            raise engine._count(err) from None
    if stage is not None:
        decision = stage.route(key, engine.rng)
        if stage.defers and stage.router.events:  # decided in a summary() call
            stage.forward(engine)
        answering = set(decision.answering)
        served, propensity = decision.served, decision.propensity
    else:
        decision, answering = None, {s.name for s in slots}
        served, propensity = engine.primary, 1.0
    answers: list[Any] = []
    for slot in slots:
        if slot.name not in answering:
            answers.append(None)
            continue
        try:
            answers.append((rank(slot, rows), None) if rows is not None else slot._predict(x))
        except Exception as exc:
            raise engine._count(ModelError(slot.name, "predict", exc)) from exc
    interleaved = None
    if served == INTERLEAVED:
        if rows is None:
            raise engine._count(EventError("candidates", "an interleaving router needs candidates"))
        assert stage is not None and decision is not None
        rankings = {s.name: a[0] for s, a in zip(slots, answers) if a is not None}
        interleaved = stage.interleave(decision, rankings, engine.rng)
        y_pred, proba, version = list(interleaved.items), None, 0
    else:
        i = next(j for j, s in enumerate(slots) if s.name == served)
        y_pred, proba = answers[i]
        version = slots[i].version
    shadow = {
        s.name: a[0] for s, a in zip(slots, answers) if a is not None and s.name != served
    } or None
    engine.seq = seq
    engine.last_ts = ts
    engine.pending.add(id, (x, ts, tuple(answers), decision, interleaved, rows))
    if engine.drift is not None and rows is None:
        engine.drift.on_predict(
            engine, x, {s.name: a for s, a in zip(slots, answers) if a is not None}, ts
        )
    return Prediction(id, served, y_pred, proba, key, ts, seq, propensity, version, shadow)


def learn_routed(engine: Any, id: str, record: tuple, label: Any, reward: Any, clicks: Any) -> None:
    x, pred_ts, answers, decision, interleaved, rows = record
    if rows is not None and clicks is not None:
        shown = set(interleaved.items) if interleaved is not None else None
        if shown is None:
            served_i = next(
                (
                    i
                    for i, s in enumerate(engine.slots)
                    if decision is None or s.name == decision.served
                ),
                0,
            )
            shown = set(answers[served_i][0]) if answers[served_i] is not None else set()
        bad = [c for c in clicks if c not in shown]
        if bad:
            engine.pending.records[id] = record  # nothing changes
            raise engine._count(EventError("clicks", f"clicked items were not shown: {bad}"))
    stage = engine.router
    try:
        if stage is not None and decision is not None:
            stage.feedback(decision, interleaved, engine.slots, answers, label, reward, clicks)
            stage.forward(engine)
    except StreamMLError as err:
        engine.pending.records[id] = record
        raise engine._count(err) from None
    engine.n_feedback += 1
    if rows is not None:
        if clicks is None:
            return
        clicked = set(clicks)
        for slot in engine.slots:
            for cid, features in rows:
                slot.learn_one(features, cid in clicked)
        engine.n_labels += 1
        return
    if label is not None:
        engine._learn_answers(x, label, answers, pred_ts)
