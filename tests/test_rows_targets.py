"""Target typing: a minority of bad target cells are errors row by row, never a new type.

The issue's case: a 0/1 target with ``maybe`` on 10 of 5,000 rows. Before, ``target_type =
"auto"`` made the whole column ``str``: every label became "0"/"1", the models predicted ints,
Accuracy 0.0000, exit 0, and the bad rows were reported as model errors with no column.
"""

from __future__ import annotations

import gzip
import json
import subprocess

import pytest
from bytewax.testing import run_main
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import MemorySink, RowDecoder, infer_target_type
from connectors.rows import TARGET_SAMPLE
from stream_ml.config import parse_config
from stream_ml.errors import WrongTypeError
from stream_ml.runtime.build import build_replay, build_source, close_replay, run_config
from stream_ml.runtime.bytewax import build_flow
from tests.conftest import WEATHER

N = 5000
BAD = [7 + 500 * k for k in range(10)]  # 0-based data rows whose target is "maybe"
MODELS = {"lr": {"model": "preprocessing.StandardScaler() | linear_model.LogisticRegression()"}}


def weather(n: int) -> list[str]:
    with gzip.open(WEATHER, "rt") as f:
        return [next(f) for _ in range(n + 1)]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """maybe.csv (10 bad targets) and clean.csv (the same file without those 10 rows)."""
    d = tmp_path_factory.mktemp("rows")
    lines = weather(N)
    header, rows = lines[0], lines[1:]
    bad = [r.rsplit(",", 1)[0] + ",maybe\n" if i in BAD else r for i, r in enumerate(rows)]
    (d / "maybe.csv").write_text(header + "".join(bad))
    (d / "clean.csv").write_text(header + "".join(r for i, r in enumerate(rows) if i not in BAD))
    return d


def config(path, **source):
    return parse_config(
        {
            "source": {"kind": "csv", "path": str(path), "target": "target", **source},
            "models": MODELS,
            "evaluation": {"metrics": ["Accuracy", "F1"]},
        }
    )


def test_ten_maybe_are_ten_errors_with_line_and_column(files):
    got = run_config(config(files / "maybe.csv"))
    ref = run_config(config(files / "clean.csv"))
    errors = got["errors"]
    assert errors["by_code"] == {"wrong_type": 10}
    lines = sorted(int(e["offset"].split(":")[1]) for e in errors["samples"])
    assert lines == [i + 2 for i in BAD]  # the header is line 1
    for e in errors["samples"]:
        assert e["offset"].startswith("maybe.csv:")
        assert e["field"] == "target"
        assert e["reason"].startswith("'maybe' is not an int")
    # the 4,990 good rows are read as the clean file's rows are: the same metrics exactly
    assert got["events"] == ref["events"] == N - 10
    assert got["models"] == ref["models"]
    assert got["models"]["lr"]["metrics"]["Accuracy"] > 0.7


def test_the_decided_type_is_the_clean_files(files):
    for name in ("maybe.csv", "clean.csv"):
        _, dec = build_source(config(files / name).source)
        assert dec.target_type == "int"


def test_declared_type_wins_and_str_keeps_every_value(files):
    s = run_config(config(files / "maybe.csv", target_type="str"))
    assert s["events"] == N  # every row decodes; the model refuses to learn "maybe" (located)
    assert s["errors"]["by_code"] == {"model_error": 10}
    assert sorted(e["offset"] for e in s["errors"]["samples"]) == sorted(
        f"maybe.csv:{i + 2}" for i in BAD
    )
    s = run_config(config(files / "maybe.csv", target_type="bool"))
    assert s["errors"]["by_code"] == {"wrong_type": N} and s["events"] == 0


def test_bytewax_decodes_exactly_as_the_replay(files):
    cfg = config(files / "maybe.csv")
    sink = MemorySink()
    replay = build_replay(cfg, extra_sinks=[sink])
    try:
        summary = replay.run()
    finally:
        close_replay(replay)
    got: list = []

    class ListSink:
        def write(self, output):
            got.append(output)

        def flush(self):
            pass

        def close(self):
            pass

    run_main(build_flow(cfg, sinks=[ListSink]))
    errors = sorted((o for o in got if o["kind"] == "error"), key=lambda o: o["id"])
    ref_errors = sorted((o for o in sink.outputs if o["kind"] == "error"), key=lambda o: o["id"])
    assert errors == ref_errors and len(errors) == 10
    preds = [o for o in got if o["kind"] == "prediction"]
    ref_preds = [o for o in sink.outputs if o["kind"] == "prediction"]
    assert preds == ref_preds
    (flow_summary,) = [o for o in got if o["kind"] == "summary"]
    assert flow_summary["models"] == summary["models"]


def test_strict_names_the_line_and_the_column(files, tmp_path, cli_env, python):
    toml = tmp_path / "c.toml"
    toml.write_text(
        f'[source]\nkind = "csv"\npath = "{files / "maybe.csv"}"\ntarget = "target"\n'
        '[models.lr]\nmodel = "linear_model.LogisticRegression()"\n'
    )
    run = subprocess.run([python, "-m", "stream_ml.cli", "run", str(toml), "--strict"],
                         capture_output=True, text=True, env=cli_env)  # fmt: skip
    assert run.returncode == 2
    err = " ".join(run.stderr.split())
    assert "field 'target'" in err and "'maybe' is not an int" in err and "maybe.csv:9" in err
    lenient = subprocess.run([python, "-m", "stream_ml.cli", "run", str(toml), "--json"],
                             capture_output=True, text=True, env=cli_env, check=True)  # fmt: skip
    s = json.loads(lenient.stdout)
    assert s["errors"]["by_code"] == {"wrong_type": 10}


# -- the rule ----------------------------------------------------------------------------------


def test_majority_rule():
    assert infer_target_type(["0", "1", "maybe"]) == "int"
    assert infer_target_type(["0", "maybe"]) == "str"  # a tie is not a majority
    assert infer_target_type(["0", "1", "0.5", "maybe"]) == "float"
    assert infer_target_type(["true", "false", "1"]) == "bool"
    assert infer_target_type(["yes", "no", "1"]) == "str"
    assert infer_target_type(["1", "nan", "inf"]) == "str"  # not finite: not numbers
    assert infer_target_type([0, 1, 1.0]) == "float"  # JSON values
    assert infer_target_type(["", None]) == "str"


def test_only_the_first_sample_is_read():
    read = 0

    def cells():
        nonlocal read
        for i in range(10 * TARGET_SAMPLE):
            read += 1
            yield "" if i % 2 else str(i % 3)  # empty cells do not count towards the sample

    assert infer_target_type(cells()) == "int"
    assert read == 2 * TARGET_SAMPLE - 1
    # what comes after the sample cannot change the type
    assert infer_target_type(["1"] * TARGET_SAMPLE + ["cat"] * TARGET_SAMPLE) == "int"


@given(
    labels=st.lists(st.integers(0, 3), min_size=1, max_size=60),
    junk=st.lists(st.sampled_from(["maybe", "?", "1.x", "N/A", "true"]), max_size=60),
    where=st.randoms(use_true_random=False),
)
@settings(max_examples=200, deadline=None)
def test_a_minority_of_bad_cells_changes_no_other_row(labels, junk, where):
    """Bad cells (fewer than the good ones) never change the type or how a good row reads."""
    junk = junk[: len(labels) - 1]  # fewer bad cells than good ones
    cells = [str(v) for v in labels]
    for j in junk:
        cells.insert(where.randint(0, len(cells)), j)
    kind = infer_target_type(cells)
    assert kind == infer_target_type([str(v) for v in labels]) == "int"
    dec = RowDecoder(target="y", target_type=kind)
    good = []
    for c in cells:
        try:
            good.append(dec.decode({"x": "1", "y": c})[1])
        except WrongTypeError as err:
            assert err.field == "y" and c in junk
    assert good == labels


def test_json_values_are_not_coerced():
    dec = RowDecoder(target="y", target_type="int")
    assert dec.decode({"y": 1.0})[1] == 1
    for bad in (1.5, True, "1.5", "one"):
        with pytest.raises(WrongTypeError, match="is not an int"):
            dec.decode({"y": bad})
    with pytest.raises(WrongTypeError, match="is not a float"):
        RowDecoder(target="y", target_type="float").decode({"y": "nan"})
    with pytest.raises(WrongTypeError, match="is not a bool"):
        RowDecoder(target="y", target_type="bool").decode({"y": 1})
