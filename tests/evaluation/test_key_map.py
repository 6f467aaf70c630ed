"""The key side map of slices by key (multi-model and routed records hold no key) stays bounded
by the pending store at O(1) work per prediction, and never loses a key still pending."""

from __future__ import annotations

from river import linear_model

from stream_ml import Engine


def test_keys_of_evicted_predictions_go_and_pending_ones_stay() -> None:
    engine = Engine(
        {"a": linear_model.LogisticRegression(), "b": linear_model.LogisticRegression()},
        slices=["key"],
        max_pending=500,
    )
    sizes = []
    for i in range(20_000):
        engine.predict({"x": float(i % 7)}, id=f"p{i}", key=f"k{i % 5}")
        if i % 3 == 0:  # a third of the labels arrive; the rest are evicted by max_pending
            engine.learn(f"p{i}", i % 2 == 0)
        sizes.append(len(engine.evaluation.keys))
    pending = engine.pending.records
    assert max(sizes) <= 2 * (500 + 1024) + 2
    assert all(engine.evaluation.keys[i] is not None for i in pending)  # every pending id kept
    rows = engine.summary()["slices"]["models"]["a"]["slices"]
    assert {r["slice"] for r in rows} == {f"key=k{j}" for j in range(5)}
    assert sum(r["n"] for r in rows) == engine.summary()["models"]["a"]["scored"]
