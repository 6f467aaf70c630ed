"""NATS JetStream: offsets, idempotent sink, dead letters through a durable consumer, dataflow."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
from bytewax.testing import run_main
from river import linear_model

from connectors.nats_jetstream import (
    NatsDurableReader,
    NatsStreamSink,
    NatsStreamSource,
    _Conn,
    ensure_stream,
)
from stream_ml import Engine
from stream_ml.runtime.bytewax import build_flow
from stream_ml.runtime.bytewax.group_consumer import consume
from stream_ml.stages.snapshotting import SnapshotStage
from tests.conftest import require_service

URL = "nats://127.0.0.1:4222"


def _reachable() -> bool:
    try:
        _Conn(URL).close()
    except Exception:
        return False
    return True


@pytest.fixture
def js() -> Iterator[_Conn]:
    require_service("nats", _reachable())
    conn = _Conn(URL)
    yield conn
    conn.close()


@pytest.fixture
def stream(js) -> Iterator[str]:
    """A fresh stream `T<hex>` over `T<hex>.>`; deleted afterwards."""
    name = f"T{uuid.uuid4().hex[:10]}"
    ensure_stream(URL, name, [f"{name}.>"])
    yield name
    js.run(js.js.delete_stream(name))


def _publish(js: _Conn, subject: str, messages) -> None:
    async def go() -> None:
        for m in messages:
            await js.js.publish(subject, (m if isinstance(m, str) else json.dumps(m)).encode())

    js.run(go())


def _read(stream: str, subject: str) -> list:
    src = NatsStreamSource(stream, subject=subject, url=URL)
    try:
        return [r for _, r in src.read()]
    finally:
        src.close()


def test_source_offsets_and_seek(js, stream) -> None:
    _publish(js, f"{stream}.in", [{"n": i} for i in range(7)])
    src = NatsStreamSource(stream, url=URL, batch=3)
    got = list(src.read())
    assert [(o, r["n"]) for o, r in got] == [(i + 1, i) for i in range(7)]  # sequence from 1
    src.seek(src.next_offset(4))  # resume after the 4th message
    assert [r["n"] for _, r in src.read()] == [4, 5, 6]
    src.close()


def test_sink_deduplicates_by_output_id(js, stream) -> None:
    sink = NatsStreamSink(f"{stream}.out", url=URL, buffer=2)
    for _ in range(2):
        for i in range(3):
            sink.write({"kind": "prediction", "id": f"e{i}"})
    sink.close()
    assert [o["id"] for o in _read(stream, f"{stream}.out")] == ["e0", "e1", "e2"]


def test_durable_consumer_dead_letters_and_acks(js, stream, tmp_path) -> None:
    msgs = [{"id": "a", "features": {"x": 1.0}}, "{nope", {"kind": "feedback", "id": "zz"}]
    msgs += [{"kind": "feedback", "id": "a", "label": True}, {"id": "b", "features": {"x": 2.0}}]
    _publish(js, f"{stream}.in", msgs)
    reader = NatsDurableReader(stream, "engine", subject=f"{stream}.in", url=URL, timeout=0.1)
    out, dlq = NatsStreamSink(f"{stream}.out", url=URL), NatsStreamSink(f"{stream}.dlq", url=URL)
    stage = SnapshotStage.open(str(tmp_path / "snap.db"), key="nats-consumer-test-key")
    summary = consume(
        lambda: Engine({"lr": linear_model.LogisticRegression()}),
        reader,
        out,
        dlq,
        stage,
        snapshot_every=2,
        idle_exit=0.3,
    )
    latest = stage.store.list()[-1]
    stage.close()
    info = js.run(js.js.consumer_info(stream, "engine"))
    for c in (reader, out, dlq):
        c.close()
    dead = _read(stream, f"{stream}.dlq")
    assert [(d["id"], d["code"]) for d in dead] == [
        ("error:2", "malformed_message"),
        ("error:3", "unknown_id"),
    ]
    assert summary["dead_letters"] == 2 and summary["events"] == 2
    assert [o["id"] for o in _read(stream, f"{stream}.out")] == ["a", "a", "b"]
    assert info.num_ack_pending == 0 and info.num_pending == 0
    assert latest.offset == summary["offset"] == 5 and latest.signed  # the stream sequence


def test_dataflow_over_jetstream(js, stream) -> None:
    msgs = [{"id": f"e{i}", "key": f"k{i % 2}", "features": {"x": float(i)}} for i in range(20)]
    _publish(js, f"{stream}.in", [*msgs[:10], "{bad", *msgs[10:]])
    flow = build_flow(
        lambda key: Engine({"lr": linear_model.LogisticRegression()}),
        source=lambda: NatsStreamSource(stream, subject=f"{stream}.in", url=URL),
        decoder=None,
        keyed=True,
        sinks=[lambda: NatsStreamSink(f"{stream}.out", url=URL)],
        dead_letters=[lambda: NatsStreamSink(f"{stream}.dlq", url=URL)],
        batch_size=4,
    )
    run_main(flow)
    outs = _read(stream, f"{stream}.out")
    assert sorted(o["id"] for o in outs if o["kind"] == "prediction") == sorted(
        m["id"] for m in msgs
    )
    assert [d["id"] for d in _read(stream, f"{stream}.dlq")] == ["error:11"]


del asyncio
