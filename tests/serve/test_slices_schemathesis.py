"""schemathesis on the slice and calibration endpoints of a server whose engine HAS slices (with
two dimensions, so rows carry ``by`` and each dimension has its ``other:<dim>``) and the ECE
monitor, fed through a real websocket first: the answers match the documented schemas with real
data (tests/serve/test_schemathesis.py runs the whole API on an engine without slices). The
checks, settings and the lambda workaround are that module's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis

from stream_ml.serve import ServerThread, ServeSettings, create_app
from tests.serve.test_schemathesis import SETTINGS
from tests.serve.test_slices_rest import feed, sliced_engine


@pytest.fixture(scope="module")
def sliced() -> Iterator[Any]:
    settings_ = ServeSettings(rate=1e6, burst=10**6)
    engine = sliced_engine(slices=["region", "x:0.25,0.5,0.75"], slice_top=3, ece_alarm=0.1,
                           ece_check_every=200)  # fmt: skip
    app = create_app(engine, settings_)
    with ServerThread(app, settings_) as server:
        feed(server, 1500)
        sl = engine.summary()["slices"]
        rows = [r for m in sl["models"].values() for r in m["slices"]]
        # the data this run checks: dimensions on rows, both others, an alarm, an interval
        assert {r.get("by") for r in rows} == {"region", "x:0.25,0.5,0.75"}
        assert {"other:region", "other:x:0.25,0.5,0.75"} <= {r["slice"] for r in rows}
        assert sl["alarms"] and any(r["alarm"] for r in rows)
        schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
        schema.config.base_url = server.url
        yield schema


sliced_schema = schemathesis.pytest.from_fixture("sliced").include(
    method="GET", path=["/v1/slices", "/v1/calibration", "/v1/models"]
)


@sliced_schema.parametrize()
@SETTINGS
def test_slice_endpoints_with_real_slices(case: Any) -> None:
    case.call_and_validate()
