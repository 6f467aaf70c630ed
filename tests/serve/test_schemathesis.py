"""schemathesis against the app's own OpenAPI spec, served by a real uvicorn on loopback.

Every check schemathesis has (server errors, status codes and content types as documented,
responses that match their schemas, positive data accepted, negative data refused, ...) on every
operation, without a token (a server with none configured) and with one (``auth = "all"``, the
client sends it). Examples are bounded so that both runs take well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import schemathesis.specs.openapi.object_authorization  # imported here, not lazily: see below
import schemathesis.specs.openapi.schemas  # the same
from hypothesis import HealthCheck, settings
from schemathesis.checks import load_all_checks

from stream_ml.serve import ServerThread, ServeSettings, create_app
from tests.serve.conftest import TOKEN, small_engine

load_all_checks()


def _describe_lambdas_safely() -> None:
    """Work around CPython 3.11.7's ``SystemError: AST constructor recursion depth mismatch``
    (gh-106905, fixed in 3.11.8): to describe a lambda strategy (a repr, nothing more),
    Hypothesis parses the lambda's module, and that parse, deep in schemathesis's test
    building, can hit the bug. On that error the description is Hypothesis's own fallback.
    (The OpenAPI loader and the object-level authorization check's module are imported at the top
    for the same reason: pytest rewrites schemathesis's modules as a plugin's, and that parses
    their source; deep in a test, the lazy import failed, and so did the report of the failure,
    which stopped the whole run with an INTERNALERROR.)"""
    import sys

    from hypothesis.internal import lambda_sources

    if sys.version_info >= (3, 11, 8) or getattr(lambda_sources, "_stream_ml_safe", False):
        return
    describe = lambda_sources.lambda_description

    def safe(f: Any) -> str:
        try:
            return describe(f)
        except SystemError:
            return "lambda: <unknown>"

    lambda_sources.lambda_description = safe
    lambda_sources._stream_ml_safe = True  # type: ignore[attr-defined]


_describe_lambdas_safely()
EXAMPLES = 30
# derandomized: the same examples every run (no OS entropy), no example database on disk
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))  # fmt: skip


def _served(settings_: ServeSettings) -> Iterator[Any]:
    """A real uvicorn on loopback serving a small engine, and schemathesis's view of its spec.
    ``undeclared = "float"``: the spec says features are numbers (what the model needs), so
    schemathesis's positive data is data the model can take and its negative data is refused."""
    app = create_app(small_engine(), settings_)
    with ServerThread(app, settings_) as server:
        schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
        schema.config.base_url = server.url
        yield schema


@pytest.fixture(scope="module")
def anonymous() -> Iterator[Any]:
    yield from _served(ServeSettings(undeclared="float", rate=1e6, burst=10**6))


@pytest.fixture(scope="module")
def with_token() -> Iterator[Any]:
    yield from _served(ServeSettings(token=TOKEN, auth="all", undeclared="float", rate=1e6,
                                     burst=10**6))  # fmt: skip


without_token_schema = schemathesis.pytest.from_fixture("anonymous")
with_token_schema = schemathesis.pytest.from_fixture("with_token")


@without_token_schema.parametrize()
@SETTINGS
def test_api_without_a_token(case: Any) -> None:
    case.call_and_validate()


@with_token_schema.parametrize()
@SETTINGS
def test_api_with_a_token(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})
