"""What a scenario is: a seeded generator of messages, its ground truth, a default engine, a report.

A scenario replays through exactly the path a live stream takes (messages -> ``Engine.process``)
so that what it shows about the engine holds for live traffic too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from stream_ml.config import EngineConfig


class Scenario(Protocol):
    """A named, seeded simulation with known ground truth."""

    name: str
    description: str
    default_events: int

    def messages(self, n_events: int, seed: int) -> Iterator[dict[str, Any]]:
        """Observations and feedback messages, in arrival order."""
        ...

    def ground_truth(self, n_events: int, seed: int) -> dict[str, Any]:
        """What is known to be true about the stream (drift points, delays, best arm...)."""
        ...

    def engine_config(self, seed: int) -> EngineConfig:
        """The engine this scenario runs by default."""
        ...

    def report(self, summary: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
        """Turn the run's summary (with its timeline) into the scenario's report."""
        ...
