"""Response models of the REST routes (they document the OpenAPI schema).

Inbound bodies are the engine's own :class:`~stream_ml.events.Observation` and
:class:`~stream_ml.events.Feedback`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class PredictionOut(BaseModel):
    """A prediction (``Prediction.to_dict()``); ``fallback`` is true when the engine was late."""

    kind: Literal["prediction"] = "prediction"
    id: str
    model: str
    y_pred: Any
    proba: dict[str, float] | None = None
    key: str | None = None
    ts: float | None = None
    seq: int = 0
    propensity: float = 1.0
    model_version: int = 0
    shadow: dict[str, Any] | None = None
    fallback: bool = False


class AckOut(BaseModel):
    """The answer to a feedback: ``learned`` is false for a reward without label or clicks."""

    kind: Literal["ack"] = "ack"
    id: str
    learned: bool


class ErrorOut(BaseModel):
    """A refused or failed message: a code, the field at fault, the reason, where in a batch."""

    kind: Literal["error"] = "error"
    code: str = Field(examples=["malformed_message", "unknown_id", "unauthorized"])
    field: str | None = None
    reason: str
    offset: Any = None


class ModelOut(BaseModel):
    name: str
    role: str
    version: int
    scored: int
    metrics: dict[str, float | None]
    rolling: dict[str, float | None]
    traffic: float = Field(description="share of predictions it served since the server started")


class ModelsOut(BaseModel):
    engine: str
    events: int
    feedback: int
    models: list[ModelOut]
    labels: dict[str, Any]
    errors: dict[str, Any]


class ListOut(BaseModel):
    """A list of whatever the engine's optional stage reports (empty when it has none)."""

    items: list[dict[str, Any]]


class RollbackIn(BaseModel):
    reason: str = Field(default="manual rollback", max_length=500)


class RollbackOut(BaseModel):
    version: int
    reason: str
    snapshot: dict[str, Any] | None = None
    result: Any = None


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    engine: str
    queue: int
    connections: int
