"""Feature definitions: one frozen pydantic model, and the ``F.Mean(...)`` style constructors.

A :class:`FeatureSpec` is configuration only; :class:`~stream_ml.features.FeatureSet` builds the
logic from it. The same spec comes from TOML (``[[features.specs]]``) or from Python:

>>> spec = Mean("amount", by="user", window="1h")
>>> spec.name, spec.agg, spec.by
('amount_mean_1h_by_user', 'mean', ('user',))
>>> spec == FeatureSpec.model_validate(
...     {"agg": "mean", "on": "amount", "by": "user", "window": "1h"})
True
>>> Mean("amount", by="user", window="1 fortnight")
Traceback (most recent call last):
...
stream_ml.errors.ConfigError: window '1 fortnight' does not parse: ...
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from stream_ml.errors import ConfigError
from stream_ml.features.windows import AllTime, Decay, parse_duration, parse_window

AggName = Literal[
    "count",
    "sum",
    "mean",
    "var",
    "std",
    "min",
    "max",
    "last",
    "time_since",
    "distinct",
    "quantile",
    "ewma",
    "target_mean",
]
NEEDS_FIELD = frozenset(
    {"sum", "mean", "var", "std", "min", "max", "last", "distinct", "quantile", "ewma"}
)
NUMERIC = frozenset({"sum", "mean", "var", "std", "min", "max", "quantile", "ewma"})
DECAY_OK = frozenset({"count", "sum", "mean", "ewma", "target_mean"})


class FeatureSpec(BaseModel):
    """One feature: an aggregate (``agg``, the discriminator) of field ``on`` per key ``by``.

    ``window`` is a window string (see :mod:`stream_ml.features.windows`); ``q`` is the quantile
    for ``agg="quantile"``; ``bound`` is where exact distinct counts and all-time quantiles turn
    into sketches; ``prior`` and ``strength`` smooth ``target_mean`` towards a prior mean;
    ``default`` fills the value when the window is empty (else the feature is left out).

    >>> FeatureSpec(agg="count", by=["user", "merchant"], window="24h").name
    'count_24h_by_user_merchant'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    agg: AggName
    name: str = ""
    on: str | None = None
    by: tuple[str, ...]
    window: str = "all"
    q: float | None = None
    bound: int = 1024
    prior: float | None = None
    strength: float = 0.0
    default: float | None = None

    @field_validator("by", mode="before")
    @classmethod
    def _by_tuple(cls, v: Any) -> Any:
        if isinstance(v, str):
            return (v,)
        return v

    @field_validator("window", mode="before")
    @classmethod
    def _window_parses(cls, v: Any) -> Any:
        if isinstance(v, int | float) and not isinstance(v, bool):
            v = f"{v}s"
        parse_window(v)
        return v

    @model_validator(mode="after")
    def _check(self) -> FeatureSpec:
        label = self.name or self.agg
        if not self.by or any(not k for k in self.by):
            raise ConfigError(f"feature {label!r}: 'by' needs at least one key field")
        if self.agg in NEEDS_FIELD and not self.on:
            raise ConfigError(f"feature {label!r}: agg {self.agg!r} needs a field 'on'")
        if self.agg == "quantile" and (self.q is None or not 0.0 <= self.q <= 1.0):
            raise ConfigError(f"feature {label!r}: quantile needs q in [0, 1]")
        if self.bound < 1:
            raise ConfigError(f"feature {label!r}: bound must be >= 1")
        w = parse_window(self.window)
        if isinstance(w, Decay) and self.agg not in DECAY_OK:
            raise ConfigError(
                f"feature {label!r}: a decay window supports {sorted(DECAY_OK)}, not {self.agg!r}"
            )
        if self.agg == "ewma" and not isinstance(w, Decay):
            raise ConfigError(f"feature {label!r}: ewma needs a window 'decay <half-life>'")
        if self.agg == "target_mean" and not isinstance(w, AllTime | Decay):
            raise ConfigError(f"feature {label!r}: target_mean needs window 'all' or 'decay ...'")
        if not self.name:
            token = re.sub(r"\s+", "_", self.window.strip())
            head = f"{self.on}_{self.agg}" if self.on else self.agg
            if self.agg == "quantile":
                head += f"{round(100 * (self.q or 0))}"
            object.__setattr__(self, "name", f"{head}_{token}_by_{'_'.join(self.by)}")
        return self


def _spec(**kwargs: Any) -> FeatureSpec:
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    try:
        return FeatureSpec(**kwargs)
    except ValidationError as exc:
        raise ConfigError(f"bad feature {kwargs.get('name') or kwargs['agg']!r}: {exc}") from exc


By = str | list[str] | tuple[str, ...]


def Count(*, by: By, window: str = "all", name: str | None = None) -> FeatureSpec:
    """Number of events of the key in the window."""
    return _spec(agg="count", by=by, window=window, name=name)


def Sum(on: str, *, by: By, window: str = "all", name: str | None = None) -> FeatureSpec:
    """Sum of ``on`` in the window."""
    return _spec(agg="sum", on=on, by=by, window=window, name=name)


def Mean(
    on: str, *, by: By, window: str = "all", name: str | None = None, default: float | None = None
) -> FeatureSpec:
    """Mean of ``on`` in the window."""
    return _spec(agg="mean", on=on, by=by, window=window, name=name, default=default)


def Var(
    on: str, *, by: By, window: str = "all", name: str | None = None, default: float | None = None
) -> FeatureSpec:
    """Sample variance (ddof=1) of ``on`` in the window."""
    return _spec(agg="var", on=on, by=by, window=window, name=name, default=default)


def Std(
    on: str, *, by: By, window: str = "all", name: str | None = None, default: float | None = None
) -> FeatureSpec:
    """Sample standard deviation of ``on`` in the window."""
    return _spec(agg="std", on=on, by=by, window=window, name=name, default=default)


def Min(
    on: str, *, by: By, window: str = "all", name: str | None = None, default: float | None = None
) -> FeatureSpec:
    """Smallest ``on`` in the window."""
    return _spec(agg="min", on=on, by=by, window=window, name=name, default=default)


def Max(
    on: str, *, by: By, window: str = "all", name: str | None = None, default: float | None = None
) -> FeatureSpec:
    """Largest ``on`` in the window."""
    return _spec(agg="max", on=on, by=by, window=window, name=name, default=default)


def Last(
    on: str, *, by: By, window: str = "all", name: str | None = None, default: float | None = None
) -> FeatureSpec:
    """Value of ``on`` at the latest event of the window."""
    return _spec(agg="last", on=on, by=by, window=window, name=name, default=default)


def TimeSince(
    *, by: By, window: str = "all", name: str | None = None, default: float | None = None
) -> FeatureSpec:
    """Seconds since the key's latest event in the window."""
    return _spec(agg="time_since", by=by, window=window, name=name, default=default)


def DistinctCount(
    on: str, *, by: By, window: str = "all", name: str | None = None, bound: int = 1024
) -> FeatureSpec:
    """Number of distinct values of ``on``.

    All-time: exact up to ``bound`` values per key, then a DataSketches HLL (lg_k 12).
    """
    return _spec(agg="distinct", on=on, by=by, window=window, name=name, bound=bound)


def Quantile(
    on: str,
    q: float,
    *,
    by: By,
    window: str = "all",
    name: str | None = None,
    bound: int = 1024,
    default: float | None = None,
) -> FeatureSpec:
    """Quantile ``q`` of ``on``.

    Exact in bounded windows; all-time: a DataSketches t-digest past ``bound`` values per key.
    """
    return _spec(
        agg="quantile", on=on, q=q, by=by, window=window, name=name, bound=bound, default=default
    )


def EWMA(
    on: str,
    *,
    by: By,
    half_life: str | float,
    name: str | None = None,
    default: float | None = None,
) -> FeatureSpec:
    """Event-time exponentially weighted mean of ``on`` with the given half-life."""
    hl = parse_duration(half_life, "half_life")
    return _spec(agg="ewma", on=on, by=by, window=f"decay {hl:g}s", name=name, default=default)


def TargetMean(
    *,
    by: By,
    window: str = "all",
    prior: float | None = None,
    strength: float = 0.0,
    name: str | None = None,
    default: float | None = None,
) -> FeatureSpec:
    """Mean label of the key, from the feedback that has arrived (``FeatureSet.learn_one``).

    With ``prior`` and ``strength`` m: ``(sum_y + m * prior) / (n + m)``.
    """
    return _spec(
        agg="target_mean",
        by=by,
        window=window,
        prior=prior,
        strength=strength,
        name=name,
        default=default,
    )
