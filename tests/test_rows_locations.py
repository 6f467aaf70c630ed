"""Error locations: every bad record is named ``file:line`` (the line an editor shows), also
under ``--strict``; a file with nothing to run is a clear error; a model error carries its
record's location and leaves the metrics as they were; a feature config error names the
feature."""

from __future__ import annotations

import gzip
import json
import pickle
import random
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import linear_model

from connectors import CsvSource, JsonlSource
from stream_ml import Engine
from stream_ml.config import load_config, parse_config
from stream_ml.errors import ConfigError, ConnectorError
from stream_ml.runtime.build import build_source, run_config
from stream_ml.runtime.replay import Replay
from tests.conftest import WEATHER


def weather(n: int) -> list[str]:
    with gzip.open(WEATHER, "rt") as f:
        return [next(f) for _ in range(n + 1)]


def cli(python, env, *args):
    return subprocess.run([python, "-m", "stream_ml.cli", *map(str, args)],
                          capture_output=True, text=True, env=env)  # fmt: skip


def flat(text: str) -> str:
    return " ".join(text.split())  # the console wraps long lines


# -- JSONL ---------------------------------------------------------------------------------------


def test_jsonl_errors_name_the_line_not_the_record_number(tmp_path, cli_env, python):
    """The issue's case: a bad record on line 58 was reported as ``record 57``."""
    lines = []
    for i in range(80):
        lines.append(json.dumps({"id": f"e{i}", "features": {"x": float(i)}}))
        if i == 10:
            lines.append("")  # a blank line: record numbers and lines part here
    lines[57] = '{"id": "bad", "features": {"x": '  # line 58, record 57
    path = tmp_path / "msgs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    toml = tmp_path / "c.toml"
    toml.write_text(f'[source]\nkind = "jsonl"\npath = "{path}"\n'
                    '[models.lr]\nmodel = "linear_model.LogisticRegression()"\n')  # fmt: skip
    s = run_config(load_config(toml))
    assert [e["offset"] for e in s["errors"]["samples"]] == ["msgs.jsonl:58"]
    run = cli(python, cli_env, "run", toml, "--strict")
    assert run.returncode == 2
    assert "msgs.jsonl:58" in flat(run.stderr), run.stderr


@given(
    records=st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=40),
    asks=st.lists(st.integers(0, 39), max_size=20),
)
@settings(max_examples=60, deadline=None)
def test_jsonl_location_is_the_line_for_any_blank_lines(tmp_path_factory, records, asks):
    """Each record is preceded by 0-3 blank lines; locations asked in any order, also for
    offsets already passed (a held label's error), and after pickling, are the true lines."""
    path = tmp_path_factory.mktemp("j") / "m.jsonl"
    text, truth, line = [], [], 0
    for blanks, spaced in records:
        for _ in range(blanks):
            text.append("   " if spaced else "")
            line += 1
        text.append('{"a": 1}')
        line += 1
        truth.append(line)
    path.write_text("\n".join(text) + "\n")
    src = JsonlSource(path)
    for k in asks:
        if k < len(truth):
            assert src.location(k) == f"m.jsonl:{truth[k]}"
    copy = pickle.loads(pickle.dumps(src))
    assert [copy.location(k) for k in range(len(truth))] == [f"m.jsonl:{t}" for t in truth]
    assert [o for o, _ in src.read()] == list(range(len(truth)))


def test_empty_jsonl_is_a_connector_error(tmp_path):
    path = tmp_path / "none.jsonl"
    path.write_text("\n  \n")
    with pytest.raises(ConnectorError, match=r"none\.jsonl.*holds no records"):
        JsonlSource(path)


# -- CSV -----------------------------------------------------------------------------------------


def test_csv_rows_after_a_multiline_cell_are_located_on_their_line(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('a,note,y\n1,"two\nlines",0\n2,x,1\n\n3,"three\nmore\nlines",0\n4,y,zz\n')
    src = CsvSource(path)
    assert [o for o, _ in src.read()] == [0, 1, 2, 3, 4]
    # rows start on lines 2, 4, 5 (a blank line is a row: its missing target is an error), 6, 9
    assert [src.location(k) for k in (4, 0, 1, 2, 3)] == [
        "q.csv:9", "q.csv:2", "q.csv:4", "q.csv:5", "q.csv:6"
    ]  # fmt: skip
    cfg = parse_config({"source": {"kind": "csv", "path": str(path), "target": "y",
                                   "categorical": ["note"], "target_type": "int"},
                        "models": {"lr": {"model": "linear_model.LogisticRegression()"}}})  # fmt: skip
    s = run_config(cfg)
    got = {e["offset"]: (e["code"], e["field"]) for e in s["errors"]["samples"]}
    assert got["q.csv:9"] == ("wrong_type", "y") and got["q.csv:5"] == ("missing_field", "y")


def test_header_only_csv_is_a_clear_error(tmp_path, cli_env, python):
    """The issue's case: it ran with exit 0 and "Accuracy 0.0000"."""
    path = tmp_path / "header.csv"
    path.write_text(weather(0)[0])
    with pytest.raises(ConnectorError, match=r"header\.csv.*has a header but no data rows"):
        CsvSource(path)
    toml = tmp_path / "c.toml"
    toml.write_text(f'[source]\nkind = "csv"\npath = "{path}"\ntarget = "target"\n'
                    '[models.lr]\nmodel = "linear_model.LogisticRegression()"\n')  # fmt: skip
    run = cli(python, cli_env, "run", toml)
    assert run.returncode == 1
    assert "header.csv" in flat(run.stderr) and "no data rows" in flat(run.stderr)
    assert "Accuracy" not in run.stdout


# -- model errors --------------------------------------------------------------------------------


class Picky(linear_model.LogisticRegression):
    """Refuses to learn from some rows (before learning anything from them)."""

    def __init__(self, refuse):
        super().__init__()
        self.refuse = refuse

    def learn_one(self, x, y, **kw):
        if x["feat_1"] in self.refuse:
            raise ValueError(f"refused {x['feat_1']}")
        return super().learn_one(x, y, **kw)


def reference(rows, decoder, refuse, delay):
    """A plain River loop in the driver's order (a label ``delay`` observations after its
    prediction), where a refused label is neither learned nor scored."""
    from river import metrics

    model, acc, loss = linear_model.LogisticRegression(), metrics.Accuracy(), metrics.LogLoss()
    held = []

    def release(upto):
        while held and held[0][0] <= upto:
            _, x, y, proba = held.pop(0)
            if x["feat_1"] in refuse:
                continue
            model.learn_one(x, y)
            acc.update(y, max(proba, key=proba.get))
            loss.update(y, proba)

    for i, row in enumerate(rows):
        x, y, *_ = decoder.decode(row)
        release(i)
        held.append((i + delay, x, y, model.predict_proba_one(x)))
        if not delay:
            release(i)
    release(float("inf"))
    return {"Accuracy": acc.get(), "LogLoss": loss.get()}


@pytest.mark.parametrize("delay", [0, 7])
def test_a_model_error_is_located_and_leaves_the_metrics_as_they_were(tmp_path, delay):
    lines = weather(600)
    (tmp_path / "all.csv").write_text("".join(lines))
    rng = random.Random(4)
    refuse = {float(lines[1 + i].split(",")[0]) for i in rng.sample(range(600), 12)}
    refused = [i for i, r in enumerate(lines[1:]) if float(r.split(",")[0]) in refuse]
    cfg = parse_config({"source": {"kind": "csv", "path": str(tmp_path / "all.csv"),
                                   "target": "target"},
                        "models": {"m": {"model": "linear_model.LogisticRegression()"}}})  # fmt: skip
    src, dec = build_source(cfg.source)
    engine = Engine({"m": Picky(refuse)}, metrics=["Accuracy", "LogLoss"])
    got = Replay(engine, src, dec, delay=delay).run()
    errors = got["errors"]
    assert errors["by_code"] == {"model_error": len(refused)}
    lines_named = sorted(int(e["offset"].split(":")[1]) for e in errors["samples"])
    assert lines_named == [i + 2 for i in refused]  # the line of the row whose label failed
    assert all("failed in learn" in e["reason"] for e in errors["samples"])
    # the refused labels were neither learned nor scored
    ref = reference([r for _, r in CsvSource(tmp_path / "all.csv").read()], dec, refuse, delay)
    assert got["models"]["m"]["metrics"] == pytest.approx(ref, rel=1e-12)
    assert got["models"]["m"]["learned"] == 600 - len(refused)
    assert got["labels"]["pending"] == len(refused)  # each prediction stays pending


def test_strict_names_the_line_of_a_model_error(tmp_path, cli_env, python):
    lines = weather(300)
    path = tmp_path / "note.csv"
    body = [r.rstrip("\n") + (",x\n" if i in (40, 200) else ",\n") for i, r in enumerate(lines[1:])]
    path.write_text(lines[0].rstrip("\n") + ",note\n" + "".join(body))
    toml = tmp_path / "c.toml"
    toml.write_text(f'[source]\nkind = "csv"\npath = "{path}"\ntarget = "target"\n'
                    'categorical = ["note"]\n'
                    '[models.lr]\nmodel = "linear_model.LogisticRegression()"\n')  # fmt: skip
    run = cli(python, cli_env, "run", toml, "--strict")
    assert run.returncode == 2
    assert "model 'lr' failed in predict" in flat(run.stderr)
    assert "(at note.csv:42)" in flat(run.stderr)
    lenient = cli(python, cli_env, "run", toml, "--json")
    s = json.loads(lenient.stdout)
    assert [e["offset"] for e in s["errors"]["samples"]] == ["note.csv:42", "note.csv:202"]


# -- feature configs -----------------------------------------------------------------------------


def test_a_window_typo_names_the_feature(tmp_path, cli_env, python):
    toml = tmp_path / "c.toml"
    toml.write_text(
        f'[source]\nkind = "csv"\npath = "{WEATHER}"\ntarget = "target"\n'
        '[models.lr]\nmodel = "linear_model.LogisticRegression()"\n'
        '[[features]]\nname = "f1_mean_1h"\nagg = "mean"\non = "feat_1"\nby = "feat_2"\n'
        'window = "1 fortnite"\n'
    )
    with pytest.raises(ConfigError, match=r"feature 'f1_mean_1h' \(features\[0\]\): window"):
        load_config(toml)
    run = cli(python, cli_env, "run", toml)
    assert run.returncode == 1 and "feature 'f1_mean_1h'" in flat(run.stderr)
    unnamed = {"agg": "mean", "on": "feat_1", "by": "feat_2", "window": "2 parsecs"}
    with pytest.raises(ConfigError, match=r"features\[1\] \(agg = 'mean', on = 'feat_1'"):
        parse_config({"models": {"lr": {"model": "linear_model.LogisticRegression()"}},
                      "features": [{"agg": "count", "by": "u"}, unnamed]})  # fmt: skip


def test_bytewax_dead_letters_are_located_as_the_replay_locates(tmp_path):
    """A keyed dataflow's dead letter (a row without a key) names ``file:line`` as the
    replay's error record does, given the source's ``location``."""
    from connectors import MemorySink
    from stream_ml.runtime.build import build_replay, close_replay
    from stream_ml.runtime.bytewax.decode import DEAD_LETTER, Decoder

    path = tmp_path / "k.csv"
    path.write_text("store,a,y\ns1,1,0\n\ns2,2,1\n,3,0\ns1,maybe,1\n")
    cfg = parse_config({"source": {"kind": "csv", "path": str(path), "target": "y",
                                   "key": "store"},
                        "models": {"lr": {"model": "linear_model.LogisticRegression()"}}})  # fmt: skip
    sink = MemorySink()
    replay = build_replay(cfg, extra_sinks=[sink])
    try:
        replay.run()
    finally:
        close_replay(replay)
    ref = {o["id"]: o for o in sink.outputs if o["kind"] == "error"}
    src, rows = build_source(cfg.source)
    dec = Decoder(rows, keyed=True, locate=src.location)
    dead = {v["id"]: v for k, v in dec.batch(list(src.read())) if k == DEAD_LETTER}
    assert dead == ref and set(dead) == {"error:1", "error:3", "error:4"}
    assert [dead[i]["offset"] for i in sorted(dead)] == ["k.csv:3", "k.csv:5", "k.csv:6"]
