"""The driver: the one per-record protocol between a runtime's I/O and the engine.

Every runtime (the replay runner, the server's owner task, the Bytewax step, the broker
consumer) reads a record, hands it to :meth:`Driver.apply` with its offset, and writes what comes
back; none of them knows what a held label, a request or an engine record is. One record:

1. **decode** is the runtime's (a row decoder, a message parser); what reaches the driver is a
   decoded row ``(x, label, id, key, ts)``, a message (:class:`~stream_ml.events.Observation`,
   :class:`~stream_ml.events.Feedback`, or a raw dict / JSON text to validate), or the
   :class:`~stream_ml.errors.StreamMLError` the source raised for a record it could not read;
2. **engine call**: a row is predicted and its label held back ``delay`` observations (the order
   of ``river.stream.simulate_qa``: before observation ``i`` is predicted, every held label of an
   observation ``j`` with ``j + delay <= i`` is learned); a message goes to ``Engine.process``;
3. **outputs**, in order: the :class:`~stream_ml.events.Prediction` or
   :class:`~stream_ml.events.Ack`, an :class:`~stream_ml.events.ErrorRecord` (counted by the
   engine, with its location; nothing else changes; id ``error:<offset>``, or
   ``error:learn:<prediction id>`` for a held label the engine refused), and the engine's own
   records (``drift``, ``challenger``, ``promotion``, ``rollback``) from its outbox;
4. **requests at the record boundary**: a snapshot a stage asked for (a drift action, a
   promotion: tagged) and the one the engine's snapshot policy says is due, each taken here with
   the source offset to resume from and the runtime's extras, and reported as a ``snapshot``
   record whose id (``snapshot:<events>:<tags>``) depends only on the stream position. When a
   held label released just before a row's prediction asks for a snapshot, it is taken there,
   and resumes by reading that row again (its held labels saved with it).

Snapshots the runtime takes for its own reasons (:meth:`checkpoint`: end of input, shutdown, a
broker consumer's acknowledgements) neither move the policy's schedule nor make a record: the
outputs of a run do not depend on when a runtime checkpoints.

>>> from river import linear_model
>>> from stream_ml import Engine
>>> d = Driver(Engine({"lr": linear_model.LogisticRegression()}), delay=1)
>>> out = []
>>> d.apply(0, ({"x": 1.0}, True, None, "k", None), out)
>>> d.apply(1, {"id": "m1", "features": {"x": 2.0}}, out)
>>> d.apply(2, {"id": "nope", "label": True}, out)
>>> [(o.kind, o.id) for o in out]
[('prediction', '0'), ('prediction', 'm1'), ('error', 'error:2')]
>>> d.engine.n_labels, d.finish(out), d.engine.n_labels
(0, None, 1)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from stream_ml.errors import StreamMLError
from stream_ml.events import ErrorRecord, SnapshotRequest

__all__ = ["Driver", "as_dict"]


Output = Any  # Prediction | Ack | ErrorRecord | dict (an engine record)


def as_dict(output: Output) -> dict[str, Any]:
    """An output as the JSON-ready dict sinks write."""
    return output if type(output) is dict else output.to_dict()


def _next(offset: Any) -> Any:
    """The offset after ``offset`` for sources counted by integers; any other offset (a broker
    entry id) is its own resume point."""
    return offset + 1 if type(offset) is int else offset


def snapshot_record(info: Any) -> dict[str, Any]:
    """The ``snapshot`` output of a snapshot the stream asked for; its id depends only on the
    stream position and the reasons (``snapshot:<events>:<tags>``, ``scheduled`` for none).
    Its size is left out (it depends on the configuration's paths): ``snapshots list`` has it."""
    tags = list(info.tags)
    return {
        "kind": "snapshot",
        "id": f"snapshot:{info.events}:{'+'.join(tags) or 'scheduled'}",
        "version": info.version,
        "events": info.events,
        "offset": info.offset,
        "tags": tags,
        "note": info.note,
    }


class Driver:
    """Applies records to one engine and acts on what it asks for (module docstring).

    Parameters
    ----------
    engine
        The engine to drive.
    delay
        Observations between a row's prediction and its label (rows only).
    snapshots
        A :class:`~stream_ml.stages.snapshotting.SnapshotStage` (``None``: requests are dropped
        and no snapshot is taken). The engine's ``snapshot_policy`` says when one is due.
    extra
        Returns the runtime's own state to store with each snapshot (merged with the driver's
        held labels and record count).
    flush
        Called with the outputs not yet returned, before each snapshot: the runtime writes them
        (and flushes its sinks, and empties the list), so that a snapshot never covers an output
        that was not written. ``None``: outputs stay in the list.
    committed
        Called with each snapshot's info once it is committed (a broker consumer acks then).
    locate
        Maps an offset to the location errors name (e.g. ``file:line``).
    next_offset
        Maps an applied record's offset to the offset to resume from (default ``offset + 1``;
        a broker consumer resumes after the last applied entry id and passes the identity).
    strict
        Raise the first error after counting it, instead of returning an error record.
    on_snapshot_error
        Called with the exception when a snapshot cannot be written; the run goes on and the
        policy's next due time is the next try. ``None``: the exception propagates.
    """

    __slots__ = (
        "_resume",
        "committed",
        "delay",
        "engine",
        "extra",
        "flush",
        "held",
        "last",
        "locate",
        "next_offset",
        "on_snapshot_error",
        "records",
        "snapshot_records",
        "snapshots",
        "strict",
    )

    def __init__(
        self,
        engine: Any,
        *,
        delay: int = 0,
        snapshots: Any = None,
        extra: Callable[[], dict[str, Any]] | None = None,
        flush: Callable[[list[Output]], None] | None = None,
        committed: Callable[[Any], None] | None = None,
        locate: Callable[[Any], Any] | None = None,
        next_offset: Callable[[Any], Any] = _next,
        strict: bool = False,
        on_snapshot_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        if delay < 0:
            raise ValueError(f"delay must be >= 0, got {delay}")
        self.engine = engine
        self.delay = delay
        self.held: deque[tuple[int, str, Any, Any]] = deque()
        self.snapshots = snapshots
        self.extra = extra
        self.flush = flush
        self.committed = committed
        self.locate = locate
        self.next_offset = next_offset
        self.strict = strict
        self.on_snapshot_error = on_snapshot_error
        self.records = 0
        self.last: Any = None  # the offset of the last record applied (None: none yet)
        self._resume: Any = None  # the offset to resume from before any record was applied
        self.snapshot_records = 0  # records applied at the last snapshot

    @property
    def offset(self) -> Any:
        """The offset to resume from: ``next_offset`` of the last record applied (worked out
        when asked, at a snapshot or a report, not per record)."""
        last = self.last
        return self._resume if last is None else self.next_offset(last)

    @offset.setter
    def offset(self, value: Any) -> None:
        self._resume, self.last = value, None

    # -- pickling: the state, not the runtime's parts ------------------------------------------

    _RUNTIME = ("committed", "extra", "flush", "locate", "on_snapshot_error", "snapshots")

    def __getstate__(self) -> dict[str, Any]:
        """The engine, held labels and counters; the runtime's hooks and store are left out
        (the runtime attaches its own to a driver it unpickles), and so is a custom
        ``next_offset`` (the default is kept)."""
        state = {k: getattr(self, k) for k in self.__slots__ if k not in self._RUNTIME}
        if state["next_offset"] is not _next:
            state["next_offset"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k in self._RUNTIME:
            setattr(self, k, None)
        for k, v in state.items():
            setattr(self, k, v)
        if self.next_offset is None:
            self.next_offset = _next

    # -- one record -------------------------------------------------------------------------------

    def apply(self, offset: Any, item: Any, out: list[Output]) -> None:
        """Apply one record (module docstring); its outputs are appended to ``out``."""
        self.records += 1
        engine = self.engine
        kind = type(item)
        if kind is dict:  # a message (Engine.process checks the plain shapes by hand)
            try:
                out.append(engine.process(item))
            except StreamMLError as err:
                self._error(err, offset, out, counted=True)
        elif kind is tuple:
            self._row(offset, item, out)
        elif isinstance(item, StreamMLError):
            self._error(item, offset, out, counted=False)
        else:
            try:
                out.append(engine.process(item))
            except StreamMLError as err:
                self._error(err, offset, out, counted=True)
        self.last = offset
        if engine.outbox:
            self._take(out, None)
        if self.snapshots is not None:
            policy = engine.snapshot_policy
            if policy is not None and policy.due(engine.seq, engine.last_ts):
                self.snapshot((), None, out)

    def apply_many(self, items: list[tuple[Any, Any]], out: list[Output]) -> None:
        """Apply ``(offset, record)`` items in order (what :meth:`apply` does for each)."""
        apply = self.apply
        for offset, item in items:
            apply(offset, item, out)

    def _row(self, offset: Any, row: tuple, out: list[Output]) -> None:
        x, label, id, key, ts = row
        engine = self.engine
        i = engine.seq
        if self.held:  # labels due before this row's prediction (a snapshot re-reads the row)
            self._release(i, out, offset)
        try:
            p = engine.predict(x, id=id if id is not None else str(offset), key=key, ts=ts,
                               copy=False)  # fmt: skip
        except StreamMLError as err:
            self._error(err, offset, out, counted=True)
            return
        out.append(p)
        self.held.append((i + self.delay, p.id, label, offset))
        if not self.delay:
            self._release(i, out, None)

    def _release(self, upto: float, out: list[Output], reread: Any) -> None:
        """Learn the held labels due by ``upto``; the engine's records and requests after each.
        ``reread``: the offset of the row whose prediction is still to come (None: none)."""
        engine, held = self.engine, self.held
        learn = engine.learn
        while held and held[0][0] <= upto:
            _, id, label, offset = held.popleft()
            try:
                learn(id, label)
            except StreamMLError as err:
                self._error(err, offset, out, True, f"error:learn:{id}")
            if engine.outbox:
                self._take(out, reread)

    def _error(
        self, err: StreamMLError, offset: Any, out: list[Output], counted: bool, id: str = ""
    ) -> None:
        """The error record of ``err`` at ``offset`` (counted by the engine unless it already
        was); ``id`` defaults to ``error:<offset>``. ``strict``: raised instead, located."""
        where = self.locate(offset) if self.locate is not None else offset
        if counted:
            self.engine.annotate_last_error(where)
        else:
            self.engine.count_error(err, where)
        out.append(ErrorRecord.from_error(err, where, id or f"error:{offset}"))
        if self.strict:
            if getattr(err, "offset", None) is None and hasattr(err, "at"):
                err.at(where)
            raise err

    # -- the engine's outbox ----------------------------------------------------------------------

    def _take(self, out: list[Output], reread: Any) -> None:
        """The engine's records to ``out``; its snapshot requests acted on (one snapshot for all
        those of one boundary, tagged with each reason)."""
        tags: list[str] = []
        notes: list[str] = []
        for item in self.engine.take_outbox():
            if type(item) is SnapshotRequest:
                if item.tag not in tags and self._wanted(item):
                    tags.append(item.tag)
                    if item.note:
                        notes.append(item.note)
            else:
                out.append(item)
        if tags and self.snapshots is not None:
            self.snapshot(tuple(sorted(tags)), "; ".join(notes) or None, out, reread=reread)

    def poll(self, out: list[Output]) -> None:
        """Between records: take what the engine emitted outside a record (a rollback asked
        for over REST, a promotion decided in ``summary()``), requests acted on."""
        if self.engine.outbox:
            self._take(out, None)

    def _wanted(self, request: SnapshotRequest) -> bool:
        if request.tag != "promotion":
            return True
        return getattr(self.engine.snapshot_policy, "on_promotion", True)

    # -- snapshots --------------------------------------------------------------------------------

    def state(self, reread: Any = None, recorded: bool = False) -> dict[str, Any]:
        """What the driver needs to resume: held labels and records read (the runtime's extras
        merged in). ``reread``: the snapshot resumes by reading that row again; ``recorded``:
        the snapshot is reported as a record (re-sent on resume)."""
        records = self.records if reread is None else self.records - 1
        out = {"held": list(self.held), "records": records, "recorded": recorded}
        if self.extra is not None:
            out.update(self.extra())
        return out

    def snapshot(
        self,
        tags: tuple[str, ...],
        note: str | None,
        out: list[Output],
        *,
        reread: Any = None,
        record: bool = True,
    ) -> Any:
        """Snapshot the engine now, at the offset to resume from; its info (None: no store).

        ``record``: report it as a ``snapshot`` output and count it in the policy's schedule
        (a snapshot the stream asked for); :meth:`checkpoint` does neither.
        """
        stage = self.snapshots
        if stage is None:
            return None
        engine = self.engine
        if self.flush is not None:
            self.flush(out)
        offset = self.offset if reread is None else reread
        extra = self.state(reread, record)
        try:  # a runtime's checkpoint (record=False) leaves the policy's schedule as it was
            info = stage.save(engine, offset=offset, extra=extra, tags=tags, note=note,
                              mark=record)  # fmt: skip
        except Exception as exc:
            if self.on_snapshot_error is None:
                raise
            self.on_snapshot_error(exc)
            policy = engine.snapshot_policy
            if record and policy is not None:  # retry at the next due time, not every record
                policy.mark(engine.seq, engine.last_ts)
            return None
        self.snapshot_records = self.records if reread is None else self.records - 1
        if record:
            out.append(snapshot_record(info))
        if self.committed is not None:
            self.committed(info)
        return info

    def checkpoint(self, note: str | None, out: list[Output]) -> Any:
        """A snapshot for the runtime's own sake (end of input, shutdown, acks): no record, the
        policy's schedule unchanged; skipped when nothing happened since the last one."""
        if self.snapshots is None or self.records <= self.snapshot_records:
            return None
        return self.snapshot((), note, out, record=False)

    def restore(self, recovered: Any, out: list[Output] | None = None) -> dict[str, Any]:
        """Resume from a :class:`~stream_ml.snapshots.Recovered`: its engine, held labels and
        record count; returns its extras (the runtime's part). A snapshot the stream asked for
        has its ``snapshot`` record appended to ``out`` again (a crash may have come between
        the commit and the write; sinks keep one copy per id)."""
        state = recovered.state
        engine = state["engine"]
        engine.snapshots = self.snapshots
        self.engine = engine
        extra = dict(state.get("extra") or {})
        self.held = deque(tuple(h) if len(h) == 4 else (*h, None) for h in extra.get("held", []))
        self.records = int(extra.get("records", 0))
        self.offset = recovered.info.offset
        self.snapshot_records = self.records
        if out is not None and extra.get("recorded"):
            out.append(snapshot_record(recovered.info))
        return extra

    # -- end of input -----------------------------------------------------------------------------

    def finish(self, out: list[Output], *, checkpoint: bool = True) -> None:
        """End of input: learn every label still held (their records and requests too), then a
        :meth:`checkpoint` when there is a store."""
        self._release(float("inf"), out, None)
        if self.engine.outbox:
            self._take(out, None)
        if checkpoint:
            self.checkpoint("end of source", out)
