"""Sources read with offsets and seek; sinks are idempotent by output id."""

from __future__ import annotations

import gzip
import json

import pytest
import sqlite_utils
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import (
    CsvSource,
    IterableSource,
    JsonlSink,
    JsonlSource,
    RiverSource,
    RowDecoder,
    SqliteSink,
    infer_target_type,
)
from stream_ml.errors import ConfigError, ConnectorError, MalformedMessageError


def write_csv(path, rows, gz):
    text = "a,b,y\n" + "".join(f"{a},{b},{y}\n" for a, b, y in rows)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)


@pytest.mark.parametrize("gz", [False, True])
@given(n=st.integers(1, 40), cut=st.integers(0, 45))
@settings(max_examples=25, deadline=None)
def test_csv_seek_resumes_exactly(tmp_path_factory, gz, n, cut):
    path = tmp_path_factory.mktemp("csv") / ("d.csv.gz" if gz else "d.csv")
    rows = [(i, i * 0.5, i % 2) for i in range(n)]
    write_csv(path, rows, gz)
    full = list(CsvSource(path).read())
    assert [o for o, _ in full] == list(range(n))
    src = CsvSource(path)
    src.seek(cut)
    assert list(src.read()) == full[cut:]


def test_source_remembers_where_it_stopped(tmp_path):
    path = tmp_path / "d.csv"
    write_csv(path, [(i, i, 0) for i in range(10)], gz=False)
    src = CsvSource(path)
    it = src.read()
    for _ in range(4):
        next(it)
    next(it)  # the 5th is read but the consumer stops before asking for the 6th
    it.close()
    assert next(o for o, _ in src.read()) == 4  # the 5th was not acknowledged by a next()


def test_jsonl_source_yields_errors_with_offsets(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"a": 1}\n\n[1, 2]\n{oops\n{"a": 2}\n')
    got = list(JsonlSource(path).read())
    assert [o for o, _ in got] == [0, 1, 2, 3]
    assert isinstance(got[1][1], MalformedMessageError) and isinstance(
        got[2][1], MalformedMessageError
    )
    src = JsonlSource(path)
    src.seek(3)
    assert list(src.read()) == [(3, {"a": 2})]


def test_missing_files_are_connector_errors(tmp_path):
    with pytest.raises(ConnectorError, match="cannot open"):
        CsvSource(tmp_path / "nope.csv")
    with pytest.raises(ConnectorError):
        JsonlSource(tmp_path / "nope.jsonl")


def test_river_source_and_refusals():
    src = RiverSource("synth.SEA", params={"seed": 3}, limit=5)
    src.seek(2)
    assert [o for o, _ in src.read()] == [2, 3, 4]
    with pytest.raises(ConfigError, match="infinite"):
        RiverSource("synth.SEA")
    with pytest.raises(ConfigError, match="no 'Nope'"):
        RiverSource("Nope")
    with pytest.raises(ConfigError, match="downloaded"):
        RiverSource("Insects")


def test_iterable_source_seek_rules():
    src = IterableSource(iter(range(5)))
    src.seek(2)
    assert [o for o, _ in src.read()] == [2, 3, 4]
    with pytest.raises(ConnectorError, match="cannot seek back"):
        src.seek(0)


def test_target_types():
    assert infer_target_type(["1", "0", "2"]) == "int"
    assert infer_target_type(["1", "0.5"]) == "float"
    assert infer_target_type(["true", "False"]) == "bool"
    assert infer_target_type(["cat", "1"]) == "str"
    dec = RowDecoder(target="y", target_type="float", id="id", key="k", ts="t")
    x, y, id, key, ts = dec.decode(
        {"id": 7, "k": "u", "t": "2023-11-14T22:13:20Z", "a": "1", "y": "3"}
    )
    assert (x, y, id, key, ts) == ({"a": 1.0}, 3.0, "7", "u", 1700000000.0)


def test_jsonl_sink_is_idempotent_across_reopen_and_repairs_torn_lines(tmp_path):
    path = tmp_path / "out.jsonl"
    sink = JsonlSink(path)
    for i in range(5):
        sink.write({"kind": "prediction", "id": str(i), "y_pred": i})
    sink.close()
    with open(path, "a") as f:
        f.write('{"kind": "prediction", "id": "5", "y_')  # a write torn by a crash
    sink = JsonlSink(path)
    for i in range(3, 8):  # a resumed run writes 3..7 again
        sink.write({"kind": "prediction", "id": str(i), "y_pred": i})
    sink.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [d["id"] for d in lines] == [str(i) for i in range(8)]


def test_sqlite_sink_upserts_by_id(tmp_path):
    path = tmp_path / "out.db"
    for _ in range(2):
        sink = SqliteSink(path, buffer=3)
        for i in range(10):
            sink.write(
                {"kind": "prediction", "id": str(i), "y_pred": i % 2 == 0, "proba": {"True": 0.5}}
            )
        sink.close()
    db = sqlite_utils.Database(path)
    rows = list(db["predictions"].rows)
    assert len(rows) == 10
    assert sorted(r["id"] for r in rows) == sorted(str(i) for i in range(10))
    assert json.loads(rows[0]["proba"]) == {"True": 0.5}
