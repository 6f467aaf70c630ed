"""Configuration: frozen pydantic models that a TOML file and the Python API both build.

A typo is an error, never a silently ignored key: every model forbids unknown keys, and
:func:`load_config` turns pydantic's complaint into a :class:`ConfigError` that names the key.
Model expressions and metric names are checked when the config is loaded, not when the first
event arrives.

>>> lr = {"model": "linear_model.LogisticRegression()"}
>>> cfg = EngineConfig.model_validate({"models": {"lr": lr}})
>>> cfg.evaluation.metrics, cfg.evaluation.delay
(['Accuracy'], 0)
>>> EngineConfig.model_validate({"models": {"lr": {"modle": "x"}}})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 2 validation errors for EngineConfig
...
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from stream_ml.errors import ConfigError, StreamMLError
from stream_ml.evaluation.slices import SliceConfig
from stream_ml.models.expr import parse_model
from stream_ml.stages.monitoring import MonitorConfig


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _RowsConfig(_Config):
    """Rows: the target column and its type, the id, key and time columns, categorical columns.

    ``target_type = "auto"`` is decided once per source from its first target cells, by
    majority (:func:`connectors.rows.infer_target_type`): a minority of bad cells are errors
    counted row by row, never a new type for the whole column.
    """

    target: str | None = None
    target_type: Literal["auto", "int", "float", "bool", "str"] = Field(
        default="auto", description="auto: what most of the first 10,000 target cells are"
    )
    id: str | None = None
    key: str | None = None
    ts: str | None = None
    categorical: list[str] = Field(default_factory=list)
    limit: int | None = Field(default=None, ge=0)
    _keep_key: bool = PrivateAttr(default=False)

    @property
    def keep_key(self) -> bool:
        """Whether the key column stays among the fields as well: set by :class:`EngineConfig`
        when a feature groups by it (``by`` names the source's ``key`` column)."""
        return self._keep_key


class CsvSourceConfig(_RowsConfig):
    """A CSV file (gzip if the name ends with .gz); one row per observation."""

    kind: Literal["csv"]
    path: str
    delimiter: str = ","


class JsonlSourceConfig(_RowsConfig):
    """A JSON Lines file: rows with a ``target`` column, or (no target) engine messages."""

    kind: Literal["jsonl"]
    path: str


class RiverSourceConfig(_Config):
    """A dataset bundled with River (``Phishing``) or a synthetic one (``synth.SEA``)."""

    kind: Literal["river"]
    dataset: str
    params: dict[str, Any] = Field(default_factory=dict)
    target: str = "target"
    target_type: Literal["auto", "int", "float", "bool", "str"] = "auto"
    limit: int | None = Field(default=None, ge=0)


SourceConfig = Annotated[
    CsvSourceConfig | JsonlSourceConfig | RiverSourceConfig, Field(discriminator="kind")
]


class ModelConfig(_Config):
    """One named model: a River expression such as ``"tree.HoeffdingTreeClassifier()"``."""

    model: str

    @field_validator("model")
    @classmethod
    def _parses(cls, v: str) -> str:
        try:
            parse_model(v)
        except StreamMLError as exc:
            raise ValueError(str(exc)) from None
        return v


_SLICE = SliceConfig.model_fields


class EvaluationConfig(_Config):
    """Prequential evaluation: metrics by River name, the label delay of a replay, the window;
    slices of the first metric (``slices = ["region", "key", "temp:0,10,20"]``, see
    :mod:`stream_ml.evaluation.slices`) and the calibration monitor (``ece_alarm``)."""

    metrics: list[str] = Field(default_factory=lambda: ["Accuracy"])
    delay: int = Field(default=0, ge=0, description="events between a prediction and its label")
    window: int = Field(default=1000, ge=1, description="events behind the rolling metrics")
    slices: list[str] = Field(
        default_factory=list, description='fields, "key", or numeric bins "field:0,10,20"'
    )
    # the slices' terms: SliceConfig's own fields (defaults, bounds, descriptions), prefixed
    slice_top: int = _SLICE["top"]
    slice_margin: float = _SLICE["margin"]
    slice_min_n: int = _SLICE["min_n"]
    slice_check_every: int = _SLICE["check_every"]
    slice_confidence: float = _SLICE["confidence"]
    slice_window: int = _SLICE["window"]
    ece_alarm: float | None = Field(
        default=None, gt=0, lt=1, description="calibration_alarm above this rolling ECE"
    )
    ece_check_every: int = Field(default=500, ge=1, description="labels between ECE checks")
    ece_min_n: int = Field(
        default=200, ge=1, description="no calibration alarm on fewer events with probabilities"
    )

    @field_validator("slices")
    @classmethod
    def _slices(cls, v: list[str]) -> list[str]:
        if not v:  # slices = [] is "no slices" (and a dumped config parses again)
            return v
        try:
            SliceConfig(by=v)
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
        return v

    def slice_config(self) -> Any:
        """The :class:`~stream_ml.evaluation.slices.SliceConfig` (None without slices)."""
        if not self.slices:
            return None
        return SliceConfig(
            by=self.slices,
            top=self.slice_top,
            margin=self.slice_margin,
            min_n=self.slice_min_n,
            check_every=self.slice_check_every,
            confidence=self.slice_confidence,
            window=self.slice_window,
        )

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, v: list[str]) -> list[str]:
        from stream_ml.evaluation.prequential import build_metric

        for name in v:
            try:
                build_metric(name)
            except StreamMLError as exc:
                raise ValueError(str(exc)) from None
        return v


class LabelsConfig(_Config):
    """Bounds of the delayed-label join."""

    max_pending: int = Field(default=100_000, ge=1)
    ttl: float | None = Field(default=None, gt=0, description="event-time seconds")


class JsonlSinkConfig(_Config):
    kind: Literal["jsonl"]
    path: str


class SqliteSinkConfig(_Config):
    kind: Literal["sqlite"]
    path: str
    table: str = "predictions"


class StdoutSinkConfig(_Config):
    kind: Literal["stdout"]


SinkConfig = Annotated[
    JsonlSinkConfig | SqliteSinkConfig | StdoutSinkConfig, Field(discriminator="kind")
]


class SnapshotsConfig(_Config):
    """Where and when the engine's state is snapshotted (see stream_ml.snapshots)."""

    path: str
    every_events: int | None = Field(default=1000, gt=0)
    every_seconds: float | None = Field(default=None, gt=0, description="event-time seconds")
    on_promotion: bool = Field(
        default=True, description="a snapshot tagged 'promotion' just before each promotion"
    )
    keep_last: int | None = Field(default=None, ge=1)
    key_env: str = "STREAM_ML_SNAPSHOT_KEY"
    trust_unsigned: bool = False
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    resume: bool = True


class EngineConfig(_Config):
    """The whole engine: source, models (the first listed serves), evaluation, labels, sinks."""

    name: str = "engine"
    seed: int = 0
    source: SourceConfig | None = None
    models: dict[str, ModelConfig] = Field(min_length=1)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    sinks: list[SinkConfig] = Field(default_factory=list)
    router: Any = Field(default=None, description="an experiment router ([router] kind = ...)")
    snapshots: SnapshotsConfig | None = None
    drift: list[MonitorConfig] = Field(default_factory=list, description="[[drift]] monitors")
    serve: dict[str, Any] | None = Field(
        default=None, description="[serve] settings for stream-ml serve (see ServeSettings)"
    )
    features: Any = Field(default=None, description="[[features]] specs and [features.options]")

    @field_validator("features", mode="before")
    @classmethod
    def _features(cls, v: Any) -> Any:
        if v is None or not isinstance(v, dict | list):
            return v
        from stream_ml.features import FeaturesConfig

        return FeaturesConfig.from_toml_dict({"features": v})

    @field_validator("router", mode="before")
    @classmethod
    def _router(cls, v: Any) -> Any:
        if v is None or not isinstance(v, dict):
            return v
        from pydantic import TypeAdapter

        from stream_ml.experiments import RouterConfig

        return TypeAdapter(RouterConfig).validate_python(v)

    @model_validator(mode="after")
    def _key_features(self) -> EngineConfig:
        """A feature that groups by the source's key column needs that column among the fields:
        the decoder then keeps it there (the feature stage keeps ``by`` fields away from the
        models unless ``keep_keys``)."""
        src = self.source
        key = getattr(src, "key", None)
        if not isinstance(src, _RowsConfig) or key is None or self.features is None:
            return self
        specs = getattr(self.features, "specs", None)
        if specs is None:
            specs = getattr(getattr(self.features, "config", None), "specs", None) or ()
        if any(key in getattr(spec, "by", ()) for spec in specs):
            src = src.model_copy()
            src._keep_key = True
            object.__setattr__(self, "source", src)
        return self

    @model_validator(mode="after")
    def _drift_models(self) -> EngineConfig:
        for d in self.drift:
            if d.model is not None and d.model not in self.models:
                raise ValueError(f"drift monitor watches model {d.model!r}, not a model here")
            if d.on == "features" and not d.fields:
                raise ValueError("a features drift monitor needs fields = [...]")
        return self

    @model_validator(mode="after")
    def _router_names(self) -> EngineConfig:
        if self.router is not None:
            try:
                self.router.build(list(self.models))
            except StreamMLError as exc:
                raise ValueError(f"router: {exc}") from None
        return self

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of this config (snapshots record it).

        Only values that differ from their defaults count, so a release that adds an option
        (with a default) keeps the digest of every existing config: the same file, the same
        hash.

        >>> a = parse_config({"models": {"m": {"model": "linear_model.LinearRegression()"}}})
        >>> b = parse_config({"models": {"m": {"model": "linear_model.LinearRegression()"}},
        ...                   "evaluation": {"window": 1000}})
        >>> c = parse_config({**a.model_dump(), "seed": 1})
        >>> a.digest() == b.digest(), a.digest() == c.digest()
        (True, False)
        """
        blob = json.dumps(self.model_dump(mode="json", exclude_defaults=True), sort_keys=True)
        blob = blob.encode()
        return hashlib.sha256(blob).hexdigest()


def config_error(exc: ValidationError, where: str = "config") -> ConfigError:
    """One readable ConfigError naming every bad key of a pydantic ValidationError."""
    lines = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "missing":
            msg = "required key is missing"
        msg = msg.removeprefix("Value error, ")
        lines.append(f"  {loc}: {msg}")
    return ConfigError(f"invalid {where}:\n" + "\n".join(lines))


def parse_config(data: dict[str, Any], where: str = "config") -> EngineConfig:
    """Validate a dict (from TOML or JSON) into an :class:`EngineConfig`."""
    try:
        return EngineConfig.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, where) from None


def load_config(path: str | Path) -> EngineConfig:
    """Read and validate a TOML config file.

    Relative paths in it are taken from the current directory; when no such file exists there
    but one does next to the config file, that one is used.
    """
    p = Path(path)
    try:
        with open(p, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read config {str(p)!r}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{str(p)!r} is not valid TOML: {exc}") from exc
    cfg = parse_config(data, where=str(p))
    src = cfg.source
    if src is not None and hasattr(src, "path"):
        here, beside = Path(src.path), p.parent / src.path
        if not here.is_absolute() and not here.exists() and beside.exists():
            cfg = cfg.model_copy(update={"source": src.model_copy(update={"path": str(beside)})})
    return cfg
