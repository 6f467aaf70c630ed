"""Errors of the experiments package, all in the :mod:`stream_ml.errors` tree.

Each names the field that is wrong. A router that refuses an input counts it in
``router.errors`` (by error code) and changes no other state.

>>> err = UnknownDecisionError(7)
>>> err.field, err.code, isinstance(err, FeedbackError)
('decision', 'unknown_decision', True)
"""

from __future__ import annotations

from typing import Any

from stream_ml.errors import ConfigError, EventError, FeedbackError

__all__ = [
    "BadLogError",
    "BadRewardError",
    "ExperimentConfigError",
    "UnknownArmError",
    "UnknownClickError",
    "UnknownDecisionError",
]


class ExperimentConfigError(ConfigError):
    """An experiment config does not fit the models it is built for."""

    code = "experiment_config"


class UnknownDecisionError(FeedbackError):
    """A reward for a decision this router did not issue, already rewarded, or evicted."""

    code = "unknown_decision"

    def __init__(self, seq: int, reason: str = "", *, offset: Any = None) -> None:
        why = reason or "not issued by this router, already rewarded, or evicted"
        super().__init__("decision", f"decision seq={seq}: {why}", offset=offset)
        self.seq = seq


class UnknownArmError(FeedbackError):
    """An outcome or log entry names an arm the router does not have."""

    code = "unknown_arm"

    def __init__(self, arm: str, field: str = "arm", *, offset: Any = None) -> None:
        super().__init__(field, f"unknown arm {arm!r}", offset=offset)
        self.arm = arm


class BadRewardError(FeedbackError):
    """A reward that is not a finite number, or outside the range the router accepts."""

    code = "bad_reward"

    def __init__(self, value: Any, reason: str, *, offset: Any = None) -> None:
        super().__init__("reward", f"{value!r}: {reason}", offset=offset)
        self.value = value


class UnknownClickError(FeedbackError):
    """A click on an item that was not shown in the interleaved list."""

    code = "unknown_click"

    def __init__(self, item: Any, *, offset: Any = None) -> None:
        super().__init__("clicks", f"item {item!r} was not shown", offset=offset)
        self.item = item


class BadLogError(EventError):
    """A logged decision for off-policy evaluation is malformed (names the field)."""

    code = "bad_log"
