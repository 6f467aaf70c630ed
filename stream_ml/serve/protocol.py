"""The ``/v1/stream`` wire protocol: one JSON text message in, one JSON text message out.

A message is one object (an observation or a feedback, as :func:`stream_ml.events.parse_message`
reads them) or a list of at most ``max_batch`` of them. The answer has the same shape: one
object (a prediction, an acknowledgement or an error) or a list with one answer per element, in
order. A bad element gets an error naming the field, with its index in ``offset``; the others are
applied. A message that is not JSON, not an object or list, binary, too deeply nested, or a list
that is empty or too long gets one error and changes nothing.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json

from stream_ml.errors import EventError
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
    try:
        data = from_json(text)  # pydantic's JSON parser: faster than json.loads, depth-bounded
    except (RecursionError, ValueError) as exc:
        if isinstance(exc, RecursionError) or "recursion limit" in str(exc):
            raise ProtocolError("malformed_message", None, "nested too deeply") from None
        raise ProtocolError("malformed_message", None, f"not JSON: {exc}") from None
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


def _one(data: Any, offset: int | None) -> Item:
    if not isinstance(data, dict):
        return ErrorRecord("malformed_message", None, f"expected an object, got "
                           f"{type(data).__name__}", offset).to_dict()  # fmt: skip
    try:
        return parse_message(data)
    except EventError as err:
        return ErrorRecord.from_error(err, offset).to_dict()
    except RecursionError:
        return ErrorRecord("malformed_message", None, "nested too deeply", offset).to_dict()
