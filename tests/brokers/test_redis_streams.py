"""Redis Streams: offsets, idempotent sink, dead letters, the dataflow, and a killed consumer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bytewax.testing import run_main
from river import linear_model

from connectors.redis_streams import (
    RedisGroupReader,
    RedisStreamSink,
    RedisStreamSource,
    parse_id,
)
from stream_ml import Engine
from stream_ml.runtime.bytewax import build_flow
from stream_ml.runtime.bytewax.group_consumer import consume
from stream_ml.snapshots import SnapshotStore
from stream_ml.stages.snapshotting import SnapshotStage

ROOT = Path(__file__).resolve().parents[2]
KEY = "redis-consumer-test-key"


def _produce(r, stream: str, messages) -> list[str]:
    pipe = r.pipeline(transaction=False)
    for m in messages:
        pipe.xadd(stream, {"data": m if isinstance(m, str) else json.dumps(m)})
    return [i.decode() for i in pipe.execute()]


def _entries(r, stream: str) -> list[dict]:
    return [json.loads(f[b"data"]) for _, f in r.xrange(stream)]


def test_source_offsets_seek_and_next_offset(redis_client, names) -> None:
    s = names("in")
    ids = _produce(redis_client, s, [{"n": i} for i in range(5)])
    src = RedisStreamSource(s, client=redis_client, count=2)
    assert [(o, r["n"]) for o, r in src.read()] == list(zip(ids, range(5)))
    src.seek(src.next_offset(ids[2]))  # resume after the third entry
    assert [r["n"] for _, r in src.read()] == [3, 4]
    src.seek(ids[1])  # inclusive
    assert next(r["n"] for _, r in src.read()) == 1


def test_sink_is_idempotent_by_output_id(redis_client, names) -> None:
    s = names("out")
    sink = RedisStreamSink(s, client=redis_client, buffer=3)
    for _ in range(2):
        for i in range(4):
            sink.write({"kind": "prediction", "id": f"e{i}", "y": i})
        sink.write({"kind": "ack", "id": "e0"})
    sink.close()
    got = _entries(redis_client, s)
    assert [(o["kind"], o["id"]) for o in got] == [("prediction", f"e{i}") for i in range(4)] + [
        ("ack", "e0")
    ]


def _engine() -> Engine:
    return Engine({"lr": linear_model.LogisticRegression()})


def _messages(n: int) -> list:
    out: list = []
    for i in range(n):
        out.append({"id": f"e{i}", "key": f"k{i % 3}", "features": {"x": float(i % 7)}})
        out.append({"kind": "feedback", "id": f"e{i}", "label": i % 2 == 0, "key": f"k{i % 3}"})
    return out


def test_dataflow_dead_letters_bad_messages(redis_client, names) -> None:
    """Bytewax over a Redis stream: bad messages go to the dead-letter stream, the rest flows."""
    inp, out, dlq = names("in"), names("out"), names("dlq")
    msgs = _messages(30)
    msgs.insert(5, "{not json")
    msgs.insert(9, {"id": "bad", "key": "k1", "features": {"x": [1]}})
    msgs.insert(12, {"kind": "feedback", "id": "e1", "label": True})  # keyed flow: no key
    ids = _produce(redis_client, inp, msgs)
    flow = build_flow(
        lambda key: _engine(),
        source=lambda: RedisStreamSource(inp, client=redis_client),
        decoder=None,
        keyed=True,
        sinks=[lambda: RedisStreamSink(out, client=redis_client)],
        dead_letters=[lambda: RedisStreamSink(dlq, client=redis_client)],
        shared_sinks=True,
        batch_size=8,
    )
    run_main(flow)
    dead = _entries(redis_client, dlq)
    assert sorted((d["code"], d["id"]) for d in dead) == sorted(
        [
            ("malformed_message", f"error:{ids[5]}"),
            ("malformed_message", f"error:{ids[9]}"),
            ("missing_field", f"error:{ids[12]}"),
        ]
    )
    assert all(d["reason"] for d in dead)
    outs = _entries(redis_client, out)
    assert sum(o["kind"] == "prediction" for o in outs) == 30
    assert sum(o["kind"] == "ack" for o in outs) == 30
    assert {o["id"] for o in outs if o["kind"] == "summary"} == {"k0", "k1", "k2"}


def test_group_consumer_dead_letters_acks_and_counts(redis_client, names, tmp_path) -> None:
    inp, out, dlq = names("in"), names("out"), names("dlq")
    msgs = [{"id": "a", "features": {"x": 1.0}}, "{oops", {"id": "b", "features": {"x": [1]}}]
    msgs += [{"kind": "feedback", "id": "a", "label": True}, {"id": "c", "features": {"x": 2.0}}]
    ids = _produce(redis_client, inp, msgs)
    reader = RedisGroupReader(inp, "g", "c1", client=redis_client, block_ms=50)
    stage = SnapshotStage.open(str(tmp_path / "snap.db"), key=KEY)
    summary = consume(
        _engine,
        reader,
        RedisStreamSink(out, client=redis_client),
        RedisStreamSink(dlq, client=redis_client),
        stage,
        snapshot_every=2,
        idle_exit=0.2,
        order=parse_id,
    )
    stage.close()
    dead = _entries(redis_client, dlq)
    assert [(d["id"], d["code"]) for d in dead] == [
        (f"error:{ids[1]}", "malformed_message"),
        (f"error:{ids[2]}", "malformed_message"),
    ]
    assert "not JSON" in dead[0]["reason"] and dead[1]["field"] == "features.x"
    assert summary["dead_letters"] == 2
    assert summary["errors"]["by_code"] == {"malformed_message": 2}
    assert [o["id"] for o in _entries(redis_client, out)] == ["a", "a", "c"]  # c after the bad ones
    assert redis_client.xpending(inp, "g")["pending"] == 0  # everything acknowledged


def _last_id(r, stream: str) -> str:
    return r.xrevrange(stream, count=1)[0][0].decode()


def _scenario(n_events: int):
    import scenarios

    sc = scenarios.get("sea-drift")
    msgs = list(sc.messages(n_events, seed=3))
    msgs.insert(len(msgs) // 3, "{bad json")  # one bad message in the first third
    return sc.engine_config(3), msgs


def _consumer(cfg_path: Path, inp: str, out: str, dlq: str, snap: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env["STREAM_ML_SNAPSHOT_KEY"] = KEY
    args = [
        sys.executable, "-m", "stream_ml.runtime.bytewax.group_consumer",
        "--config", str(cfg_path), "--stream", inp, "--group", "engine", "--consumer", "c1",
        "--output", out, "--dead-letters", dlq, "--snapshot", str(snap),
        "--snapshot-every", "97", "--count", "20", "--idle-exit", "0.5",
    ]  # fmt: skip
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)


@pytest.mark.slow
def test_killed_consumer_resumes_exactly(redis_client, names, tmp_path) -> None:
    """producer -> stream -> engine -> output stream; the consumer is SIGKILLed half way."""
    inp, out, dlq = names("in"), names("out"), names("dlq")
    cfg, msgs = _scenario(3000)
    cfg_path = tmp_path / "engine.json"
    cfg_path.write_text(json.dumps(cfg.model_dump(mode="json")))
    n_obs = sum(isinstance(m, dict) and m["kind"] == "observation" for m in msgs)
    _produce(redis_client, inp, msgs)

    # the uninterrupted run, embedded
    ref = Engine.from_config(cfg)
    ref_outputs = {}
    for m in msgs:
        try:
            o = ref.process(m).to_dict()
            ref_outputs[f"{o['kind']}:{o['id']}"] = o
        except Exception:
            pass

    snap = tmp_path / "consumer.db"
    proc = _consumer(cfg_path, inp, out, dlq, snap)
    deadline = time.monotonic() + 60
    while redis_client.xlen(out) < len(msgs) // 3 and time.monotonic() < deadline:
        time.sleep(0.002)
    assert proc.poll() is None, "the consumer finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written_at_kill = redis_client.xlen(out)
    assert 0 < written_at_kill < len(msgs) - 1
    assert redis_client.xpending(inp, "engine")["pending"] > 0  # un-acked work was in flight

    proc = _consumer(cfg_path, inp, out, dlq, snap)
    assert proc.wait(timeout=120) == 0

    outs = _entries(redis_client, out)
    ids = [f"{o['kind']}:{o['id']}" for o in outs]
    assert len(ids) == len(set(ids)), "duplicates on the output stream"
    assert sum(o["kind"] == "prediction" for o in outs) == n_obs
    assert {i: o for i, o in zip(ids, outs)} == ref_outputs
    with SnapshotStore(snap, key=KEY) as store:  # signed snapshots, verified on load
        final = store.latest_valid()
        assert final is not None and not final.skipped and final.info.signed
        assert final.info.offset == _last_id(redis_client, inp)  # the broker position
        assert [a.action for a in store.audit()] == ["restore"]  # the restart resumed from it
    engine, extra = final.state["engine"], final.state["extra"]
    assert engine.metrics() == ref.metrics()
    assert engine.summary()["labels"] == ref.summary()["labels"]
    assert engine.errors == ref.errors and extra["dead_letters"] == 1
    assert [d["code"] for d in _entries(redis_client, dlq)] == ["malformed_message"]
    assert redis_client.xpending(inp, "engine")["pending"] == 0
