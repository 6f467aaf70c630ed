"""The server takes the snapshots its engine's policy asks for, and a restarted server resumes."""

from __future__ import annotations

import signal
import subprocess
import time

import httpx

from stream_ml.serve import ServeSettings
from stream_ml.snapshots import SnapshotPolicy
from stream_ml.stages.snapshotting import SnapshotStage
from tests.serve.conftest import TOKEN, digest, small_engine
from tests.serve.test_command import _free_port


def _traffic(http: httpx.Client, n: int, start: int = 0) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for i in range(start, start + n):
        x = {"x": float(i % 7), "y": float(i % 3)}
        assert http.post("/v1/predict", json={"id": f"e{i}", "features": x}).status_code == 200
        r = http.post("/v1/feedback", json={"id": f"e{i}", "label": i % 7 > 3}, headers=auth)
        assert r.status_code == 200


def _models(http: httpx.Client) -> dict[str, object]:
    """``GET /v1/models`` without the traffic shares (served since this process started)."""
    out = http.get("/v1/models").json()
    for m in out["models"]:
        del m["traffic"]
    return out


def test_serving_snapshots_on_the_policy_and_at_shutdown(serve, tmp_path):
    engine = small_engine()
    engine.snapshots = SnapshotStage.open(str(tmp_path / "s.db"), key="serve-test")
    engine.snapshot_policy = SnapshotPolicy(every_events=10)  # 10/44 (was 50/220: 5x the requests)
    server = serve(engine, ServeSettings(token=TOKEN))
    with httpx.Client(base_url=server.url) as http:
        _traffic(http, 44)  # engine.seq counts observations: due at 10, 20, 30, 40
        items = http.get("/v1/snapshots").json()["items"]
        assert [s["events"] for s in items] == [40, 30, 20, 10]
        feed = [e["type"] for e in server.app.state.serve.hub.history]
        assert feed.count("snapshot") == 4
    server.__exit__(None, None, None)  # shutdown: one more, covering the last 4 observations
    store = engine.snapshots.store
    infos = sorted(store.list(), key=lambda i: -i.version)
    assert [i.events for i in infos][:2] == [44, 40] and infos[0].note == "server stopped"
    state, _ = store.load(infos[0].version)
    assert digest(state["engine"]) == digest(engine)  # type: ignore[index]
    engine.snapshots.close()


def test_a_stages_snapshot_request_is_taken_at_the_next_round(serve, tmp_path):
    engine = small_engine()
    engine.snapshots = SnapshotStage.open(str(tmp_path / "s.db"), key="serve-test")
    server = serve(engine, ServeSettings(token=TOKEN))
    with httpx.Client(base_url=server.url) as http:
        _traffic(http, 5)
        engine.request_snapshot("drift", "ks alarm on x")  # as a drift action does
        _traffic(http, 1, start=5)
        items = http.get("/v1/snapshots").json()["items"]
    assert len(items) == 1 and items[0]["tags"] == ["drift"]
    assert engine.outbox == []


def test_a_restarted_server_resumes_from_its_last_snapshot(cli_env, python, tmp_path):
    cfg = tmp_path / "serve.toml"
    cfg.write_text(
        '[models.lr]\nmodel = "preprocessing.StandardScaler() | linear_model.LogisticRegression()"'
        f'\n[snapshots]\npath = "{tmp_path / "s.db"}"\nevery_events = 40\n'
    )
    env = {**cli_env, "STREAM_ML_TOKEN": TOKEN, "STREAM_ML_SNAPSHOT_KEY": "serve-cmd-test"}

    def start() -> tuple[subprocess.Popen[bytes], str]:
        port = _free_port()
        cmd = [python, "-m", "stream_ml.serve.command", str(cfg), "--port", str(port),
               "--log-level", "warning"]  # fmt: skip
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                return proc, url
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)

    def stop(proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGTERM)  # uvicorn shuts down gracefully, then re-raises it
        assert proc.wait(20) in (0, -signal.SIGTERM)
        if proc.stderr is not None:
            proc.stderr.close()

    proc, url = start()
    try:
        with httpx.Client(base_url=url) as http:
            _traffic(http, 50)
            before = _models(http)
    finally:
        stop(proc)
    proc, url = start()
    try:
        with httpx.Client(base_url=url) as http:
            items = http.get("/v1/snapshots").json()["items"]
            assert [s["events"] for s in items] == [50, 40] and items[0]["note"] == "server stopped"
            assert _models(http) == before  # the same models, metrics, versions, label counts
            _traffic(http, 10, start=50)
            after = _models(http)
    finally:
        stop(proc)
    assert after != before
