"""The dashboard in headless Chromium: loads cleanly, charts data from the feed, shows alarms."""

from __future__ import annotations

import json
import os

import pytest
from websockets.sync.client import connect

import scenarios
from stream_ml.serve import ServeSettings
from tests.conftest import require_service
from tests.serve.conftest import DRIFT, TOKEN, alarm_engine

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture
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


def _drive(url: str, n: int) -> None:
    # the sync client: playwright's sync API owns this thread's event loop
    with connect(url) as ws:
        for m in scenarios.get("sea-drift").messages(n, seed=4):
            ws.send(json.dumps(m))
            ws.recv()


def test_dashboard_shows_live_data_and_drift_alarm(serve, browser):
    engine = alarm_engine()
    server = serve(engine, ServeSettings(token=TOKEN, metrics_interval=0.2))
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(server.url + "/")
    page.wait_for_selector("#status.up", timeout=10_000)
    _drive(f"{server.ws_url}/v1/stream?token={TOKEN}", 200)
    page.wait_for_function("window.dash.series.metric && window.dash.series.metric.data[0].length > 1",
                           timeout=10_000)  # fmt: skip
    page.wait_for_function("document.getElementById('events').textContent === '200'",
                           timeout=10_000)  # fmt: skip
    engine.emit(dict(DRIFT))
    page.wait_for_selector("#alarms.alarm", timeout=10_000)
    alarm = page.inner_text("#alarms")
    assert "DRIFT ALARM" in alarm and "ks/x1" in alarm and "0.410" in alarm
    assert page.locator("#chart-metric canvas").count() == 1
    assert page.locator("#chart-lag canvas").count() == 1
    assert page.locator("#chart-drift canvas").count() == 1
    series = page.evaluate("window.dash.series.metric.labels")
    assert series == ["lr", "lr2"]
    values = page.evaluate("window.dash.series.metric.data[1].filter(v => v !== null).length")
    assert values > 0
    assert "drift_alert" in page.inner_text("#events-log")
    assert page.locator("#predictions tr").count() > 0
    assert problems == []
    page.close()
