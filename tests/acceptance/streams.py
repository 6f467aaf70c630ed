"""The message streams the acceptance suite feeds to every runtime (issue #12).

Every runtime gets the *same* messages, so that their outputs can be compared id by id: a JSON
Lines file of engine messages built from rows. For row ``i`` the observation
``{"kind": "observation", "id": f"e{i}", "key": ..., "ts": ..., "features": {...}}``; the
feedback ``{"kind": "feedback", "id": f"e{j}", "key": ..., "label": ...}`` of row
``j = i - delay`` is placed just before observation ``i`` (the order of
``river.stream.simulate_qa``), and the feedback still held at the end comes last.

Two streams:

* ``weather``: the repo's own ``data/weather.csv.gz`` (18,159 days, 8 numeric features, rain
  tomorrow or not). The rows have no key and no time, so day ``i`` gets
  ``ts = EPOCH + i * 86400`` and the key ``station = f"s{i % 3}"`` (also a feature, so that
  windowed features ``by = "station"`` make sense).
* ``keyed``: a synthetic sales stream of 20 stores from a fixed seed. Each store has its own
  price level and a drift point (a random 35-65% of the way through): after it the store's
  prices jump and the effect of a promotion on its sales reverses (covariate and concept
  drift, per key). The label is "sales above the store's usual".

``python -m tests.acceptance.streams weather --rows 4000 --out messages.jsonl`` writes a stream
(``examples/everything_on.toml`` reads ``everything_on.messages.jsonl``).

>>> msgs = weather_messages(rows=3, delay=1)
>>> [(m["kind"], m["id"]) for m in msgs]
[('observation', 'e0'), ('feedback', 'e0'), ('observation', 'e1'), ('feedback', 'e1'), ('observation', 'e2'), ('feedback', 'e2')]
>>> msgs[2]["key"], msgs[2]["ts"] - msgs[0]["ts"], sorted(msgs[2]["features"])[-1]
('s1', 86400.0, 'station')
>>> k = keyed_messages(rows=200, delay=5, seed=3)
>>> k == keyed_messages(rows=200, delay=5, seed=3), len(k), len({m["key"] for m in k})
(True, 400, 20)
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
WEATHER = ROOT / "data" / "weather.csv.gz"
EPOCH = 946_684_800.0  # 2000-01-01T00:00:00Z: day 0 of the weather stream
STATIONS = 3
STORES = 20

Row = tuple[str, str, float, dict[str, Any], Any]  # id, key, ts, features, label


def interleave(rows: Iterable[Row], delay: int) -> list[dict[str, Any]]:
    """Observations and their feedback ``delay`` rows later, in ``simulate_qa``'s order."""
    if delay < 0:
        raise ValueError(f"delay must be >= 0, got {delay}")
    out: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    for id, key, ts, features, label in rows:
        if delay and len(held) == delay:  # row i - delay's label, just before row i
            out.append(held.pop(0))
        out.append({"kind": "observation", "id": id, "key": key, "ts": ts, "features": features})
        held.append({"kind": "feedback", "id": id, "key": key, "label": label})
        if delay == 0:
            out.append(held.pop(0))
    out.extend(held)
    return out


def weather_rows(rows: int | None = None, path: Path = WEATHER) -> list[Row]:
    """The first ``rows`` days of the weather data (all of them for None) as keyed rows."""
    out: list[Row] = []
    with gzip.open(path, "rt", newline="") as f:
        for i, rec in enumerate(csv.DictReader(f)):
            if rows is not None and i >= rows:
                break
            station = f"s{i % STATIONS}"
            label = int(rec.pop("target"))
            features: dict[str, Any] = {k: float(v) for k, v in rec.items() if v != ""}
            features["station"] = station
            out.append((f"e{i}", station, EPOCH + i * 86400.0, features, label))
    return out


def weather_messages(rows: int | None = None, delay: int = 10) -> list[dict[str, Any]]:
    """The weather stream as messages (module docstring)."""
    return interleave(weather_rows(rows), delay)


def keyed_rows(rows: int = 4000, seed: int = 12, stores: int = STORES) -> list[Row]:
    """A synthetic sales stream of ``stores`` stores with a drift point per store."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(5.0, 15.0, stores)  # each store's usual price
    drift_at = rng.uniform(0.35, 0.65, stores) * rows  # the row index of each store's drift
    jump = rng.uniform(2.0, 4.0, stores)  # price jump after the drift
    store = rng.integers(0, stores, rows)
    promo = rng.random(rows) < 0.3
    noise = rng.normal(0.0, 1.0, (rows, 3))
    out: list[Row] = []
    t0 = EPOCH
    for i in range(rows):
        s = int(store[i])
        after = i >= drift_at[s]
        price = level[s] + (jump[s] if after else 0.0) + noise[i, 0]
        traffic = 50.0 + 10.0 * math.sin(2 * math.pi * i / 500.0) + 5.0 * noise[i, 1]
        effect = -2.0 if after else 2.0  # a promotion lifts sales, after the drift it hurts
        score = effect * promo[i] - 0.6 * (price - level[s]) + 0.15 * (traffic - 50.0)
        label = bool(score + noise[i, 2] > 0.0)
        features = {
            "store": f"store-{s:02d}",
            "price": round(float(price), 6),
            "promo": float(promo[i]),
            "traffic": round(float(traffic), 6),
        }
        out.append((f"e{i}", f"store-{s:02d}", t0 + 600.0 * i, features, label))
    return out


def keyed_messages(rows: int = 4000, delay: int = 25, seed: int = 12) -> list[dict[str, Any]]:
    """The synthetic keyed stream as messages (module docstring)."""
    return interleave(keyed_rows(rows, seed), delay)


def write_jsonl(messages: Sequence[dict[str, Any]], path: Path) -> Path:
    """Write messages one JSON object per line; returns ``path``."""
    path = Path(path)
    with open(path, "w", encoding="utf-8") as f:
        for m in messages:
            f.write(json.dumps(m, sort_keys=True) + "\n")
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.acceptance.streams")
    ap.add_argument("stream", choices=["weather", "keyed"])
    ap.add_argument("--rows", type=int, default=None, help="rows (default: all / 4000)")
    ap.add_argument("--delay", type=int, default=None, help="label delay in rows")
    ap.add_argument("--seed", type=int, default=12, help="keyed stream seed")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    if a.stream == "weather":
        msgs = weather_messages(a.rows, 10 if a.delay is None else a.delay)
    else:
        msgs = keyed_messages(a.rows or 4000, 25 if a.delay is None else a.delay, a.seed)
    write_jsonl(msgs, Path(a.out))
    print(f"{len(msgs)} messages -> {a.out}")


if __name__ == "__main__":
    main()
