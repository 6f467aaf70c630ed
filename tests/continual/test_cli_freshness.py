"""``stream-ml freshness``: options build the policies, the report prints, writes JSON, Markdown
and a self-contained HTML file; bad input exits 1 (2 for a usage error) with the reason."""

from __future__ import annotations

import json

from click.testing import CliRunner

from stream_ml.cli import main


def test_freshness_on_the_weather_config(tmp_path):
    md = tmp_path / "fresh.md"
    res = CliRunner().invoke(main, ["freshness", "examples/weather.toml", "--limit", "1000",
                                    "--every", "1,100", "--frozen", "300", "--stateless",
                                    "300:100", "--model", "lr", "--json", "--markdown",
                                    str(md)])  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert [r["slot"] for r in report["rows"]] == [
        "lr@continual", "lr@every_1", "lr@every_100", "lr@frozen_300", "lr@stateless_w300_k100"]  # fmt: skip
    assert report["events"] == 1000 and report["metrics"] == ["Accuracy", "F1"]
    rows = {r["policy"]: r for r in report["rows"]}
    assert rows["every_1"]["metrics"] == rows["continual"]["metrics"]
    assert rows["frozen_300"]["updates"] == 300
    assert md.read_text().count("\n| lr |") == 5


def test_freshness_on_a_scenario_prints_the_table_and_writes_html(tmp_path):
    page = tmp_path / "fresh.html"
    res = CliRunner().invoke(main, ["freshness", "--scenario", "stationary", "--events", "1000",
                                    "--policy", "continual", "--policy", "every:200", "--html",
                                    str(page)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "every_200" in res.output and "higher is better" in res.output
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "model@every_200" in text
    assert "<script src=" not in text  # plotly.js is embedded, nothing is fetched


def test_freshness_refuses_bad_input():
    runner = CliRunner()
    res = runner.invoke(main, ["freshness"])
    assert res.exit_code == 2 and "CONFIG or --scenario" in res.output
    res = runner.invoke(main, ["freshness", "examples/weather.toml", "--policy", "every:0"])
    assert res.exit_code == 1 and "field 'k'" in res.output
    res = runner.invoke(main, ["freshness", "examples/weather.toml", "--model", "nope"])
    assert res.exit_code == 1 and "--model 'nope'" in res.output
    res = runner.invoke(main, ["freshness", "--scenario", "no-such"])
    assert res.exit_code == 1 and "no scenario 'no-such'" in res.output
