"""Websocket predictions vs a FastAPI websocket echo, on loopback, in the same server and run.

The server (one uvicorn process) serves both the stream-ml app and an ``/echo`` websocket that
sends every text message straight back; the clients run in this process. Reported:

1. closed-loop round trips of one client (send, wait for the answer, repeat): messages per
   second of ``/v1/stream`` (one observation per message, a StandardScaler | LogisticRegression
   engine) as a ratio of the echo's (goal >= 0.7); three alternating rounds, best of each;
2. latency p50/p99 at an offered load of 1,000 messages/s (one client, paced; goal p99 <= 5 ms);
3. the same with 50 concurrent clients sharing 1,000 messages/s.

Usage: python benchmarks/bench_serve.py [--seconds 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

SERVER = r"""
import sys
import uvicorn
from fastapi import WebSocket, WebSocketDisconnect
from river import linear_model, preprocessing
from stream_ml import Engine
from stream_ml.serve import ServeSettings, create_app, uvicorn_config

settings = ServeSettings(rate=1e9, burst=10**9, max_connections=1000)
engine = Engine({"lr": preprocessing.StandardScaler() | linear_model.LogisticRegression()})
app = create_app(engine, settings)

@app.websocket("/echo")
async def echo(ws: WebSocket) -> None:
    await ws.accept()
    try:
        while True:
            await ws.send_text(await ws.receive_text())
    except WebSocketDisconnect:
        pass

uvicorn.Server(uvicorn_config(app, settings, port=int(sys.argv[1]), log_level="warning",
                              access_log=False)).run()
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _message(i: int) -> str:
    return json.dumps({"id": f"e{i}", "key": f"u{i % 100}", "features": {"a": i % 7, "b": 0.5}})


async def closed_loop(url: str, seconds: float) -> float:
    from websockets.asyncio.client import connect

    async with connect(url, compression=None) as ws:
        for i in range(200):  # warm up
            await ws.send(_message(-i - 1))
            await ws.recv()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            await ws.send(_message(n))
            await ws.recv()
            n += 1
        return n / (time.perf_counter() - t0)


async def paced(url: str, clients: int, rate: float, seconds: float, offset: int) -> list[float]:
    from websockets.asyncio.client import connect

    per_client = rate / clients
    lat: list[float] = []

    async def one(c: int) -> None:
        async with connect(url, compression=None) as ws:
            await asyncio.sleep(c / rate)  # spread the clients' phases
            n = int(per_client * seconds)
            start = time.perf_counter()
            for k in range(n):
                due = start + k / per_client
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                t = time.perf_counter()
                await ws.send(_message(offset + c * 10**6 + k))
                await ws.recv()
                lat.append(time.perf_counter() - t)

    await asyncio.gather(*(one(c) for c in range(clients)))
    return lat


def pct(xs: list[float], q: float) -> float:
    ys = sorted(xs)
    return ys[min(len(ys) - 1, int(q * len(ys)))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    port = _port()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        base = f"ws://127.0.0.1:{port}"
        echo = stream = 0.0
        for _ in range(3):  # alternate, keep the best of each: the machine is shared
            echo = max(echo, asyncio.run(closed_loop(base + "/echo", args.seconds / 3)))
            stream = max(stream, asyncio.run(closed_loop(base + "/v1/stream", args.seconds / 3)))
        rows = []
        for clients in (1, 50):
            e = asyncio.run(paced(base + "/echo", clients, 1000, args.seconds, 0))
            s = asyncio.run(
                paced(base + "/v1/stream", clients, 1000, args.seconds, 10**8 * clients)
            )
            rows.append((clients, e, s))
    finally:
        proc.terminate()
        proc.wait(10)
    lines = [
        "| one client, closed loop | messages/s | ratio to echo | goal |",
        "| --- | ---: | ---: | --- |",
        f"| FastAPI websocket echo | {echo:,.0f} | 1.00 | |",
        f"| /v1/stream predict | {stream:,.0f} | {stream / echo:.2f} | >= 0.70 |",
        "",
        "| 1,000 messages/s offered | clients | echo p50 / p99 (ms) | stream p50 / p99 (ms) "
        "| p99 ratio | goal |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for clients, e, s in rows:
        lines.append(
            f"| {'one client' if clients == 1 else 'concurrent'} | {clients} | "
            f"{pct(e, 0.5):.2f} / {pct(e, 0.99):.2f} | {pct(s, 0.5):.2f} / {pct(s, 0.99):.2f} | "
            f"{pct(s, 0.99) / pct(e, 0.99):.2f} | p99 <= 5 ms |"
        )
    table = "\n".join(lines)
    print(table)
    if args.out:
        cmd = "python benchmarks/bench_serve.py " + " ".join(sys.argv[1:])
        Path(args.out).write_text(
            "## Serve: websocket predictions vs a FastAPI websocket echo\n\n"
            f"Command: `{cmd}` (server: one uvicorn process, websockets-sansio, loopback; "
            "clients: websockets asyncio in the benchmark process; 2 shared cores).\n\n"
            + table
            + "\n"
        )


if __name__ == "__main__":
    main()
