"""``FeaturesConfig``: the feature stage as configuration (TOML, JSON or Python).

The engine's TOML embeds it under ``[features]``. TOML attaches ``[features.options]`` written
after ``[[features]]`` to the *last* array element, so the shape is one table with the options
and an array of tables ``[[features.specs]]``::

    [features]
    allowed_lateness = "5m"
    late_events = "drop"        # or "include"; late events are counted either way
    ttl = "7d"                  # per-key state expires after this much event time unseen
    max_keys = 1_000_000        # per entity; least recently seen keys are evicted first
    keep_keys = false           # true: the models also get the `by` key fields (default: left out)

    [[features.specs]]
    name = "amount_mean_1h"
    agg = "mean"
    on = "amount"
    by = "user"
    window = "1h"

    [[features.specs]]
    name = "user_tx_count_24h"
    agg = "count"
    by = "user"
    window = "24h"

>>> import tomllib
>>> doc = tomllib.loads('''
... [features]
... allowed_lateness = "5m"
... [[features.specs]]
... agg = "count"
... by = "user"
... window = "24h"
... ''')
>>> cfg = FeaturesConfig.from_toml_dict(doc)
>>> cfg.allowed_lateness, cfg.specs[0].name
(300.0, 'count_24h_by_user')
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from stream_ml.errors import ConfigError
from stream_ml.features.specs import FeatureSpec
from stream_ml.features.windows import parse_duration


class FeaturesConfig(BaseModel):
    """The feature specs and the stage options (lateness, late policy, TTL, key bound, and
    ``keep_keys``: whether the ``by`` key fields stay in what the models get; by default they
    are left out).

    >>> FeaturesConfig(specs=[], ttl="1d").ttl
    86400.0
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["features"] = "features"
    specs: tuple[FeatureSpec, ...] = ()
    allowed_lateness: float = 0.0
    late_events: Literal["drop", "include"] = "drop"
    ttl: float | None = None
    max_keys: int | None = None
    keep_keys: bool = False

    @field_validator("allowed_lateness", "ttl", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return None if v is None else parse_duration(v, "duration")

    @model_validator(mode="after")
    def _check(self) -> FeaturesConfig:
        names = [s.name for s in self.specs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"feature names must be unique; repeated: {dupes}")
        if self.max_keys is not None and self.max_keys < 1:
            raise ConfigError("max_keys must be at least 1")
        if self.ttl is not None and self.ttl <= 0:
            raise ConfigError("ttl must be longer than zero")
        return self

    @classmethod
    def from_toml_dict(cls, doc: dict[str, Any]) -> FeaturesConfig:
        """Build from a parsed TOML document (or its ``features`` table).

        Also accepts ``[[features]]`` (an array of specs) followed by ``[features.options]``
        (which TOML attaches to the last spec; it is taken as the stage's options), or with the
        options in a separate top-level ``[feature_options]`` table.
        """
        table: Any = doc.get("features", doc) if isinstance(doc, dict) else doc
        if isinstance(table, list):
            specs = [dict(item) if isinstance(item, dict) else item for item in table]
            options: dict[str, Any] = (
                dict(doc.get("feature_options", {})) if isinstance(doc, dict) else {}
            )
            for i, item in enumerate(specs):
                if isinstance(item, dict) and "options" in item:
                    if i != len(specs) - 1:
                        raise ConfigError(
                            "[features.options] must come after the last [[features]] table"
                        )
                    # TOML attaches [features.options] to the last [[features]] element: it
                    # holds the stage's options, as the user meant
                    options.update(item.pop("options"))
            table = {"specs": specs, **options}
        return cls.build(table)

    @classmethod
    def build(cls, data: dict[str, Any]) -> FeaturesConfig:
        """Validate a plain dict; any problem is a :class:`ConfigError`, naming the feature
        (its ``name``, or its place and ``agg``) when one spec is wrong.

        >>> FeaturesConfig.build({"specs": [{"name": "amt_1h", "agg": "mean", "on": "amount",
        ...                                  "by": "user", "window": "1 fortnite"}]})
        Traceback (most recent call last):
        ...
        stream_ml.errors.ConfigError: feature 'amt_1h' (features[0]): window '1 fortnite' ...
        """
        specs = data.get("specs") if isinstance(data, dict) else None
        if isinstance(specs, list | tuple):
            for i, item in enumerate(specs):
                if isinstance(item, dict):
                    _check_spec(i, item)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"bad [features] configuration: {_brief(exc)}") from exc


def _label(i: int, item: dict[str, Any]) -> str:
    name = item.get("name")
    if name:
        return f"feature {name!r} (features[{i}])"
    parts = [f"agg = {item.get('agg')!r}"]
    if item.get("on"):
        parts.append(f"on = {item['on']!r}")
    if item.get("by"):
        parts.append(f"by = {item['by']!r}")
    return f"feature features[{i}] ({', '.join(parts)})"


def _brief(exc: ValidationError) -> str:
    """One line per problem: where and what (pydantic's own dump is long)."""
    lines = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"{loc}: {msg.removeprefix('Value error, ')}")
    return "; ".join(lines)


def _check_spec(i: int, item: dict[str, Any]) -> None:
    """Validate one spec on its own, so that its error names it."""
    label = _label(i, item)
    try:
        FeatureSpec.model_validate(item)
    except ConfigError as exc:
        msg = str(exc)
        if msg.startswith("feature "):  # it names the feature already; add where it is
            raise ConfigError(f"{msg} (features[{i}])") from exc
        raise ConfigError(f"{label}: {msg}") from exc
    except ValidationError as exc:
        raise ConfigError(f"{label}: {_brief(exc)}") from exc
