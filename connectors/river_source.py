"""River datasets as a source: each ``(x, y)`` becomes a row ``{**x, target: y}``.

Only datasets that ship with River (or synthetic generators) are allowed: nothing is downloaded.

>>> src = RiverSource("Phishing", target="is_phishing")
>>> off, row = next(iter(src.read()))
>>> off, row["is_phishing"], len(row)
(0, True, 10)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from river import datasets

from stream_ml.errors import ConfigError


def load_dataset(name: str, params: dict[str, Any] | None = None) -> Any:
    """A River dataset by name (``"Phishing"``, ``"synth.SEA"``); remote datasets are refused."""
    obj: Any = datasets
    for part in name.split("."):
        if part.startswith("_") or not hasattr(obj, part):
            raise ConfigError(f"river.datasets has no {name!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise ConfigError(f"river.datasets.{name} is not a dataset class")
    try:
        ds = obj(**(params or {}))
    except TypeError as exc:
        raise ConfigError(f"river.datasets.{name}: {exc}") from exc
    if isinstance(ds, datasets.base.RemoteDataset):
        raise ConfigError(f"river.datasets.{name} must be downloaded; only bundled or synthetic")
    return ds


class RiverSource:
    """Rows from a River dataset, with a row count limit for infinite synthetic streams."""

    def __init__(
        self,
        dataset: str,
        *,
        params: dict[str, Any] | None = None,
        target: str = "target",
        limit: int | None = None,
    ) -> None:
        self.dataset_name = dataset
        self.params = dict(params or {})
        self.target = target
        self.limit = limit
        self._start = 0
        ds = load_dataset(dataset, self.params)
        if limit is None and getattr(ds, "n_samples", None) is None:
            raise ConfigError(f"river.datasets.{dataset} is infinite: give a limit")

    def seek(self, offset: int) -> None:
        self._start = max(0, offset)

    def location(self, offset: int) -> str:
        return f"{self.dataset_name}:{offset}"

    def read(self) -> Iterator[tuple[int, dict[str, Any]]]:
        ds = load_dataset(self.dataset_name, self.params)
        stream = iter(ds) if self.limit is None else itertools.islice(ds, self.limit)
        for offset, (x, y) in enumerate(stream):
            if offset < self._start:
                continue
            yield offset, {**x, self.target: y}
            self._start = offset + 1
