"""``stream-ml serve`` as a process: starts from a TOML config, serves, refuses bad configs."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx

from tests.conftest import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_command_runs_a_config(cli_env, python):
    port = _free_port()
    cfg = str(ROOT / "examples" / "weather.toml")
    cmd = [python, "-m", "stream_ml.serve.command", cfg, "--port", str(port), "--log-level",
           "warning"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert r.json()["status"] == "ok"
        p = httpx.post(f"http://127.0.0.1:{port}/v1/predict", json={"features": {"x": 1.0}})
        assert p.status_code == 200 and p.json()["kind"] == "prediction"
        assert "uPlot" in httpx.get(f"http://127.0.0.1:{port}/static/vendor/uPlot.iife.min.js").text
    finally:
        proc.terminate()
        proc.wait(10)
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()


def test_serve_command_refuses_a_bad_config(cli_env, python, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[models.lr]\nmodle = "x"\n')
    r = subprocess.run([python, "-m", "stream_ml.serve.command", str(bad)], env=cli_env,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 1 and "unknown key" in r.stderr


def test_serve_command_allowed_hosts(cli_env, python):
    """``--allowed-host`` adds a name clients may use; any other Host is refused (403)."""
    port = _free_port()
    cfg = str(ROOT / "examples" / "weather.toml")
    cmd = [python, "-m", "stream_ml.serve.command", cfg, "--port", str(port), "--log-level",
           "warning", "--allowed-host", "dash.example"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
        ok = httpx.get(url + "/v1/models", headers={"Host": f"dash.example:{port}"})
        assert ok.status_code == 200
        evil = httpx.get(url + "/v1/models", headers={"Host": f"evil.example:{port}"})
        assert evil.status_code == 403 and evil.json()["code"] == "host"
        # the weather source reads every feature as a number: a string is refused by name
        bad = httpx.post(url + "/v1/predict", json={"features": {"feat_1": "abc"}})
        assert bad.status_code == 422 and bad.json()["field"] == "features.feat_1"
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()
