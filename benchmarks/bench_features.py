"""Feature stage vs River's own way (feature_extraction.Agg over utils.Rolling / TimeRolling).

Same keyed stream (200k events, 10k keys, 3 aggregates: mean, var and sum of the amount per
user). For each event River's way is ``agg.transform_one(x)`` then ``agg.learn_one(x)`` for each
of the three ``Agg``; ours is one ``FeatureSet.transform_one(x, ts)``.

* count windows ("5 events" vs ``utils.Rolling(window_size=5)``): the semantics match exactly
  (the last 5 events of the key before this one), so every value is compared (to 1e-9);
* duration windows ("1h" vs ``utils.TimeRolling(period=1h)``): River reads the window as of the
  key's previous event, ours as of this event's time (``[t - 1h, t)``), so only speed is compared.

Then the all-time sketches: per user, the distinct merchants and the median amount over all
time, past an exact ``bound`` of 64 values (so nearly every read is from a sketch: Apache
DataSketches' HLL and t-digest) against River's ``sketch.NUnique`` (per key) and
``Agg(stats.Quantile(0.5))`` (P-square), timed in chunks of 50 events alternating between the
two in one process (the machine is shared: the ratio is the figure, not the rates); the error of
each against the exact values at the end.

Then memory: a stream whose keys keep changing, with ``ttl="2h"``; the number of live keys and
the pickled state size must level off.

Run: ``python benchmarks/bench_features.py`` (add ``--events 50000`` for a quick run;
``--only sketches`` for the sketch section alone: ``--sketch-events 50000 --sketch-keys 20`` by
default, River's pure-Python ``NUnique`` is slow).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import pickle
import time

import numpy as np
from river import feature_extraction, sketch, stats, utils

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


def sketch_stream(n: int, n_keys: int, seed: int = 2) -> list[tuple[dict, float]]:
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.exponential(0.5, n))
    users = rng.integers(0, n_keys, n)
    merchants = rng.zipf(1.3, n) % 100_000
    amounts = np.round(np.exp(rng.normal(3.0, 1.0, n)), 2)
    return [
        ({"user": f"u{u}", "merchant": f"m{m}", "amount": float(a)}, float(t))
        for u, m, a, t in zip(users, merchants, amounts, ts)
    ]


SKETCH_NAMES = ("merchant_distinct_all_by_user", "amount_quantile50_all_by_user")


def sketches(n: int, n_keys: int, chunk: int = 50) -> dict[str, float]:
    """Chunked alternation (``chunk`` events each) of ours and River's way, in one process."""
    stream = sketch_stream(n, n_keys)
    fs = F.FeatureSet(
        [
            F.DistinctCount("merchant", by="user", bound=64),
            F.Quantile("amount", 0.5, by="user", bound=64),
        ]
    )
    q_agg = feature_extraction.Agg(on="amount", by="user", how=stats.Quantile(0.5))
    uniques: dict[str, sketch.NUnique] = {}
    t_ours = t_river = 0.0
    last_ours: dict[str, dict] = {}
    last_river: dict[str, tuple[float, float]] = {}
    for i in range(0, len(stream), chunk):
        part = stream[i : i + chunk]
        start = time.perf_counter()
        for x, t in part:
            last_ours[x["user"]] = fs.transform_one(x, t)
        t_ours += time.perf_counter() - start
        start = time.perf_counter()
        for x, _ in part:
            u = uniques.get(x["user"])
            if u is None:
                u = uniques[x["user"]] = sketch.NUnique(error_rate=0.016, seed=0)
            (med,) = q_agg.transform_one(x).values()
            last_river[x["user"]] = (u.get(), med)
            u.update(x["merchant"])
            q_agg.learn_one(x)
        t_river += time.perf_counter() - start
    # errors of the last read of each key (all events but its last) against the exact values
    seen: dict[str, list] = {}
    last_at: dict[str, int] = {}
    for j, (x, _) in enumerate(stream):
        seen.setdefault(x["user"], []).append(x)
        last_at[x["user"]] = j
    d_ours, d_river, r_ours, r_river = [], [], [], []
    for user, xs in seen.items():
        before = xs[:-1]
        if len(before) < 200:
            continue
        exact_d = len({x["merchant"] for x in before})
        vals = np.sort([x["amount"] for x in before])
        od = last_ours[user].get(SKETCH_NAMES[0], 0)
        oq = last_ours[user].get(SKETCH_NAMES[1], math.nan)
        rd, rq = last_river[user]
        d_ours.append(abs(od - exact_d) / exact_d)
        d_river.append(abs(rd - exact_d) / exact_d)
        r_ours.append(abs(np.searchsorted(vals, oq) / len(vals) - 0.5))
        r_river.append(abs(np.searchsorted(vals, rq) / len(vals) - 0.5))
    return {
        "ours_evs": len(stream) / t_ours,
        "river_evs": len(stream) / t_river,
        "ratio": t_river / t_ours,
        "keys": len(d_ours),
        "distinct_err_ours": float(np.mean(d_ours)),
        "distinct_err_river": float(np.mean(d_river)),
        "rank_err_ours": float(np.mean(r_ours)),
        "rank_err_river": float(np.mean(r_river)),
        "pickled": len(pickle.dumps(fs)),
    }


def print_sketches(n: int, n_keys: int) -> None:
    r = sketches(n, n_keys)
    print(
        f"\nAll-time sketches ({n} events, {n_keys} keys, exact bound 64; chunks of 50 events "
        "alternating in one process):\n"
    )
    print("| | stream-ml | River | River time / ours |")
    print("|---|---|---|---|")
    print(f"| ev/s | {r['ours_evs']:,.0f} | {r['river_evs']:,.0f} | {r['ratio']:.2f}x |")
    print(
        f"| distinct count, mean relative error ({r['keys']} keys) | "
        f"{r['distinct_err_ours']:.4f} | {r['distinct_err_river']:.4f} | |"
    )
    print(
        f"| median, mean rank error ({r['keys']} keys) | {r['rank_err_ours']:.4f} | "
        f"{r['rank_err_river']:.4f} | |"
    )
    print(f"| pickled feature state (bytes) | {r['pickled']:,} | | |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--only", choices=("sketches",), default=None)
    parser.add_argument("--sketch-events", type=int, default=50_000)
    parser.add_argument("--sketch-keys", type=int, default=20)
    args = parser.parse_args()
    if args.only == "sketches":
        print_sketches(args.sketch_events, args.sketch_keys)
        return
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
    print_sketches(args.sketch_events, args.sketch_keys)


if __name__ == "__main__":
    main()
