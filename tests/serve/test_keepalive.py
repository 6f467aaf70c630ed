"""ServerThread's connections have TCP_NODELAY: a request on a reused (keep-alive) connection
is not held back by Nagle's algorithm (it was: ~44 ms per request, benchmarks/RESULTS.md)."""

from __future__ import annotations

import asyncio
import socket

from river import linear_model

from stream_ml import Engine
from stream_ml.serve import ServerThread, create_app


def test_the_server_socket_is_tcp_so_asyncio_sets_nodelay_on_its_connections() -> None:
    with ServerThread(create_app(Engine({"lr": linear_model.LogisticRegression()}))) as server:
        assert server.sock.proto == socket.IPPROTO_TCP
        # what asyncio does with every socket this listener accepts (the same family, type
        # and proto): TCP_NODELAY on
        conn = socket.socket(server.sock.family, server.sock.type, server.sock.proto)
        try:
            asyncio.base_events._set_nodelay(conn)
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        finally:
            conn.close()
