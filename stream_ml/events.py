"""The records that cross the engine's boundary.

Inbound messages (:class:`Observation`, :class:`Feedback`) are pydantic models: a dict from a file,
a socket or a broker is validated once, at the boundary, and a malformed one becomes a
:class:`~stream_ml.errors.MalformedMessageError` naming the field. Inside the engine, trusted
dicts take a fast path (``Engine.predict(x, id=..., ...)``) with no validation cost.

Outbound records (:class:`Prediction`, :class:`Ack`) are slotted dataclasses: cheap to build on
the hot path, and pydantic can still validate and document them (``TypeAdapter(Prediction)``).

>>> msg = parse_message({"id": "e1", "key": "u7", "ts": "2023-11-14T22:13:20Z",
...                      "features": {"x": 1.5}})
>>> type(msg).__name__, msg.ts
('Observation', 1700000000.0)
>>> parse_message({"id": "e1", "label": True}).label
True
>>> parse_message({"id": "e1", "features": {"x": [1]}})
Traceback (most recent call last):
...
stream_ml.errors.MalformedMessageError: field 'features.x': ...
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from stream_ml.errors import EventError, MalformedMessageError

FeatureValue = float | int | bool | str | None
Label = bool | int | float | str


def parse_timestamp(value: Any, field: str = "ts") -> float:
    """Event time as float seconds since the epoch (UTC).

    Accepts numbers (seconds), ISO 8601 strings (naive ones are taken as UTC) and datetimes.

    >>> parse_timestamp(1.5), parse_timestamp("1970-01-01T00:00:02+00:00")
    (1.5, 2.0)
    >>> parse_timestamp("yesterday")
    Traceback (most recent call last):
    ...
    stream_ml.errors.EventError: field 'ts': not a timestamp: 'yesterday'
    """
    if isinstance(value, bool):
        raise EventError(field, f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        f = float(value)
        if not math.isfinite(f):
            raise EventError(field, f"not a finite timestamp: {value!r}")
        return f
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    if isinstance(value, str):
        try:
            return parse_timestamp(float(value), field)
        except ValueError:
            pass
        try:
            return parse_timestamp(dt.datetime.fromisoformat(value.replace("Z", "+00:00")), field)
        except ValueError:
            pass
    raise EventError(field, f"not a timestamp: {value!r}")


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Observation(_Message):
    """Something to predict on: features, with an id (for the later label), a key and event time."""

    kind: Literal["observation"] = "observation"
    id: str | None = Field(default=None, max_length=256)
    key: str | None = Field(default=None, max_length=256)
    ts: float | None = None
    features: dict[str, FeatureValue]
    candidates: list[dict[str, FeatureValue]] | None = None

    @field_validator("ts", mode="before")
    @classmethod
    def _ts(cls, v: Any) -> float | None:
        return None if v is None else parse_timestamp(v)

    @field_validator("features")
    @classmethod
    def _finite(cls, v: dict[str, FeatureValue]) -> dict[str, FeatureValue]:
        for name, value in v.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"feature {name!r} is not finite: {value!r}")
        return v


class Feedback(_Message):
    """What happened for an earlier observation: its label, a reward, clicks.

    ``key`` is the observation's key, for runtimes that route by key (the keyed Bytewax
    dataflow sends the feedback to that key's engine). The engine itself joins feedback to its
    prediction by ``id`` alone and ignores ``key``.

    >>> parse_message({"id": "e1", "label": 1, "key": "store-7"}).key
    'store-7'
    """

    kind: Literal["feedback"] = "feedback"
    id: str = Field(max_length=256)
    key: str | None = Field(default=None, max_length=256)
    label: Label | None = None
    reward: float | None = None
    clicks: list[str] | None = None
    #: for a ranking: the ids of the candidates the user saw (default: every candidate); the
    #: models learn from those rows only, and clicks must be among them
    shown: list[str] | None = None
    ts: float | None = None

    @field_validator("ts", mode="before")
    @classmethod
    def _ts(cls, v: Any) -> float | None:
        return None if v is None else parse_timestamp(v)


Message = Annotated[Observation | Feedback, Field(discriminator="kind")]
_MESSAGE: TypeAdapter[Observation | Feedback] = TypeAdapter(Message)
_OBSERVATION = Observation.__pydantic_validator__.validate_python
_FEEDBACK = Feedback.__pydantic_validator__.validate_python


_OBS_FIELDS = frozenset(Observation.model_fields)
_FB_FIELDS = frozenset(Feedback.model_fields)
_VALUE_TYPES = frozenset({float, int, bool, str, type(None)})
_LABEL_TYPES = frozenset({bool, int, float, str, type(None)})
_EXACT = 2**53  # ints up to this convert to float exactly (larger ones: pydantic decides)
_new = object.__new__
_set = object.__setattr__


def _quick_ts(v: Any) -> Any:
    """The validated ``ts`` of a plain number (what ``parse_timestamp`` returns); ``_quick``'s
    ``False`` for anything else (pydantic decides)."""
    if v is None:
        return None
    tv = type(v)
    if tv is float:
        return v if v - v == 0.0 else False
    if tv is int and -_EXACT <= v <= _EXACT:
        return float(v)
    return False


def quick_fields(data: dict) -> tuple[Any, ...] | None:
    """The fields pydantic would validate ``data`` into, checked by hand, for the plain shapes
    of a trusted source (exact types: str ids and keys of at most 256 characters, a finite
    float or int ``ts``, a dict of str to float, int, bool, str or None features (finite
    floats) and no candidates; a bool, int, float or str label, a float or int reward and no
    clicks): ``("observation", id, key, ts, features)`` (``features`` a new dict) or
    ``("feedback", id, key, ts, label, reward)``; None for anything else (pydantic validates
    it, and names what is wrong)."""
    kind = data.get("kind", _OBS_FIELDS)
    if kind is _OBS_FIELDS:
        kind = "observation" if "features" in data else "feedback"
    elif type(kind) is not str:
        return None
    get = data.get
    id = get("id")
    if id is not None and (type(id) is not str or len(id) > 256):
        return None
    key = get("key")
    if key is not None and (type(key) is not str or len(key) > 256):
        return None
    ts = _quick_ts(get("ts"))
    if ts is False:
        return None
    if kind == "observation":
        if not _OBS_FIELDS.issuperset(data) or get("candidates") is not None:
            return None
        features = get("features")
        if type(features) is not dict:
            return None
        for k, v in features.items():
            tv = type(v)
            if tv is float:
                if v - v != 0.0:
                    return None
            elif tv not in _VALUE_TYPES:
                return None
            if type(k) is not str:
                return None
        return ("observation", id, key, ts, dict(features))
    if kind == "feedback":
        if id is None or not _FB_FIELDS.issuperset(data) or get("clicks") is not None:
            return None
        label = get("label")
        if type(label) not in _LABEL_TYPES:
            return None
        reward = get("reward")
        if reward is not None:
            tr = type(reward)
            if tr is int and -_EXACT <= reward <= _EXACT:
                reward = float(reward)
            elif tr is not float:
                return None
        return ("feedback", id, key, ts, label, reward)
    return None


def _quick(data: dict) -> Observation | Feedback | None:
    """The message pydantic would validate ``data`` into, built without it (from
    :func:`quick_fields`; None: not a plain shape). It equals pydantic's (same fields, same
    values, same ``model_fields_set``)."""
    q = quick_fields(data)
    if q is None:
        return None
    if q[0] == "observation":
        obj = _new(Observation)
        _set(obj, "__dict__", {"kind": "observation", "id": q[1], "key": q[2], "ts": q[3],
                               "features": q[4], "candidates": None})  # fmt: skip
    else:
        obj = _new(Feedback)
        _set(obj, "__dict__", {"kind": "feedback", "id": q[1], "key": q[2], "label": q[4],
                               "reward": q[5], "clicks": None, "shown": None,
                               "ts": q[3]})  # fmt: skip
    _set(obj, "__pydantic_fields_set__", set(data))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


def parse_message(data: Any) -> Observation | Feedback:
    """Validate one inbound message (a dict, a JSON string/bytes, or a model instance).

    A message without ``kind`` is an observation if it has ``features`` and feedback otherwise.
    The plain shapes every source sends are checked by hand (``_quick``: the same result as
    pydantic, at a fraction of the cost); anything else goes to pydantic (:func:`_validate`).
    """
    if type(data) is dict:
        msg = _quick(data)
        if msg is not None:
            return msg
    elif isinstance(data, Observation | Feedback):
        return data
    elif isinstance(data, str | bytes | bytearray):
        try:
            data = _JSON_OBJECT(data)
        except ValidationError as exc:
            raise _from_validation(exc) from exc
        msg = _quick(data)
        if msg is not None:
            return msg
    return _validate(data)


_JSON_OBJECT = TypeAdapter(dict[str, Any]).validate_json


def _validate(data: Any) -> Observation | Feedback:
    """What pydantic makes of ``data`` (the message, or a MalformedMessageError)."""
    try:
        if isinstance(data, dict) and "kind" not in data:  # the kind's default fills it in
            if "features" in data:
                return _OBSERVATION(data)
            return _FEEDBACK(data)
        return _MESSAGE.validate_python(data)
    except ValidationError as exc:
        raise _from_validation(exc) from exc
    except EventError as exc:
        raise MalformedMessageError(exc.field, exc.reason) from exc


def _from_validation(exc: ValidationError) -> MalformedMessageError:
    first = exc.errors()[0]
    loc = [str(p) for p in first["loc"] if p not in ("observation", "feedback")]
    # drop the union tag pydantic inserts for the value type (e.g. 'features.x.float')
    if len(loc) > 2 and loc[0] in ("features",):
        loc = loc[:2]
    field = ".".join(loc) or None
    return MalformedMessageError(field, first["msg"])


@dataclasses.dataclass(slots=True, init=False)
class Prediction:
    """One answer of the engine.

    ``model`` served it; ``y_pred`` is its prediction, ``proba`` its class probabilities when it has
    them; ``propensity`` is the probability that this model was the one to serve (1.0 when fixed);
    ``shadow`` holds the predictions of the other models that ran on the same event.
    """

    id: str
    model: str
    y_pred: Any
    proba: dict[Any, float] | None = None
    key: str | None = None
    ts: float | None = None
    seq: int = 0
    propensity: float = 1.0
    model_version: int = 0
    shadow: dict[str, Any] | None = None
    fallback: bool = False
    kind: str = "prediction"
    #: the features the model saw (after the feature stage); set by the engine while the
    #: prediction waits for its label, never sent (``to_dict`` leaves it out)
    x: dict | None = dataclasses.field(default=None, repr=False, compare=False)

    # written by hand: the generated __init__ costs twice as much on the hot path
    def __init__(
        self,
        id: str,
        model: str,
        y_pred: Any,
        proba: dict[Any, float] | None = None,
        key: str | None = None,
        ts: float | None = None,
        seq: int = 0,
        propensity: float = 1.0,
        model_version: int = 0,
        shadow: dict[str, Any] | None = None,
        fallback: bool = False,
        kind: str = "prediction",
        x: dict | None = None,
    ) -> None:
        self.id = id
        self.model = model
        self.y_pred = y_pred
        self.proba = proba
        self.key = key
        self.ts = ts
        self.seq = seq
        self.propensity = propensity
        self.model_version = model_version
        self.shadow = shadow
        self.fallback = fallback
        self.kind = kind
        self.x = x

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (keys of ``proba`` as strings, as JSON needs)."""
        proba = self.proba
        return {
            "id": self.id,
            "model": self.model,
            "y_pred": self.y_pred,
            "proba": None if proba is None else {_key(k): v for k, v in proba.items()},
            "key": self.key,
            "ts": self.ts,
            "seq": self.seq,
            "propensity": self.propensity,
            "model_version": self.model_version,
            "shadow": self.shadow,
            "fallback": self.fallback,
            "kind": self.kind,
        }


@dataclasses.dataclass(slots=True)
class Ack:
    """The engine's answer to a feedback message."""

    id: str
    learned: bool = True
    kind: str = "ack"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "learned": self.learned, "kind": self.kind}


@dataclasses.dataclass(slots=True)
class ErrorRecord:
    """A counted piece of bad input: its code, field, reason and where it came from.

    The one error shape of every runtime. ``offset`` is where the record came from (a source
    location such as ``data.csv:58``, a broker entry id, a batch index); ``id`` makes it an
    output that idempotent sinks can key (``error:<offset>``, or ``error:learn:<prediction id>``
    for a held-back label the engine refused).
    """

    code: str
    field: str | None
    reason: str
    offset: Any = None
    kind: str = "error"
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "error",
            "id": self.id,
            "code": self.code,
            "field": self.field,
            "reason": self.reason,
            "offset": self.offset,
        }

    @classmethod
    def from_error(cls, err: Exception, offset: Any = None, id: str | None = None) -> ErrorRecord:
        field = getattr(err, "field", None)
        reason = getattr(err, "reason", None) or str(err)
        off = getattr(err, "offset", None)
        return cls(
            getattr(err, "code", "error"),
            field,
            reason,
            off if off is not None else offset,
            "error",
            id,
        )


@dataclasses.dataclass(slots=True, frozen=True)
class SnapshotRequest:
    """A stage asks the runtime for a snapshot at the next record boundary (``tag``: why)."""

    tag: str
    note: str | None = None


def _key(k: Any) -> str:
    return k if isinstance(k, str) else str(k)
