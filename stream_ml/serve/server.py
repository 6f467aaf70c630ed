"""Running the app under uvicorn: the config (limits wired in, tokens redacted) and a thread.

:func:`uvicorn_config` sets uvicorn's own websocket limits from the settings: frames over
``max_message_bytes`` are refused by the protocol itself (close 1009) before they are buffered,
and keep-alive pings close connections whose peer stopped answering. The access log and
uvicorn's websocket lines go through :class:`~stream_ml.serve.security.RedactTokens`.

:class:`ServerThread` runs a server on an already-bound loopback socket in a background thread
(tests, benchmarks, notebooks) and stops it on exit.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import uvicorn

from stream_ml.serve.security import install_redaction
from stream_ml.serve.settings import ServeSettings


def uvicorn_config(app: Any, settings: ServeSettings, *, host: str = "127.0.0.1",
                   port: int = 8000, log_level: str = "info",
                   access_log: bool = True) -> uvicorn.Config:  # fmt: skip
    """A uvicorn config for ``app`` with the websocket limits of ``settings``."""
    install_redaction()
    ping = max(1.0, settings.slow_client_timeout)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ws="websockets-sansio",
        ws_max_size=settings.max_message_bytes,
        ws_per_message_deflate=False,
        ws_ping_interval=ping,
        ws_ping_timeout=ping,
        log_level=log_level,
        access_log=access_log,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )


class ServerThread:
    """A uvicorn server on a free loopback port, in a thread; a context manager.

    Examples
    --------
    >>> import httpx
    >>> from river import linear_model
    >>> from stream_ml import Engine
    >>> from stream_ml.serve import create_app
    >>> app = create_app(Engine({"lr": linear_model.LogisticRegression()}))
    >>> with ServerThread(app, log_level="warning") as server:
    ...     httpx.get(server.url + "/healthz").json()["status"]
    'ok'
    """

    def __init__(self, app: Any, settings: ServeSettings | None = None, *,
                 host: str = "127.0.0.1", log_level: str = "warning",
                 access_log: bool = False) -> None:  # fmt: skip
        settings = settings or getattr(getattr(app, "state", None), "serve", None)
        if not isinstance(settings, ServeSettings):
            settings = settings.settings if settings is not None else ServeSettings()
        # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are
        # TCP, and without it a keep-alive request waits ~40 ms for Nagle and delayed ACKs
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.host, self.port = self.sock.getsockname()[:2]
        config = uvicorn_config(app, settings, host=host, port=self.port, log_level=log_level,
                                access_log=access_log)  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="stream-ml-serve", daemon=True)
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.sock]))
        except BaseException as exc:  # reported by __enter__/__exit__
            self.error = exc

    def __enter__(self) -> ServerThread:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError(f"the server did not start: {self.error!r}")
            self.thread.join(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
