"""Keyed messages on Bytewax: feedback routed by ``Feedback.key`` equals one engine per key."""

from __future__ import annotations

import pytest
from bytewax.testing import cluster_main, run_main

from connectors import IterableSource, MemorySink
from stream_ml.runtime.bytewax import build_flow
from tests.runtime import workload


@pytest.fixture(scope="module")
def msgs() -> list:
    return workload.messages(n=1200, keys=12)


@pytest.fixture(scope="module")
def reference(msgs):
    return workload.embedded_messages(msgs)


def _flow(msgs, out: MemorySink, dead: MemorySink, batch_size: int):
    return build_flow(
        workload.engine,
        source=lambda: IterableSource(msgs),
        decoder=None,
        keyed=True,
        sinks=[lambda: out],
        dead_letters=[lambda: dead],
        batch_size=batch_size,
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_feedback_key_routes_like_embedded(msgs, reference, workers: int) -> None:
    out, dead = MemorySink(), MemorySink()
    flow = _flow(msgs, out, dead, batch_size=64 if workers == 1 else 23)
    if workers == 1:
        run_main(flow)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers)
    ref_outputs, ref_summaries, no_key = reference
    refused = [d for d in dead.outputs if d["code"] == "unknown_id"]  # by the wrong key's engine
    preds, summaries = workload.split(out.outputs + refused)
    assert preds == ref_outputs and len(refused) == 1
    assert sum(o["kind"] == "ack" for o in out.outputs) == 1200  # each feedback met its engine
    assert summaries == ref_summaries  # metrics, labels, errors of every key's engine
    unrouted = [d for d in dead.outputs if d["code"] != "unknown_id"]  # never reached an engine
    assert [(d["code"], d["field"], d["id"]) for d in unrouted] == [
        ("missing_field", "key", f"error:{offset}") for offset in no_key
    ]


def test_global_engine_ignores_the_feedback_key(msgs) -> None:
    """keyed=False: one engine; the keys only route, the engine joins feedback by id."""
    from stream_ml.errors import StreamMLError
    from stream_ml.events import parse_message

    out, dead = MemorySink(), MemorySink()
    flow = build_flow(
        workload.engine,
        source=lambda: IterableSource(msgs),
        decoder=None,
        sinks=[lambda: out],
        dead_letters=[lambda: dead],
    )
    run_main(flow)
    ref = workload.engine()
    for offset, m in enumerate(msgs):
        try:
            ref.process(parse_message(m))
        except StreamMLError:
            ref.annotate_last_error(offset)
    (summary,) = [o for o in out.outputs if o["kind"] == "summary"]
    got = {k: v for k, v in summary.items() if k not in ("kind", "id")}
    assert got == {**ref.summary(), "digest": ref.digest()}
    # the keyless feedback and the one naming the wrong key both join by id (already learned)
    assert [d["code"] for d in dead.outputs] == ["unknown_id", "unknown_id"]


@pytest.mark.parametrize(
    ("record", "code", "field"),
    [
        (
            {"kind": "feedback", "id": "e1", "label": 1, "key": "k" * 257},
            "malformed_message",
            "key",
        ),
        ({"kind": "feedback", "id": "e1", "label": 1, "key": 7}, "malformed_message", "key"),
        ({"kind": "feedback", "id": "e1", "label": 1, "key": ""}, "missing_field", "key"),
        ({"id": "e1", "label": 1}, "missing_field", "key"),
        ({"id": "e1", "key": "s1", "features": {"x": 1.0}}, None, None),
        ({"id": "e1", "label": 1, "key": "s1"}, None, None),  # no kind: feedback, with its key
    ],
)
def test_feedback_key_is_validated_like_the_observation_key(record, code, field) -> None:
    """Same constraints as ``Observation.key`` (a string, at most 256 characters)."""
    from stream_ml.runtime.bytewax import DEAD_LETTER, Decoder
    from stream_ml.runtime.bytewax.decode import key_group

    route, value = Decoder(None, keyed=True).one(3, record)
    if code is None:
        assert route == key_group("s1", 128) and value[1].key == "s1"
        assert Decoder(None, keyed=True, groups=None).one(3, record)[0] == "s1"
    else:
        assert route == DEAD_LETTER
        assert (value["code"], value["field"], value["id"]) == (code, field, "error:3")
