"""The engine: owns the order of the stages, and nothing else.

Observation: features -> router -> models -> Prediction.
Feedback: join with the pending prediction -> metrics -> models learn -> router reward -> monitors.

The engine is plain, deterministic, single-threaded state. Every runtime (the embedded loop, the
replay runner, the server, the Bytewax dataflow) drives it through the same few verbs:
``predict``, ``learn``, ``process``.

>>> from river import linear_model, preprocessing, tree
>>> engine = Engine(models={
...     "lr": preprocessing.StandardScaler() | linear_model.LogisticRegression(),
...     "tree": tree.HoeffdingTreeClassifier(),
... })
>>> p = engine.predict({"x1": 0.3, "x2": 1.0}, id="e1", key="user-7", ts=1700000000.0)
>>> p.id, p.model
('e1', 'lr')
>>> engine.learn("e1", True)
>>> engine.learn("e1", True)
Traceback (most recent call last):
...
stream_ml.errors.UnknownIdError: field 'id': no pending prediction with id 'e1'
>>> engine.summary()["errors"]["by_code"]
{'unknown_id': 1}
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from stream_ml.errors import (
    ConfigError,
    DuplicateIdError,
    EventError,
    ExpiredIdError,
    FeedbackError,
    ModelError,
    StreamMLError,
    UnknownIdError,
)
from stream_ml.evaluation.pending import Answers, PendingStore, Routed
from stream_ml.evaluation.stage import EvaluationStage
from stream_ml.events import (
    Ack,
    ErrorRecord,
    Feedback,
    Observation,
    Prediction,
    SnapshotRequest,
    parse_message,
    quick_fields,
)
from stream_ml.models.slot import ModelSlot
from stream_ml.stages.monitoring import DriftStage, MonitorConfig
from stream_ml.stages.routing import RouterStage, check_feedback, feed_router, predict_routed


class FeatureStage(Protocol):
    """What the engine needs from a feature stage (see :mod:`stream_ml.features`)."""

    def transform_one(self, x: dict, ts: float) -> dict: ...

    def learn_one(self, x: dict, ts: float, y: Any) -> None: ...


_new = object.__new__  # builds the one-model Prediction on the hot path (see predict)
_DEFAULT_METRICS = {True: ("Accuracy",), False: ("MAE",)}
OUTBOX_LIMIT = 10_000  # records an engine driven by hand keeps for its caller (see Engine.emit)


class Engine:
    """An online learning engine around named River models.

    By default the first model serves and the others run in shadow: every model predicts,
    learns and is scored on every event.

    Parameters
    ----------
    models
        Named River estimators; the first one listed serves.
    metrics
        River metric names scored prequentially for every model (default: Accuracy for
        classifiers, MAE for regressors).
    window
        Number of scored events behind the rolling metrics.
    max_pending
        The most predictions waiting for a label; the oldest is evicted beyond it (counted).
    label_ttl
        Event-time seconds a prediction waits for its label before it expires (counted).
    seed
        Seed of the engine's random generator (routers draw from it).
    name
        The engine's name (snapshots, metrics).
    features
        An optional feature stage (``transform_one``/``learn_one``).
    slices
        Slice-based evaluation of every model's first metric (``summary()["slices"]``): a
        :class:`~stream_ml.evaluation.slices.SliceConfig`, its dict (``{"by": ["region"],
        "top": 20, "margin": 0.05, "min_n": 200}``) or the list of dimensions; None: off.
    ece_alarm
        Emit a ``calibration_alarm`` record when a classifier's rolling ECE goes above this
        (checked every ``ece_check_every`` labels; one record per episode); None: off.
    ece_min_n
        No calibration alarm while the rolling window holds fewer scored events with
        probabilities (default 200: a small window's ECE is noisy).
    """

    evaluation: Any = None  # engines pickled before the evaluation stage existed

    def __init__(
        self,
        models: Mapping[str, Any],
        *,
        metrics: Sequence[str] | None = None,
        window: int = 1000,
        max_pending: int = 100_000,
        label_ttl: float | None = None,
        seed: int = 0,
        name: str = "engine",
        features: FeatureStage | None = None,
        router: Any = None,
        drift: Any = None,
        error_samples: int = 100,
        slices: Any = None,
        ece_alarm: float | None = None,
        ece_check_every: int = 500,
        ece_min_n: int = 200,
    ) -> None:
        if not models:
            raise ConfigError("an engine needs at least one model")
        self.name = name
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.slots: list[ModelSlot] = []
        for model_name, model in models.items():
            names = metrics
            if names is None:
                from river import base

                names = _DEFAULT_METRICS[isinstance(model, base.Classifier)]
            try:
                self.slots.append(ModelSlot(model_name, model, metrics=names, window=window))
            except TypeError as exc:
                raise ConfigError(str(exc)) from exc
        self.primary = self.slots[0].name
        self.pending = PendingStore(max_pending=max_pending, ttl=label_ttl)
        self.features = features
        self.router: RouterStage | None = None
        if router is not None:
            self.set_router(router)
        # what the stages hand the runtime: records (dicts) and SnapshotRequests, in order;
        # the runtime's driver takes them at each record boundary (``take_outbox``)
        self.outbox: list[dict[str, Any] | SnapshotRequest] = []
        self.drift: DriftStage | None = None
        if drift:
            self.drift = (
                drift
                if isinstance(drift, DriftStage)
                else DriftStage(
                    [
                        d if isinstance(d, MonitorConfig) else MonitorConfig.model_validate(d)
                        for d in drift
                    ],
                    [s.name for s in self.slots],
                    seed=seed,
                )
            )
        # slices and the calibration monitor, at the label join (None: off, one check per label)
        self.evaluation: EvaluationStage | None = None
        if slices or ece_alarm is not None:
            self.evaluation = EvaluationStage(
                slices or None,
                ece_alarm=ece_alarm,
                ece_check_every=ece_check_every,
                ece_min_n=ece_min_n,
            )
        self.snapshots: Any = None  # a SnapshotStage; not part of the state
        self.snapshot_policy: Any = None
        self.seq = 0
        self.n_feedback = 0
        self.n_labels = 0
        self.lag = [0, 0.0, 0.0]  # label lag (feedback ts - prediction ts): count, sum, max
        self.last_ts: float | None = None
        self.config: Any = None
        self.errors: Counter[str] = Counter()
        self.error_samples: deque[ErrorRecord] = deque(maxlen=error_samples)

    # -- observations -------------------------------------------------------------------------

    def predict(
        self,
        x: dict,
        *,
        id: str | None = None,
        key: str | None = None,
        ts: float | None = None,
        candidates: list[dict] | None = None,
        copy: bool = True,
    ) -> Prediction:
        """Predict for one observation (trusted dict; no validation cost).

        The features the models saw are held with the prediction until its label arrives.
        With ``candidates`` (dicts of features, each with an ``id``) it is a ranking request:
        the prediction is the list of candidate ids, best first. ``copy=False`` skips copying
        ``x`` (the caller promises not to mutate it before its label arrives; the runtimes,
        which build a fresh dict per event, do so).
        """
        seq = self.seq + 1
        if ts is None:
            ts = float(seq)
        pending = self.pending
        records = pending.records
        if id is None:
            id = str(seq)
        elif id in records:
            raise self._count(DuplicateIdError(id))
        if self.features is not None:
            try:
                x = self.features.transform_one(x, ts)
            except StreamMLError as err:
                raise self._count(err) from None
        elif copy:
            x = x.copy()  # what the models saw, safe from the caller mutating its dict later
        slots = self.slots
        if self.router is not None or candidates is not None:
            return self._predict_routed(x, id, key, ts, seq, candidates)
        if len(slots) == 1:
            slot = slots[0]
            proba_one = slot.proba_one
            try:
                if proba_one is not None:  # inline ModelSlot.predict: one frame less per event
                    proba = proba_one(x)
                    if proba:
                        # max(proba, key=proba.get) (the first largest, compared with >), by
                        # hand: a keyword call of max costs ~0.3 us, this loop ~0.1 us
                        items = iter(proba.items())
                        y_pred, top = next(items)
                        for label, p in items:
                            if p > top:
                                y_pred, top = label, p
                        slot.answered += 1
                    else:
                        y_pred = None
                else:
                    y_pred, proba = slot._predict(x)
            except Exception as exc:
                raise self._count(ModelError(slot.name, "predict", exc)) from exc
            if self.drift is not None:
                self.drift.on_predict(self, x, {slot.name: (y_pred, proba)}, ts)
            # the prediction is its own pending record (what the model saw and said): one
            # object per event, not two
            # (its fields set here: ``Prediction(...)`` runs a Python ``__init__`` in a frame of
            # its own, ~0.4 us; tests/test_engine.py checks that every field is set)
            pred = _new(Prediction)
            pred.id = id
            pred.model = self.primary
            pred.y_pred = y_pred
            pred.proba = proba
            pred.key = key
            pred.ts = ts
            pred.seq = seq
            pred.propensity = 1.0
            pred.model_version = slot.version
            pred.shadow = None
            pred.fallback = False
            pred.kind = "prediction"
            pred.x = x
            record: Prediction | Answers = pred
        else:
            outs = []
            for slot in slots:
                try:
                    outs.append(slot._predict(x))
                except Exception as exc:
                    raise self._count(ModelError(slot.name, "predict", exc)) from exc
            answers = tuple(outs)
            y_pred, proba = answers[0]
            shadow = {s.name: a[0] for s, a in zip(slots[1:], answers[1:])}
            record = Answers(x, ts, answers)
            if self.drift is not None:
                self.drift.on_predict(self, x, {s.name: a for s, a in zip(slots, answers)}, ts)
            pred = Prediction(
                id, self.primary, y_pred, proba, key, ts, seq, 1.0, slots[0].version, shadow
            )
            if self.evaluation is not None and self.evaluation.needs_key:
                self.evaluation.remember_key(id, key, records)  # an Answers holds no key
        self.seq = seq
        self.last_ts = ts
        if len(records) >= pending.max_pending:
            pending.make_room()
        records[id] = record
        if ts > pending.newest_ts:
            pending.newest_ts = ts
        if not seq % pending.check_every:
            pending.maintain()
        return pred

    # -- feedback -----------------------------------------------------------------------------

    def learn(
        self,
        id: str,
        label: Any = None,
        *,
        reward: float | None = None,
        clicks: list[str] | None = None,
        ts: float | None = None,
        shown: list[str] | None = None,
    ) -> None:
        """Join a label to the pending prediction ``id``: every model learns, then is scored.

        The models learn from the features they saw when they predicted, never recomputed (and
        are scored on what they answered then). ``reward`` (a business value) and ``clicks``
        (for rankings) go to the router; ``shown`` (for rankings) names the candidates the user
        saw: the models learn from those rows only (default: every candidate), and clicks must
        be among them. ``ts`` is the feedback's event time: the label lag (``ts`` minus the
        prediction's) is reported in ``summary()["labels"]``.

        Refused feedback changes nothing (the prediction stays pending, in its place): an id
        that is not pending, a feedback with neither label, reward nor clicks, a reward without
        a router, clicks on a prediction that is not a ranking, clicked items not shown. A model
        that raises in ``learn_one`` is an error too, and the prediction stays pending: the
        metrics are not updated (the other models may have learned already).
        """
        records = self.pending.records
        record = records.get(id)
        if record is None:
            if self.pending.was_dropped(id):
                raise self._count(ExpiredIdError(id))
            raise self._count(UnknownIdError(id))
        cls = type(record)
        if cls is Prediction:  # one model: the prediction is the record (see predict)
            if label is None or reward is not None or clicks is not None or shown is not None:
                raise self._count(
                    _refused(label, reward, clicks, routed=False, ranking=False, shown=shown)
                )
            x = record.x
            slot = self.slots[0]
            learn_one = slot.learn_one  # an attribute, not a method: LOAD_ATTR specializes
            try:
                learn_one(x, label)
            except Exception as exc:
                raise self._count(ModelError(slot.name, "learn", exc)) from exc
            del records[id]
            if slot.scored:
                slot.prequential.update(label, record.y_pred, record.proba)  # type: ignore[union-attr]
            self.n_feedback += 1
            self.n_labels += 1
            slot.learned += 1
            if ts is not None:
                self._lag(ts, record.ts)
            if self.features is not None:
                self.features.learn_one(x, record.ts, label)
            if self.drift is not None:
                answer = {slot.name: (record.y_pred, record.proba)}  # type: ignore[union-attr]
                self.drift.on_label(self, label, answer, record.ts)
            if self.evaluation is not None:
                answers = ((record.y_pred, record.proba),)  # type: ignore[union-attr]
                self.evaluation.on_label(self, id, x, record.key, label, answers)  # type: ignore[union-attr]
            return
        if cls is Routed:
            return self._learn_routed(id, record, label, reward, clicks, ts, shown)  # type: ignore[arg-type]
        if label is None or reward is not None or clicks is not None or shown is not None:
            raise self._count(
                _refused(label, reward, clicks, routed=False, ranking=False, shown=shown)
            )
        x = record.x
        self._learn_answers(x, label, record.answers, record.ts)  # type: ignore[union-attr]
        del records[id]
        self.n_feedback += 1
        if ts is not None:
            self._lag(ts, record.ts)
        self._after_label(x, label, record.answers, record.ts)  # type: ignore[union-attr]
        if self.evaluation is not None:
            self.evaluation.on_label(self, id, x, None, label, record.answers)  # type: ignore[union-attr]

    def _lag(self, ts: float, pred_ts: float) -> None:
        lag, d = self.lag, ts - pred_ts
        lag[0] += 1
        lag[1] += d
        if d > lag[2] or lag[0] == 1:
            lag[2] = d

    def _learn_answers(self, x: dict, label: Any, answers: tuple, pred_ts: float) -> None:
        """Every model learns, then every model that answered is scored (a model that raises
        stops it: the metrics are untouched)."""
        slots = self.slots
        for slot in slots:
            try:
                slot.learn_one(x, label)
            except Exception as exc:
                raise self._count(ModelError(slot.name, "learn", exc)) from exc
        for slot, answer in zip(slots, answers):
            if answer is not None and slot.scored:
                slot.prequential.update(label, answer[0], answer[1])
        for slot in slots:
            slot.learned += 1
        self.n_labels += 1

    def _after_label(self, x: dict, label: Any, answers: tuple, pred_ts: float) -> None:
        if self.features is not None:
            self.features.learn_one(x, pred_ts, label)
        if self.drift is not None:
            answered = {s.name: a for s, a in zip(self.slots, answers) if a is not None}
            self.drift.on_label(self, label, answered, pred_ts)

    def add_slot(self, slot: ModelSlot) -> None:
        """Add a model (it answers and learns from the next events on; a drift challenger)."""
        if any(s.name == slot.name for s in self.slots):
            raise ConfigError(f"a model named {slot.name!r} already exists")
        if not slot.created:
            slot.created = self.seq  # its counts run from here (see metrics())
        self.slots.append(slot)

    def remove_slot(self, name: str) -> None:
        """Remove the last-added model ``name`` (pending answers stay aligned with the rest)."""
        if self.slots[-1].name != name or len(self.slots) == 1:
            raise ConfigError(f"only the last-added model can be removed, not {name!r}")
        self.slots.pop()

    # -- the outbox: what the stages hand the runtime -------------------------------------------

    def emit(self, record: dict[str, Any]) -> None:
        """Hand a record (a drift alarm, a promotion, ...) to the runtime: an output with an id.

        A runtime's driver takes them at every record boundary. An engine driven by hand (its
        ``predict`` / ``learn`` in a user's loop) keeps at most ``OUTBOX_LIMIT`` of them: past
        that the oldest half is dropped and counted (``summary()["outbox_dropped"]``); call
        :meth:`take_outbox` (or :meth:`drain_events`) to read them."""
        outbox = self.outbox
        if len(outbox) >= OUTBOX_LIMIT:
            keep = OUTBOX_LIMIT // 2
            self.outbox_dropped = getattr(self, "outbox_dropped", 0) + len(outbox) - keep
            del outbox[: len(outbox) - keep]
        outbox.append(record)

    def request_snapshot(self, tag: str, note: str | None = None) -> None:
        """Ask the runtime for a snapshot tagged ``tag`` at the next record boundary.

        The runtime's driver decides (no store: nothing to do; ``on_promotion = false``: a
        ``promotion`` request is dropped)."""
        if SnapshotRequest(tag, note) not in self.outbox:  # bounded: one per tag and note
            self.outbox.append(SnapshotRequest(tag, note))

    def take_outbox(self) -> list[dict[str, Any] | SnapshotRequest]:
        """Everything emitted and requested since the last call, in order (the driver's)."""
        out, self.outbox = self.outbox, []
        return out

    def drain_events(self) -> list[dict[str, Any]]:
        """The records in the outbox (promotions, drift alarms, ...); requests stay."""
        records = [r for r in self.outbox if type(r) is dict]
        self.outbox = [r for r in self.outbox if type(r) is not dict]
        return records

    def pop_requests(self) -> list[tuple[str, str, str | None]]:
        """The snapshot requests in the outbox as ``("snapshot", tag, note)``; records stay."""
        requests = [r for r in self.outbox if type(r) is SnapshotRequest]
        self.outbox = [r for r in self.outbox if type(r) is not SnapshotRequest]
        return [("snapshot", r.tag, r.note) for r in requests]  # type: ignore[union-attr]

    # -- routed predictions (experiments, rankings) ---------------------------------------------

    def set_router(self, router: Any) -> None:
        """Route traffic with ``router``: a router, a router config, or its dict
        (``{"kind": "thompson"}``, as in a ``[router]`` table)."""
        names = [s.name for s in self.slots]
        if isinstance(router, dict):  # the [router] table of a config
            from pydantic import TypeAdapter, ValidationError

            from stream_ml.experiments import RouterConfig

            try:
                router = TypeAdapter(RouterConfig).validate_python(router)
            except ValidationError as exc:
                raise ConfigError(f"router: {exc.errors()[0]['msg']}") from None
        if hasattr(router, "build") and not hasattr(router, "route"):
            router = router.build(names)
        self.router = RouterStage(router, names)

    def _predict_routed(
        self, x: dict, id: str, key: str | None, ts: float, seq: int, candidates: Any
    ) -> Prediction:

        try:
            p, record = predict_routed(
                self.router, self.slots, self.primary, x, id, key, ts, seq, candidates, self.rng
            )
        except StreamMLError as err:
            raise self._count(err) from None
        finally:
            if self.router is not None and self.router.outbox:
                self.outbox += self.router.take_outbox()
        self.seq = seq
        self.last_ts = ts
        self.pending.add(id, record)
        if self.evaluation is not None and self.evaluation.needs_key:
            self.evaluation.remember_key(id, key, self.pending.records)
        if self.drift is not None and record.rows is None:
            answered = {s.name: a for s, a in zip(self.slots, record.answers) if a is not None}
            self.drift.on_predict(self, x, answered, ts)
        return p

    def _learn_routed(
        self, id: str, record: Routed, label: Any, reward: Any, clicks: Any, ts: float | None,
        shown: list[str] | None = None,
    ) -> None:

        stage = self.router
        ranking = record.rows is not None
        if label is None and reward is None and clicks is None:
            raise self._count(_refused(label, reward, clicks, routed=True, ranking=ranking))
        if (reward is not None and stage is None) or (clicks is not None and not ranking):
            raise self._count(
                _refused(label, reward, clicks, routed=stage is not None, ranking=ranking)
            )
        if shown is not None and not ranking:
            raise self._count(
                _refused(label, reward, clicks, routed=True, ranking=False, shown=shown)
            )
        try:
            check_feedback(record, self.slots, clicks, shown)
            if stage is not None and record.decision is not None:
                feed_router(stage, record, self.slots, label, reward, clicks)
        except StreamMLError as err:
            raise self._count(err) from None
        finally:
            if stage is not None and stage.outbox:
                self.outbox += stage.take_outbox()
        records = self.pending.records
        if ranking:
            del records[id]
            self.n_feedback += 1
            if clicks is None:
                return
            clicked = set(clicks)
            rows = record.rows
            if shown is not None:  # the models learn only from what the user saw
                seen = set(shown)
                rows = [(cid, features) for cid, features in rows if cid in seen]
            for slot in self.slots:
                try:
                    for cid, features in rows:
                        slot.learn_one(features, cid in clicked)
                except Exception as exc:  # counted like any model error (the router has its
                    # reward already, so the ranking is consumed, not held)
                    raise self._count(ModelError(slot.name, "learn", exc)) from exc
                slot.learned += 1
            self.n_labels += 1
            return
        if label is not None:
            self._learn_answers(record.x, label, record.answers, record.ts)
        del records[id]
        self.n_feedback += 1
        if ts is not None:
            self._lag(ts, record.ts)
        if label is not None:
            self._after_label(record.x, label, record.answers, record.ts)
            if self.evaluation is not None:
                self.evaluation.on_label(self, id, record.x, None, label, record.answers)

    # -- mixed streams ------------------------------------------------------------------------

    def process(self, message: Any) -> Prediction | Ack:
        """Validate one message (dict, JSON, or pydantic model) and apply it."""
        if type(message) is dict:
            q = quick_fields(message)  # the plain shapes, checked by hand (same result)
            if q is not None:
                if q[0] == "observation":
                    return self.predict(q[4], id=q[1], key=q[2], ts=q[3], copy=False)
                ts = q[3] if q[3] is not None else self.last_ts
                self.learn(q[1], q[4], reward=q[5], ts=ts)
                return Ack(q[1], q[4] is not None)
        try:
            msg = parse_message(message)
        except EventError as err:
            raise self._count(err) from None
        if isinstance(msg, Observation):
            return self.predict(
                dict(msg.features),
                id=msg.id,
                key=msg.key,
                ts=msg.ts,
                candidates=msg.candidates,
                copy=False,
            )
        assert isinstance(msg, Feedback)
        # the label lag is measured in event time: to the feedback's ts, else to the newest event
        ts = msg.ts if msg.ts is not None else self.last_ts
        self.learn(msg.id, msg.label, reward=msg.reward, clicks=msg.clicks, ts=ts, shown=msg.shown)
        return Ack(msg.id, msg.label is not None or msg.clicks is not None)

    def process_many(self, messages: Iterable[Any]) -> list[Any]:
        """Apply many messages through a :class:`~stream_ml.runtime.driver.Driver` (offsets
        0, 1, ...): predictions, acks, error records (a bad message does not stop the rest) and
        the engine's own records (drift alarms, promotions), in order."""
        from stream_ml.runtime.driver import Driver

        driver, out = Driver(self), list[Any]()
        for i, m in enumerate(messages):
            driver.apply(i, m, out)
        return out

    # -- errors and reports -------------------------------------------------------------------

    def _count(self, err: StreamMLError) -> StreamMLError:
        self.errors[err.code] += 1
        self.error_samples.append(ErrorRecord.from_error(err))
        return err

    def count_error(self, err: StreamMLError, offset: Any = None) -> ErrorRecord:
        """Count an error raised outside the engine (e.g. a source row that did not parse)."""
        self.errors[err.code] += 1
        record = ErrorRecord.from_error(err, offset)
        self.error_samples.append(record)
        return record

    def model(self, name: str) -> Any:
        """The River estimator in slot ``name``."""
        for slot in self.slots:
            if slot.name == name:
                return slot.model
        raise KeyError(name)

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Per model: cumulative and rolling metric values, counts, version and role.

        Counts, each since the model was created (``created``: the engine event it was added
        at, 0 for a configured model): ``served`` (events its answer was the one served),
        ``answered`` (answers that were not None: a model that starts empty answers None until
        it has learned), ``scored`` (labelled events its answer was scored on) and ``learned``
        (labels it learned). Roles: ``primary`` (serves by default, or the experiment's
        primary / winner), ``candidate`` (an arm the router may serve), ``shadow`` (answers,
        never served), ``challenger`` (added at run time: a drift challenger, or a model from
        :meth:`add_slot` not yet an arm of the experiment).

        A classifier also has ``calibration``: the reliability curve and ECE over its rolling
        window (:mod:`stream_ml.evaluation.calibration`), computed here from the ring.
        """
        slots = self.slots
        served = {s.name: s.served for s in slots}
        if self.router is None:  # without a router the primary serves every event
            served[self.primary] = self.seq - sum(
                n for name, n in served.items() if name != self.primary
            )
        out = {
            s.name: {
                "metrics": s.prequential.values(),
                "rolling": s.prequential.rolling(),
                "served": served[s.name],
                "answered": s.answered,
                "scored": s.prequential.n,
                "learned": s.learned,
                "created": s.created,
                "version": s.version,
                "role": self._role(s.name),
            }
            for s in slots
        }
        ev = self.evaluation
        for s in slots:  # the reliability curve and ECE over the rolling window, read now
            if s.is_classifier:
                cal = s.prequential.calibration()
                if ev is not None and ev.ece_alarm is not None:
                    cal["threshold"] = ev.ece_alarm
                    cal["alarms"] = ev.calibration_alarms(s.name)
                out[s.name]["calibration"] = cal
        return out

    def _role(self, name: str) -> str:
        drift = self.drift
        if drift is not None and any(
            c.name == name for lane in getattr(drift, "lanes", {}).values() for c in lane
        ):
            return "challenger"
        if self.router is None:
            if name == self.primary:
                return "primary"
            slot = next((s for s in self.slots if s.name == name), None)
            return "challenger" if slot is not None and slot.created > 0 else "shadow"
        stage = self.router
        router = stage.router
        arms = getattr(router, "stats", {})
        if name not in arms:  # added at run time, not (yet) an arm: answers in shadow
            return "challenger" if name in getattr(stage, "joined", {}) else "shadow"
        primary = (
            getattr(router, "promoted", None)
            or getattr(router, "primary", None)
            or getattr(getattr(router, "comparison", None), "control", None)
            or (router.model if getattr(router, "kind", None) == "fixed" else None)
        )
        if name == primary:
            return "primary"
        if getattr(router, "kind", None) in ("shadow", "fixed"):
            return "shadow"  # answers (shadow) or learns (fixed) but is never served
        return "candidate"

    def error_summary(self) -> dict[str, Any]:
        return {
            "total": sum(self.errors.values()),
            "by_code": dict(sorted(self.errors.items())),
            "samples": [r.to_dict() for r in self.error_samples],
        }

    def summary(self) -> dict[str, Any]:
        """Everything a report needs: events, per-model metrics, labels, errors."""
        return {
            "engine": self.name,
            "events": self.seq,
            "feedback": self.n_feedback,
            "models": self.metrics(),
            "labels": {
                **self.pending.counts(),
                "lag_mean": self.lag[1] / self.lag[0] if self.lag[0] else None,
                "lag_max": self.lag[2] if self.lag[0] else None,
            },
            "errors": self.error_summary(),
            "outbox_dropped": getattr(self, "outbox_dropped", 0),
            **({"features": self.features.stats()} if hasattr(self.features, "stats") else {}),
            **({"experiment": self.router.summary()} if self.router is not None else {}),
            **({"drift": self.drift.summary()} if self.drift is not None else {}),
            **(
                {"slices": self.evaluation.slices.summary(self.slots)}
                if self.evaluation is not None and self.evaluation.slices is not None
                else {}
            ),
        }

    # -- snapshots, rollback, state ----------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["snapshots"] = None
        return state

    def snapshot(
        self,
        *,
        offset: Any = None,
        extra: Any = None,
        tags: tuple[str, ...] = (),
        note: str | None = None,
    ) -> Any:
        """Save the whole engine to its snapshot store now; returns the SnapshotInfo (and emits
        its ``snapshot`` record). A runtime takes its snapshots through its driver instead."""
        if self.snapshots is None:
            raise ConfigError("this engine has no snapshot store (configure [snapshots])")
        from stream_ml.runtime.driver import snapshot_record

        info = self.snapshots.save(self, offset=offset, extra=extra, tags=tags, note=note)
        self.emit(snapshot_record(info))
        return info

    def rollback(self, version: int, *, scope: str = "models", reason: str | None = None) -> Any:
        """Restore snapshot ``version``'s models (``scope="models"``) or whole engine.

        Models: every slot gets the snapshot's estimator back (its version goes up; metrics,
        pending labels and counters go on). Engine: the whole state is replaced. The rollback
        is recorded in the store's audit table and emitted as a ``rollback`` event.
        """
        if self.snapshots is None:
            raise ConfigError("this engine has no snapshot store (configure [snapshots])")
        if scope not in ("models", "engine"):
            raise ConfigError(f"rollback scope must be 'models' or 'engine', got {scope!r}")
        state, info = self.snapshots.load(version)
        old: Engine = state["engine"]
        current = self.snapshots.parent
        if scope == "engine":
            stage, outbox = self.snapshots, self.outbox
            self.__dict__.update(old.__dict__)
            self.snapshots, self.outbox = stage, outbox
        else:
            saved = {s.name: s.model for s in old.slots}
            for slot in self.slots:
                if slot.name in saved:
                    slot.replace(saved[slot.name])
        self.snapshots.store.record_audit(
            "rollback",
            from_version=current,
            to_version=version,
            reason=reason or f"rollback ({scope})",
        )
        self.emit(
            {
                "kind": "rollback",
                "id": f"rollback:{version}:{self.seq}",
                "version": version,
                "scope": scope,
                "reason": reason,
                "events": self.seq,
            }
        )
        return info

    def digest(self) -> str:
        """SHA-256 over the canonical state (models, features, router, pending, metrics, rng).

        Snapshot bookkeeping, the error samples (where a runtime saw each bad record is named
        by its own offsets; the counts by code are in) and River's unseeded ``random.Random``
        (used only to ``sample`` distributions, never to predict or learn) are left out.
        """
        import random

        from stream_ml.snapshots import state_digest

        state = {
            k: v
            for k, v in self.__dict__.items()
            if k not in ("snapshots", "snapshot_policy", "outbox", "config", "error_samples")
        }
        return state_digest(state, ignore=(random.Random,))

    # -- construction from configuration ------------------------------------------------------

    @classmethod
    def from_config(cls, config: Any) -> Engine:
        """Build the engine a config describes (an :class:`EngineConfig`, a dict or a TOML path)."""
        from pathlib import Path

        from stream_ml.config import EngineConfig, load_config, parse_config
        from stream_ml.models.expr import parse_model

        if isinstance(config, str | Path):
            config = load_config(config)
        elif isinstance(config, dict):
            config = parse_config(config)
        if not isinstance(config, EngineConfig):
            raise ConfigError(f"expected an EngineConfig, a dict or a path, got {type(config)}")
        models = {name: parse_model(m.model) for name, m in config.models.items()}
        features = None
        if config.features is not None:
            from stream_ml.features import FeatureSet

            features = FeatureSet.from_config(config.features)
        engine = cls(
            models,
            metrics=config.evaluation.metrics,
            window=config.evaluation.window,
            max_pending=config.labels.max_pending,
            label_ttl=config.labels.ttl,
            seed=config.seed,
            name=config.name,
            router=config.router,
            features=features,
            drift=list(config.drift),
            slices=config.evaluation.slice_config(),
            ece_alarm=config.evaluation.ece_alarm,
            ece_check_every=config.evaluation.ece_check_every,
            ece_min_n=config.evaluation.ece_min_n,
        )
        engine.config = config
        return engine

    def annotate_last_error(self, offset: Any) -> None:
        """Attach a source location to the error counted last (runtimes call this)."""
        if self.error_samples and self.error_samples[-1].offset is None:
            self.error_samples[-1].offset = offset


def _refused(label: Any, reward: Any, clicks: Any, *, routed: bool, ranking: bool,
             shown: Any = None) -> FeedbackError:  # fmt: skip
    """Why a feedback is refused (nothing changes): see :meth:`Engine.learn`."""
    if label is None and reward is None and clicks is None:
        return FeedbackError("label", "feedback needs a label, a reward or clicks")
    if reward is not None and not routed:
        return FeedbackError("reward", "a reward needs an experiment router (configure [router])")
    if clicks is not None and not ranking:
        return FeedbackError("clicks", "clicks are feedback for a ranking (candidates) only")
    if shown is not None and not ranking:
        return FeedbackError("shown", "shown is feedback for a ranking (candidates) only")
    return FeedbackError("label", "a ranking learns from clicks, not from a label")
