"""Slices and calibration through a real server (#15): ``GET /v1/slices`` and
``GET /v1/calibration``, calibration in ``GET /v1/models``, their error records, the OpenAPI
schema, and ``/metrics`` with a bounded set of slice labels. A real uvicorn on loopback, a real
websocket client feeding an engine built from a config with ``[evaluation] slices``."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from stream_ml import Engine
from stream_ml.serve import ServeSettings
from tests.serve.conftest import TOKEN

REGIONS = ("north", "south", "east", "west")
NOISE = 0.35  # the north's labels are flipped this often


def region_messages(n: int, seed: int = 3, delay: int = 5, regions: int = 4):
    """Observations ``{x, region}`` and their labels ``delay`` events later: ``x > 0.5``,
    flipped with probability :data:`NOISE` in region 0 (``north``); ``regions`` > 4 adds
    regions ``r4``, ``r5``... (a long tail with a fifth of the traffic), seeded."""
    rng = np.random.default_rng(seed)
    names = list(REGIONS) + [f"r{i}" for i in range(4, regions)]
    x = rng.random(n)
    tail = len(names) - 4
    p = [0.25] * 4 if not tail else [0.2] * 4 + [0.2 / tail] * tail
    region = rng.choice(len(names), size=n, p=p)
    flip = rng.random(n) < NOISE
    labels = [bool(x[i] > 0.5) ^ bool(region[i] == 0 and flip[i]) for i in range(n)]
    for i in range(n):
        yield {"id": f"e{i}", "ts": 1000.0 + i,
               "features": {"x": float(x[i]), "region": names[region[i]]}}  # fmt: skip
        j = i - delay
        if j >= 0:
            yield {"kind": "feedback", "id": f"e{j}", "label": labels[j], "ts": 1000.0 + i}


def sliced_engine(**evaluation: Any) -> Engine:
    """A logistic regression on ``x`` and a Hoeffding tree, sliced by ``region``."""
    return Engine.from_config({
        "name": "regions", "seed": 1,
        "models": {"lr": {"model": "compose.Select('x') | linear_model.LogisticRegression()"},
                   "tree": {"model": "tree.HoeffdingTreeClassifier()"}},
        "evaluation": {"metrics": ["Accuracy"], "slices": ["region"], "slice_min_n": 100,
                       **evaluation},
    })  # fmt: skip


def feed(server: Any, n: int, token: str | None = None, **kw: Any) -> None:
    q = f"?token={token}" if token else ""
    with connect(f"{server.ws_url}/v1/stream{q}") as ws:
        for m in region_messages(n, **kw):
            ws.send(json.dumps(m))
            ws.recv()


def scrape(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    text = httpx.get(url + "/metrics", headers=headers).text
    return {f.name: f for f in text_string_to_metric_families(text)}


def wait_for(fn, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_slices_calibration_and_models_endpoints(serve):
    server = serve(sliced_engine(ece_alarm=0.1, ece_check_every=200),
                   ServeSettings(metrics_interval=0.1))  # fmt: skip
    feed(server, 2000)
    r = httpx.get(server.url + "/v1/slices")
    assert r.status_code == 200
    sl = r.json()
    assert sl["configured"] is True and sl["by"] == ["region"] and sl["metric"] == "Accuracy"
    assert sl["margin"] == 0.05 and sl["tracked"] == 20 and sl["window"] == 5000
    for name in ("lr", "tree"):
        entry = sl["models"][name]
        assert {e["slice"] for e in entry["slices"]} == {f"region={g}" for g in REGIONS}
        worst = entry["slices"][0]
        assert worst["slice"] == "region=north" and worst["alarm"] is True
        assert worst["lo"] <= worst["value"] <= worst["hi"] < entry["overall"] - 0.05
        assert all(e["alarm"] is False for e in entry["slices"][1:])
    assert {(a["model"], a["slice"]) for a in sl["alarms"]} >= {("lr", "region=north"),
                                                                ("tree", "region=north")}
    # one model, the worst slice only
    one = httpx.get(server.url + "/v1/slices", params={"model": "tree", "limit": 1}).json()
    assert list(one["models"]) == ["tree"]
    assert [e["slice"] for e in one["models"]["tree"]["slices"]] == ["region=north"]
    assert all(a["model"] == "tree" for a in one["alarms"])
    # errors are error records, as everywhere in the API
    bad = httpx.get(server.url + "/v1/slices", params={"model": "nope"})
    assert bad.status_code == 404
    assert bad.json()["kind"] == "error" and bad.json()["code"] == "unknown_model"
    assert bad.json()["field"] == "model"
    bad = httpx.get(server.url + "/v1/slices", params={"limit": 0})
    assert bad.status_code == 422 and bad.json()["code"] == "malformed_message"
    assert bad.json()["field"] == "query.limit"
    # calibration: its own endpoint and in /v1/models, the same numbers
    cal = httpx.get(server.url + "/v1/calibration").json()["models"]
    assert set(cal) == {"lr", "tree"}
    lr = cal["lr"]
    assert lr["window"] == 1000 and lr["n"] == 1000 and len(lr["bins"]) == 10
    assert sum(b["n"] for b in lr["bins"]) == lr["n"]
    # the slow logistic regression is badly calibrated here (ECE about 0.2): its alarm is on
    assert lr["ece"] > 0.1 and lr["threshold"] == 0.1 and lr["alarms"][0]["ece"] > 0.1
    models = {m["name"]: m for m in httpx.get(server.url + "/v1/models").json()["models"]}
    assert models["lr"]["calibration"]["ece"] == lr["ece"]
    assert models["tree"]["calibration"]["bins"] == cal["tree"]["bins"]
    # and they are in the OpenAPI schema
    spec = httpx.get(server.url + "/openapi.json").json()
    for path in ("/v1/slices", "/v1/calibration"):
        op = spec["paths"][path]["get"]
        assert "404" in op["responses"] and "422" in op["responses"]
    assert "SlicesOut" in spec["components"]["schemas"]
    assert "calibration" in spec["components"]["schemas"]["ModelOut"]["properties"]


def test_without_slices_the_endpoints_say_so(serve):
    server = serve(Engine.from_config({
        "models": {"lr": {"model": "linear_model.LinearRegression()"}},
        "evaluation": {"metrics": ["MAE"]}}))  # fmt: skip
    sl = httpx.get(server.url + "/v1/slices").json()
    assert sl == {"configured": False, "by": [], "metric": None, "margin": None,
                  "tracked": None, "window": None, "models": {}, "alarms": []}  # fmt: skip
    r = httpx.get(server.url + "/v1/slices", params={"model": "lr"})
    assert r.status_code == 404 and r.json()["code"] == "no_slices"
    assert httpx.get(server.url + "/v1/calibration").json() == {"models": {}}  # a regressor
    assert "stream_ml_slice_metric" not in httpx.get(server.url + "/metrics").text


def test_metrics_export_slices_and_ece_with_bounded_labels(serve):
    """50 regions, 5 tracked: /metrics has at most 5 + other slices per model, whatever the
    tail; the north (noisy) is tracked, alarms, and its count adds up with the rest."""
    server = serve(sliced_engine(slice_top=5), ServeSettings(token=TOKEN, auth="all",
                                                             metrics_interval=0.1))  # fmt: skip
    feed(server, 3000, token=TOKEN, regions=50)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(server.url + "/metrics").status_code == 401  # auth = "all"

    def ready():
        fams = scrape(server.url, headers)
        return fams if "stream_ml_slice_metric" in fams and fams["stream_ml_slice_count"] \
            .samples and sum(x.value for x in fams["stream_ml_slice_count"].samples) > 0 \
            else None  # fmt: skip

    fams = wait_for(ready)
    assert fams, "no slice metrics within 10 s"
    summary = server.engine.summary()
    for name in ("lr", "tree"):
        labels = [x.labels["slice"] for x in fams["stream_ml_slice_count"].samples
                  if x.labels["model"] == name]  # fmt: skip
        assert 1 < len(labels) <= 6 and labels.count("other") == 1
        assert len(set(labels)) == len(labels)
        counts = {x.labels["slice"]: x.value for x in fams["stream_ml_slice_count"].samples
                  if x.labels["model"] == name}  # fmt: skip
        # the update lags the engine by at most an interval: compare with what it had
        assert sum(counts.values()) <= summary["models"][name]["scored"]
        values = {x.labels["slice"]: x.value for x in fams["stream_ml_slice_metric"].samples
                  if x.labels["model"] == name}  # fmt: skip
        assert set(values) <= set(counts) and all(0.0 <= v <= 1.0 for v in values.values())
        alarms = {x.labels["slice"]: x.value for x in fams["stream_ml_slice_alarm"].samples
                  if x.labels["model"] == name}  # fmt: skip
        assert set(alarms) == set(counts) and set(alarms.values()) <= {0.0, 1.0}
    north = [x for x in fams["stream_ml_slice_alarm"].samples
             if x.labels["slice"] == "region=north"]  # fmt: skip
    assert north and all(x.value == 1.0 for x in north)
    ece = {x.labels["model"]: x.value for x in fams["stream_ml_calibration_ece"].samples}
    assert set(ece) == {"lr", "tree"} and all(0.0 <= v <= 1.0 for v in ece.values())
    overall = {x.labels["model"]: x.value for x in fams["stream_ml_slice_overall"].samples}
    assert set(overall) == {"lr", "tree"}
