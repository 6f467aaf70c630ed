"""Base class of router configs (frozen, ``extra="forbid"``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RouterConfigBase(BaseModel):
    """Fields every router config has.

    ``name`` salts the sticky hash and labels summaries and promotion events; ``max_pending``
    bounds the ledger of decisions awaiting their reward (oldest evicted first).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "experiment"
    max_pending: int = Field(100_000, ge=1)
    confidence: float = Field(0.95, gt=0.0, lt=1.0)

    def common(self) -> dict[str, Any]:
        """Keyword arguments every router takes."""
        return {"name": self.name, "max_pending": self.max_pending, "confidence": self.confidence}
