from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# property tests draw their examples from a fixed seed: the same examples on every run, so a
# statistical bound can never fail by chance in CI (HYPOTHESIS_PROFILE=explore draws anew)
settings.register_profile("stream-ml", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "stream-ml"))

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
WEATHER = ROOT / "data" / "weather.csv.gz"


def require_service(name: str, reachable: bool) -> None:
    """Skip when a service is unreachable, unless STREAM_ML_REQUIRE_SERVICES is set (CI)."""
    if reachable:
        return
    if os.environ.get("STREAM_ML_REQUIRE_SERVICES"):
        pytest.fail(f"{name} is unreachable and STREAM_ML_REQUIRE_SERVICES is set")
    pytest.skip(f"{name} is unreachable")


@pytest.fixture
def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["COLUMNS"] = "200"
    return env


@pytest.fixture
def python() -> str:
    return sys.executable
