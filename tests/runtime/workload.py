"""A seeded keyed workload and its embedded reference (one Engine per key, arrival order)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from river import linear_model, preprocessing

from connectors import IterableSource, MemorySink, RowDecoder
from stream_ml import Engine
from stream_ml.runtime.replay import Replay

MODEL = "preprocessing.StandardScaler() | linear_model.LogisticRegression()"


def rows(n: int = 2000, keys: int = 30, seed: int = 7) -> list[dict[str, str]]:
    """Rows with a key column; each key has its own concept (weights), labels are noisy."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(keys, 2))
    out = []
    for i in range(n):
        k = int(rng.integers(keys))
        x = rng.normal(size=2)
        y = bool(x @ w[k] + 0.3 * rng.normal() > 0)
        out.append(
            {
                "id": f"e{i}",
                "store": f"s{k:03d}",
                "x1": f"{x[0]:.6f}",
                "x2": f"{x[1]:.6f}",
                "y": str(y),
            }
        )
    return out


def decoder() -> RowDecoder:
    return RowDecoder(target="y", target_type="bool", id="id", key="store")


def engine(key: str = "") -> Engine:
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    return Engine({"lr": model}, metrics=["Accuracy", "LogLoss"])


def embedded(data: list[dict[str, Any]], delay: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Outputs by id and engine summaries by key: one Replay per key over its own records."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for r in data:
        by_key.setdefault(r["store"], []).append(r)
    outputs: dict[str, Any] = {}
    summaries: dict[str, Any] = {}
    for key, recs in by_key.items():
        mem = MemorySink()
        eng = engine(key)
        Replay(eng, IterableSource(recs), decoder(), delay=delay, sinks=[mem]).run()
        for o in mem.outputs:
            outputs[f"{o['kind']}:{o['id']}"] = o
        summaries[key] = {**eng.summary(), "digest": eng.digest()}
    return outputs, summaries


def split(outputs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Bytewax outputs -> (predictions/acks by kind:id, summaries by key); asserts no conflicts."""
    preds: dict[str, Any] = {}
    summaries: dict[str, Any] = {}
    for o in outputs:
        if o["kind"] == "summary":
            s = {k: v for k, v in o.items() if k not in ("kind", "id")}
            assert summaries.setdefault(o["id"], s) == s
        else:
            oid = f"{o['kind']}:{o['id']}"
            assert preds.setdefault(oid, o) == o, f"two different outputs for {oid}"
    return preds, summaries


def write_csv(path: Path, data: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(data[0]))
        w.writeheader()
        w.writerows(data)
    return path


def config_toml(path: Path, csv_path: Path, out: Path, delay: int) -> Path:
    path.write_text(
        f"""
[source]
kind = "csv"
path = "{csv_path}"
target = "y"
target_type = "bool"
id = "id"
key = "store"

[models.lr]
model = "{MODEL}"

[evaluation]
metrics = ["Accuracy", "LogLoss"]
delay = {delay}

[[sinks]]
kind = "jsonl"
path = "{out}"
"""
    )
    return path


def messages(n: int = 1200, keys: int = 12, seed: int = 11, lag: int = 5) -> list[Any]:
    """Observation and feedback messages; each feedback carries its observation's ``key``.

    Feedback comes ``lag`` observations later (in arrival order), as a dict with ``key`` (a third
    of them as a JSON string, a third as a ``Feedback`` instance), so the key is a plain field of
    the message, not something a runtime adds. Extra messages the keyed runtime must handle: a
    feedback with no key (a dead letter) and one naming the wrong key (``unknown_id`` there).
    """
    import json

    from stream_ml.events import Feedback

    rng = np.random.default_rng(seed)
    w = rng.normal(size=(keys, 2))
    out: list[Any] = []
    due: list[tuple[str, str, bool]] = []
    for i in range(n):
        k = int(rng.integers(keys))
        x = rng.normal(size=2)
        key = f"s{k:03d}"
        features = {"x1": round(float(x[0]), 6), "x2": round(float(x[1]), 6)}
        out.append({"kind": "observation", "id": f"e{i}", "key": key, "features": features})
        due.append((f"e{i}", key, bool(x @ w[k] + 0.3 * rng.normal() > 0)))
        if len(due) > lag:
            id, fkey, label = due.pop(0)
            form = i % 3
            fb = {"kind": "feedback", "id": id, "label": label, "key": fkey}
            if form == 0:
                out.append(fb)
            elif form == 1:
                out.append(json.dumps(fb))
            else:
                out.append(Feedback(id=id, label=label, key=fkey))
        if i == n // 3:
            out.append({"kind": "feedback", "id": "e0", "label": True})  # no key
        if i == n // 2:
            wrong = "s000" if key != "s000" else "s001"
            out.append({"kind": "feedback", "id": f"e{i}", "label": True, "key": wrong})
    for id, fkey, label in due:
        out.append({"kind": "feedback", "id": id, "label": label, "key": fkey})
    return out


def embedded_messages(msgs: list[Any]) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    """One Engine per key fed its messages through ``Engine.process`` in arrival order.

    Returns outputs by ``kind:id`` (engine refusals as ``error`` outputs with the source offset
    as id, as the dataflow writes them), summaries by key, and the offsets of the messages that
    have no key (the dataflow's dead letters).
    """
    from stream_ml.events import parse_message
    from stream_ml.runtime.driver import Driver, as_dict

    drivers: dict[str, Driver] = {}
    outputs: dict[str, Any] = {}
    no_key: list[Any] = []
    for offset, m in enumerate(msgs):
        msg = parse_message(m)
        if msg.key is None:
            no_key.append(offset)
            continue
        driver = drivers.get(msg.key)
        if driver is None:
            driver = drivers[msg.key] = Driver(engine(msg.key))
        out: list[Any] = []
        driver.apply(offset, msg, out)
        for o in map(as_dict, out):
            outputs[f"{o['kind']}:{o['id']}"] = o
    summaries = {k: {**d.engine.summary(), "digest": d.engine.digest()} for k, d in drivers.items()}
    return outputs, summaries, no_key
