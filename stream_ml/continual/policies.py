"""Update policies: when a model learns from the labels it is given (freshness experiments).

A policy is a River estimator that wraps a model and decides what the model that *serves* is
after each label. It sits in an ordinary engine slot, so the engine's own label join and
prequential evaluation score it; several policies in one engine see the same events, features
and labels (see :mod:`stream_ml.continual.freshness`).

Each policy is split in two (the Bytewax habit): an immutable configuration (``kind``) that
builds the logic, and the logic, which holds the state and pickles.

* ``continual``: the model learns every label at once (what a plain slot does).
* ``every`` (``k``): stateful mini-batches. The model that serves is replaced every ``k``
  labels by the model trained on every label so far. Two models take turns, with no copy of a
  model after the first (a copy of a grown tree costs tens of ms): while one serves, frozen,
  the other learns the labels it missed and the new ones, two per call, and has caught up when
  its turn comes. So no call does ``k`` learns at once, the training cost is about twice
  continual learning's, and the model served between two publications is exactly the one that
  buffering ``k`` labels and learning them in order would give (tested).
* ``frozen`` (``after``): learns the first ``after`` labels, then never again.
* ``stateless`` (``window``, ``every``): every ``every`` labels a fresh model (``clone()``)
  trained from scratch on the last ``window`` labels takes over. Amortized: the model due at
  label ``c`` starts learning at label ``c - window + 1``, so each label goes to the
  ``ceil(window / every)`` models in training and no call does ``window`` learns at once; the
  published model equals one trained on the window in one go (tested).

Labels, not events, are counted: with a fixed label delay, as in a replay, the ``k``-th label is
that of the ``k``-th event. Cost is counted twice: ``updates`` (calls to the inner
``learn_one``, deterministic) and ``seconds`` (wall time spent in the policy's ``learn_one``,
for reports only, from an injectable clock).

Examples
--------
>>> from river import linear_model
>>> m = policy_model(linear_model.LinearRegression(), EveryPolicy(k=2))
>>> m.predict_one({"x": 1.0})
0.0
>>> m.learn_one({"x": 1.0}, 2.0)
>>> m.predict_one({"x": 1.0}), m.updates, m.publishes
(0.0, 1, 0)
>>> m.learn_one({"x": 1.0}, 2.0)
>>> m.predict_one({"x": 1.0}) > 0, m.updates, m.publishes
(True, 2, 1)
"""

from __future__ import annotations

import copy
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from river import base

from stream_ml.errors import ConfigError

__all__ = [
    "ContinualPolicy",
    "EveryPolicy",
    "FrozenPolicy",
    "PolicyConfig",
    "PolicyModel",
    "StatelessPolicy",
    "parse_policy",
    "policy_model",
]

#: the most models a stateless policy trains at once (window / every, rounded up)
MAX_IN_TRAINING = 100


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContinualPolicy(_Policy):
    """Learn every label as it comes."""

    kind: Literal["continual"] = "continual"

    @property
    def name(self) -> str:
        return "continual"

    def build(self, model: Any) -> _Schedule:
        return _Continual(model)


class EveryPolicy(_Policy):
    """Stateful mini-batches: the served model is updated every ``k`` labels."""

    kind: Literal["every"] = "every"
    k: int = Field(ge=1, description="labels between two updates of the served model")

    @property
    def name(self) -> str:
        return f"every_{self.k}"

    def build(self, model: Any) -> _Schedule:
        return _Continual(model) if self.k == 1 else _Every(model, self.k)


class FrozenPolicy(_Policy):
    """Learn the first ``after`` labels, then never again."""

    kind: Literal["frozen"] = "frozen"
    after: int = Field(ge=0, description="labels learned before the model is frozen")

    @property
    def name(self) -> str:
        return f"frozen_{self.after}"

    def build(self, model: Any) -> _Schedule:
        return _Frozen(model, self.after)


class StatelessPolicy(_Policy):
    """Every ``every`` labels, a fresh model trained on the last ``window`` labels serves."""

    kind: Literal["stateless"] = "stateless"
    window: int = Field(ge=1, description="labels a fresh model is trained on")
    every: int = Field(ge=1, description="labels between two retrainings")

    @property
    def name(self) -> str:
        return f"stateless_w{self.window}_k{self.every}"

    def build(self, model: Any) -> _Schedule:
        in_training = -(-self.window // self.every)
        if in_training > MAX_IN_TRAINING:
            raise ConfigError(
                f"policy {self.name}: field 'window': window / every = {in_training} models in "
                f"training at once, more than {MAX_IN_TRAINING} (raise every or lower window)"
            )
        return _Stateless(model, self.window, self.every)


PolicyConfig = Annotated[
    ContinualPolicy | EveryPolicy | FrozenPolicy | StatelessPolicy, Field(discriminator="kind")
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(PolicyConfig)


def parse_policy(spec: Any) -> Any:
    """A policy from its dict (``{"kind": "every", "k": 100}``) or its short name.

    Short names: ``continual``, ``every:K``, ``frozen:N``, ``stateless:W:K``.

    >>> parse_policy("stateless:1000:100").name, parse_policy({"kind": "every", "k": 5}).name
    ('stateless_w1000_k100', 'every_5')
    >>> parse_policy("every:0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    stream_ml.errors.ConfigError: policy 'every:0': field 'k': Input should be greater than ...
    """
    if isinstance(spec, _Policy):
        return spec
    data = spec
    if isinstance(spec, str):
        kind, *args = spec.strip().split(":")
        fields = {"continual": (), "every": ("k",), "frozen": ("after",),
                  "stateless": ("window", "every")}.get(kind)  # fmt: skip
        if fields is None or len(args) != len(fields):
            raise ConfigError(
                f"policy {spec!r}: expected continual, every:K, frozen:N or stateless:W:K"
            )
        try:
            data = {"kind": kind, **{f: int(a) for f, a in zip(fields, args)}}
        except ValueError:
            raise ConfigError(f"policy {spec!r}: the numbers must be integers") from None
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"][1:] or e["loc"])
        raise ConfigError(f"policy {spec!r}: field {where!r}: {e['msg']}") from None


# -- the logic ----------------------------------------------------------------------------------


class _Schedule:
    """What a policy does with each label; ``serving`` is the model that answers now."""

    serving: Any
    updates: int = 0  # calls to an inner learn_one
    publishes: int = 0  # times the serving model was replaced
    labels: int = 0

    def learn(self, x: dict, y: Any) -> None:
        raise NotImplementedError


class _Continual(_Schedule):
    def __init__(self, model: Any) -> None:
        self.serving = model

    def learn(self, x: dict, y: Any) -> None:
        self.serving.learn_one(x, y)
        self.labels += 1
        self.updates += 1


class _Every(_Schedule):
    """Two models, no copy after the first: one serves (frozen), the other catches up.

    At a publication (label ``c``) the trainer, which has learned labels 1..c, serves; the
    model that served until then has learned 1..c-k and becomes the trainer, with labels
    c-k+1..c queued. Each label is queued and the trainer learns the two oldest queued labels,
    in order: after ``k`` labels its queue is empty, it has learned 1..c+k, and it serves next.
    So a call does at most two learns and the model served is the one buffering gives.
    """

    def __init__(self, model: Any, k: int) -> None:
        self.k = k
        self.trainer = model
        self.serving = copy.deepcopy(model)
        self.queue: deque[tuple[dict, Any]] = deque()  # labels the trainer has not learned
        self.recent: deque[tuple[dict, Any]] = deque(maxlen=k)  # the last k labels

    def learn(self, x: dict, y: Any) -> None:
        self.labels += 1
        queue, learn = self.queue, self.trainer.learn_one
        queue.append((x, y))
        self.recent.append((x, y))
        for _ in range(min(2, len(queue))):
            learn(*queue.popleft())
            self.updates += 1
        if self.labels % self.k == 0:  # the trainer has learned every label: it serves
            self.trainer, self.serving = self.serving, self.trainer
            self.queue = deque(self.recent)
            self.publishes += 1


class _Frozen(_Schedule):
    def __init__(self, model: Any, after: int) -> None:
        self.after = after
        self.serving = model

    def learn(self, x: dict, y: Any) -> None:
        if self.labels < self.after:
            self.serving.learn_one(x, y)
            self.updates += 1
        self.labels += 1


class _Stateless(_Schedule):
    def __init__(self, model: Any, window: int, every: int) -> None:
        self.window = window
        self.every = every
        self.template = model.clone()
        self.serving = model
        self.next_due = every  # the next label count whose model is not started yet
        self.training: list[tuple[int, Any]] = []  # (label count it serves from, model)

    def learn(self, x: dict, y: Any) -> None:
        n = self.labels = self.labels + 1
        while self.next_due <= n + self.window - 1:  # due models whose window has begun
            self.training.append((self.next_due, self.template.clone()))
            self.next_due += self.every
        for _, model in self.training:
            model.learn_one(x, y)
        self.updates += len(self.training)
        if self.training and self.training[0][0] == n:
            self.serving = self.training.pop(0)[1]
            self.publishes += 1


# -- the estimator in the slot ------------------------------------------------------------------


class PolicyModel(base.Wrapper, base.Estimator):
    """A model under an update policy, for an engine slot (build it with :func:`policy_model`).

    Parameters
    ----------
    model
        The River estimator that the policy trains (untrained for a freshness experiment).
    policy
        A policy configuration (:data:`PolicyConfig`).
    clock
        Wall clock for the time spent learning (``seconds``; reports only).
    """

    def __init__(
        self, model: Any, policy: Any, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.model = model
        self.policy = policy
        self.clock = clock
        self.schedule = policy.build(model)
        self.seconds = 0.0
        self.unanswered = 0  # predictions the served model had no answer for (not scored)
        self.first_answer: int | None = None  # predictions made before the first answer

    @property
    def _wrapped_model(self) -> Any:
        return self.model

    @property
    def serving(self) -> Any:
        """The model that answers now."""
        return self.schedule.serving

    @property
    def updates(self) -> int:
        return self.schedule.updates

    @property
    def publishes(self) -> int:
        return self.schedule.publishes

    def learn_one(self, x: dict, y: Any) -> None:
        t0 = self.clock()
        self.schedule.learn(x, y)
        self.seconds += self.clock() - t0

    def cost(self) -> dict[str, Any]:
        """Labels seen, inner ``learn_one`` calls, publications, seconds spent learning, and
        predictions the served model had no answer for (the metrics do not score those)."""
        s = self.schedule
        return {"labels": s.labels, "updates": s.updates, "publishes": s.publishes,
                "seconds": self.seconds, "unanswered": self.unanswered,
                "first_answer": self.first_answer}  # fmt: skip


class _RegressorPolicy(PolicyModel, base.Regressor):
    def predict_one(self, x: dict) -> Any:
        y = self.schedule.serving.predict_one(x)
        if y is None:
            self.unanswered += 1
        elif self.first_answer is None:
            self.first_answer = self.unanswered
        return y


class _ClassifierPolicy(PolicyModel, base.Classifier):
    def predict_proba_one(self, x: dict, **kwargs: Any) -> dict[Any, float]:
        p: dict[Any, float] = self.schedule.serving.predict_proba_one(x, **kwargs)
        if not p:  # an empty tree: the metrics skip it
            self.unanswered += 1
        elif self.first_answer is None:
            self.first_answer = self.unanswered
        return p


class _LabelledClassifierPolicy(_ClassifierPolicy):
    def predict_one(self, x: dict, **kwargs: Any) -> Any:
        return self.schedule.serving.predict_one(x, **kwargs)


def policy_model(
    model: Any, policy: Any, clock: Callable[[], float] = time.perf_counter
) -> PolicyModel:
    """``model`` under ``policy`` (a config, its dict or short name), as a River estimator of
    the same kind: a classifier answers like ``model`` does (its own ``predict_one`` when it
    overrides it), a regressor with ``predict_one``."""
    from stream_ml.models.slot import _final_step

    policy = parse_policy(policy)
    if isinstance(model, base.Classifier):
        final = _final_step(model)
        own = type(final).predict_one is not base.Classifier.predict_one
        cls: type[PolicyModel] = _LabelledClassifierPolicy if own else _ClassifierPolicy
    elif isinstance(model, base.Estimator):
        cls = _RegressorPolicy
    else:
        raise ConfigError(f"a policy wraps a River estimator, not a {type(model).__name__}")
    return cls(model, policy, clock)
