"""parse_message's hand-checked fast path (``_quick``) gives exactly pydantic's message, and
leaves every other shape to pydantic (same errors)."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from stream_ml.errors import MalformedMessageError
from stream_ml.events import Feedback, Observation, _quick, _validate, parse_message

QUICK = [
    {"id": "e1", "features": {"x": 1.5}},
    {"kind": "observation", "id": "e1", "key": "k", "ts": 1700000000.0,
     "features": {"a": 1, "b": True, "c": "s", "d": None, "e": -0.0, "f": 10**30}},
    {"features": {}},
    {"features": {"x": 1.0}, "ts": 3, "candidates": None},
    {"features": {"x": 1.0}, "id": None, "key": None, "ts": None},
    {"id": "e" * 256, "key": "k" * 256, "features": {"x": 2.0}},
    {"id": "e1", "label": True},
    {"id": "e1", "label": 0},
    {"id": "e1", "label": 2.5, "ts": 5},
    {"id": "e1", "label": float("nan")},
    {"id": "e1", "label": "cat", "key": "k"},
    {"kind": "feedback", "id": "e1", "reward": 1},
    {"id": "e1", "reward": 0.25, "label": None, "clicks": None},
    {"id": "e1", "reward": float("inf")},
    {"id": "e1"},
]

SLOW = [  # shapes the fast path leaves to pydantic (which accepts or refuses them)
    {"id": "e1", "features": {"x": float("nan")}},
    {"id": "e1", "features": {"x": [1]}},
    {"id": "e1", "features": {"x": 1.0}, "extra": 1},
    {"id": 7, "features": {"x": 1.0}},
    {"id": "e" * 257, "features": {"x": 1.0}},
    {"id": "e1", "features": {"x": 1.0}, "ts": "2023-11-14T22:13:20Z"},
    {"id": "e1", "features": {"x": 1.0}, "ts": True},
    {"id": "e1", "features": {"x": 1.0}, "ts": float("inf")},
    {"id": "e1", "features": {"x": 1.0}, "ts": 2**60},
    {"id": "e1", "features": {"x": 1.0}, "candidates": [{"id": "a"}]},
    {"kind": "observation", "id": "e1", "label": 1},
    {"kind": "feedback", "id": "e1", "features": {"x": 1.0}},
    {"kind": "nope", "id": "e1"},
    {"label": 1},
    {"id": "e1", "label": [1]},
    {"id": "e1", "reward": True},
    {"id": "e1", "reward": "1.5"},
    {"id": "e1", "clicks": ["a"]},
    {"id": "e1", "label": 1, "ts": "yesterday"},
]


def _same(a, b) -> None:
    assert type(a) is type(b)
    assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__
    da, db = a.model_dump(), b.model_dump()
    assert list(da) == list(db)
    for k in da:  # nan == nan here, and types too (1 is not 1.0, True is not 1)
        va, vb = da[k], db[k]
        assert type(va) is type(vb), k
        if isinstance(va, float) and math.isnan(va):
            assert math.isnan(vb)
        elif isinstance(va, dict):
            assert list(va.items()) == list(vb.items())
            assert [type(v) for v in va.values()] == [type(v) for v in vb.values()]
        else:
            assert va == vb, k


@pytest.mark.parametrize("data", QUICK)
def test_quick_equals_pydantic(data: dict) -> None:
    fast = _quick(dict(data))
    assert fast is not None
    slow = _validate(dict(data))
    _same(fast, slow)
    assert fast == slow
    _same(parse_message(data), fast)
    import json

    if all(not isinstance(v, float) or math.isfinite(v) for v in data.values()):
        _same(parse_message(json.dumps(data)), slow)  # JSON text: decoded, then the same path


@pytest.mark.parametrize("data", SLOW)
def test_other_shapes_go_to_pydantic(data: dict) -> None:
    assert _quick(dict(data)) is None
    try:
        expected = _validate(dict(data))
    except MalformedMessageError as exc:
        with pytest.raises(MalformedMessageError) as info:
            parse_message(data)
        assert (info.value.field, info.value.reason) == (exc.field, exc.reason)
    else:
        _same(parse_message(data), expected)


def test_features_are_copied_and_frozen() -> None:
    feats = {"x": 1.0}
    msg = parse_message({"id": "e1", "features": feats})
    assert isinstance(msg, Observation) and msg.features == feats and msg.features is not feats
    feats["x"] = 2.0
    assert msg.features == {"x": 1.0}
    with pytest.raises(ValidationError):
        msg.id = "other"  # frozen, as pydantic's
    fb = parse_message({"id": "e1", "label": 1})
    assert isinstance(fb, Feedback) and fb.model_copy(update={"label": 2}).label == 2


def test_weather_stream_messages_equal_pydantic() -> None:
    from tests.acceptance.streams import weather_messages

    for m in list(weather_messages(rows=300, delay=50)):
        data = m if isinstance(m, dict) else m.model_dump(exclude_unset=True)
        _same(parse_message(data), _validate(data))
