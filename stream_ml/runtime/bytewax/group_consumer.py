"""A broker consumer that drives one engine and survives being killed: nothing lost or doubled.

The loop (:func:`consume`), for each message of a consumer group, in order:

1. apply it: ``Engine.process`` (a bad message: counted by the engine, written to the
   dead-letter sink with its code, field and reason);
2. write the output, and the records the engine made on the way (drift alarms, promotions), to
   the output sink (idempotent by output id);
3. every ``snapshot_every`` messages: flush the sinks, save the engine to the signed SQLite
   snapshot store (:class:`~stream_ml.stages.snapshotting.SnapshotStage`; the row's source
   offset is the id of the last applied message), then acknowledge the messages it covers.

A message is thus acknowledged only once its output is written **and** a committed snapshot
includes it. After a crash (even ``SIGKILL``) the restarted consumer loads the newest snapshot,
re-reads its own pending entries (delivered, never acknowledged), skips (and acks) the ones the
snapshot's offset already covers, re-applies the others in order (their outputs are re-written
with the same ids, which the sink ignores) and goes on with new messages. The final engine state
and outputs therefore equal an uninterrupted run's.

The snapshots are ordinary snapshots of the store (``stream-ml snapshots list STORE`` lists them):
payload ``{"engine": engine, "extra": {"dead_letters": n, "consumer": {...}}}``, signed with the
store's key. A consumer never falls back to an older snapshot: the entries acknowledged after it
would be lost. So a store whose newest snapshot does not verify (tampered, corrupt, unsigned
without ``trust_unsigned``, another key) is refused with a typed error before anything is read or
acknowledged; so is a store holding another consumer's state. Snapshots the engine asks for (on
drift, on a promotion) are taken at once and tagged, as the replay runner does.

Run it (the signing key comes from ``$STREAM_ML_SNAPSHOT_KEY``; ``--trust-unsigned`` writes and
reads unsigned snapshots, only for local files)::

    python -m stream_ml.runtime.bytewax.group_consumer --config C --stream S --group G \\
        --consumer NAME --output OUT --dead-letters DLQ --snapshot STORE.db
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from stream_ml.engine import Engine
from stream_ml.errors import (
    ConfigError,
    SnapshotCorrupt,
    SnapshotError,
    SnapshotSignatureError,
    StreamMLError,
)
from stream_ml.stages.snapshotting import SnapshotStage


def _dead_letter(err: Exception, offset: str, record: Any) -> dict[str, Any]:
    return {
        "kind": "error",
        "id": offset,
        "code": getattr(err, "code", "error"),
        "field": getattr(err, "field", None),
        "reason": getattr(err, "reason", None) or str(err),
        "offset": offset,
        "record": record if isinstance(record, dict) else None,
    }


def restore(
    stage: SnapshotStage, consumer: Mapping[str, Any] | None = None
) -> tuple[Engine, Any, int, int] | None:
    """``(engine, last applied offset, dead letters, version)`` from the store's newest snapshot.

    None for an empty store. Raises (typed, nothing changed) when the newest snapshot does not
    verify, or when it is not a consumer snapshot of ``consumer``.
    """
    try:
        rec = stage.latest()
        skipped = stage.skipped
    except SnapshotCorrupt as exc:  # no snapshot verifies
        skipped = list(getattr(exc, "skipped", ()))
        if not skipped:
            raise  # the file itself is damaged
        rec = None
    if skipped:  # only an older snapshot verifies, or none does: never fall back
        codes = {s.code for s in skipped}
        cls = SnapshotSignatureError if SnapshotSignatureError.code in codes else SnapshotCorrupt
        what = ", ".join(f"{s.version} ({s.code})" for s in skipped)
        raise cls(
            f"{stage.store.path}: the newest snapshot(s) {what} do not verify; a broker consumer "
            "cannot resume from an older one (the entries acknowledged since would be lost). "
            "Repair the store, or accept the loss with `stream-ml snapshots rollback`"
        )
    if rec is None:
        return None
    state: Any = rec.state
    extra = state.get("extra") if isinstance(state, dict) else None
    if not isinstance(extra, dict) or "dead_letters" not in extra:
        raise SnapshotError(
            f"{stage.store.path}: snapshot {rec.info.version} was not written by a broker consumer"
        )
    want = dict(consumer) if consumer is not None else None
    if extra.get("consumer") != want:
        raise ConfigError(
            f"{stage.store.path} holds the state of consumer {extra.get('consumer')}, not "
            f"{want}: give each consumer its own snapshot store"
        )
    stage.store.record_audit("restore", to_version=rec.info.version, reason="consumer resume")
    return state["engine"], rec.info.offset, int(extra["dead_letters"]), rec.info.version


def consume(
    engine_factory: Callable[[], Engine],
    reader: Any,
    sink: Any,
    dead_letters: Any,
    snapshots: SnapshotStage,
    *,
    snapshot_every: int = 100,
    idle_exit: float | None = None,
    order: Callable[[Any], Any] | None = None,
    consumer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Consume until idle for ``idle_exit`` seconds (forever when None); returns the summary.

    ``reader`` has ``pending()``, ``new()`` and ``ack(ids)`` (:class:`RedisGroupReader`,
    :class:`NatsDurableReader`); its offsets must be JSON values (they are the snapshot rows'
    source offsets). ``order`` maps an offset to something comparable (default: the offset
    itself). ``snapshots`` is the consumer's own store (opened and closed by the caller);
    ``consumer`` names the consumer (stream, group, name), is stored in every snapshot and must
    match on restart. The summary is the engine's plus ``dead_letters``, ``offset`` (the last
    applied message) and ``snapshot`` (the version the state is in).
    """
    if snapshot_every < 1:
        raise ConfigError(f"snapshot_every must be >= 1, got {snapshot_every}")
    key = order or (lambda o: o)
    ident = dict(consumer) if consumer is not None else None
    restored = restore(snapshots, ident)
    version: int | None
    if restored is None:
        engine, last, dead, version = engine_factory(), None, 0, None
    else:
        engine, last, dead, version = restored
    engine.snapshots = snapshots
    last_key = key(last) if last is not None else None
    unacked: list[Any] = []
    since = 0

    def checkpoint(tags: tuple[str, ...] = (), note: str | None = None) -> None:
        nonlocal since, version
        sink.flush()
        dead_letters.flush()
        if since or tags:  # else only acks of entries the last snapshot covers
            extra = {"dead_letters": dead, "consumer": ident}
            info = snapshots.save(engine, offset=last, extra=extra, tags=tags, note=note)
            engine.drain_events()  # the stage's bookkeeping event: not state to carry
            version = info.version
        reader.ack(unacked)
        unacked.clear()
        since = 0

    def apply(offset: Any, record: Any) -> None:
        nonlocal last, last_key, dead, since
        if last_key is not None and key(offset) <= last_key:
            unacked.append(offset)  # already in the snapshot: only the ack was lost
            return
        if isinstance(record, StreamMLError):
            engine.count_error(record, offset)
            dead_letters.write(_dead_letter(record, offset, None))
            dead += 1
        else:
            try:
                sink.write(engine.process(record).to_dict())
            except StreamMLError as err:
                engine.annotate_last_error(offset)
                dead_letters.write(_dead_letter(err, offset, record))
                dead += 1
        if engine.events:  # drift alarms, promotions...: outputs too (ids keep them unique)
            for event in engine.drain_events():
                if event.get("kind") not in ("snapshot", "rollback"):
                    sink.write(event)
        last, last_key = offset, key(offset)
        unacked.append(offset)
        since += 1
        if engine.requests:  # the engine asks for a snapshot (drift, promotion): tag it
            asked = [r for r in engine.pop_requests() if r[0] == "snapshot"]
            if asked:
                note = "; ".join(r[2] for r in asked if r[2])
                checkpoint(tuple(sorted({r[1] for r in asked})), note or None)
                return
        if since >= snapshot_every:
            checkpoint()

    for offset, record in reader.pending():
        apply(offset, record)
    idle_since = time.monotonic()
    while True:
        batch = reader.new()
        if batch:
            for offset, record in batch:
                apply(offset, record)
            idle_since = time.monotonic()
            continue
        if unacked:
            checkpoint()
        if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
            break
    checkpoint()
    out = engine.summary()
    out["dead_letters"] = dead
    out["offset"] = last
    out["snapshot"] = version
    return out


def main(argv: list[str] | None = None) -> None:
    from connectors.redis_streams import RedisGroupReader, RedisStreamSink, parse_id
    from stream_ml.runtime.bytewax_flow import load_any_config

    ap = argparse.ArgumentParser(prog="python -m stream_ml.runtime.bytewax.group_consumer")
    ap.add_argument("--config", required=True, help="engine config (TOML or JSON)")
    ap.add_argument("--url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--stream", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--consumer", required=True)
    ap.add_argument("--output", required=True, help="output stream")
    ap.add_argument("--dead-letters", required=True, help="dead-letter stream")
    ap.add_argument("--snapshot", required=True, help="SQLite snapshot store (one per consumer)")
    ap.add_argument("--snapshot-every", type=int, default=100)
    ap.add_argument("--keep-last", type=int, default=10, help="snapshots kept (plus tagged ones)")
    ap.add_argument("--key-env", default="STREAM_ML_SNAPSHOT_KEY", help="env var of the key")
    ap.add_argument(
        "--trust-unsigned",
        action="store_true",
        help="write and accept unsigned snapshots (pickle runs code: only local, trusted files)",
    )
    ap.add_argument("--count", type=int, default=100, help="messages per read")
    ap.add_argument("--idle-exit", type=float, default=None, help="stop after this idle time (s)")
    a = ap.parse_args(argv)
    try:
        cfg = load_any_config(a.config)
        stage = SnapshotStage.open(
            a.snapshot,
            key_env=a.key_env,
            trust_unsigned=a.trust_unsigned,
            keep_last=a.keep_last,
            config_hash=cfg.digest(),
        )
        try:
            reader = RedisGroupReader(a.stream, a.group, a.consumer, url=a.url, count=a.count)
            summary = consume(
                lambda: Engine.from_config(cfg),
                reader,
                RedisStreamSink(a.output, url=a.url),
                RedisStreamSink(a.dead_letters, url=a.url),
                stage,
                snapshot_every=a.snapshot_every,
                idle_exit=a.idle_exit,
                order=parse_id,
                consumer={
                    "broker": "redis",
                    "stream": a.stream,
                    "group": a.group,
                    "consumer": a.consumer,
                },
            )
        finally:
            stage.close()
    except StreamMLError as exc:
        sys.exit(f"error: {exc}")
    print(
        f"consumed to {summary['offset']}: {summary['events']} events, "
        f"{summary['dead_letters']} dead letters, snapshot {summary['snapshot']}"
    )


if __name__ == "__main__":
    main()
