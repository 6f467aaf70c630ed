"""Model cards show per-slice metrics and calibration (#15), from the snapshot's stored engine
state only: a run of the region stream (tests/test_cli_report_slices.py) with ``[evaluation]
slices`` and the ECE monitor, snapshots every 1,500 events, then the card of a version."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from stream_ml.cli import main
from stream_ml.config import load_config
from stream_ml.continual.card import card_facts, card_html, card_markdown
from stream_ml.runtime.build import run_config
from stream_ml.snapshots import SnapshotStore
from tests.test_cli_report_slices import REGIONS, region_config


@pytest.fixture(scope="module")
def sliced_db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("card-slices")
    db = tmp / "s.db"
    extra = "ece_alarm = 0.1\nece_check_every = 200\n\n[snapshots]\n" \
            f'path = "{db}"\nevery_events = 1500\ntrust_unsigned = true\n'  # fmt: skip
    cfg = load_config(str(region_config(tmp, extra=extra)))
    summary = run_config(cfg)
    return str(db), summary


def test_card_facts_hold_the_slices_and_calibration(sliced_db):
    db, summary = sliced_db
    with SnapshotStore(db, trust_unsigned=True) as store:
        versions = [i.version for i in store.list()]
        facts = card_facts(store, max(versions))
        first = card_facts(store, min(versions))
    sl = facts["slices"]
    assert sl["by"] == ["region"] and sl["metric"] == "Accuracy" and sl["margin"] == 0.05
    for name in ("lr", "tree"):
        rows = sl["models"][name]["slices"]
        assert {r["slice"] for r in rows} == {f"region={g}" for g in REGIONS}
        assert rows[0]["slice"] == "region=north" and rows[0]["alarm"] is True
        # the last snapshot is at the last event: the run's own numbers, but for the labels
        # joined after it (at most the delay, 5)
        ran = {r["slice"]: r for r in summary["slices"]["models"][name]["slices"]}
        for r in rows:
            assert 0 <= ran[r["slice"]]["n"] - r["n"] <= 5
    assert {(a["model"], a["slice"]) for a in sl["alarms"]} == {
        (a["model"], a["slice"]) for a in summary["slices"]["alarms"]}
    models = {m["name"]: m for m in facts["models"]}
    cal = models["lr"]["calibration"]
    assert cal["window"] == 1000 and cal["threshold"] == 0.1 and cal["alarms"]
    assert abs(cal["ece"] - summary["models"]["lr"]["calibration"]["ece"]) < 0.05
    # an earlier snapshot has its own, smaller counts: facts of that version, not of today
    n_first = sum(r["n"] for r in first["slices"]["models"]["lr"]["slices"])
    n_last = sum(r["n"] for r in sl["models"]["lr"]["slices"])
    assert 1400 <= n_first <= 1500 < n_last


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def test_card_markdown_has_slices_and_calibration_sections(sliced_db):
    db, _ = sliced_db
    with SnapshotStore(db, trust_unsigned=True) as store:
        version = max(i.version for i in store.list())
        facts = card_facts(store, version)
    text = card_markdown(facts)
    lines = text.splitlines()
    assert "## Slices" in lines and "### Calibration" in lines
    header = next(line for line in lines if line.startswith("| model | expression"))
    assert header.endswith("| ECE (rolling) |")
    lr = facts["models"][[m["name"] for m in facts["models"]].index("lr")]["calibration"]
    assert f"- **lr**: ECE {lr['ece']:.4f} over {lr['n']} events; monitor threshold 0.1000" in text
    assert "alarm episode(s): events " in text
    north = [line for line in lines if line.startswith("| region=north |")]
    assert len(north) == 2 and all(line.endswith("| ALARM |") for line in north)
    assert "Accuracy by region, per slice since it is tracked" in text
    assert "Alarm episodes (" in text and "- lr region=north: events " in text
    # a pipeline's pipe is escaped in its table cell (it would split the cell), not in the HTML
    assert "| lr | `compose.Select('x') \\| linear_model.LogisticRegression()` |" in text
    page = card_html(facts)
    assert "<code>compose.Select('x') | linear_model.LogisticRegression()</code>" in page
    tags = _Tags()
    tags.feed(page)
    # Configuration ... Experiment, then Slices; the models table and one slice table per model
    assert tags.tags.count("h2") == 7 and tags.tags.count("table") == 3
    # the CLI writes the same card
    res = CliRunner().invoke(main, ["card", db, str(version), "--trust-unsigned"])
    assert res.exit_code == 0 and res.output == text


def test_a_card_without_slices_says_nothing_of_them(tmp_path):
    db = tmp_path / "plain.db"
    cfg = load_config(str(region_config(tmp_path, rows=400, extra="")))
    cfg = cfg.model_copy(update={"evaluation": cfg.evaluation.model_copy(update={"slices": []})})
    from stream_ml.config import SnapshotsConfig

    cfg = cfg.model_copy(update={"snapshots": SnapshotsConfig(path=str(db), every_events=400,
                                                              trust_unsigned=True)})  # fmt: skip
    run_config(cfg)
    with SnapshotStore(str(db), trust_unsigned=True) as store:
        facts = card_facts(store, 1)
    assert facts["slices"] is None
    text = card_markdown(facts)
    assert "## Slices" not in text
    assert "### Calibration" in text  # the classifiers still have a calibration window
