"""The HTML reports in headless Chromium: one self-contained file (no network), charts drawn by
plotly with one line per slot, the drift points marked, the tables filled, no script error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import scenarios
from scenarios.runner import run_scenario
from stream_ml.continual.freshness import LR, run_freshness_scenario
from stream_ml.continual.html import freshness_html, scenario_html, write_html
from tests.conftest import require_service

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    require_service(
        "playwright + chromium", sync_playwright is not None and os.path.exists(CHROMIUM)
    )
    assert sync_playwright is not None
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _open(browser, path: Path):
    """The page, with every console error, page error and network request outside the file
    recorded (a self-contained report makes none)."""
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: problems.append(r.url) if not r.url.startswith("file:") else None)
    page.goto(path.as_uri())
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
    return page, problems


def test_freshness_report_opens_and_draws_every_policy(browser, tmp_path):
    report = run_freshness_scenario("drift-abrupt", events=1500, seed=2, models={"lr": LR},
                                    policies=["continual", "every:100", "frozen:400"])  # fmt: skip
    path = write_html(tmp_path / "freshness.html", freshness_html(report))
    page, problems = _open(browser, path)
    assert page.title() == "freshness: drift-abrupt"
    plots = page.locator(".js-plotly-plot")
    assert plots.count() == 2  # the rolling accuracy, the training cost
    names = page.evaluate("document.querySelectorAll('.js-plotly-plot')[0].data.map(t => t.name)")
    assert names == ["lr@continual", "lr@every_100", "lr@frozen_400"]
    points = page.evaluate("document.querySelectorAll('.js-plotly-plot')[0].data[0].x.length")
    assert points == len(report.timeline)
    assert page.locator(".js-plotly-plot").first.locator(".scatterlayer .trace").count() == 3
    assert "drift at 750" in page.inner_text(".js-plotly-plot >> nth=0")
    rows = page.locator("#freshness-table tbody tr")
    assert rows.count() == 3
    assert rows.nth(2).inner_text().split("\t")[:2] == ["lr@frozen_400", "frozen_400"]
    assert page.locator("#after-drift tbody tr").count() == 3
    bars = page.evaluate("document.querySelectorAll('.js-plotly-plot')[1].data[0].x")
    assert bars == ["lr@continual", "lr@every_100", "lr@frozen_400"]
    assert problems == []
    page.close()


def test_scenario_report_marks_drift_points_and_alarms(browser, tmp_path):
    result = run_scenario(scenarios.get("drift-abrupt"), events=3000, seed=0)
    alarms = [r for r in result["summary"]["records"] if r.get("kind") == "drift"]
    assert alarms  # the scenario's monitors fire on this seed
    path = write_html(tmp_path / "scenario.html", scenario_html(result))
    page, problems = _open(browser, path)
    names = page.evaluate("document.querySelectorAll('.js-plotly-plot')[0].data.map(t => t.name)")
    assert names[-1] == "drift alarms" and "model" in names
    marked = page.evaluate("document.querySelectorAll('.js-plotly-plot')[0].data.at(-1).x.length")
    assert marked == len(alarms)
    assert "drift at 1500" in page.inner_text(".js-plotly-plot >> nth=0")
    assert page.locator("#models tbody tr").count() == len(result["summary"]["models"])
    assert json.loads(page.inner_text("#report"))["truth"]["drift_points"] == [1500]
    assert problems == []
    page.close()


def test_a_bandit_scenario_shows_traffic_per_arm(browser, tmp_path):
    result = run_scenario(scenarios.get("bandit-variants"), events=1500, seed=0)
    path = write_html(tmp_path / "bandit.html", scenario_html(result))
    page, problems = _open(browser, path)
    arms = list(result["summary"]["experiment"]["arms"])
    plots = page.locator(".js-plotly-plot")
    bars = page.evaluate(f"document.querySelectorAll('.js-plotly-plot')[{plots.count() - 1}]"
                         ".data[0].x")  # fmt: skip
    assert bars == arms
    assert problems == []
    page.close()


def test_the_scenario_command_writes_the_report(browser, tmp_path):
    """``stream-ml scenario run NAME --html FILE``: the same page, from the command line."""
    from click.testing import CliRunner

    from stream_ml.cli import main

    path = tmp_path / "cli.html"
    res = CliRunner().invoke(
        main, ["scenario", "run", "drift-abrupt", "--events", "2000", "--html", str(path)]
    )
    assert res.exit_code == 0, res.output
    page, problems = _open(browser, path)
    assert "drift at 1000" in page.inner_text(".js-plotly-plot >> nth=0")
    assert problems == []
    page.close()


def test_a_scenario_with_its_own_charts_draws_them(browser, tmp_path):
    """A scenario's ``report["plots"]`` (plain chart data) are drawn on the generic page and
    left out of its report dump (the feedback-loop scenario's exposure and CTR curves)."""
    result = run_scenario(scenarios.get("feedback-loop"), events=400, seed=0)
    charts = result["report"]["plots"]
    path = write_html(tmp_path / "loop.html", scenario_html(result))
    page, problems = _open(browser, path)
    titles = page.evaluate(
        "[...document.querySelectorAll('.js-plotly-plot')].map(p => p.layout.title.text)"
    )
    assert [c["title"] for c in charts] == [t for t in titles if t in {c["title"] for c in charts}]
    assert "plots" not in json.loads(page.inner_text("#report"))
    assert problems == []
    page.close()
