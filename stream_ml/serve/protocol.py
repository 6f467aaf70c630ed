"""The ``/v1/stream`` wire protocol: one JSON text message in, one JSON text message out.

A message is one object (an observation or a feedback, as :func:`stream_ml.events.parse_message`
reads them) or a list of at most ``max_batch`` of them. The answer has the same shape: one
object (a prediction, an acknowledgement or an error) or a list with one answer per element, in
order. A bad element gets an error naming the field, with its index in ``offset``; the others are
applied. A message that is not JSON, not an object or list, binary, too deeply nested, or a list
that is empty or too long gets one error and changes nothing.

A timestamp (``ts``) is a JSON number of seconds or an ISO 8601 string (a number in a string,
``"1700000000"``, is refused: numbers go as JSON numbers, as feature values do). REST bodies are
read by :func:`parse_body` with the same rules, and :func:`body_schema` documents them.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic_core import from_json

from stream_ml.errors import EventError, MalformedMessageError
from stream_ml.events import ErrorRecord, Feedback, Observation, parse_message

Item = Observation | Feedback | dict[str, Any]


class ProtocolError(EventError):
    """A whole websocket message is refused (not JSON, binary, wrong shape, too long a batch)."""

    code = "malformed_message"

    def __init__(self, code: str, field: str | None, reason: str) -> None:
        super().__init__(field, reason)
        self.code = code

    def record(self) -> dict[str, Any]:
        return ErrorRecord(self.code, self.field, self.reason).to_dict()


def decode(text: str, max_batch: int) -> tuple[list[Item], bool]:
    """Parse one text message into items (parsed messages, or error dicts) and a batch flag.

    Examples
    --------
    >>> items, batch = decode('[{"id": "a", "features": {"x": 1}}, {"id": 3}]', 10)
    >>> batch, type(items[0]).__name__, items[1]["code"], items[1]["field"], items[1]["offset"]
    (True, 'Observation', 'malformed_message', 'id', 1)
    >>> decode('[1', 10)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    stream_ml.serve.protocol.ProtocolError: not JSON: EOF while parsing a list at line 1 column 2
    """
    data = _json(text)
    if isinstance(data, list):
        if not data:
            raise ProtocolError("malformed_message", None, "an empty batch")
        if len(data) > max_batch:
            raise ProtocolError(
                "batch_too_large", None, f"{len(data)} messages in one batch; at most {max_batch}"
            )
        return [_one(m, i) for i, m in enumerate(data)], True
    if not isinstance(data, dict):
        raise ProtocolError(
            "malformed_message", None, f"expected an object or a list, got {type(data).__name__}"
        )
    return [_one(data, None)], False


def parse_body(body: bytes, kind: type[Observation] | type[Feedback]) -> Observation | Feedback:
    """One REST body as a message of ``kind``; a :class:`ProtocolError` or
    :class:`~stream_ml.errors.MalformedMessageError` naming the field when it is not one.

    Examples
    --------
    >>> parse_body(b'{"features": {"x": 1}}', Observation).features
    {'x': 1}
    >>> parse_body(b'{"id": "a", "ts": {}}', Feedback)
    Traceback (most recent call last):
    ...
    stream_ml.errors.MalformedMessageError: field 'ts': not a timestamp: {}
    >>> parse_body(b'not json', Observation)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    stream_ml.serve.protocol.ProtocolError: not JSON: ...
    """
    data = _json(body)
    name = "observation" if kind is Observation else "feedback"
    if not isinstance(data, dict):
        raise ProtocolError("malformed_message", None,
                            f"expected an object, got {type(data).__name__}")  # fmt: skip
    if data.get("kind", name) != name:
        raise ProtocolError("malformed_message", "kind", f"this route takes a {name!r} only")
    _check_ts(data)
    return parse_message({**data, "kind": name})


def _json(text: str | bytes) -> Any:
    try:
        return from_json(text)  # pydantic's JSON parser: faster than json.loads, depth-bounded
    except (RecursionError, ValueError) as exc:
        if isinstance(exc, RecursionError) or "recursion limit" in str(exc):
            raise ProtocolError("malformed_message", None, "nested too deeply") from None
        raise ProtocolError("malformed_message", None, f"not JSON: {exc}") from None


def _check_ts(data: dict[str, Any]) -> None:
    ts = data.get("ts")
    if type(ts) is str:
        try:
            float(ts)
        except ValueError:
            return
        raise MalformedMessageError("ts", f"a number in a string: {ts!r}; send seconds as a JSON "
                                    "number, or an ISO 8601 date-time")  # fmt: skip


_TS = {
    "anyOf": [{"type": "number"}, {"type": "string", "format": "date-time"}, {"type": "null"}],
    "default": None,
    "description": "event time: seconds since the epoch, or ISO 8601",
}


def body_ref(kind: type[Observation] | type[Feedback]) -> dict[str, Any]:
    """The ``openapi_extra`` of a REST route taking ``kind``: a required JSON body whose schema
    is the component of that name (:func:`body_schema`)."""
    ref = {"$ref": f"#/components/schemas/{kind.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def body_schema(kind: type[Observation] | type[Feedback], schema: Any = None, *,
                router: bool = True) -> dict[str, Any]:  # fmt: skip
    """The JSON schema of a REST body of ``kind``, with the server's input schema
    (:class:`~stream_ml.serve.schemas.InputSchema`) for the features; a feedback needs a
    label, a reward or clicks (one of them not null), and has no reward without a ``router``."""
    js = copy.deepcopy(kind.model_json_schema())
    js["properties"]["ts"] = _TS
    js["properties"]["kind"].pop("default", None)
    if kind is Observation and schema is not None:
        js["properties"]["features"] = schema.json_schema()
        item = schema.json_schema()
        item["properties"] = {
            **item.get("properties", {}),
            "id": {
                "anyOf": [{"type": "string", "minLength": 1}, {"type": "number"}],
                "description": "unique among the candidates",
            },
        }
        item["required"] = ["id"]
        js["properties"]["candidates"] = {"anyOf": [{"type": "array", "items": item},
                                                    {"type": "null"}], "default": None}  # fmt: skip
    if kind is Feedback:
        fields = ("label", "reward", "clicks") if router else ("label", "clicks")
        if not router:
            del js["properties"]["reward"]
        js["anyOf"] = [{"required": [f], "properties": {f: {"not": {"type": "null"}}}}
                       for f in fields]  # fmt: skip
    return js


def _one(data: Any, offset: int | None) -> Item:
    if not isinstance(data, dict):
        return ErrorRecord("malformed_message", None, f"expected an object, got "
                           f"{type(data).__name__}", offset).to_dict()  # fmt: skip
    try:
        _check_ts(data)
        return parse_message(data)
    except EventError as err:
        return ErrorRecord.from_error(err, offset).to_dict()
    except RecursionError:
        return ErrorRecord("malformed_message", None, "nested too deeply", offset).to_dict()
