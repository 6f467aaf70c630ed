"""Every stage on: the engine against the same work written by hand with River (issue #16 goal).

The issue's goal: "the full engine with every stage on (3 keyed windowed features, 2 models behind
a Thompson router, labels 50 events late, KS on 5 features + ADWIN on errors, a snapshot every 10k
events) at least 10x the events per second of the same work written by hand with River
(``feature_extraction.Agg``, ``bandit.ThompsonSampling``, ``drift.KSWIN`` x5 + ``drift.ADWIN``,
pickle + sqlite3), same events, same process."

Both sides read the same JSON Lines file of engine messages (the weather stream, keyed by
station, labels ``--delay`` observations late: ``tests/acceptance/streams.py``) and parse every
line:

* **engine**: ``stream-ml``'s replay runner on a config (below) with the default KS settings,
  ADWIN on the served model's errors, a Thompson router over a logistic regression and a
  Hoeffding tree, three windowed features by station, signed snapshots into SQLite every
  ``--snapshot-every`` events;
* **River by hand**: three ``feature_extraction.Agg`` over ``utils.TimeRolling`` windows by
  station, ``bandit.ThompsonSampling`` choosing the model that serves (both learn every label;
  the reward is "the served answer was right"), ``drift.KSWIN`` on each of the 5 fields (window
  700 with the last 200 tested: the engine's default KS compares a reference of 500 with a
  window of 200; River's defaults, 100 and 30, are also reported: ``--kswin-default``), ADWIN on
  the served errors, the pending predictions in a dict, and ``pickle`` of everything into an
  ``sqlite3`` table every ``--snapshot-every`` events.

The two runs alternate (engine, River, engine, River ...; ``--repeats`` each) in one process;
the table gives the median events per second and the ratio. Two floors: the models alone on the
raw fields, and the models alone on the same fields plus the three windowed features (computed
before the clock starts): the models' own work grows with their inputs, so the second is the
models' share of both rows above it. ``--cpu`` times the process's CPU time instead of the wall
clock (on a loaded machine the wall clock also counts the time spent waiting for a core);
``--profile FILE`` writes a cProfile of one more engine run to FILE and prints its top lines.

    python benchmarks/bench_everything_vs_river.py [--rows 18159] [--repeats 3] [--cpu]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pickle
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from river import (  # noqa: E402
    bandit,
    compose,
    drift,
    feature_extraction,
    linear_model,
    preprocessing,
    proba,
    stats,
    tree,
    utils,
)

from stream_ml.config import load_config  # noqa: E402
from stream_ml.runtime.build import run_config  # noqa: E402
from tests.acceptance.streams import weather_messages, write_jsonl  # noqa: E402

LR = "compose.Discard('station') | preprocessing.StandardScaler() | linear_model.LogisticRegression()"  # noqa: E501
FIELDS = ["feat_1", "feat_2", "feat_3", "feat_4", "feat_5"]
clock = time.perf_counter  # --cpu: time.process_time

CONFIG = """
name = "everything-vs-river"
seed = 7

[source]
kind = "jsonl"
path = "{messages}"

[models.lr]
model = "{lr}"

[models.tree]
model = "compose.Discard('station') | tree.HoeffdingTreeClassifier(grace_period=100)"

[labels]
max_pending = 10000

[features]
ttl = "365d"

[[features.specs]]
name = "temp_mean_30d"
agg = "mean"
on = "feat_1"
by = "station"
window = "30d"

[[features.specs]]
name = "pressure_std_30d"
agg = "std"
on = "feat_3"
by = "station"
window = "30d"

[[features.specs]]
name = "wind_mean_90d"
agg = "mean"
on = "feat_4"
by = "station"
window = "90d"

[router]
kind = "thompson"

[[drift]]
name = "inputs"
on = "features"
fields = {fields}
detector = {{kind = "ks"}}

[[drift]]
name = "errors"
on = "error"
detector = {{kind = "adwin"}}

[snapshots]
path = "{db}"
every_events = {every}
key_env = "STREAM_ML_BENCH_KEY"
"""


def river_models() -> dict:
    """The two models of the config (:data:`CONFIG`), built by hand."""
    return {
        "lr": compose.Discard("station")
        | preprocessing.StandardScaler()
        | linear_model.LogisticRegression(),
        "tree": compose.Discard("station") | tree.HoeffdingTreeClassifier(grace_period=100),
    }


def run_engine(messages: Path, work: Path, every: int) -> tuple[float, int]:
    db = work / f"engine-{time.monotonic_ns()}.db"
    cfg_path = work / "everything.toml"
    cfg_path.write_text(
        CONFIG.format(messages=messages, fields=json.dumps(FIELDS), db=db, every=every, lr=LR)
    )
    os.environ.setdefault("STREAM_ML_BENCH_KEY", "bench-only-key")
    cfg = load_config(cfg_path)
    t0 = clock()
    summary = run_config(cfg)
    return clock() - t0, summary["events"]


def river_aggs() -> list:
    """The config's three windowed features by station, as River's ``Agg``."""
    day = dt.timedelta(days=1)
    return [
        feature_extraction.Agg("feat_1", "station", utils.TimeRolling(stats.Mean(), 30 * day)),
        feature_extraction.Agg("feat_3", "station", utils.TimeRolling(stats.Var(), 30 * day)),
        feature_extraction.Agg("feat_4", "station", utils.TimeRolling(stats.Mean(), 90 * day)),
    ]


def featurize(aggs: list, m: dict) -> dict:
    """An observation's fields plus the windowed features (read, then learned)."""
    x = dict(m["features"])
    t = dt.datetime.utcfromtimestamp(m["ts"])
    for agg in aggs:
        x.update(agg.transform_one(x))
    for agg in aggs:
        agg.learn_one(x, t=t)
    return x


def run_river(
    messages: Path, work: Path, every: int, seed: int = 7, kswin_sizes: tuple = (700, 200)
) -> tuple[float, int]:
    """The same work, written by hand with River (what a user glues together)."""
    db = sqlite3.connect(work / f"river-{time.monotonic_ns()}.db")
    db.execute("create table snap (events integer, state blob)")
    aggs = river_aggs()
    models = river_models()
    arms = list(models)
    policy = bandit.ThompsonSampling(reward_obj=proba.Beta(), seed=seed)
    # the same statistical work as the engine's default KS (reference 500, window 200): KSWIN
    # compares the last ``stat_size`` values with a sample of the ``window_size`` before them
    kswin = [
        drift.KSWIN(window_size=kswin_sizes[0], stat_size=kswin_sizes[1], seed=seed + i)
        for i in range(len(FIELDS))
    ]
    adwin = drift.ADWIN()
    pending: dict[str, tuple] = {}
    alarms = events = 0
    t0 = clock()
    with open(messages) as f:
        for line in f:
            m = json.loads(line)
            if m["kind"] == "observation":
                x = featurize(aggs, m)
                arm = policy.pull(arms)
                y_pred = models[arm].predict_one(x)
                for det, field in zip(kswin, FIELDS):
                    det.update(x[field])
                    alarms += det.drift_detected
                pending[m["id"]] = (x, arm, y_pred)
                events += 1
                if events % every == 0:
                    state = pickle.dumps((models, aggs, policy, kswin, adwin, pending))
                    db.execute("insert into snap values (?, ?)", (events, state))
                    db.commit()
            else:
                x, arm, y_pred = pending.pop(m["id"])
                y = m["label"]
                for model in models.values():
                    model.learn_one(x, y)
                policy.update(arm, float(y_pred == y))
                adwin.update(float(y_pred != y))
                alarms += adwin.drift_detected
    elapsed = clock() - t0
    db.close()
    return elapsed, events


def windowed_features(messages: Path) -> dict[str, dict]:
    """Each observation's fields plus the three windowed features (River's ``Agg``, as in
    :func:`run_river`), by id: the inputs the models see in both runs."""
    aggs = river_aggs()
    out = {}
    with open(messages) as f:
        for line in f:
            m = json.loads(line)
            if m["kind"] == "observation":
                x = featurize(aggs, m)
                out[m["id"]] = x
    return out


def run_models_only(
    messages: Path, seed: int = 7, features: dict[str, dict] | None = None
) -> tuple[float, int]:
    """Only what both sides must do: the models predict (the served one) and learn (both);
    with ``features`` (:func:`windowed_features`) on the inputs with the windowed features."""
    models = river_models()
    arms = list(models)
    pending: dict[str, tuple] = {}
    events = 0
    t0 = clock()
    with open(messages) as f:
        for line in f:
            m = json.loads(line)
            if m["kind"] == "observation":
                x = m["features"] if features is None else features[m["id"]]
                arm = arms[events % 2]
                pending[m["id"]] = (x, models[arm].predict_one(x))
                events += 1
            else:
                x, _ = pending.pop(m["id"])
                for model in models.values():
                    model.learn_one(x, m["label"])
    return clock() - t0, events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=None, help="weather rows (default: all 18,159)")
    ap.add_argument("--delay", type=int, default=50)
    ap.add_argument("--snapshot-every", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--kswin-default", action="store_true",
                    help="also River with KSWIN's default sizes (window 100, last 30)")
    ap.add_argument("--cpu", action="store_true",
                    help="time the process's CPU time, not the wall clock (a loaded machine)")
    ap.add_argument("--profile", metavar="FILE",
                    help="cProfile one more engine run into FILE (pstats) and print its top")
    args = ap.parse_args()
    global clock
    if args.cpu:
        clock = time.process_time
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        messages = work / "messages.jsonl"
        write_jsonl(weather_messages(rows=args.rows, delay=args.delay), messages)
        enriched = windowed_features(messages)
        eng, riv, small, bare, fed = [], [], [], [], []
        for _ in range(args.repeats):
            s, n = run_models_only(messages)
            bare.append(s / n)
            s, n = run_models_only(messages, features=enriched)
            fed.append(s / n)
            s, n = run_engine(messages, work, args.snapshot_every)
            eng.append(n / s)
            s, n = run_river(messages, work, args.snapshot_every)
            riv.append(n / s)
            if args.kswin_default:
                s, n = run_river(messages, work, args.snapshot_every, kswin_sizes=(100, 30))
                small.append(n / s)
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            run_engine(messages, work, args.snapshot_every)
            prof.disable()
            prof.dump_stats(args.profile)
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        e, r = statistics.median(eng), statistics.median(riv)
        print(f"{n} events, labels {args.delay} late, snapshot every {args.snapshot_every}, "
              f"{args.repeats} alternating repeats (median), "
              f"{'CPU time' if args.cpu else 'wall clock'}\n")
        print("| run | events/s (median) | spread | ratio |")
        print("|---|---:|---:|---:|")
        print(f"| River by hand (Agg x3, ThompsonSampling, KSWIN x5 + ADWIN, pickle+sqlite3) "
              f"| {r:,.0f} | {min(riv):,.0f}-{max(riv):,.0f} | 1.00 |")
        if small:
            q = statistics.median(small)
            print(f"| River by hand, KSWIN at its defaults (window 100, last 30) | {q:,.0f} "
                  f"| {min(small):,.0f}-{max(small):,.0f} | {q / r:.2f} |")
        m = statistics.median(bare)
        mf = statistics.median(fed)
        print(f"| the models alone (JSON, predict, learn: in both rows above and below) "
              f"| {1 / m:,.0f} | | |")
        print(f"| the models alone on the same inputs plus the 3 windowed features "
              f"| {1 / mf:,.0f} | | |")
        print(f"| stream-ml engine, every stage on | {e:,.0f} | {min(eng):,.0f}-{max(eng):,.0f} "
              f"| {e / r:.1f}x |")
        print(f"\nBeyond the models' own work: River by hand {1e6 * (1 / r - m):,.0f} µs, "
              f"the engine {1e6 * (1 / e - m):,.0f} µs ({(1 / r - m) / (1 / e - m):.1f}x less).")
        print(f"Beyond the models' work on the same inputs (the windowed features in): River by "
              f"hand {1e6 * (1 / r - mf):,.0f} µs, the engine {1e6 * (1 / e - mf):,.0f} µs.")


if __name__ == "__main__":
    main()
