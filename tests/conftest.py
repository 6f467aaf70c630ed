from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# property tests draw their examples from a fixed seed: the same examples on every run, so a
# statistical bound can never fail by chance in CI (HYPOTHESIS_PROFILE=explore draws anew)
# (no example database: a derandomized run does not need one, and two xdist workers would
# share one under .hypothesis/ in the repository)
settings.register_profile("stream-ml", derandomize=True, database=None)
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


_SHARED_SCOPES = ("class", "module", "package", "session")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The suite runs on two xdist workers (``-n 2 --dist loadgroup`` in pyproject): the tests
    that share a fixture of ours wider than a function (a module's reference run, the
    acceptance suite's runs) are one ``xdist_group``, so that fixture is made once, on one
    worker (named after where it is defined: ``tests/acceptance``, a test module). A test that
    already has an ``xdist_group`` mark keeps it."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or item.get_closest_marker("xdist_group") is not None:
            continue
        for name in info.names_closure:
            defs = info.name2fixturedefs.get(name) or ()
            fixture = defs[-1] if defs else None
            if fixture is None or fixture.scope not in _SHARED_SCOPES:
                continue
            try:
                where = Path(inspect.getfile(fixture.func)).resolve()
            except (TypeError, OSError):
                continue
            if ROOT in where.parents:  # ours, not a plugin's (tmp_path_factory, worker_id)
                item.add_marker(pytest.mark.xdist_group(fixture.baseid or str(where)))
                break
