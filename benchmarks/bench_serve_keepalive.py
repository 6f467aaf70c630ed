"""Requests on one keep-alive connection to a :class:`~stream_ml.serve.ServerThread`.

A server socket created with ``proto = 0`` gets no TCP_NODELAY from asyncio (it sets it only on
sockets that say they are TCP), and then every request on a reused connection waits ~40 ms
for Nagle's algorithm and the client's delayed ACK. The same requests on a new connection each
are the baseline (no reuse, no wait).

    python benchmarks/bench_serve_keepalive.py [--requests 200]
"""

from __future__ import annotations

import argparse
import http.client
import time

from river import linear_model

from stream_ml import Engine
from stream_ml.serve import ServerThread, create_app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=200)
    n = ap.parse_args().requests
    app = create_app(Engine({"lr": linear_model.LogisticRegression()}))
    with ServerThread(app) as server:
        rows = []
        for reuse in (True, False):
            conn = http.client.HTTPConnection(server.host, server.port)
            t = time.perf_counter()
            for _ in range(n):
                if not reuse:
                    conn = http.client.HTTPConnection(server.host, server.port)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                if not reuse:
                    conn.close()
            rows.append((reuse, (time.perf_counter() - t) / n * 1e3))
            conn.close()
    print(f"{n} GET /healthz, http.client\n")
    print("| connection | ms per request |")
    print("|---|---:|")
    for reuse, ms in rows:
        print(f"| {'one keep-alive connection' if reuse else 'a new one per request'} | {ms:.2f} |")


if __name__ == "__main__":
    main()
