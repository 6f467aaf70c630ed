"""Run a scenario through the engine, the same path a live stream takes."""

from __future__ import annotations

from typing import Any

from connectors import IterableSource
from stream_ml.engine import Engine
from stream_ml.runtime.replay import Progress, Replay


def run_scenario(
    scenario: Any,
    *,
    events: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    sinks: list[Any] | None = None,
) -> dict[str, Any]:
    """Replay ``scenario``; returns ``{"summary": ..., "report": ...}``."""
    n = events or scenario.default_events
    engine = Engine.from_config(scenario.engine_config(seed))
    source = IterableSource(scenario.messages(n, seed), name=scenario.name)
    replay = Replay(
        engine, source, None, sinks=sinks or [], progress=progress, timeline_every=max(1, n // 40)
    )
    summary = replay.run()
    truth = scenario.ground_truth(n, seed)
    return {"summary": summary, "report": scenario.report(summary, truth)}
