from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from river import linear_model, preprocessing

import scenarios
from stream_ml import Engine
from stream_ml.serve import ServerThread, ServeSettings, create_app

TOKEN = "t0ken-for-tests-only"


def _import_schemathesis_now() -> None:
    """Import schemathesis's OpenAPI modules here, at collection, not lazily inside a test.

    pytest rewrites a plugin's modules on import, which parses their source; schemathesis
    imports some only when a check or a coverage phase first needs them, deep in a test, and
    there CPython 3.11.7 (gh-106905, fixed in 3.11.8) fails the parse with ``SystemError: AST
    constructor recursion depth mismatch``; the report of that failure can fail the same way
    and stop the whole run with an INTERNALERROR (seen in test_schemathesis.py and
    test_slices_schemathesis.py)."""
    import contextlib
    import importlib
    import pkgutil
    import sys

    if sys.version_info >= (3, 11, 8):
        return
    try:
        import schemathesis.specs.openapi as openapi
    except ImportError:
        return
    for module in pkgutil.walk_packages(openapi.__path__, "schemathesis.specs.openapi."):
        with contextlib.suppress(ImportError):  # an optional extra that is not installed
            importlib.import_module(module.name)


_import_schemathesis_now()


def small_engine() -> Engine:
    return Engine({"lr": preprocessing.StandardScaler() | linear_model.LogisticRegression()})


def sea_engine() -> Engine:
    return Engine.from_config(scenarios.get("sea-drift").engine_config(1))


def digest(engine: Engine) -> str:
    """A canonical digest of the engine's state (pickle bytes depend on object identity)."""
    import random

    if hasattr(engine, "digest"):
        return engine.digest()
    try:
        from stream_ml.snapshots.digest import state_digest
    except ImportError:  # the snapshots package is built in parallel
        return hashlib.sha256(pickle.dumps(engine.summary())).hexdigest()
    return state_digest(engine, ignore=(random.Random,))


@pytest.fixture
def serve() -> Iterator[Callable[..., ServerThread]]:
    """Start a real uvicorn server on a free loopback port; every one started is stopped."""
    opened: list[ServerThread] = []

    def start(engine: Any = None, settings: ServeSettings | None = None, *,
              log_level: str = "warning", access_log: bool = False, **kw: Any) -> ServerThread:  # fmt: skip
        engine = engine if engine is not None else small_engine()
        settings = settings or ServeSettings()
        app = create_app(engine, settings, **kw)
        server = ServerThread(app, settings, log_level=log_level, access_log=access_log)
        server.__enter__()
        server.engine = engine  # type: ignore[attr-defined]
        server.app = app  # type: ignore[attr-defined]
        opened.append(server)
        return server

    yield start
    for server in opened:
        server.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _no_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREAM_ML_TOKEN", raising=False)


def alarm_engine() -> Engine:
    """Two models; a test hands it records with ``engine.emit`` (as a drift stage does: the
    server's driver takes them at the next message)."""
    return Engine({"lr": preprocessing.StandardScaler() | linear_model.LogisticRegression(),
                   "lr2": linear_model.LogisticRegression()})  # fmt: skip


DRIFT = {"kind": "drift_alert", "detector": "ks", "field": "x1", "statistic": 0.41,
         "threshold": 0.2, "event": 150, "ts": 150.0}  # fmt: skip
