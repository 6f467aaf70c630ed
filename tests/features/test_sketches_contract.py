"""Contract of the all-time sketch aggregates (DataSketches HLL and t-digest), as states and
inside a FeatureSet: pickle round trip, copy, same input -> same bytes (also in another process,
whose string hashing is salted differently), snapshot-restore-continue == the uninterrupted run,
and merge.

The FeatureSet-level checks run the parity suite's ``SPECS`` (every aggregate and window, plus the
sketches with a bound of 16 that these logs pass), so every aggregate state is in the contract.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import pytest

from stream_ml import features as F
from stream_ml.features.aggregates.distinct import DistinctSketch, get_distinct
from stream_ml.features.aggregates.quantile import QuantileSketch, get_quantile
from stream_ml.features.sketches import HllCount, TDigestQuantiles, canonical

from .test_parity import SPECS

ROOT = Path(__file__).resolve().parents[2]


def _stream(n: int, seed: int) -> list[tuple[dict, float]]:
    rng = random.Random(seed)
    t, out = 0.0, []
    for _ in range(n):
        t += rng.choice([0.0, 0.5, 1.0, 2.0])
        late = rng.choice([0.0] * 8 + [2.0, 9.0])
        x = {
            "u": f"u{rng.randrange(3)}",
            "m": rng.choice(["m1", "m2"]),
            "v": rng.randint(-400, 400) / 4,
        }
        out.append((x, t - late))
    return out


def _fs() -> F.FeatureSet:
    return F.FeatureSet(SPECS, allowed_lateness=5.0, late_events="include", ttl=60.0)


def _digest(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def _states(bound: int) -> list:
    return [DistinctSketch(0, bound), QuantileSketch(0, (0.3, bound))]


def _read(s: object) -> object:
    return get_distinct(s, 0.0) if isinstance(s, DistinctSketch) else get_quantile(s, 0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("bound", [4096, 8])  # exact, and past the bound (a sketch)
def test_state_pickle_round_trip_copy_and_continue(bound: int) -> None:
    rng = random.Random(bound)
    values = [rng.randint(0, 3000) / 2 for _ in range(3000)]
    for s in _states(bound):
        for v in values[:1500]:
            s.update((v,), 0.0)
        assert (s.exact is None if isinstance(s, DistinctSketch) else s.sorted is None) == (
            bound == 8
        )
        blob = pickle.dumps(s)
        back, twin = pickle.loads(blob), s.copy()
        assert pickle.dumps(back) == blob == pickle.dumps(twin)
        assert _read(back) == _read(s) == _read(twin)
        read = pickle.dumps(s)  # a read may fold waiting values in (the t-digest), alike in all
        assert pickle.dumps(back) == read == pickle.dumps(twin)
        twin.update((123456.0,), 0.0)  # a copy is independent
        assert pickle.dumps(s) == read
        outs = []
        for state in (s, back):
            outs.append([])
            for v in values[1500:]:
                outs[-1].append(_read(state))
                state.update((v,), 0.0)
        assert outs[0] == outs[1]
        assert pickle.dumps(s) == pickle.dumps(back)


def test_wrappers_pickle_through_the_library_format() -> None:
    h, t = HllCount(), TDigestQuantiles()
    for i in range(5000):
        h.update(i)
        t.update(float(i))
    assert h.__getstate__()[1] == h.sketch.serialize_updatable()
    assert t.__getstate__()[1] == t.digest.serialize()
    assert t.pending  # values wait for the next read (one merge pass per read)
    before = pickle.dumps(t)
    assert pickle.dumps(t) == before  # pickling does not change the state
    back = pickle.loads(before)
    assert back.get(0.5) == t.get(0.5) and pickle.dumps(back) == pickle.dumps(t)
    assert not t.pending
    assert pickle.loads(pickle.dumps(h)).get() == h.get()


def test_canonical_values_match_python_equality() -> None:
    assert canonical(True) == canonical(1) == canonical(1.0) == 1
    assert canonical("1") == "1" != canonical(1)
    assert canonical(2**70) != canonical(str(2**70))
    s = DistinctSketch(0, 1)
    for v in (1, 1.0, True, "1", 2.5, 2**70, ("a", 1)):
        s.update((v,), 0.0)
    assert s.hll is not None and round(get_distinct(s, 0.0)) == 5


def _sketch_states(fs: F.FeatureSet) -> list[DistinctSketch | QuantileSketch]:
    """The all-time sketch states of every key, in table order."""
    found: list[DistinctSketch | QuantileSketch] = []

    def walk(obj: object, depth: int) -> None:
        if isinstance(obj, DistinctSketch | QuantileSketch):
            found.append(obj)
        elif depth > 6:
            return
        elif isinstance(obj, dict):
            for item in obj.values():
                walk(item, depth + 1)
        elif isinstance(obj, list | tuple):
            for item in obj:
                walk(item, depth + 1)
        elif hasattr(obj, "__slots__"):
            for name in obj.__slots__:  # type: ignore[attr-defined]
                if name != "group":
                    walk(getattr(obj, name, None), depth + 1)

    walk(fs._tables, 0)  # type: ignore[attr-defined]
    return found


def _sketched(s: DistinctSketch | QuantileSketch) -> bool:
    return (s.exact if isinstance(s, DistinctSketch) else s.sorted) is None


def _fingerprint(events: list[tuple[dict, float]]) -> str:
    """Hash of the outputs and of each sketch state's pickle (the library's bytes)."""
    fs = _fs()
    outs = [fs.transform_one(x, t) for x, t in events]
    h = hashlib.sha256(repr([sorted(o.items()) for o in outs]).encode())
    for s in _sketch_states(fs):
        h.update(pickle.dumps(s))
    big = DistinctSketch(0, 600)  # switches in HLL mode: built from the exact values, in order
    for i in range(3000):
        big.update((f"card-{i}",), 0.0)
    h.update(pickle.dumps(big) + repr(get_distinct(big, 0.0)).encode())
    return h.hexdigest()


def test_same_input_same_bytes_in_this_process_and_another() -> None:
    events = _stream(600, seed=3)
    runs = []
    for _ in range(2):
        fs = _fs()
        for x, t in events:
            fs.transform_one(x, t)
        runs.append(fs)
    states = [_sketch_states(fs) for fs in runs]
    assert sum(map(_sketched, states[0])) >= 6  # each key's sketches were reached
    assert [pickle.dumps(s) for s in states[0]] == [pickle.dumps(s) for s in states[1]]
    assert pickle.dumps(runs[0]) == pickle.dumps(runs[1])
    # another process, string hashing salted differently: the same outputs and sketch bytes
    # (the whole FeatureSet's pickle differs there: its pydantic config pickles a set)
    code = (
        "from tests.features.test_sketches_contract import _fingerprint, _stream\n"
        "print(_fingerprint(_stream(600, seed=3)))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == _fingerprint(events)


def test_snapshot_restore_continue_equals_the_uninterrupted_run() -> None:
    events = _stream(600, seed=4)
    whole = _fs()
    want = [whole.transform_one(x, t) for x, t in events]
    final = [pickle.dumps(s) for s in _sketch_states(whole)]
    assert sum(map(_sketched, _sketch_states(whole))) >= 6
    for cut in (150, 420):
        live = _fs()
        got = [live.transform_one(x, t) for x, t in events[:cut]]
        restored = pickle.loads(pickle.dumps(live))
        rest = events[cut:]
        got_live = got + [live.transform_one(x, t) for x, t in rest]  # pickling changed nothing
        got += [restored.transform_one(x, t) for x, t in rest]
        assert got == want == got_live
        assert [pickle.dumps(s) for s in _sketch_states(restored)] == final
        assert [pickle.dumps(s) for s in _sketch_states(live)] == final


def test_merge_equals_one_state_while_exact_and_mixes_modes() -> None:
    rng = random.Random(7)
    values = [rng.randint(0, 200) for _ in range(300)]
    for bound in (1024, 50):
        parts = [_states(bound), _states(bound)]
        whole = _states(bound)
        for i, v in enumerate(values):
            for s in parts[i % 2] + whole:
                s.update((float(v),), 0.0)
        merged = parts[0]
        for a, b in zip(merged, parts[1]):
            a.merge(b)
        if bound == 1024:  # exact: the merge is the state of the whole stream
            assert [_read(s) for s in merged] == [_read(s) for s in whole]
        else:
            d, q = merged
            assert d.exact is None and abs(_read(d) - len(set(values))) <= 3 * 0.0162 * 201
            assert abs(_read(q) - _read(whole[1])) <= 10  # both near the 0.3 quantile (~60)
    # an exact state merged into a sketch, and a restored state merged
    big, small = DistinctSketch(0, 10), DistinctSketch(0, 10)
    for v in range(100):
        big.update((v,), 0.0)
    for v in (5, 500, 501):
        small.update((v,), 0.0)
    restored = pickle.loads(pickle.dumps(big))
    restored.merge(small)
    big.merge(small)
    assert _read(big) == _read(restored) and round(_read(big)) == 102  # type: ignore[arg-type]
    small.merge(pickle.loads(pickle.dumps(big)))
    assert small.exact is None and round(_read(small)) == 102  # type: ignore[arg-type]


def test_numpy_scalars_count_as_the_python_values_they_equal() -> None:
    """Review R6: after the exact-to-HLL switch, ``np.int64(5)`` and ``5`` were two items (the
    repr of the numpy one). They are one value in the exact stage (a dict), and now in the
    sketch: 12 distinct values fed as Python ints, numpy ints, numpy floats and booleans."""
    import numpy as np

    vals: list[object] = []
    for i in range(12):
        vals += [i, np.int64(i), np.int32(i), np.uint8(i), np.float64(i), np.float32(i), float(i)]
    vals += [np.True_, np.False_, True, np.float32(2.5), 2.5, np.float64(2.5)]
    assert len(dict.fromkeys(vals)) == 13  # the exact stage's count: 0..11 and 2.5
    assert len({canonical(v) for v in vals}) == 13
    assert canonical(np.uint64(2**64 - 1)) == canonical(2**64 - 1) != canonical(2**63 - 1)
    assert canonical(np.float32(0.1)) != canonical(0.1)  # not equal values, as in a set
    assert type(canonical(np.float64(0.5))) is float and type(canonical(np.int64(3))) is int
    for bound in (4, 1000):  # sketched (switched after 4 values) and exact
        s = DistinctSketch(0, bound)
        for v in vals:
            s.update((v,), 0.0)
        assert (s.exact is None) == (bound == 4)
        assert round(get_distinct(s, 0.0)) == 13
