"""``stream-ml serve CONFIG``: serve an engine over websockets and REST, with the dashboard.

The engine is built from CONFIG (its ``[source]`` is not used). Settings come from a
``--settings`` TOML/JSON file of :class:`~stream_ml.serve.settings.ServeSettings` keys, then the
options; the token only from ``$STREAM_ML_TOKEN`` (a command line is visible to other users).
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import click


@click.command("serve")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--settings",
    "settings_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="A TOML or JSON file of serve settings (limits, origins, fallback...).",
)
@click.option("--origin", "origins", multiple=True, help="Allowed browser origin (repeatable).")
@click.option("--allowed-host", "hosts", multiple=True,
              help="A name clients may reach the server by (Host header), besides the address "
                   "it listens on and localhost (repeatable; '*' = any).")  # fmt: skip
@click.option(
    "--auth",
    type=click.Choice(["writes", "all"]),
    default=None,
    help="What the token ($STREAM_ML_TOKEN) protects.",
)
@click.option("--log-level", default="info", show_default=True)
def serve(config: str, host: str, port: int, settings_path: str | None, origins: tuple[str, ...],
          hosts: tuple[str, ...], auth: str | None, log_level: str) -> None:  # fmt: skip
    """Serve CONFIG's engine: websocket /v1/stream, REST /v1/..., dashboard at /."""
    import uvicorn
    from pydantic import ValidationError

    from stream_ml.config import config_error
    from stream_ml.engine import Engine
    from stream_ml.errors import ConfigError
    from stream_ml.runtime.build import open_snapshots
    from stream_ml.serve.app import create_app
    from stream_ml.serve.server import uvicorn_config
    from stream_ml.serve.settings import ServeSettings

    try:
        engine = Engine.from_config(config)
        cfg = engine.config
        resume: dict[str, Any] | None = None
        stage = open_snapshots(cfg, engine)
        if stage is not None and cfg.snapshots is not None and cfg.snapshots.resume:
            rec = stage.latest()
            if stage.recovery:
                click.echo(f"warning: {stage.recovery}", err=True)
            if rec is not None:  # serve the newest valid snapshot's state
                engine = rec.state["engine"]  # type: ignore[index]
                resume = dict(rec.state.get("extra") or {})  # type: ignore[attr-defined]
                engine.snapshots = stage
                stage.parent = rec.info.version
                stage.store.record_audit("restore", to_version=rec.info.version,
                                         reason="serve start")  # fmt: skip
        data: dict[str, Any] = dict(cfg.serve or {})
        if settings_path:
            data.update(_read(settings_path))
        if origins:
            data["origins"] = list(origins)
        if hosts:
            data["allowed_hosts"] = [*(data.get("allowed_hosts") or []), *hosts]
        if _is_name(host):  # serving on a name: clients use it (an address is always allowed)
            data["allowed_hosts"] = [*(data.get("allowed_hosts") or []), host]
        if auth:
            data["auth"] = auth
        try:
            settings = ServeSettings.model_validate(data).with_env_token()
        except ValidationError as exc:
            raise config_error(exc, "serve settings") from None
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    from stream_ml.runtime.build import build_sinks

    app = create_app(engine, settings, sinks=build_sinks(cfg.sinks), resume=resume)
    click.echo(f"serving {engine.name!r} on http://{host}:{port} (dashboard at /)", err=True)
    if settings.token is None:
        click.echo("no token: feedback is open and rollback is disabled "
                   "(set STREAM_ML_TOKEN)", err=True)  # fmt: skip
    uvicorn.Server(uvicorn_config(app, settings, host=host, port=port,
                                  log_level=log_level)).run()  # fmt: skip


def _is_name(host: str) -> bool:
    """Whether ``--host`` is a name rather than an IP address (``0.0.0.0``, ``::1``...).

    >>> _is_name("myhost.lan"), _is_name("0.0.0.0"), _is_name("::")
    (True, False, False)
    """
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(host)
    return False


def _read(path: str) -> dict[str, Any]:
    from stream_ml.errors import ConfigError

    p = Path(path)
    try:
        text = p.read_bytes()
        if p.suffix == ".json":
            data = json.loads(text)
        else:
            data = tomllib.loads(text.decode())
            data = data.get("serve", data)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read serve settings {path!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"serve settings {path!r}: expected a table")
    return data


if __name__ == "__main__":  # pragma: no cover
    serve()
