"""The module-level ``flow`` for ``python -m bytewax.run stream_ml.runtime.bytewax_flow:flow``.

The dataflow is built from environment variables when ``flow`` is first looked up (so importing
this module costs nothing and needs no configuration):

========================  ====================================================================
``STREAM_ML_CONFIG``      path of the engine config (TOML, or JSON with the same keys); required
``STREAM_ML_KEYED``       ``1``: one engine per record key; ``0`` (default): one global engine
``STREAM_ML_BATCH_SIZE``  records per input batch (1000)
``STREAM_ML_SNAPSHOTS``   ``1`` (default): pickle engines for recovery; ``0`` when running
                          without ``-r`` to save the pickling cost
========================  ====================================================================

Examples::

    STREAM_ML_CONFIG=examples/keyed.toml STREAM_ML_KEYED=1 \\
        python -m bytewax.run stream_ml.runtime.bytewax_flow:flow -w 2
    python -m bytewax.recovery /tmp/rec 4
    STREAM_ML_CONFIG=... python -m bytewax.run stream_ml.runtime.bytewax_flow:flow -w 2 \\
        -r /tmp/rec -s 5 -b 0

``run_bytewax`` (re-exported here) is the Python entry point behind ``stream-ml run CONFIG
--runtime bytewax``.

>>> import stream_ml.runtime.bytewax_flow as m
>>> m.run_bytewax.__name__
'run_bytewax'
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from stream_ml.errors import ConfigError
from stream_ml.runtime.bytewax.run import run_bytewax


def load_any_config(path: str | Path) -> Any:
    """An EngineConfig from a TOML file, or a JSON file with the same keys (``.json``)."""
    from stream_ml.config import load_config, parse_config

    if Path(path).suffix == ".json":
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read config {str(path)!r}: {exc}") from exc
        return parse_config(data, where=str(path))
    return load_config(path)


def flow_from_env(env: dict[str, str] | None = None) -> Any:
    """Build the dataflow the ``STREAM_ML_*`` environment variables describe."""
    from stream_ml.runtime.bytewax.flow import build_flow

    env = dict(os.environ) if env is None else env
    path = env.get("STREAM_ML_CONFIG")
    if not path:
        raise ConfigError("set STREAM_ML_CONFIG to the engine config's path to build the flow")
    cfg = load_any_config(path)
    return build_flow(
        cfg,
        keyed=env.get("STREAM_ML_KEYED", "0") == "1",
        batch_size=int(env.get("STREAM_ML_BATCH_SIZE", "1000")),
        snapshots=env.get("STREAM_ML_SNAPSHOTS", "1") == "1",
        key_groups=int(env.get("STREAM_ML_KEY_GROUPS", "128")) or None,
    )


def __getattr__(name: str) -> Any:
    if name == "flow":
        return flow_from_env()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["flow_from_env", "load_any_config", "run_bytewax"]
