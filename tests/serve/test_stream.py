"""/v1/stream and REST against a real server: same predictions as the embedded engine."""

from __future__ import annotations

import asyncio
import json

import httpx
from websockets.asyncio.client import connect

import scenarios
from stream_ml.serve import ServeSettings
from tests.serve.conftest import TOKEN, digest, sea_engine


async def _stream(url: str, messages: list[dict], batch: int = 1) -> list[dict]:
    out: list[dict] = []
    async with connect(url, max_size=2**22) as ws:
        for i in range(0, len(messages), batch):
            chunk = messages[i : i + batch]
            await ws.send(json.dumps(chunk if batch > 1 else chunk[0]))
            answer = json.loads(await ws.recv())
            out.extend(answer if batch > 1 else [answer])
    return out


def test_stream_equals_embedded_engine(serve):
    messages = list(scenarios.get("sea-drift").messages(2000, seed=1))
    server = serve(sea_engine(), ServeSettings(token=TOKEN))
    got = asyncio.run(_stream(f"{server.ws_url}/v1/stream?token={TOKEN}", messages))
    embedded = sea_engine()
    want = [embedded.process(m).to_dict() for m in messages]
    assert len(got) == len(messages) == 4000
    assert got == json.loads(json.dumps(want))
    assert all(not g.get("fallback") for g in got if g["kind"] == "prediction")


def test_batches_answer_in_order_and_state_matches(serve):
    messages = list(scenarios.get("sea-drift").messages(300, seed=2))
    server = serve(sea_engine(), ServeSettings(token=TOKEN, max_batch=50))
    got = asyncio.run(_stream(f"{server.ws_url}/v1/stream?token={TOKEN}", messages, batch=50))
    embedded = sea_engine()
    want = [embedded.process(m).to_dict() for m in messages]
    assert got == json.loads(json.dumps(want))
    server.__exit__(None, None, None)
    assert digest(server.engine) == digest(embedded)


def test_bad_messages_get_errors_and_the_connection_stays_usable(serve):
    server = serve()

    async def run() -> list:
        async with connect(f"{server.ws_url}/v1/stream") as ws:
            answers = []
            for m in ['{"id": "a", "features": {"x": [1]}}', "nope", "[]", "5", b"\x00\x01",
                      '{"id": "a", "features": {"x": 1.0}, "colour": 1}',
                      json.dumps([{"id": "b", "features": {"x": 2}}, {"id": 3}])]:  # fmt: skip
                await ws.send(m)
                answers.append(json.loads(await ws.recv()))
            await ws.send(json.dumps({"id": "c", "features": {"x": 1.0}}))
            answers.append(json.loads(await ws.recv()))
            return answers

    a = asyncio.run(run())
    assert (a[0]["code"], a[0]["field"]) == ("malformed_message", "features.x")
    assert a[1]["code"] == a[2]["code"] == a[3]["code"] == a[4]["code"] == "malformed_message"
    assert "binary" in a[4]["reason"]
    assert a[5]["field"] == "colour"
    assert a[6][0]["kind"] == "prediction" and (a[6][1]["field"], a[6][1]["offset"]) == ("id", 1)
    assert a[7]["kind"] == "prediction" and a[7]["id"] == "c"
    assert server.engine.summary()["events"] == 2  # only the good observations


def test_rest_predict_feedback_models(serve):
    server = serve(settings=ServeSettings(token=TOKEN))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.url) as http:
        p = http.post("/v1/predict", json={"id": "r1", "key": "k", "features": {"x": 1.0}})
        assert p.status_code == 200 and p.json()["id"] == "r1" and p.json()["fallback"] is False
        assert http.post("/v1/feedback", json={"id": "r1", "label": True}).status_code == 401
        ack = http.post("/v1/feedback", json={"id": "r1", "label": True}, headers=auth)
        assert ack.json() == {"id": "r1", "learned": True, "kind": "ack"}
        again = http.post("/v1/feedback", json={"id": "r1", "label": True}, headers=auth)
        assert again.status_code == 404 and again.json()["code"] == "unknown_id"
        bad = http.post("/v1/predict", json={"id": "r2", "features": {"x": "a", "y": [1]}})
        assert bad.status_code == 422 and bad.json()["field"] == "features.y"
        models = http.get("/v1/models").json()
        assert models["events"] == 1 and models["models"][0]["name"] == "lr"
        assert models["models"][0]["traffic"] == 1.0
        for route in ("/v1/experiments", "/v1/drift", "/v1/snapshots"):
            assert http.get(route).json()["items"] == []
        no_store = http.post("/v1/snapshots/1/rollback", headers=auth)
        assert no_store.status_code == 404 and "no snapshot store" in no_store.json()["reason"]
        assert http.post("/v1/snapshots/1/rollback").status_code == 401
        assert http.get("/healthz").json()["status"] == "ok"
        schema = http.get("/openapi.json").json()
        body = schema["paths"]["/v1/predict"]["post"]["requestBody"]["content"]
        assert body["application/json"]["schema"]["$ref"].endswith("/Observation")
        assert "PredictionOut" in schema["components"]["schemas"]


def test_rollback_disabled_without_token(serve):
    server = serve()
    r = httpx.post(f"{server.url}/v1/snapshots/1/rollback")
    assert r.status_code == 403 and "no token" in r.json()["reason"]


def test_rollback_through_the_api_restores_the_snapshot_models(serve, tmp_path):
    from stream_ml.stages.snapshotting import SnapshotStage
    from tests.serve.conftest import small_engine

    engine = small_engine()
    engine.snapshots = SnapshotStage.open(str(tmp_path / "s.db"), key="serve-test")
    for i in range(200):
        engine.predict({"x": float(i % 7), "y": float(i % 3)}, id=f"a{i}")
        engine.learn(f"a{i}", i % 7 > 3)
    info = engine.snapshot(tags=("good",))
    probe = {"x": 2.0, "y": 1.0}
    recorded = engine.model("lr").predict_proba_one(probe)
    server = serve(engine, ServeSettings(token=TOKEN))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.url) as http:
        for i in range(100):  # the model moves on through the API
            http.post("/v1/predict", json={"id": f"b{i}", "features": {"x": 6.0, "y": 2.0}})
            http.post("/v1/feedback", json={"id": f"b{i}", "label": False}, headers=auth)
        assert engine.model("lr").predict_proba_one(probe) != recorded
        listed = http.get("/v1/snapshots").json()["items"]
        assert [s["version"] for s in listed] == [info.version]
        r = http.post(
            f"/v1/snapshots/{info.version}/rollback", json={"reason": "test"}, headers=auth
        )
        assert r.status_code == 200 and r.json()["version"] == info.version
        missing = http.post("/v1/snapshots/99/rollback", headers=auth)
        assert missing.status_code == 404
    assert engine.model("lr").predict_proba_one(probe) == recorded
    assert engine.snapshots.store.audit()[-1].action == "rollback"
    engine.snapshots.close()
