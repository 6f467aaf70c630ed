"""What the server accepts and answers: the input schema of observations, the REST models.

Inbound bodies are the engine's own :class:`~stream_ml.events.Observation` and
:class:`~stream_ml.events.Feedback`; :class:`InputSchema` then checks an observation's feature
values against the kinds the models need, before the engine sees it. The response models
document the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from stream_ml.errors import EventError, MissingFieldError, NotANumberError

_ACCEPTS: dict[str, tuple[type, ...]] = {
    "float": (float, int), "int": (int,), "bool": (bool,), "str": (str,),
}  # fmt: skip
_KIND_OF: dict[type, str] = {float: "float", int: "float", bool: "bool", str: "str"}
_JSON = {"float": "number", "int": "integer", "bool": "boolean", "str": "string"}
_NAMES = {"float": "a number", "int": "an integer", "bool": "a boolean", "str": "a string"}


class WrongKindError(EventError):
    """A feature value of another kind than the field's (a number where a string was seen)."""

    code = "wrong_kind"


class UnknownFieldError(EventError):
    """A feature the server's schema does not declare (``undeclared = "refuse"``)."""

    code = "unknown_field"


class DuplicateCandidateError(EventError):
    """Two candidates of one ranking request share an id (a conflict, like a duplicate id)."""

    code = "duplicate_id"


class InputSchema:
    """The kinds of feature values the server accepts; a bad value is refused by name.

    Each field's kind comes from, in order: ``declared`` (``[serve] schema``); then the
    ``undeclared`` rule: ``"first"`` locks a field to the kind of its first value (``float``
    for any number, ``bool``, ``str``), ``"float"`` wants numbers, ``"any"`` checks nothing,
    ``"refuse"`` refuses the field. A ``None`` value is refused unless the rule is ``"any"``
    (River takes a missing feature as an absent key; a ``None`` fails in the model). Ranking
    ``candidates`` are checked like the features (their ``id`` aside). Locked kinds are state
    (:meth:`state`, :meth:`restore`): at most ``max_fields`` fields are locked, later ones are
    not checked. :meth:`check` with ``lock=False`` checks without locking anything.

    Examples
    --------
    >>> s = InputSchema({"city": "str"})
    >>> s.check({"x": 1, "city": "Paris"}), s.state()
    (None, {'x': 'float'})
    >>> err = s.check({"x": "abc"})
    >>> err.code, err.field, err.reason
    ('not_a_number', 'features.x', "expected a number (the kind of its first value), got 'abc'")
    >>> s.check({"x": 2.5, "city": 3}).reason
    'expected a string (declared in [serve] schema), got 3'
    """

    __slots__ = ("declared", "from_source", "locked", "max_fields", "undeclared")

    def __init__(self, declared: Mapping[str, str] | None = None, undeclared: str = "first",
                 max_fields: int = 10_000, *, from_source: bool = False) -> None:  # fmt: skip
        if undeclared not in ("first", "float", "any", "refuse"):
            raise ValueError(f"undeclared must be first, float, any or refuse, not {undeclared!r}")
        self.declared = dict(declared or {})
        self.undeclared = undeclared
        self.max_fields = max_fields
        self.from_source = from_source  # the rule is the training source's (for the reasons)
        self.locked: dict[str, str] = {}

    @classmethod
    def for_engine(cls, engine: Any, settings: Any) -> InputSchema:
        """The schema of ``settings`` for ``engine``: ``undeclared = "auto"`` reads the engine
        config's ``[source]`` -- a source of rows (CSV, or JSONL with a ``target``) reads every
        feature as a number except its ``categorical`` columns, so the server does too."""
        declared: dict[str, str] = {}
        rule, from_source = settings.undeclared, False
        if rule == "auto":
            rule = "first"
            src = getattr(getattr(engine, "config", None), "source", None)
            kind = getattr(src, "kind", None)
            if kind == "csv" or (kind == "jsonl" and getattr(src, "target", None) is not None):
                rule, from_source = "float", True
                declared = {c: "str" for c in getattr(src, "categorical", ())}  # as its rows
        return cls({**declared, **settings.schema_}, rule, settings.schema_max_fields,
                   from_source=from_source)  # fmt: skip

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema of the features this accepts (locked kinds aside: they change)."""
        props = {n: {"type": _JSON[k]} for n, k in self.declared.items()}
        rest: Any = {"type": ["number", "boolean", "string"]}
        if self.undeclared == "float":
            rest = {"type": "number"}
        elif self.undeclared == "refuse":
            rest = False
        elif self.undeclared == "any":
            rest = {"type": ["number", "boolean", "string", "null"]}
        return {"type": "object", "properties": props, "additionalProperties": rest}

    def state(self) -> dict[str, str]:
        """The locked kinds (a copy), to store with a snapshot."""
        return dict(self.locked)

    def restore(self, locked: Mapping[str, str] | None) -> None:
        """Continue from :meth:`state` (``None``: nothing locked)."""
        self.locked = {str(k): str(v) for k, v in (locked or {}).items() if v in _ACCEPTS}

    def check(self, features: Mapping[str, Any], candidates: Any = None, *,
              lock: bool = True) -> EventError | None:  # fmt: skip
        """The error for the first bad value (fields in order), or None; locks new fields."""
        err = self._check(features, "features", lock, False)
        if err is None and candidates:
            seen: set[str] = set()
            for i, c in enumerate(candidates):
                err = _candidate_id(c.get("id"), i, seen) or self._check(
                    c, f"candidates.{i}", lock, True
                )
                if err is not None:
                    break
        return err

    def _check(self, x: Mapping[str, Any], where: str, lock: bool,
               candidate: bool) -> EventError | None:  # fmt: skip
        declared, locked, rule = self.declared, self.locked, self.undeclared
        for name, value in x.items():
            if candidate and name == "id":
                continue
            t = type(value)
            want = declared.get(name)
            if want is None and rule == "any":
                continue
            if value is None:  # River's models take a missing feature as an absent key
                why = "null is not a value: leave a missing feature out"
                return WrongKindError(f"{where}.{name}", why)
            if want is None:
                if rule == "first":
                    want = locked.get(name)
                    if want is None:
                        if lock and len(locked) < self.max_fields and t in _KIND_OF:
                            locked[name] = _KIND_OF[t]
                        continue
                elif rule == "refuse":
                    why = "not a field of the server's schema (undeclared = 'refuse')"
                    return UnknownFieldError(f"{where}.{name}", why)
                else:
                    want = "float"
            if t not in _ACCEPTS[want]:
                cls = NotANumberError if want in ("float", "int") else WrongKindError
                why = f"expected {_NAMES[want]} ({self._how(name)}), got {_short(value)}"
                return cls(f"{where}.{name}", why)
        return None

    def _how(self, name: str) -> str:
        if name in self.declared:
            if self.from_source:
                return "declared in [serve] schema or categorical in the training source"
            return "declared in [serve] schema"
        if self.undeclared == "first":
            return "the kind of its first value"
        if self.from_source:
            return "not a categorical column of the training source"
        return "undeclared fields are numbers"


def _candidate_id(cid: Any, i: int, seen: set[str]) -> EventError | None:
    """A candidate's id: a non-empty string or a number, not used by another candidate."""
    field = f"candidates.{i}.id"
    if cid is None or cid == "":
        return MissingFieldError(field, "every candidate needs an id")
    if type(cid) not in (str, int, float):
        return WrongKindError(field, f"expected a string or a number, got {_short(cid)}")
    key = str(cid)
    if key in seen:
        return DuplicateCandidateError(field, f"two candidates with the id {key!r}")
    seen.add(key)
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class PredictionOut(BaseModel):
    """A prediction (``Prediction.to_dict()``); ``fallback`` is true when the engine was late."""

    kind: Literal["prediction"] = "prediction"
    id: str
    model: str
    y_pred: Any
    proba: dict[str, float] | None = None
    key: str | None = None
    ts: float | None = None
    seq: int = 0
    propensity: float = 1.0
    model_version: int = 0
    shadow: dict[str, Any] | None = None
    fallback: bool = False


class AckOut(BaseModel):
    """The answer to a feedback: ``learned`` is false for a reward without label or clicks."""

    kind: Literal["ack"] = "ack"
    id: str
    learned: bool


class ErrorOut(BaseModel):
    """A refused or failed message: a code, the field at fault, the reason, where in a batch."""

    kind: Literal["error"] = "error"
    code: str = Field(examples=["malformed_message", "unknown_id", "unauthorized"])
    field: str | None = None
    reason: str
    offset: Any = None


class BinOut(BaseModel):
    """One equal-width confidence bin of a reliability curve."""

    lo: float
    hi: float
    n: int
    confidence: float | None = Field(description="mean top-label probability (None: empty)")
    accuracy: float | None = Field(description="share of its events whose top label was right")


class CalibrationAlarmOut(BaseModel):
    """An ECE alarm episode: from ``start`` to ``end`` (engine events; None: still open)."""

    model: str
    start: int
    end: int | None = None
    ece: float | None = None


class CalibrationOut(BaseModel):
    """A classifier's calibration over the rolling window (``summary()["models"][m]
    ["calibration"]``): top-label ECE and the reliability curve; ``threshold`` and ``alarms``
    when the ECE monitor is on (``[evaluation] ece_alarm``)."""

    window: int
    n: int = Field(description="scored events with probabilities in the window")
    ece: float | None = Field(description="expected calibration error (None: no probabilities)")
    bins: list[BinOut]
    threshold: float | None = None
    alarms: list[CalibrationAlarmOut] = Field(default_factory=list)


class ModelOut(BaseModel):
    name: str
    role: str
    version: int
    scored: int
    metrics: dict[str, float | None]
    rolling: dict[str, float | None]
    traffic: float = Field(description="share of predictions it served since the server started")
    calibration: CalibrationOut | None = Field(
        default=None, description="classifiers only (None for a regressor or a ranker)"
    )


class CalibrationsOut(BaseModel):
    """Calibration per classifier (``GET /v1/calibration``; empty without one)."""

    models: dict[str, CalibrationOut]


class RecentOut(BaseModel):
    """A slice's value and interval over its recent labels (what the alarm reads: the last
    ``window`` to 2 x ``window`` labels)."""

    n: int
    value: float | None = None
    lo: float | None = None
    hi: float | None = None


class SliceOut(BaseModel):
    """One slice of one model: the sliced metric since the slice is tracked, its interval."""

    slice: str = Field(examples=["region=north", "other", "other:region"])
    n: int
    value: float | None
    lo: float | None = Field(default=None, description="None for a metric without interval")
    hi: float | None = None
    alarm: bool = False
    by: str | None = Field(default=None, description="its dimension (with several only)")
    recent: RecentOut | None = Field(
        default=None, description="over the recent labels (window > 0, metrics with interval)"
    )


class ModelSlicesOut(BaseModel):
    overall: float | None = Field(
        description="the model's cumulative value of the metric (None: nothing scored yet)"
    )
    slices: list[SliceOut] = Field(description="worst first, each dimension's other last")
    metric: str | None = Field(default=None, description="set when not the common metric")


class SliceAlarmOut(BaseModel):
    """A slice alarm episode (engine events; ``end`` None: still open)."""

    model: str
    slice: str
    start: int
    end: int | None = None
    value: float | None = None
    overall: float | None = None
    reason: str | None = Field(default=None, examples=["folded into other"])


class SlicesOut(BaseModel):
    """``summary()["slices"]``: ``configured`` is false (and the rest empty) without
    ``[evaluation] slices``."""

    configured: bool
    by: list[str] = Field(default_factory=list)
    metric: str | None = None
    margin: float | None = None
    tracked: int | None = Field(default=None, description="slices tracked per dimension")
    window: int | None = Field(
        default=None, description="labels per alarm bucket ([evaluation] slice_window; 0: all)"
    )
    models: dict[str, ModelSlicesOut] = Field(default_factory=dict)
    alarms: list[SliceAlarmOut] = Field(default_factory=list)
    unmerged: int | None = Field(default=None, description="slices folded into other whose "
                                 "metric could not be merged (counts only)")


class ModelsOut(BaseModel):
    engine: str
    events: int
    feedback: int
    models: list[ModelOut]
    labels: dict[str, Any]
    errors: dict[str, Any]


class ListOut(BaseModel):
    """A list of whatever the engine's optional stage reports (empty when it has none)."""

    items: list[dict[str, Any]]


class RollbackIn(BaseModel):
    reason: str = Field(default="manual rollback", max_length=500)


class RollbackOut(BaseModel):
    version: int
    reason: str
    snapshot: dict[str, Any] | None = None
    result: Any = None


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    engine: str
    queue: int
    connections: int
