"""The dashboard's slices and calibration panels in headless Chromium (#15): a real server, a
real websocket client feeding a sliced engine, the page fed by /v1/feed (fixtures of
tests/serve/test_dashboard.py)."""

from __future__ import annotations

import httpx

from stream_ml.serve import ServeSettings
from tests.serve.test_dashboard import browser  # noqa: F401 (the fixture)
from tests.serve.test_slices_rest import feed, sliced_engine


def test_slices_panel_and_reliability_curve(serve, browser):  # noqa: F811
    server = serve(sliced_engine(ece_alarm=0.1, ece_check_every=200),
                   ServeSettings(metrics_interval=0.1))  # fmt: skip
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(server.url + "/")
    page.wait_for_selector("#status.up", timeout=10_000)
    # before any label: the slices panel says it waits (no empty table pretending to be data)
    page.wait_for_function("window.dash.gotMetrics", timeout=10_000)
    page.wait_for_selector("#slices-panel:not([hidden])", timeout=10_000)
    assert "waiting for data" in page.inner_text("#slices-note")
    assert page.locator("#slices tbody tr").count() == 0
    feed(server, 2000)
    page.wait_for_function("document.getElementById('events').textContent === '2000'",
                           timeout=10_000)  # fmt: skip
    page.wait_for_selector("#slices-panel:not([hidden]) [data-model='tree'] tbody tr",
                           timeout=10_000)  # fmt: skip
    assert "Accuracy by region" in page.inner_text("#slices-what")
    for model in ("lr", "tree"):
        rows = page.locator(f"#slices [data-model='{model}'] tbody tr")
        slices = [rows.nth(i).get_attribute("data-slice") for i in range(rows.count())]
        assert slices[0] == "region=north" and set(slices) == {
            "region=north", "region=south", "region=east", "region=west"}
        first = rows.nth(0)
        assert first.get_attribute("class") == "alarm" and "ALARM" in first.inner_text()
        assert all(rows.nth(i).get_attribute("class") != "alarm" for i in range(1, rows.count()))
        # the interval is drawn: a shaded span, the value's tick, the overall's dashed line
        assert first.locator(".ibar .span").count() == 1
        assert first.locator(".ibar .overall").count() == 1
        # the red of an alarm row, as the browser computes it
        bg = first.locator("td").first.evaluate("e => getComputedStyle(e).backgroundColor")
        assert bg == "rgb(74, 21, 18)"
    api = httpx.get(server.url + "/v1/slices").json()["models"]["tree"]["slices"][0]
    cell = page.locator("#slices [data-model='tree'] tbody tr").nth(0).locator("td")
    assert cell.nth(3).inner_text() == f"[{api['lo']:.3f}, {api['hi']:.3f}]"
    # calibration: the reliability chart with the diagonal and one line per classifier, the ECE
    # table (the logistic regression over its threshold: its row is an alarm)
    page.wait_for_selector("#calibration-panel:not([hidden]) #chart-reliability canvas",
                           timeout=10_000)  # fmt: skip
    labels = page.evaluate("window.dash.reliability.series.map(s => s.label)")
    assert labels[1] == "perfect" and [x.split(" ")[0] for x in labels[2:]] == ["lr", "tree"]
    assert page.locator("#chart-reliability.waiting").count() == 0
    page.wait_for_function("window.dash.calibration.lr.n === 1000", timeout=10_000)
    cal = httpx.get(server.url + "/v1/calibration").json()["models"]
    shown = page.evaluate("window.dash.calibration")
    for m in ("lr", "tree"):
        assert abs(shown[m]["ece"] - cal[m]["ece"]) < 1e-12
        row = page.locator(f"#ece tr[data-model='{m}']")
        assert row.locator("td").nth(1).inner_text() == f"{cal[m]['ece']:.3f}"
    assert page.locator("#ece tr[data-model='lr']").get_attribute("class") == "alarm"
    legend = page.locator("#chart-reliability .u-legend .u-series .u-label").all_inner_texts()
    assert legend[-2:] == [f"lr (ECE {cal['lr']['ece']:.3f})", f"tree (ECE {cal['tree']['ece']:.3f})"]
    ys = page.evaluate("window.dash.reliability.data[2]")
    assert ys == [b["accuracy"] if b["n"] else None for b in cal["lr"]["bins"]]
    # the banner warns of the open episodes (no drift monitor here: no drift alarm)
    banner = page.locator("#alarms.warn .evaluation").inner_text()
    assert banner.startswith("SLICES / CALIBRATION: ")
    assert "tree region=north" in banner and "lr region=north" in banner
    now = httpx.get(server.url + "/v1/slices").json()["models"]["tree"]
    assert (f"tree region=north {now['slices'][0]['value']:.3f} vs overall "
            f"{now['overall']:.3f} since event ") in banner  # today's values, as the table
    assert f"lr ECE {cal['lr']['ece']:.3f} over 0.100" in banner
    # the alarm records are in the events log
    log = page.inner_text("#events-log")
    assert "slice_alarm: tree region=north" in log and "calibration_alarm: lr: ECE" in log
    assert problems == []
    page.close()
