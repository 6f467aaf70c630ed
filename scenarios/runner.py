"""Run a scenario through the engine, the same path a live stream takes.

:func:`human_report` rounds a report's floats for people (4 significant digits); the JSON output
keeps full precision.
"""

from __future__ import annotations

import math
from typing import Any

from connectors import IterableSource
from stream_ml.engine import Engine
from stream_ml.runtime.replay import Progress, Replay


class _RecordSink:
    """Keeps the run's records other than predictions and acks (drift alarms, promotions...)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, output: dict[str, Any]) -> None:
        if output.get("kind") not in ("prediction", "ack"):
            self.records.append(output)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def run_scenario(
    scenario: Any,
    *,
    events: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    sinks: list[Any] | None = None,
) -> dict[str, Any]:
    """Replay ``scenario``; returns ``{"summary": ..., "report": ...}``.

    ``summary["records"]`` holds the run's output records other than predictions and acks
    (drift alarms, challenger starts, promotions), in the order they were written. A scenario
    with an ``observer(engine)`` method is run closed-loop: the observer (a sink) sees every
    output, ``messages(n, seed, observer=...)`` reads from it, and ``summary["observed"]`` is
    its ``result()``.
    """
    n = events or scenario.default_events
    engine = Engine.from_config(scenario.engine_config(seed))
    # closed-loop scenarios (feedback that depends on what was served, e.g. clicks on a ranking)
    # get an observer: a sink that sees every output and that their messages read from
    observer = scenario.observer(engine) if hasattr(scenario, "observer") else None
    messages = (
        scenario.messages(n, seed)
        if observer is None
        else scenario.messages(n, seed, observer=observer)
    )
    source = IterableSource(messages, name=scenario.name)
    recorder = _RecordSink()
    replay = Replay(
        engine,
        source,
        None,
        sinks=[*(sinks or []), recorder, *([observer] if observer is not None else [])],
        progress=progress,
        timeline_every=max(1, n // 40),
    )
    summary = replay.run()
    summary["records"] = recorder.records
    if observer is not None:
        summary["observed"] = observer.result()
    truth = scenario.ground_truth(n, seed)
    return {"summary": summary, "report": scenario.report(summary, truth)}


def round_sig(x: float, digits: int = 4) -> float:
    """``x`` rounded to ``digits`` significant digits (non-finite values unchanged).

    >>> round_sig(0.123456), round_sig(123456.0), round_sig(-0.000123456), round_sig(0.0)
    (0.1235, 123500.0, -0.0001235, 0.0)
    """
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def human_report(obj: Any, digits: int = 4) -> Any:
    """``obj`` with every float rounded to ``digits`` significant digits (ints, strings and the
    structure unchanged): what the human report prints.

    >>> human_report({"auc": 0.912345678, "n": 3, "phases": [1.23456789, None]})
    {'auc': 0.9123, 'n': 3, 'phases': [1.235, None]}
    """
    if isinstance(obj, float):
        return round_sig(obj, digits)
    if isinstance(obj, dict):
        return {k: human_report(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [human_report(v, digits) for v in obj]
    return obj
