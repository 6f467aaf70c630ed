"""Typed errors of the feature stage.

Every error names the feature and the field. They derive from the engine's tree
(:class:`~stream_ml.errors.EventError` for bad events), so the engine counts them like any other
bad input; the feature stage guarantees that no state changed when one is raised.

>>> err = FeatureKeyMissing("amount_mean_1h", "user", "the entity key is missing")
>>> str(err)
"field 'user': feature 'amount_mean_1h': the entity key is missing"
>>> err.feature, err.field, err.code
('amount_mean_1h', 'user', 'missing_field')
"""

from __future__ import annotations

from typing import Any

from stream_ml.errors import EventError, MissingFieldError, NotANumberError


class FeatureEventError(EventError):
    """An event cannot be used by a feature. Names the feature and the field."""

    code = "bad_feature_input"

    def __init__(self, feature: str, field: str, reason: str, *, offset: Any = None) -> None:
        self.feature = feature
        super().__init__(field, f"feature {feature!r}: {reason}", offset=offset)


class FeatureKeyMissing(FeatureEventError, MissingFieldError):
    """An entity key field (``by``) or an aggregated field (``on``) is absent or None."""

    code = "missing_field"


class FeatureValueNotNumeric(FeatureEventError, NotANumberError):
    """A numeric aggregate got a value that is not a finite number."""

    code = "not_a_number"


class FeatureTimestampError(FeatureEventError):
    """The event time does not parse or is not finite."""

    code = "bad_timestamp"
