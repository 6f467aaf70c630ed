"""Engine.process's plain-message path (shapes checked by hand, straight to Engine.predict /
Engine.learn), as the driver uses it, gives exactly what pydantic's validation path gives: the
same outputs, errors, summary and digest."""

from __future__ import annotations

import json

from river import linear_model, preprocessing, tree

from stream_ml.engine import Engine
from stream_ml.runtime.driver import Driver, as_dict
from tests.acceptance.streams import weather_messages


class ThroughPydantic(Engine):
    """An engine whose messages all go through pydantic: a dict is handed on as JSON text."""

    def process(self, message):  # type: ignore[no-untyped-def]
        if type(message) is dict:
            message = json.dumps(message)
        return super().process(message)


def _run(cls: type[Engine], messages: list) -> tuple[list, dict, str]:
    engine = cls(
        {
            "lr": preprocessing.StandardScaler() | linear_model.LogisticRegression(),
            "tree": tree.HoeffdingTreeClassifier(grace_period=50),
        },
        router={"kind": "thompson"},
        seed=3,
    )
    driver, out = Driver(engine), []
    for i, m in enumerate(messages):
        driver.apply(i, m, out)
    summary = engine.summary()
    return [as_dict(o) for o in out], summary, engine.digest()


def test_plain_messages_as_through_process() -> None:
    msgs = [dict(m) for m in weather_messages(rows=400, delay=20)]
    for m in msgs:
        if "features" in m:
            m["features"] = {k: v for k, v in m["features"].items() if k != "station"}
    # a few the fast path leaves to pydantic, and errors of both kinds
    msgs[5:5] = [
        {"id": "bad", "features": {"x": [1]}},  # malformed: pydantic names it
        {"id": "e3", "features": {"feat_1": 1.0}},  # duplicate id: the engine refuses it
        {"id": "nope", "label": True},  # unknown id
        {"kind": "observation", "id": "iso", "ts": "2000-01-01T00:00:00Z",
         "features": {"feat_1": 2.0}},
        {"id": "iso", "label": 1, "ts": 5},
        {"id": "r1", "features": {"feat_1": 2.0}},
        {"id": "r1", "reward": 1},  # a reward, as an int
    ]
    fast, slow = _run(Engine, msgs), _run(ThroughPydantic, msgs)
    assert fast[0] == slow[0]
    assert fast[1] == slow[1]
    assert fast[2] == slow[2]
    kinds = {o["kind"] for o in fast[0]}
    assert {"prediction", "ack", "error"} <= kinds
