"""A broker consumer that drives one engine and survives being killed: nothing lost or doubled.

The loop (:func:`consume`) reads each message of a consumer group, in order, hands it to the
engine's :class:`~stream_ml.runtime.driver.Driver` with its entry id as offset, and writes what
comes back: ``error`` records (a bad message: counted by the engine) to the dead-letter sink,
everything else (the answer, the engine's drift, promotion and snapshot records) to the output
sink (idempotent by output id). The driver takes the snapshots the engine's policy and stages
ask for; the consumer adds a checkpoint every ``snapshot_every`` messages and when idle (no
record, the policy's schedule unchanged). Each committed snapshot (the sinks flushed first; its
offset is the id of the last applied message) acknowledges the messages it covers.

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
acknowledged; so is a store holding another consumer's state.

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
from stream_ml.runtime.driver import Driver, as_dict
from stream_ml.stages.snapshotting import SnapshotStage


def restore(
    stage: SnapshotStage, consumer: Mapping[str, Any] | None = None
) -> tuple[Engine, Any] | None:
    """``(engine, recovered snapshot)`` from the store's newest snapshot.

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
    return state["engine"], rec


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
    match on restart. The summary is the engine's plus ``digest``, ``dead_letters``, ``offset``
    (the last applied message) and ``snapshot`` (the version the state is in).
    """
    if snapshot_every < 1:
        raise ConfigError(f"snapshot_every must be >= 1, got {snapshot_every}")
    key = order or (lambda o: o)
    ident = dict(consumer) if consumer is not None else None
    restored = restore(snapshots, ident)
    unacked: list[Any] = []
    counts = {"dead": 0, "since": 0}
    version: list[int | None] = [None]

    def write(outputs: list[Any]) -> None:
        for o in outputs:
            d = as_dict(o)
            if d.get("kind") == "error":
                dead_letters.write(d)
                counts["dead"] += 1
            else:
                sink.write(d)
        outputs.clear()
        sink.flush()
        dead_letters.flush()

    def committed(info: Any) -> None:
        version[0] = info.version
        reader.ack(unacked)
        unacked.clear()
        counts["since"] = 0

    driver = Driver(
        engine_factory() if restored is None else restored[0],
        snapshots=snapshots,
        extra=lambda: {"dead_letters": counts["dead"], "consumer": ident},
        flush=write,
        committed=committed,
        next_offset=lambda o: o,
    )
    out: list[Any] = []
    if restored is not None:
        _, rec = restored
        extra = driver.restore(rec, out)
        counts["dead"] = int(extra["dead_letters"])
        version[0] = rec.info.version
    driver.engine.snapshots = snapshots
    last = driver.offset
    last_key = key(last) if last is not None else None

    def checkpoint() -> None:
        # a snapshot writes the outputs first (flush) and acks what it covers (committed)
        if driver.checkpoint("checkpoint", out) is None:  # nothing new since the last one
            write(out)
            if unacked:
                reader.ack(unacked)  # entries the last snapshot already covers
                unacked.clear()

    def apply(offset: Any, record: Any) -> None:
        nonlocal last_key
        if last_key is not None and key(offset) <= last_key:
            unacked.append(offset)  # already in the snapshot: only the ack was lost
            return
        unacked.append(offset)
        driver.apply(offset, record, out)
        last_key = key(offset)
        counts["since"] += 1
        if counts["since"] >= snapshot_every:
            checkpoint()
        elif len(out) >= 256:
            write(out)

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
        if unacked or out:
            checkpoint()
        if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
            break
    driver.finish(out, checkpoint=False)
    checkpoint()
    engine = driver.engine
    summary = engine.summary()
    summary["digest"] = engine.digest()
    summary["dead_letters"] = counts["dead"]
    summary["offset"] = driver.offset
    summary["snapshot"] = version[0]
    return summary


def _engine(cfg: Any) -> Engine:
    """A fresh engine with the config's snapshot schedule (``[snapshots] every_events``...)."""
    from stream_ml.snapshots import SnapshotPolicy

    engine = Engine.from_config(cfg)
    sc = cfg.snapshots
    if sc is not None:
        engine.snapshot_policy = SnapshotPolicy(
            sc.every_events, sc.every_seconds, on_promotion=sc.on_promotion
        )
    return engine


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
                lambda: _engine(cfg),
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
