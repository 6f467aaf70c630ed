"""The dashboard in headless Chromium: loads cleanly, charts data from the feed, shows alarms."""

from __future__ import annotations

import contextlib
import json
import os
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
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
    page.wait_for_function("window.dash.points_of('metric') > 1", timeout=10_000)
    page.wait_for_function("document.getElementById('events').textContent === '200'",
                           timeout=10_000)  # fmt: skip
    engine.emit(dict(DRIFT))
    page.wait_for_selector("#alarms.alarm", timeout=10_000)
    alarm = page.inner_text("#alarms")
    assert "DRIFT" in alarm and "ks/x1" in alarm and "0.410" in alarm
    assert page.locator("#chart-metric canvas").count() == 1
    assert page.locator("#chart-lag canvas").count() == 1
    assert page.locator("#chart-pending canvas").count() == 1
    series = page.evaluate("window.dash.specs.metric.lines.map(l => l.label)")
    assert series == ["lr", "lr2"]
    assert "drift_alert" in page.inner_text("#events-log")
    assert page.locator("#predictions tr").count() > 0
    assert problems == []
    page.close()


KS = {"kind": "ks", "reference_size": 100, "window_size": 50, "check_every": 10, "ert": 1000,
      "calibration": "uniform"}  # fmt: skip


def monitored_engine():
    """Two models, a KS monitor on ``x`` (the stream below shifts it by 3 at event 300, so it
    surely alarms) and ADWIN on the primary's errors (River: alarms only, no statistic)."""
    from stream_ml import Engine

    return Engine.from_config({
        "name": "dash", "seed": 1,
        "models": {"lr": {"model": "preprocessing.StandardScaler() | linear_model.LogisticRegression()"},
                   "lr2": {"model": "linear_model.LogisticRegression()"}},
        "drift": [{"name": "x-shift", "on": "features", "fields": ["x"], "detector": KS},
                  {"name": "errors", "on": "error", "detector": {"kind": "adwin"}}],
    })  # fmt: skip


def shifted_stream(n: int, delay: int = 5):
    """Observations whose ``x`` moves by 3 on [300, 600); each label ``delay`` events later."""
    for i in range(n):
        x = (i * 7919 % 1000) / 1000 + (3.0 if 300 <= i < 600 else 0.0)
        yield {"id": f"e{i}", "ts": 1000.0 + i, "features": {"x": x}}
        j = i - delay
        if j >= 0:
            xj = (j * 7919 % 1000) / 1000
            yield {"kind": "feedback", "id": f"e{j}", "label": xj > 0.5, "ts": 1000.0 + i}


CHARTS = ["metric", "traffic", "lag", "pending", "drift:x-shift", "drift:errors"]


def test_history_charts_and_a_drawn_episode_from_the_first_second(serve, browser, tmp_path):
    """A page opened before any event waits honestly; one opened after a short stream has
    history in every chart at once (more than one point each), the KS episode shaded on its
    chart, ADWIN described as alarms only, a time axis around now, the predictions table."""
    server = serve(monitored_engine(), ServeSettings(metrics_interval=0.1))
    problems: list[str] = []
    early = browser.new_page()
    early.on("pageerror", lambda e: problems.append(str(e)))
    early.goto(server.url + "/")
    early.wait_for_selector("#status.up", timeout=10_000)
    early.wait_for_function("window.dash.gotMetrics", timeout=10_000)
    assert "waiting for data" in early.inner_text("#alarms")
    assert early.locator("#alarms.ok").count() == 0  # no green before any data
    assert early.locator("#chart-metric.waiting").count() == 1
    # few updates yet: still a window of a minute around now (uPlot alone drew years for one)
    spans = early.evaluate(
        "Object.values(window.dash.charts).map(u => [u.scales.x.min, u.scales.x.max])"
    )
    assert spans and all(time.time() - 120 < lo < hi < time.time() + 60 for lo, hi in spans)
    with connect(f"{server.ws_url}/v1/stream") as ws:
        for m in shifted_stream(800):
            ws.send(json.dumps(m))
            ws.recv()
    early.close()

    page = browser.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(server.url + "/")
    # history comes with the connection: no need to wait for new updates
    page.wait_for_function("window.dash.ts.length > 1", timeout=10_000)
    for name in CHARTS:
        n = page.evaluate(f"window.dash.points_of({name!r})")
        assert n > 1, f"chart {name} has {n} points"
        assert page.locator("canvas").count() >= len(CHARTS)
    # no chart is left waiting (but the feature chart, which has no feature set here)
    assert page.locator(".chart.waiting:not(#chart-features)").count() == 0
    # the KS episode is drawn: the hook shaded it, and the canvas holds its colour there
    assert page.evaluate("window.dash.drawn['drift:x-shift']") >= 1
    # (the canvas is redrawn as updates arrive: wait for a drawn frame, up to 10 s, rather than
    # sample one mid-redraw on a loaded machine)
    shaded_js = """() => {
        const u = window.dash.charts['drift:x-shift'];
        const ep = window.dash.episodes.find(e => e.monitor === 'x-shift');
        const end = ep.end ?? window.dash.ts[window.dash.ts.length - 1];
        const x = Math.round((u.valToPos(ep.start, 'x', true) + u.valToPos(end, 'x', true)) / 2);
        const ctx = u.ctx, b = u.bbox; let hit = 0, n = 0;
        for (let y = b.top + 4; y < b.top + b.height - 4; y += 7) {
            const [r, g, bl, a] = ctx.getImageData(x, y, 1, 1).data; n++;
            if (a > 40 && r > 200 && g < 130) hit++;
        }
        return hit / n;
    }"""
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(f"({shaded_js})() > 0.5", timeout=10_000)
    shaded = page.evaluate(shaded_js)
    assert shaded > 0.5, f"only {shaded:.0%} of the episode's column is shaded"
    text = page.inner_text("body")
    assert "reports alarms only" in text  # ADWIN: no statistic to show, and it says so
    assert "statistic \u2013 >" not in text  # not "statistic - > threshold -" (en dashes)
    # the time axis is the server's wall clock: it spans minutes around now, not years
    lo, hi = page.evaluate("[window.dash.charts.metric.scales.x.min, "
                           "window.dash.charts.metric.scales.x.max]")  # fmt: skip
    now = time.time()
    assert now - 600 < lo <= hi < now + 60
    assert page.locator("#predictions tr").count() > 0
    assert "x-shift" in page.inner_text("#events-log")
    shot = os.environ.get("DASHBOARD_SCREENSHOT") or tmp_path / "dashboard.png"  # for a person
    page.screenshot(path=str(shot), full_page=True)
    assert problems == []
    page.close()
