"""A broker consumer that drives one engine and survives being killed: nothing lost or doubled.

The loop (:func:`consume`), for each message of a consumer group, in order:

1. apply it: ``Engine.process`` (a bad message: counted by the engine, written to the
   dead-letter sink with its code, field and reason);
2. write the output to the output sink (idempotent by output id);
3. every ``snapshot_every`` messages: flush the sinks, write the engine + the id of the last
   applied message to a local pickle file *atomically* (temp file, fsync, ``os.replace``), then
   acknowledge the messages the snapshot covers.

A message is thus acknowledged only once its output is written **and** the engine state that
includes it is on disk. After a crash (even ``SIGKILL``) the restarted consumer loads the
snapshot, re-reads its own pending entries (delivered, never acknowledged), skips (and acks) the
ones the snapshot already covers, re-applies the others in order (their outputs are re-written
with the same ids, which the sink ignores) and goes on with new messages. The final engine state
and outputs therefore equal an uninterrupted run's.

The snapshot is a plain local pickle file for now (the SQLite snapshot store of
:mod:`stream_ml.snapshots` is meant to replace it): only load snapshot files you wrote.

Run it: ``python -m stream_ml.runtime.bytewax.group_consumer --config C --stream S --group G
--consumer NAME --output OUT --dead-letters DLQ --snapshot FILE``.
"""

from __future__ import annotations

import argparse
import os
import pickle
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stream_ml.engine import Engine
from stream_ml.errors import SnapshotError, StreamMLError

SNAPSHOT_VERSION = 1


def save_snapshot(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically: a temp file beside it, then ``os.replace``."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=p.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump({"version": SNAPSHOT_VERSION, **state}, f, pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_snapshot(path: str | Path) -> dict[str, Any] | None:
    """The state saved at ``path``, or None when there is none yet."""
    try:
        with open(path, "rb") as f:
            state = pickle.load(f)
    except FileNotFoundError:
        return None
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise SnapshotError(f"cannot load consumer snapshot {str(path)!r}: {exc}") from exc
    if state.get("version") != SNAPSHOT_VERSION:
        raise SnapshotError(f"{str(path)!r}: unknown snapshot version {state.get('version')!r}")
    return state


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


def consume(
    engine_factory: Callable[[], Engine],
    reader: Any,
    sink: Any,
    dead_letters: Any,
    snapshot_path: str | Path,
    *,
    snapshot_every: int = 100,
    idle_exit: float | None = None,
    order: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """Consume until idle for ``idle_exit`` seconds (forever when None); returns the summary.

    ``reader`` has ``pending()``, ``new()`` and ``ack(ids)`` (:class:`RedisGroupReader`,
    :class:`NatsDurableReader`); ``order`` maps an offset to something comparable (default: the
    offset itself).
    """
    key = order or (lambda o: o)
    state = load_snapshot(snapshot_path)
    if state is None:
        engine, last, dead = engine_factory(), None, 0
    else:
        engine, last, dead = state["engine"], state["offset"], state["dead_letters"]
    last_key = key(last) if last is not None else None
    unacked: list[Any] = []
    since = 0

    def checkpoint() -> None:
        nonlocal since
        sink.flush()
        dead_letters.flush()
        save_snapshot(snapshot_path, {"engine": engine, "offset": last, "dead_letters": dead})
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
        last, last_key = offset, key(offset)
        unacked.append(offset)
        since += 1
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
    ap.add_argument("--snapshot", required=True, help="local snapshot file")
    ap.add_argument("--snapshot-every", type=int, default=100)
    ap.add_argument("--count", type=int, default=100, help="messages per read")
    ap.add_argument("--idle-exit", type=float, default=None, help="stop after this idle time (s)")
    a = ap.parse_args(argv)
    cfg = load_any_config(a.config)
    reader = RedisGroupReader(a.stream, a.group, a.consumer, url=a.url, count=a.count)
    summary = consume(
        lambda: Engine.from_config(cfg),
        reader,
        RedisStreamSink(a.output, url=a.url),
        RedisStreamSink(a.dead_letters, url=a.url),
        a.snapshot,
        snapshot_every=a.snapshot_every,
        idle_exit=a.idle_exit,
        order=parse_id,
    )
    print(
        f"consumed to {summary['offset']}: {summary['events']} events, "
        f"{summary['dead_letters']} dead letters"
    )


if __name__ == "__main__":
    main()
