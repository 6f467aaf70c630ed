"""The router stage: wires an experiment router (``stream_ml.experiments``) into the engine.

For each observation the router decides which models answer and which answer is served, with
what propensity; the decision is kept with the pending prediction. When the feedback arrives:

* the served model's **reward** goes to ``router.reward``: the feedback's ``reward`` when it has
  one, else from the label (a model that gave no answer, ``y_pred`` None, as one that starts
  empty does before its first labels, earns no reward at all, not a zero: a bandit does not
  punish a model for still learning): 1.0 for a correct classification, minus the absolute
  error for a regression, 1.0 if anything was clicked for a ranking;
* every other model that answered gets its own score through ``router.record_outcome`` (shadow
  candidates, canary guards);
* an interleaved ranking is credited with ``router.credit(interleaved, clicks)``;
* the decision and reward are logged for off-policy evaluation (a bounded log).

Promotions. The stage sets the router's ``defer_promotions``. A promotion the router decides
during an event is forwarded at the end of that event into the stage's ``outbox``, which the
engine moves to its own: a ``promotion`` record and a snapshot request tagged ``promotion`` (the
runtime's driver takes it when there is a store and the snapshot policy's ``on_promotion`` is
on, the default). It takes effect when the engine routes its *next* observation (feedback
in between is credited as usual and cannot promote again). The driver handles requests at the
record boundary, so it snapshots the state just before the promotion takes effect. (A
promotion decided inside a ``summary()`` call is forwarded at the end of the next observation
and takes effect at the one after.)

Models added at run time (a drift challenger, ``Engine.add_slot``) join the experiment. Until
the router can serve them they are **shadows**: they answer every observation, are scored from
their first label (the engine's metrics), and their rewards on events served by other models are
gathered; after ``join_after`` such rewards (default 50) they join a router that takes new arms
(the bandits: Thompson, epsilon-greedy, UCB, Exp3) as arms of their own, the policy starting from
the shadow evidence, and can win traffic like any arm. Routers that take no new arms (fixed, A/B,
shadow, canary, interleaving) keep them in shadow. A model that a drift monitor watches
(``on = "prediction"`` or ``"error"``) answers every observation, served or not, so that its
monitor sees every event and its challengers are compared with it on the same labels
(``stream_ml.stages.monitoring``); when a challenger is promoted, the watched model's
arm starts over (``reset_arm``) and the challenger's arm leaves (``remove_arm``; rewards still
pending for it are dropped).

Ranking requests: an observation with ``candidates`` (each a dict of features with an ``id``) is
scored candidate by candidate (``{**x, **candidate}``); a model's answer is its ranking (ids by
decreasing score).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from stream_ml.errors import EventError, MissingFieldError, ModelError
from stream_ml.evaluation.pending import Routed
from stream_ml.events import Prediction, SnapshotRequest
from stream_ml.experiments import INTERLEAVED, Decision, OffPolicyLog
from stream_ml.experiments.ope import Estimate
from stream_ml.experiments.stats import ArmStats
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
    join_after = 50  # shadow rewards before a model added at run time becomes an arm
    # class-level defaults for stages pickled before run-time arms
    joined: dict[str, str | None] = {}  # read only; replaced per instance
    shadowing: dict[str, ArmStats] = {}  # read only; replaced per instance
    always: frozenset[str] = frozenset()
    watched: frozenset[str] = frozenset()  # models a drift monitor watches (their answers)

    def __init__(self, router: Any, model_names: Sequence[str], *, log_size: int = 100_000):
        self.router = router
        self.names = tuple(model_names)
        self.log_size = log_size
        self._log: deque[tuple[str, float, float]] = deque(maxlen=log_size)
        self.defers = hasattr(router, "apply_promotion")
        if self.defers:
            router.defer_promotions = True
        self.outbox: list[Any] = []  # records and requests for the engine's outbox
        self.joined = {}  # models added at run time -> the model they challenge (or None)
        self.shadowing = {}  # run-time models not yet arms -> their shadow rewards
        self.always = frozenset()  # models that answer every observation (module docstring)

    # -- models added at run time ---------------------------------------------------------------

    def join(self, name: str, watched: str | None = None) -> None:
        """A model added at run time (``watched``: the model it challenges) enters in shadow."""
        if name in self.names:
            return
        self.names = (*self.names, name)
        self.joined = {**self.joined, name: watched}
        self.shadowing = {**self.shadowing, name: ArmStats()}
        self._always()

    def leave(self, name: str) -> None:
        """A model added at run time is removed (a promoted or dropped drift challenger)."""
        self.names = tuple(n for n in self.names if n != name)
        self.joined = {k: v for k, v in self.joined.items() if k != name}
        self.shadowing = {k: v for k, v in self.shadowing.items() if k != name}
        if name in self.router.stats and len(self.router.arms) > 1:
            self.router.remove_arm(name)
        self._always()

    def arm_replaced(self, name: str) -> None:
        """The model behind ``name`` was replaced (a drift promotion): its arm starts over."""
        if name in getattr(self.router, "stats", {}) and getattr(
            self.router, "accepts_arms", False
        ):
            self.router.reset_arm(name)

    def restarted(self, name: str) -> None:
        """A run-time model started over (a challenger restarted): back to shadow."""
        if name in self.router.stats and len(self.router.arms) > 1:
            self.router.remove_arm(name)
        if name in self.joined:
            self.shadowing = {**self.shadowing, name: ArmStats()}
        self._always()

    def watch(self, models: frozenset[str]) -> None:
        """The models whose predictions or errors a drift monitor watches: they answer every
        observation (in shadow when not served), so that the monitor sees every event."""
        self.watched = frozenset(models)
        self._always()

    def _always(self) -> None:
        watched = {w for w in self.joined.values() if w is not None} | self.watched
        self.always = frozenset(n for n in self.names if n not in self.router.stats) | watched

    def _shadow_reward(self, name: str, r: float) -> None:
        st = self.shadowing.get(name)
        if st is None:
            return
        st.update(r)
        router = self.router
        if st.n >= self.join_after and getattr(router, "accepts_arms", False):
            self.shadowing = {k: v for k, v in self.shadowing.items() if k != name}
            router.add_arm(name, st)
            self._always()

    def take_outbox(self) -> list[Any]:
        out, self.outbox = self.outbox, []
        return out

    def settle(self) -> None:
        """Let a promotion decided and forwarded at an earlier event take effect (called before
        each observation is routed)."""
        router = self.router
        if self.defers and router.pending_promotion is not None and not router.events:
            router.apply_promotion()

    def forward(self) -> None:
        """The router's promotion events: ``promotion`` records and snapshot requests, into
        :attr:`outbox` (module docstring)."""
        router = self.router
        if not getattr(router, "events", None):
            return
        outbox = self.outbox
        for ev in router.pop_events():
            outbox.append(
                {
                    "kind": "promotion",
                    "id": f"{ev.experiment}:{ev.decisions}",
                    "experiment": ev.experiment,
                    "winner": ev.winner,
                    "reason": ev.reason,
                    "decisions": ev.decisions,
                }
            )
            note = f"{ev.experiment}: {ev.winner} promoted ({ev.reason})"
            outbox.append(SnapshotRequest("promotion", note))

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
        if answer[0] is None:  # no answer yet (a model that starts empty): not a zero reward
            return None
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
        served_slot = served_answer = None
        stats = router.stats
        served = decision.served
        for slot, answer in zip(slots, answers):
            if answer is None:
                if slot.name == served:
                    served_slot = slot
                continue
            name = slot.name
            if name == served:
                served_slot, served_answer = slot, answer
                continue
            if clicks is None and label is not None and slot.is_classifier:
                y_pred = answer[0]  # reward_of inlined: the hot path of a classifier
                if y_pred is None:
                    continue
                r = 1.0 if y_pred == label else 0.0
            else:
                r = self.reward_of(slot, answer, label, clicks)
                if r is None:
                    continue
            if name in stats:
                router.record_outcome(name, r)
            else:  # added at run time, not an arm yet: shadow evidence
                self._shadow_reward(name, r)
        if decision.arm not in stats:  # the arm left (a promoted challenger): nothing to learn
            getattr(router, "_pending", {}).pop(decision.seq, None)
            return
        if reward is None and served_slot is not None:
            reward = self.reward_of(served_slot, served_answer, label, clicks)
        if reward is None:
            return
        router.reward(decision, reward)
        if decision.arm != INTERLEAVED:
            self._log.append((decision.arm, decision.propensity, float(reward)))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_ope_cache", None)  # a cache of summary(): not state (the digest)
        return state

    def off_policy(self) -> dict[str, dict[str, Any]]:
        """IPS, SNIPS and DR estimates of serving each model always, from the log."""
        arms = [a for a in self.router.arms if a != INTERLEAVED]
        if not self._log or not arms:
            return {}
        # the same log gives the same estimates: recomputed only when a reward came in since
        # (the small-sample intervals are bootstrapped: not on every summary() call)
        key = (len(self._log), self._log[-1], tuple(arms))
        cached = getattr(self, "_ope_cache", None)
        if cached is not None and cached[0][0] == key[0] and cached[0][1] is key[1] \
                and cached[0][2] == key[2]:  # fmt: skip
            return cached[1]
        log = OffPolicyLog(arms)
        for arm, p, r in self._log:
            if arm in arms and p > 0:
                log.add(arm, p, r)
        out: dict[str, dict[str, Any]] = {}
        for a in arms:
            ests: list[Estimate] = [log.ips(a), log.snips(a), log.doubly_robust(a)]
            out[a] = {
                e.method: {
                    "value": e.value, "low": e.low, "high": e.high, "n": e.n, "ess": e.ess,
                    "interval": e.interval, "warning": e.warning,
                }
                for e in ests
            }  # fmt: skip
        self._ope_cache = (key, out)
        return out

    def summary(self) -> dict[str, Any]:
        s = dict(self.router.summary())
        s["off_policy"] = self.off_policy()
        return s


def predict_routed(
    stage: RouterStage | None,
    slots: Sequence[Any],
    primary: str,
    x: dict,
    id: str,
    key: str | None,
    ts: float,
    seq: int,
    candidates: Any,
    rng: np.random.Generator,
) -> tuple[Prediction, Routed]:
    """A routed prediction (or a ranking request without a router): the answer and the pending
    record; raises a StreamMLError (the engine counts it) and changes nothing then but the
    router's draw."""
    rows = candidate_rows(x, candidates) if candidates is not None else None
    if stage is not None:
        decision = stage.route(key, rng)
        if stage.defers and stage.router.events:  # decided in a summary() call
            stage.forward()
        if len(slots) > len(stage.names):  # added by Engine.add_slot: they join (in shadow)
            for s in slots:
                if s.name not in stage.names:
                    stage.join(s.name)
                    if not s.created:
                        s.created = seq - 1  # added after the engine's last event
        # a slot answers when the decision names it or it always answers (module docstring)
        answering, always = decision.answering, stage.always
        served, propensity = decision.served, decision.propensity
    else:
        decision, answering, always = None, None, frozenset()
        served, propensity = primary, 1.0
    answers: list[Any] = []
    served_i = -1
    shadow: dict[str, Any] | None = None
    for i, slot in enumerate(slots):
        name = slot.name
        if answering is not None and name not in answering and name not in always:
            answers.append(None)
            continue
        try:
            answer = (rank(slot, rows), None) if rows is not None else slot._predict(x)
        except Exception as exc:
            raise ModelError(name, "predict", exc) from exc
        answers.append(answer)
        if name == served and served_i < 0:
            served_i = i
            continue
        if shadow is None:
            shadow = {}
        shadow[name] = answer[0]
    interleaved = None
    if served == INTERLEAVED:
        if rows is None:
            raise EventError("candidates", "an interleaving router needs candidates")
        assert stage is not None and decision is not None
        rankings = {s.name: a[0] for s, a in zip(slots, answers) if a is not None}
        interleaved = stage.interleave(decision, rankings, rng)
        y_pred, proba, version = list(interleaved.items), None, 0
    else:
        if served_i < 0:  # not among the slots: StopIteration, as before
            served_i = next(j for j, s in enumerate(slots) if s.name == served)
        y_pred, proba = answers[served_i]
        slot = slots[served_i]
        version = slot.version
        slot.served += 1
    record = Routed(x, ts, tuple(answers), decision, interleaved, rows)
    return Prediction(id, served, y_pred, proba, key, ts, seq, propensity, version, shadow), record


def check_feedback(
    record: Routed, slots: Sequence[Any], clicks: list[str] | None,
    shown: list[str] | None = None,
) -> None:
    """Refuse clicks on items that were not shown, and a ``shown`` list naming items that
    were not ranked or leaving out a clicked one (raises; nothing changes)."""
    if record.rows is None or (clicks is None and shown is None):
        return
    interleaved, decision, answers = record.interleaved, record.decision, record.answers
    if interleaved is not None:
        ranked = set(interleaved.items)
    else:
        served_i = next(
            (i for i, s in enumerate(slots) if decision is None or s.name == decision.served), 0
        )
        ranked = set(answers[served_i][0]) if answers[served_i] is not None else set()
    if shown is not None:
        seen = set(shown)
        bad = [c for c in seen if c not in ranked]
        if bad:
            raise EventError("shown", f"items were not in the ranking: {sorted(bad)}")
        ranked = seen
    bad = [c for c in clicks or () if c not in ranked]
    if bad:
        raise EventError("clicks", f"clicked items were not shown: {bad}")


def feed_router(
    stage: RouterStage,
    record: Routed,
    slots: Sequence[Any],
    label: Any,
    reward: float | None,
    clicks: list[str] | None,
) -> None:
    """Reward the router for a routed record's feedback; its promotions into its outbox."""
    stage.feedback(
        record.decision, record.interleaved, slots, record.answers, label, reward, clicks
    )
    stage.forward()
