"""Turn a raw row (a CSV dict of strings, a JSON object, a River sample) into what the engine eats.

Rules, applied to every row the same way:

* the target column must be present and non-empty (else :class:`MissingFieldError`);
* the target's type is set once per source: ``"auto"`` looks at the whole column: all integers
  give ``int``, all numbers ``float``, all true/false ``bool``, anything else stays ``str``;
* a feature value that is a number stays a number; a string parses to ``float`` unless its
  column is listed in ``categorical``; a string that does not parse is a
  :class:`NotANumberError` naming the column; an empty cell means "missing" and is left out (as
  River does with missing features);
* ``id``, ``key`` and ``ts`` columns, when named, are taken out of the features.

>>> dec = RowDecoder(target="y", target_type="int", categorical=["city"])
>>> dec.decode({"a": "1.5", "city": "Paris", "b": "", "y": "1"})
({'a': 1.5, 'city': 'Paris'}, 1, None, None, None)
>>> dec.decode({"a": "abc", "city": "Paris", "y": "1"}, offset=7)
Traceback (most recent call last):
...
stream_ml.errors.NotANumberError: field 'a': not a number: 'abc' (at offset 7)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from stream_ml.errors import EventError, MissingFieldError, NotANumberError
from stream_ml.events import parse_timestamp

TargetType = Literal["auto", "int", "float", "bool", "str"]
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}


def infer_target_type(values: Iterable[Any]) -> str:
    """The narrowest type that holds every non-empty value: int, float, bool or str.

    >>> infer_target_type(["0", "1", ""]), infer_target_type(["0", "1.5"])
    ('int', 'float')
    >>> infer_target_type([True, False])
    'bool'
    """
    kinds = {"int", "float", "bool"}
    seen = False
    for v in values:
        if v is None or v == "":
            continue
        seen = True
        if isinstance(v, bool):
            kinds &= {"bool"}
        elif isinstance(v, int):
            kinds &= {"int", "float"}
        elif isinstance(v, float):
            kinds &= {"float"}
        else:
            s = str(v).strip()
            ok = set()
            if s in _TRUE or s in _FALSE:
                ok.add("bool")
            try:
                int(s)
                ok |= {"int", "float"}
            except ValueError:
                try:
                    float(s)
                    ok.add("float")
                except ValueError:
                    pass
            kinds &= ok
        if not kinds:
            return "str"
    if not seen:
        return "str"
    for k in ("bool", "int", "float"):
        if k in kinds:
            return k
    return "str"


def _parse_target(value: Any, kind: str, field: str) -> Any:
    try:
        if kind == "int":
            if isinstance(value, float) and value.is_integer():
                return int(value)
            return int(value)
        if kind == "float":
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
        raise EventError(field, f"target {value!r} is not a {kind}") from None
    return value if isinstance(value, str) else str(value)


class RowDecoder:
    """Split a raw row into ``(features, label, id, key, ts)`` (see the module rules).

    Parameters
    ----------
    target
        The label column; None for rows without labels.
    target_type
        ``"auto"`` (decided by :func:`infer_target_type` over the source), or a fixed type.
    id, key, ts
        Columns holding the event id, the entity key and the event time (optional).
    categorical
        Columns whose values stay strings.
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
    ) -> None:
        self.target = target
        self.target_type = "str" if target_type == "auto" else target_type
        self.id = id
        self.key = key
        self.ts = ts
        self.categorical = frozenset(categorical)
        self._meta = {c for c in (target, id, key, ts) if c}

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
