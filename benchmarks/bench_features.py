"""Feature stage vs River's own way (feature_extraction.Agg over utils.Rolling / TimeRolling).

Same keyed stream (200k events, 10k keys, 3 aggregates: mean, var and sum of the amount per
user). For each event River's way is ``agg.transform_one(x)`` then ``agg.learn_one(x)`` for each
of the three ``Agg``; ours is one ``FeatureSet.transform_one(x, ts)``.

* count windows ("5 events" vs ``utils.Rolling(window_size=5)``): the semantics match exactly
  (the last 5 events of the key before this one), so every value is compared (to 1e-9);
* duration windows ("1h" vs ``utils.TimeRolling(period=1h)``): River reads the window as of the
  key's previous event, ours as of this event's time (``[t - 1h, t)``), so only speed is compared.

Then memory: a stream whose keys keep changing, with ``ttl="2h"``; the number of live keys and
the pickled state size must level off.

Run: ``python benchmarks/bench_features.py`` (add ``--events 50000`` for a quick run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import pickle
import time

import numpy as np
from river import feature_extraction, stats, utils

from stream_ml import features as F


def make_stream(n: int, n_keys: int, seed: int = 0) -> list[tuple[dict, float]]:
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.exponential(0.5, n))
    users = rng.integers(0, n_keys, n)
    amounts = np.round(np.exp(rng.normal(3.0, 1.0, n)), 2)
    return [
        ({"user": f"u{u}", "amount": float(a)}, float(t)) for u, a, t in zip(users, amounts, ts)
    ]


def river_aggs(how: str) -> list[feature_extraction.Agg]:
    out = []
    for cls in (stats.Mean, stats.Var, stats.Sum):
        if how == "count":
            roll = utils.Rolling(cls, window_size=5)
        else:
            roll = utils.TimeRolling(cls, period=dt.timedelta(hours=1))
        out.append(feature_extraction.Agg(on="amount", by="user", how=roll))
    return out


def ours(window: str) -> F.FeatureSet:
    return F.FeatureSet(
        [
            F.Mean("amount", by="user", window=window),
            F.Var("amount", by="user", window=window),
            F.Sum("amount", by="user", window=window),
        ]
    )


def run_river(stream: list, how: str) -> tuple[float, list[list]]:
    aggs = river_aggs(how)
    epoch = dt.datetime(2024, 1, 1)
    times = [epoch + dt.timedelta(seconds=t) for _, t in stream]  # outside the timed loop
    values = []
    start = time.perf_counter()
    if how == "count":
        for x, _ in stream:
            values.append([a.transform_one(x) for a in aggs])
            for a in aggs:
                a.learn_one(x)
    else:
        for (x, _), t in zip(stream, times):
            values.append([a.transform_one(x) for a in aggs])
            for a in aggs:
                a.learn_one(x, t=t)
    return time.perf_counter() - start, values


def run_ours(stream: list, window: str) -> tuple[float, list[dict]]:
    fs = ours(window)
    start = time.perf_counter()
    out = [fs.transform_one(x, t) for x, t in stream]
    return time.perf_counter() - start, out


def compare(river_vals: list[list], our_vals: list[dict]) -> int:
    names = (
        "amount_mean_5_events_by_user",
        "amount_var_5_events_by_user",
        "amount_sum_5_events_by_user",
    )
    mismatches = 0
    for rv, ov in zip(river_vals, our_vals):
        for r, name in zip(rv, names):
            (r_val,) = r.values()
            mine = ov.get(name, 0.0)  # an empty window: River says 0.0, we leave the mean out
            if not math.isclose(r_val, mine, rel_tol=1e-9, abs_tol=1e-6):
                mismatches += 1
    return mismatches


def memory(n: int) -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(1)
    fs = F.FeatureSet(
        [
            F.Mean("amount", by="user", window="1h"),
            F.Count(by="user", window="1h"),
            F.Max("amount", by="user", window="1h"),
        ],
        ttl="2h",
    )
    rows = []
    t = 0.0
    for i in range(n):
        t += float(rng.exponential(0.5))
        user = f"u{int(t // 600)}-{rng.integers(0, 1000)}"  # the population turns over
        fs.transform_one({"user": user, "amount": 1.0}, t)
        if (i + 1) % (n // 5) == 0:
            rows.append((i + 1, fs.stats()["keys"], len(pickle.dumps(fs))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--keys", type=int, default=10_000)
    args = parser.parse_args()
    stream = make_stream(args.events, args.keys)
    print(f"{args.events} events, {args.keys} keys, 3 aggregates (mean, var, sum of amount)\n")
    print("| window | River ev/s | stream-ml ev/s | speed-up | values compared | mismatches |")
    print("|---|---|---|---|---|---|")
    for how, window in (("count", "5 events"), ("time", "1h")):
        r_time, r_vals = run_river(stream, how)
        o_time, o_vals = run_ours(stream, window)
        if how == "count":
            checked, bad = str(3 * len(stream)), str(compare(r_vals, o_vals))
        else:
            checked, bad = "n/a (semantics differ)", "-"
        print(
            f"| {window} | {len(stream) / r_time:,.0f} | {len(stream) / o_time:,.0f} | "
            f"{r_time / o_time:.2f}x | {checked} | {bad} |"
        )
    print("\nMemory with ttl=2h, keys turning over (events, live keys, pickled bytes):\n")
    print("| events | live keys | pickled state (bytes) |")
    print("|---|---|---|")
    for n, keys, size in memory(args.events):
        print(f"| {n} | {keys} | {size:,} |")


if __name__ == "__main__":
    main()
