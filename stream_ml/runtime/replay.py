"""The replay runner: source -> engine -> sinks, with labels that arrive ``delay`` events later.

Two kinds of sources:

* **rows** (a decoder is given): each record is one observation with its label in a column. The
  label is held back and given to the engine ``delay`` observations later, with the same order
  as ``river.stream.simulate_qa``: before observation ``i`` is predicted, every label of an
  observation ``j`` with ``j + delay <= i`` is learned; the labels still held at the end are
  learned last. With the same models, metric and delay the final metrics therefore equal
  ``river.evaluate.progressive_val_score``.
* **messages** (no decoder): each record is an observation or a feedback message, applied in
  order through ``Engine.process``.

A bad record is counted (with its location) and skipped; nothing else changes. ``strict=True``
stops at the first one instead.

Requests. What the engine asks for in ``engine.requests`` (a drift alarm's or a promotion's
``("snapshot", tag, note)``) is handled right after the engine call that asked, before the
next one: at the record boundary, or, for a row source's labels released before the next
prediction, between two of them (the snapshot then resumes from that record again, with the
labels still held). A promotion therefore is snapshotted just before it takes effect (see
``stream_ml.stages.routing``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from stream_ml.engine import Engine
from stream_ml.errors import EventError, StreamMLError
from stream_ml.events import Prediction

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
        Where predictions (and acknowledgements) are written.
    strict
        Stop at the first bad record (raise) instead of counting it.
    progress
        Called with the number of records read so far, every ``progress_every`` records.
    timeline_every
        Record the rolling metrics every this many observations (for reports); 0 = never.
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
        self.engine = engine
        self.source = source
        self.decoder = decoder
        self.delay = delay
        self.sinks = list(sinks)
        self.strict = strict
        self.progress = progress
        self.progress_every = progress_every
        self.timeline_every = timeline_every
        self.timeline: list[dict[str, Any]] = []
        self.held: deque[tuple[int, str, Any]] = deque()
        self.records = 0
        self.next_offset = 0
        self.snapshots = snapshots
        self.resumed_from: Any = None
        self.snapshots_at_start = -1
        if snapshots is not None:
            engine.snapshots = snapshots

    # -- snapshots and exact resume -------------------------------------------------------------

    def _extra(self, records: int | None = None) -> dict[str, Any]:
        return {"held": list(self.held), "records": self.records if records is None else records}

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
        engine = rec.state["engine"]
        extra = rec.state.get("extra") or {}
        engine.snapshots = stage
        self.engine = engine
        self.held = deque(extra.get("held", []))
        self.records = extra.get("records", 0)
        self.next_offset = int(rec.info.offset or 0)
        self.source.seek(self.next_offset)
        stage.store.record_audit("restore", to_version=rec.info.version, reason="resume")
        self.resumed_from = rec.info
        self.snapshots_at_start = engine.seq
        return rec.info

    def snapshot(
        self,
        tags: tuple[str, ...] = (),
        note: str | None = None,
        at: tuple[int, int] | None = None,
    ) -> Any:
        """Snapshot the engine and this runner's state at the current offset (the engine's
        records drained, sinks flushed). ``at``: ``(offset, records)`` to resume from instead
        (a record to read again)."""
        if self.engine.events:
            self._drain()
        for sink in self.sinks:
            sink.flush()
        offset, records = at if at is not None else (self.next_offset, None)
        return self.snapshots.save(
            self.engine, offset=offset, extra=self._extra(records), tags=tags, note=note
        )

    def _handle_requests(self, at: tuple[int, int] | None = None) -> None:
        for action, tag, note in self.engine.pop_requests():
            if action == "snapshot" and self.snapshots is not None:
                self.snapshot(tags=(tag,), note=note, at=at)

    def _drain(self) -> None:
        for ev in self.engine.drain_events():
            if ev.get("kind") in ("snapshot", "rollback"):
                continue  # bookkeeping of this run, not outputs of the stream
            for sink in self.sinks:
                sink.write(ev)

    def _emit(self, output: Any) -> None:
        if self.sinks:
            d = output.to_dict()
            for sink in self.sinks:
                sink.write(d)

    def _release(self, upto: int, reread: int | None = None) -> None:
        """Learn the held labels due by ``upto``; requests are handled after each. ``reread``:
        the offset of the record being read, whose prediction is still to come (a snapshot
        taken here resumes by reading it again)."""
        engine = self.engine
        held, learn = self.held, engine.learn
        while held and held[0][0] <= upto:
            _, id, label = held.popleft()
            try:
                learn(id, label)
            except StreamMLError:
                if self.strict:
                    raise
            if engine.requests:
                self._handle_requests(None if reread is None else (reread, self.records - 1))

    def _bad(self, err: StreamMLError, offset: int, counted: bool) -> None:
        where = self.source.location(offset) if hasattr(self.source, "location") else offset
        if counted:
            self.engine.annotate_last_error(where)
        else:
            self.engine.count_error(err, where)
        if self.strict:
            if isinstance(err, EventError) and err.offset is None:
                err.at(where)
            raise err

    def run(self, limit: int | None = None) -> dict[str, Any]:
        """Read the source to its end (or ``limit`` records); returns the engine's summary."""
        engine, decoder = self.engine, self.decoder
        emit = self._emit if self.sinks else None
        every, tl_every = self.progress_every, self.timeline_every
        policy = engine.snapshot_policy if self.snapshots is not None else None
        for offset, record in self.source.read():
            if policy is not None and policy.due(engine.seq, engine.last_ts):
                self.snapshot()
            if engine.requests:
                self._handle_requests()
            if engine.events:
                self._drain()
            if limit is not None and self.records >= limit:
                break
            self.records += 1
            self.next_offset = offset + 1
            if self.progress is not None and self.records % every == 0:
                self.progress(self.records)
            if isinstance(record, StreamMLError):
                self._bad(record, offset, counted=False)
                continue
            if decoder is not None:
                try:
                    x, label, id, key, ts = decoder.decode(record)
                except StreamMLError as err:
                    self._bad(err, offset, counted=False)
                    continue
                i = engine.seq
                if self.held:  # before this record's prediction: a snapshot reads it again
                    self._release(i, offset)
                try:
                    p: Any = engine.predict(
                        x, id=id if id is not None else str(offset), key=key, ts=ts, copy=False
                    )
                except StreamMLError as err:
                    self._bad(err, offset, counted=True)
                    continue
                self.held.append((i + self.delay, p.id, label))
                if self.delay == 0:
                    self._release(i)
            else:
                try:
                    p = engine.process(record)
                except StreamMLError as err:
                    self._bad(err, offset, counted=True)
                    continue
            if emit is not None:
                emit(p)
            if tl_every and isinstance(p, Prediction) and p.seq % tl_every == 0:
                self._snap_timeline()
        if engine.requests:
            self._handle_requests()
        if engine.events:
            self._drain()
        self.finish()
        return self.summary()

    def finish(self) -> None:
        """Learn every label still held, flush the sinks."""
        self._release(float("inf"))  # type: ignore[arg-type]
        if self.engine.events:
            self._drain()
        for sink in self.sinks:
            sink.flush()
        if self.snapshots is not None and self.engine.seq > self.snapshots_at_start:
            self.snapshot(note="end of source")
        if self.progress is not None:
            self.progress(self.records)

    def _snap_timeline(self) -> None:
        self.timeline.append(
            {
                "events": self.engine.seq,
                "models": {s.name: s.prequential.rolling() for s in self.engine.slots},
            }
        )

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
            }
        if self.timeline:
            out["timeline"] = self.timeline
        return out
