"""The replay runner: source -> driver -> sinks.

The runner only reads and writes: each record of the source goes to a
:class:`~stream_ml.runtime.driver.Driver` with its offset, and the outputs it returns
(predictions, acks, error records, the engine's drift, promotion and snapshot records) go to
the sinks. Two kinds of sources:

* **rows** (a decoder is given): each record is one observation with its label in a column,
  released ``delay`` observations later by the driver (the order of
  ``river.stream.simulate_qa``). With the same models, metric and delay the final metrics
  therefore equal ``river.evaluate.progressive_val_score``.
* **messages** (no decoder): each record is an observation or a feedback message.

A bad record is counted (with its location) and written as an error record; nothing else
changes. ``strict=True`` stops at the first one instead. Snapshots (the policy's, and those a
stage asks for) are taken by the driver at record boundaries, with the offset to resume from;
:meth:`Replay.resume` restores the newest valid one and seeks the source there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from stream_ml.engine import Engine
from stream_ml.errors import StreamMLError
from stream_ml.runtime.driver import Driver, as_dict

Progress = Callable[[int], None]


class Replay:
    """Drive an engine from a source.

    Parameters
    ----------
    engine
        The engine to drive.
    source
        A :class:`connectors.base.Source`.
    decoder
        A :class:`connectors.rows.RowDecoder` for row sources; ``None`` for message sources.
    delay
        Observations between a prediction and its label (row sources).
    sinks
        Where the outputs are written.
    strict
        Stop at the first bad record (raise) instead of counting it.
    progress
        Called with the number of records read so far, every ``progress_every`` records.
    timeline_every
        Record the rolling metrics every this many observations (for reports); 0 = never.
    snapshots
        A :class:`~stream_ml.stages.snapshotting.SnapshotStage` (attached to the engine).
    """

    def __init__(
        self,
        engine: Engine,
        source: Any,
        decoder: Any = None,
        *,
        delay: int = 0,
        sinks: Iterable[Any] = (),
        strict: bool = False,
        progress: Progress | None = None,
        progress_every: int = 1000,
        timeline_every: int = 0,
        snapshots: Any = None,
    ) -> None:
        if delay < 0:
            raise ValueError(f"delay must be >= 0, got {delay}")
        self.source = source
        self.decoder = decoder
        self.sinks = list(sinks)
        self.progress = progress
        self.progress_every = progress_every
        self.timeline_every = timeline_every
        self.timeline: list[dict[str, Any]] = []
        self.snapshots = snapshots
        self.resumed_from: Any = None
        if snapshots is not None:
            engine.snapshots = snapshots
        locate = source.location if hasattr(source, "location") else None
        self.driver = Driver(
            engine,
            delay=delay,
            snapshots=snapshots,
            flush=self._flush,
            locate=locate,
            strict=strict,
        )

    @property
    def engine(self) -> Engine:
        return self.driver.engine

    @property
    def records(self) -> int:
        return self.driver.records

    @property
    def next_offset(self) -> int:
        return self.driver.offset or 0

    @property
    def held(self) -> Any:
        return self.driver.held

    def _write_only(self, outputs: list[Any]) -> None:
        for sink in self.sinks:
            for d in map(as_dict, outputs):
                sink.write(d)

    def _write(self, outputs: list[Any]) -> None:
        """Write outputs to every sink and flush them (before each snapshot, and at the end)."""
        self._write_only(outputs)
        for sink in self.sinks:
            sink.flush()

    def _flush(self, outputs: list[Any]) -> None:
        self._write(outputs)
        outputs.clear()

    def resume(self) -> Any:
        """Restore the newest valid snapshot and seek the source to its offset.

        Returns the snapshot's info, or None when there is nothing to resume from.
        """
        stage = self.snapshots
        if stage is None:
            return None
        rec = stage.latest()
        if rec is None:
            return None
        out: list[Any] = []
        self.driver.restore(rec, out)
        self._write(out)
        self.driver.offset = int(rec.info.offset or 0)
        self.source.seek(self.driver.offset)
        stage.store.record_audit("restore", to_version=rec.info.version, reason="resume")
        self.resumed_from = rec.info
        return rec.info

    def snapshot(self, tags: tuple[str, ...] = (), note: str | None = None) -> Any:
        """Snapshot the engine and this runner's state now, at the current offset (on demand:
        a ``snapshot`` record is written)."""
        out: list[Any] = []
        info = self.driver.snapshot(tags, note, out)
        self._write(out)
        return info

    def run(self, limit: int | None = None) -> dict[str, Any]:
        """Read the source to its end (or ``limit`` records); returns the engine's summary."""
        driver, decoder = self.driver, self.decoder
        apply = driver.apply
        decode = decoder.decode if decoder is not None else None
        every, tl_every, tl_seq = self.progress_every, self.timeline_every, -1
        progress, sinks, write = self.progress, self.sinks, self._write_only
        out: list[Any] = []
        n = driver.records
        for offset, record in self.source.read():
            if limit is not None and n >= limit:
                break
            n += 1
            if decode is not None and type(record) is dict:
                try:
                    record = decode(record)
                except StreamMLError as err:
                    record = err
            apply(offset, record, out)
            if out:  # written at once: a closed-loop source may read what was served
                if sinks:
                    write(out)
                out.clear()
            if tl_every:
                seq = driver.engine.seq
                if seq % tl_every == 0 and seq != tl_seq:
                    tl_seq = seq
                    self._timeline()
            if progress is not None and n % every == 0:
                progress(n)
        driver.finish(out)
        self._flush(out)
        if progress is not None:
            progress(driver.records)
        return self.summary()

    def _timeline(self) -> None:
        engine = self.engine
        self.timeline.append(
            {
                "events": engine.seq,
                "models": {s.name: s.prequential.rolling() for s in engine.slots},
            }
        )

    def finish(self) -> None:
        """Learn every label still held, write and flush, and take a last checkpoint."""
        out: list[Any] = []
        self.driver.finish(out)
        self._write(out)

    def summary(self) -> dict[str, Any]:
        out = self.engine.summary()
        out["records"] = self.records
        out["next_offset"] = self.next_offset
        out["digest"] = self.engine.digest()
        if self.snapshots is not None:
            out["snapshots"] = {
                "resumed_from": None if self.resumed_from is None else self.resumed_from.version,
                "last_version": self.snapshots.parent,
                "skipped_corrupt": [getattr(k, "version", k) for k in self.snapshots.skipped],
                "lost": None if self.snapshots.lost is None else self.snapshots.lost.describe(),
                "recovery": self.snapshots.recovery,
            }
        if self.timeline:
            out["timeline"] = self.timeline
        return out
