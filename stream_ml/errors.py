"""The one exception tree of stream-ml.

Every error the engine raises on purpose derives from :class:`StreamMLError`. Bad input is an
:class:`EventError` that names the field and the reason; the engine counts it and changes no
state. Drift is never an exception: it is a record on the output stream.

>>> err = EventError("amount", "not a number: 'abc'", offset=12)
>>> str(err)
"field 'amount': not a number: 'abc' (at offset 12)"
>>> isinstance(err, StreamMLError), err.code
(True, 'bad_event')
>>> str(EventError("y", "'maybe' is not an int", offset="data.csv:58"))  # a source location
"field 'y': 'maybe' is not an int (at data.csv:58)"
"""

from __future__ import annotations

from typing import Any


class StreamMLError(Exception):
    """Root of every error stream-ml raises on purpose."""

    code = "error"


class ConfigError(StreamMLError):
    """A configuration (TOML, Python arguments, a model expression) is wrong."""

    code = "config"


class ModelExpressionError(ConfigError):
    """A River model expression in a config does not parse or names something not allowed."""

    code = "model_expression"

    def __init__(self, expression: str, reason: str, column: int | None = None) -> None:
        self.expression = expression
        self.reason = reason
        self.column = column
        where = f" at column {column + 1}" if column is not None else ""
        super().__init__(f"bad model expression {expression!r}{where}: {reason}")


class EventError(StreamMLError):
    """An input record or message is malformed. Names the field and the reason.

    ``offset`` is where it came from, when known: a source offset (an int: ``at offset 12``) or
    a source location such as ``data.csv:58`` (a string: ``at data.csv:58``).
    """

    code = "bad_event"

    def __init__(self, field: str | None, reason: str, *, offset: Any = None) -> None:
        self.field = field
        self.reason = reason
        self.offset = offset
        super().__init__(self._message())

    def _message(self) -> str:
        head = f"field {self.field!r}: " if self.field else ""
        off = self.offset
        if off is None:
            tail = ""
        else:
            tail = f" (at {off})" if isinstance(off, str) else f" (at offset {off})"
        return f"{head}{self.reason}{tail}"

    def at(self, offset: Any) -> EventError:
        """Attach a source offset to this error (returns self)."""
        self.offset = offset
        self.args = (self._message(),)
        return self


class MissingFieldError(EventError):
    """A required field (target, id, key, timestamp) is absent or empty."""

    code = "missing_field"


class NotANumberError(EventError):
    """A value that must be numeric is not."""

    code = "not_a_number"


class WrongTypeError(EventError):
    """A value does not parse as its column's type (e.g. ``maybe`` in a target of type int)."""

    code = "wrong_type"


class MalformedMessageError(EventError):
    """A message does not match any message schema (bad JSON, wrong types, unknown kind)."""

    code = "malformed_message"


class FeedbackError(EventError):
    """Feedback that cannot be joined to a pending prediction."""

    code = "bad_feedback"


class UnknownIdError(FeedbackError):
    """Feedback for an id the engine never saw (or already learned from)."""

    code = "unknown_id"

    def __init__(self, id: str, *, offset: Any = None) -> None:
        super().__init__("id", f"no pending prediction with id {id!r}", offset=offset)
        self.id = id


class ExpiredIdError(FeedbackError):
    """Feedback whose pending prediction already expired (TTL or capacity)."""

    code = "expired_id"

    def __init__(self, id: str, *, offset: Any = None) -> None:
        super().__init__(
            "id", f"the prediction {id!r} expired before its label arrived", offset=offset
        )
        self.id = id


class DuplicateIdError(EventError):
    """An observation reuses the id of a prediction that is still pending."""

    code = "duplicate_id"

    def __init__(self, id: str, *, offset: Any = None) -> None:
        super().__init__("id", f"id {id!r} is already pending a label", offset=offset)
        self.id = id


class ModelError(StreamMLError):
    """A model raised while predicting or learning. Names the model, and (``offset``, set by
    the runtime) where the record came from.

    >>> err = ModelError("lr", "learn", ValueError("boom"))
    >>> str(err.at("data.csv:9"))
    "model 'lr' failed in learn: ValueError: boom (at data.csv:9)"
    """

    code = "model_error"
    field = None

    def __init__(self, model: str, stage: str, cause: BaseException) -> None:
        self.model = model
        self.stage = stage
        self.reason = f"model {model!r} failed in {stage}: {type(cause).__name__}: {cause}"
        self.offset: Any = None
        super().__init__(self.reason)

    def at(self, offset: Any) -> ModelError:
        """Attach the record's location (returns self)."""
        self.offset = offset
        where = f"at {offset}" if isinstance(offset, str) else f"at offset {offset}"
        self.args = (f"{self.reason} ({where})",)
        return self


class ConnectorError(StreamMLError):
    """A source or sink cannot be opened, read, written or sought."""

    code = "connector"


class SnapshotError(StreamMLError):
    """A snapshot cannot be written, found or loaded."""

    code = "snapshot"


class SnapshotCorrupt(SnapshotError):
    """A snapshot's payload does not match its checksum."""

    code = "snapshot_corrupt"


class SnapshotSignatureError(SnapshotError):
    """A snapshot is unsigned or signed with another key; it is refused before unpickling."""

    code = "snapshot_signature"


class SnapshotVersionError(SnapshotError):
    """A snapshot was written by versions this process refuses to load."""

    code = "snapshot_version"
