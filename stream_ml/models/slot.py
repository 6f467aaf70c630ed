"""A slot: one named River estimator inside the engine, with its version and its metrics.

The slot decides once, at construction, how its model predicts, so that the hot path has no
branching on model type: a classifier answers ``predict_proba_one`` and the label is its argmax
(exactly what River's default ``Classifier.predict_one`` does, so the label equals
``predict_one``); a classifier that overrides ``predict_one`` is asked for both; anything else
answers ``predict_one``.

>>> from river import linear_model, preprocessing
>>> slot = ModelSlot("lr", preprocessing.StandardScaler() | linear_model.LogisticRegression(),
...                  metrics=["Accuracy"])
>>> slot.predict({"x": 1.0})
(False, {False: 0.5, True: 0.5})
>>> slot.learn({"x": 1.0}, True)
>>> slot.predict({"x": 1.0})[0]
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from river import base, compose

from stream_ml.evaluation.prequential import Prequential


def _final_step(model: Any) -> Any:
    while isinstance(model, compose.Pipeline):
        model = list(model.steps.values())[-1]
    return model


class ModelSlot:
    """One named model: predict, learn, version, prequential metrics.

    Parameters
    ----------
    name
        The model's name in the engine.
    model
        Any River estimator (classifier, regressor, pipeline).
    metrics
        River metric names (``"Accuracy"``, ``"F1(pos_val=1)"``...) evaluated prequentially.
    window
        Size of the rolling window over which the rolling metrics are reported.
    """

    __slots__ = (
        "_predict",
        "answered",
        "created",
        "is_classifier",
        "learn_one",
        "learned",
        "model",
        "name",
        "prequential",
        "proba_one",
        "scored",
        "served",
        "version",
    )

    def __init__(
        self, name: str, model: Any, *, metrics: Sequence[str] = (), window: int = 1000
    ) -> None:
        if not isinstance(model, base.Estimator):
            raise TypeError(f"model {name!r} is a {type(model).__name__}, not a River estimator")
        self.name = name
        self.model: Any = model
        self.version = 0
        self.learned = 0  # labels this slot learned from, since it was created
        self.created = 0  # the engine event at which it was created (0: configured)
        self.served = 0  # events its answer was served (counted by the router stage)
        self.answered = 0  # non-None answers it gave (see predict)
        self.is_classifier = isinstance(model, base.Classifier)
        self.prequential = Prequential(metrics, window=window, is_classifier=self.is_classifier)
        self.scored = bool(self.prequential.names)
        self._bind()

    def _bind(self) -> None:
        self.learn_one = self.model.learn_one
        # set when the label is the argmax of predict_proba_one: the engine then calls it inline
        self.proba_one: Callable[[dict], Any] | None = None
        self._predict: Callable[[dict], tuple[Any, Any]]
        # each answer that is not None is counted (``answered``); the engine's one-model path
        # calls ``proba_one`` inline and counts there
        slot = self
        if self.is_classifier:
            proba = self.model.predict_proba_one
            final = _final_step(self.model)
            overrides = type(final).predict_one is not base.Classifier.predict_one
            if overrides:
                label = self.model.predict_one

                def predict(x: dict) -> tuple[Any, Any]:
                    y = label(x)
                    if y is not None:
                        slot.answered += 1
                    return y, proba(x)
            else:
                self.proba_one = proba

                def predict(x: dict) -> tuple[Any, Any]:
                    p = proba(x)
                    if p:
                        slot.answered += 1
                        return max(p, key=p.get), p
                    return None, p

            self._predict = predict
        else:
            one = self.model.predict_one

            def predict(x: dict) -> tuple[Any, Any]:
                y = one(x)
                if y is not None:
                    slot.answered += 1
                return y, None

            self._predict = predict

    def predict(self, x: dict) -> tuple[Any, Any]:
        """``(y_pred, proba)``; ``proba`` is ``None`` for models without probabilities."""
        return self._predict(x)

    def learn(self, x: dict, y: Any) -> None:
        self.learn_one(x, y)

    def replace(self, model: Any) -> None:
        """Swap the estimator (rollback, promotion): the version goes up, metrics go on."""
        self.model = model
        self.version += 1
        self._bind()

    def __getstate__(self) -> dict[str, Any]:
        skip = ("_predict", "learn_one", "proba_one")
        return {k: getattr(self, k) for k in self.__slots__ if k not in skip}

    def reset_counts(self, created: int) -> None:
        """Start over as a new model created at engine event ``created`` (a restarted
        challenger): fresh metrics and counters."""
        p = self.prequential
        self.prequential = Prequential(p.names, window=p.window, is_classifier=p.is_classifier)
        self.created = created
        self.learned = self.served = self.answered = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.learned = self.created = self.served = self.answered = 0
        for k, v in state.items():
            setattr(self, k, v)
        self._bind()
