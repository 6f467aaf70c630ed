"""Turn a raw row (a CSV dict of strings, a JSON object, a River sample) into what the engine eats.

Rules, applied to every row the same way:

* the target column must be present and non-empty (else :class:`MissingFieldError`);
* the target's type is set once per source, before the first row is read, and never changes:
  declared (``target_type = "int"``, ...), or ``"auto"``: decided by :func:`infer_target_type`
  from the first :data:`TARGET_SAMPLE` non-empty target cells, by majority, so that a minority
  of bad cells are errors, not a new type. A cell that does not parse as the column's type is a
  :class:`WrongTypeError` naming the column (the row is counted, nothing else changes);
* a feature value that is a number stays a number; a string parses to ``float`` unless its
  column is listed in ``categorical``; a string that does not parse is a
  :class:`NotANumberError` naming the column; an empty cell means "missing" and is left out (as
  River does with missing features). Each cell is read on its own: one bad cell never changes
  how another row (or another cell) is read;
* ``id``, ``key`` and ``ts`` columns, when named, are taken out of the features; ``keep_key``
  leaves the key column among them too (a feature that groups by it needs it; the feature stage
  then keeps it away from the models).

>>> dec = RowDecoder(target="y", target_type="int", categorical=["city"])
>>> dec.decode({"a": "1.5", "city": "Paris", "b": "", "y": "1"})
({'a': 1.5, 'city': 'Paris'}, 1, None, None, None)
>>> dec.decode({"a": "abc", "city": "Paris", "y": "1"}, offset=7)
Traceback (most recent call last):
...
stream_ml.errors.NotANumberError: field 'a': not a number: 'abc' (at offset 7)
>>> dec.decode({"a": "1", "y": "maybe"}, offset="d.csv:9")
Traceback (most recent call last):
...
stream_ml.errors.WrongTypeError: field 'y': 'maybe' is not an int ... (at d.csv:9)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any, Literal

from stream_ml.errors import EventError, MissingFieldError, NotANumberError, WrongTypeError
from stream_ml.events import parse_timestamp

TargetType = Literal["auto", "int", "float", "bool", "str"]
TARGET_SAMPLE = 10_000
"""Non-empty target cells ``"auto"`` looks at: the first ones of the source, read once when the
source is opened (a shorter source is read whole)."""

_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_ARTICLE = {"int": "an int", "float": "a float", "bool": "a bool", "str": "a str"}


def _kind(v: Any) -> str:
    """What one target cell is: ``bool``, ``int``, ``float`` (a finite number that is not an
    int) or ``other``."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float" if math.isfinite(v) else "other"
    s = str(v).strip()
    if s in _TRUE or s in _FALSE:
        return "bool"
    try:
        int(s)
        return "int"
    except ValueError:
        pass
    try:
        f = float(s)
    except ValueError:
        return "other"
    return "float" if math.isfinite(f) else "other"


def infer_target_type(values: Iterable[Any], *, sample: int = TARGET_SAMPLE) -> str:
    """The target type that a strict majority of the first ``sample`` non-empty values have.

    ``bool`` when most are true/false; else ``int`` when most are numbers and all those numbers
    are integers, ``float`` when most are numbers and some are not integers; else ``str``. The
    minority that does not fit is bad input, counted row by row (:class:`RowDecoder`): ten
    ``maybe`` in a 0/1 column do not make every label a string. Only the first ``sample``
    non-empty values are read (the rule is a prefix of the stream: deterministic, one pass).

    >>> infer_target_type(["0", "1", ""]), infer_target_type(["0", "1.5"])
    ('int', 'float')
    >>> infer_target_type([True, False])
    'bool'
    >>> infer_target_type(["0", "1", "maybe", "1", "0"]), infer_target_type(["cat", "1"])
    ('int', 'str')
    """
    counts = {"bool": 0, "int": 0, "float": 0, "other": 0}
    nonempty = (v for v in values if v is not None and v != "")
    for v in islice(nonempty, sample):
        counts[_kind(v)] += 1
    n = sum(counts.values())
    if not n:
        return "str"
    if 2 * counts["bool"] > n:
        return "bool"
    if 2 * (counts["int"] + counts["float"]) > n:
        return "float" if counts["float"] else "int"
    return "str"


def _parse_target(value: Any, kind: str, field: str) -> Any:
    try:
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float):
                if not value.is_integer():  # int(1.5) would be 1: a wrong label, silently
                    raise ValueError
                return int(value)
            if isinstance(value, int):
                return value
            return int(str(value).strip())
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            f = float(value)
            if not math.isfinite(f):
                raise ValueError
            return f
        if kind == "bool":
            if isinstance(value, bool):
                return value
            s = str(value).strip()
            if s in _TRUE:
                return True
            if s in _FALSE:
                return False
            raise ValueError
    except (TypeError, ValueError):
        reason = (
            f"{value!r} is not {_ARTICLE[kind]} (the target's type; set target_type to read it "
            "otherwise)"
        )
        raise WrongTypeError(field, reason) from None
    return value if isinstance(value, str) else str(value)


class RowDecoder:
    """Split a raw row into ``(features, label, id, key, ts)`` (see the module rules).

    Parameters
    ----------
    target
        The label column; None for rows without labels.
    target_type
        A fixed type. ``"auto"`` is decided per source before reading
        (:func:`infer_target_type` over its first cells: ``build_source`` does it); a decoder
        built with ``"auto"`` itself keeps every target as a string.
    id, key, ts
        Columns holding the event id, the entity key and the event time (optional).
    categorical
        Columns whose values stay strings.
    keep_key
        Leave the key column among the features too (as a string), for features that group by
        the record's key.

    >>> RowDecoder(target="y", target_type="bool", key="user", keep_key=True).decode(
    ...     {"user": "u1", "a": "2", "y": "true"})
    ({'user': 'u1', 'a': 2.0}, True, None, 'u1', None)
    """

    def __init__(
        self,
        *,
        target: str | None = None,
        target_type: TargetType = "auto",
        id: str | None = None,
        key: str | None = None,
        ts: str | None = None,
        categorical: Sequence[str] = (),
        keep_key: bool = False,
    ) -> None:
        self.target = target
        self.target_type = "str" if target_type == "auto" else target_type
        self.id = id
        self.key = key
        self.ts = ts
        self.keep_key = keep_key
        self.categorical = frozenset(categorical) | ({key} if keep_key and key else set())
        self._meta = {c for c in (target, id, ts, None if keep_key else key) if c}

    def decode(
        self, row: dict[str, Any], offset: Any = None
    ) -> tuple[dict[str, Any], Any, str | None, str | None, float | None]:
        try:
            return self._decode(row)
        except EventError as err:
            raise err.at(offset) if offset is not None else err from None

    def _decode(self, row: dict[str, Any]) -> tuple[dict[str, Any], Any, Any, Any, Any]:
        label = None
        if self.target is not None:
            raw = row.get(self.target)
            if raw is None or raw == "":
                raise MissingFieldError(self.target, "the target is missing")
            label = _parse_target(raw, self.target_type, self.target)
        id = key = ts = None
        if self.id is not None:
            id = row.get(self.id)
            if id is None or id == "":
                raise MissingFieldError(self.id, "the id is missing")
            id = str(id)
        if self.key is not None:
            key = row.get(self.key)
            if key is None or key == "":
                raise MissingFieldError(self.key, "the key is missing")
            key = str(key)
        if self.ts is not None:
            raw_ts = row.get(self.ts)
            if raw_ts is None or raw_ts == "":
                raise MissingFieldError(self.ts, "the timestamp is missing")
            ts = parse_timestamp(raw_ts, self.ts)
        x: dict[str, Any] = {}
        meta, categorical = self._meta, self.categorical
        for name, v in row.items():
            if name in meta or v is None or v == "":
                continue
            if isinstance(v, str):
                if name in categorical:
                    x[name] = v
                    continue
                try:
                    f = float(v)
                except ValueError:
                    raise NotANumberError(name, f"not a number: {v!r}") from None
                if not math.isfinite(f):
                    raise NotANumberError(name, f"not a finite number: {v!r}")
                x[name] = f
            elif isinstance(v, bool | int | float):
                if isinstance(v, float) and not math.isfinite(v):
                    raise NotANumberError(name, f"not a finite number: {v!r}")
                x[name] = v
            else:
                raise NotANumberError(name, f"not a number or a string: {type(v).__name__}")
        return x, label, id, key, ts
