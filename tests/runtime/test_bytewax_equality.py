"""A keyed workload on Bytewax with 1, 2 and 4 workers equals one embedded Engine per key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bytewax.testing import cluster_main, run_main

from connectors import IterableSource
from stream_ml.runtime.bytewax import build_flow
from stream_ml.runtime.bytewax_flow import run_bytewax
from tests.runtime import workload

DELAY = 3


class ListSink:
    """Keeps every output, duplicates included (the test checks them)."""

    def __init__(self, into: list) -> None:
        self.into = into

    def write(self, output: dict) -> None:
        self.into.append(output)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def data() -> list[dict[str, str]]:
    return workload.rows(n=2000, keys=30)


@pytest.fixture(scope="module")
def reference(data):
    return workload.embedded(data, DELAY)


def _flow(data, got: list, *, batch_size: int = 64, key_groups: int | None = 128):
    return build_flow(
        workload.engine,
        source=lambda: IterableSource(data),
        decoder=workload.decoder(),
        keyed=True,
        delay=DELAY,
        sinks=[lambda: ListSink(got)],
        batch_size=batch_size,
        key_groups=key_groups,
    )


def _check(got, reference) -> None:
    preds, summaries = workload.split(got)
    ref_preds, ref_summaries = reference
    assert preds == ref_preds
    assert set(summaries) == set(ref_summaries)
    for key, s in ref_summaries.items():
        assert summaries[key] == s, key


def test_one_worker_equals_embedded(data, reference) -> None:
    got: list = []
    run_main(_flow(data, got))
    _check(got, reference)


@pytest.mark.parametrize("workers", [2, 4])
@pytest.mark.parametrize("key_groups", [128, 5, None])  # default, many keys per group, per key
def test_several_workers_equal_embedded(data, reference, workers: int, key_groups) -> None:
    got: list = []
    flow = _flow(data, got, batch_size=17, key_groups=key_groups)
    cluster_main(flow, [], 0, worker_count_per_proc=workers)
    _check(got, reference)


@pytest.mark.parametrize("key_groups", [128, 3])
def test_two_processes_from_config_equal_embedded(tmp_path: Path, data, reference,
                                                  key_groups: int) -> None:  # fmt: skip
    """`python -m bytewax.run stream_ml.runtime.bytewax_flow:flow -i/-a`, 2 processes."""
    csv_path = workload.write_csv(tmp_path / "rows.csv", data)
    out = tmp_path / "out.jsonl"
    cfg = workload.config_toml(tmp_path / "keyed.toml", csv_path, out, DELAY)
    run_bytewax(cfg, workers=1, processes=2, keyed=True, key_groups=key_groups)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    ids = [f"{o['kind']}:{o['id']}" for o in lines]
    assert len(ids) == len(set(ids))  # one writer, idempotent sink: no duplicates
    _check(lines, reference)


def test_global_engine_equals_replay(tmp_path: Path, data) -> None:
    """keyed=False: one engine owned by one worker equals `stream-ml run` (the replay runner)."""
    from stream_ml.config import load_config
    from stream_ml.runtime.build import run_config

    csv_path = workload.write_csv(tmp_path / "rows.csv", data)
    cfg = workload.config_toml(tmp_path / "g.toml", csv_path, tmp_path / "g.jsonl", DELAY)
    expected = run_config(load_config(cfg))
    embedded_lines = (tmp_path / "g.jsonl").read_text()
    (tmp_path / "g.jsonl").unlink()
    result = run_bytewax(cfg, workers=2, keyed=False)
    (summary,) = result["keys"].values()
    for field in ("events", "feedback", "models", "labels", "errors"):
        assert summary[field] == expected[field]
    got = [json.loads(x) for x in (tmp_path / "g.jsonl").read_text().splitlines()]
    want = [json.loads(x) for x in embedded_lines.splitlines()]
    assert got[-1]["kind"] == "summary"
    assert got[:-1] == want  # one engine, one source partition: same outputs, same order
