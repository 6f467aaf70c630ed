"""Detector configurations: frozen pydantic models with a ``kind`` discriminator and ``build()``.

A TOML table or a JSON object validates into one of them with :func:`parse_detector_config`,
and the Python API builds the same detector.

>>> cfg = parse_detector_config({"kind": "ks", "reference_size": 300, "window_size": 100,
...                              "check_every": 10, "ert": 2000})
>>> det = cfg.build(n_features=2, fields=("x", "y"))
>>> type(det).__name__, det.n_features, det.window_size
('KSDetector', 2, 100)
>>> parse_detector_config({"kind": "ks", "windw_size": 100})
Traceback (most recent call last):
...
stream_ml.errors.ConfigError: bad drift detector config: windw_size: Extra inputs are not permitted
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from stream_ml.drift.adapters import RiverDetector
from stream_ml.drift.categorical import ChiSquaredDetector, PSIDetector
from stream_ml.drift.cusum import CUSUMDetector
from stream_ml.drift.cvm import CvMDetector
from stream_ml.drift.ks import KSDetector
from stream_ml.drift.mmd import MMDDetector
from stream_ml.errors import ConfigError

__all__ = [
    "CUSUMConfig", "ChiSquaredConfig", "CvMConfig", "DetectorConfig", "KSConfig", "MMDConfig",
    "PSIConfig",
    "RiverConfig", "parse_detector_config",
]  # fmt: skip


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: how a monitor uses it: "numeric" (one detector over all fields), "categorical" (one per
    #: field) or "error" (one per field, River's own thresholds)
    family: ClassVar[str] = "numeric"


class _Windowed(_Config):
    reference_size: int = Field(500, ge=2)
    window_size: int = Field(200, ge=2)
    check_every: int = Field(20, ge=1)
    ert: float | None = Field(10_000.0, gt=0)
    threshold: float | None = None
    reference: Literal["fixed", "lagged"] = "fixed"
    lag: int = Field(0, ge=0)
    calibration: Literal["auto", "bootstrap", "uniform"] = "auto"
    n_simulations: int | None = Field(None, ge=10)
    #: serial dependence (KS, CvM): "none" (the default: independent events), "auto" (the AR(1)
    #: sieve when the reference's lag-1 autocorrelation is significant), "ar1", "block"
    #: (stationary block bootstrap, ``block_size`` its mean block length), "ess" (no
    #: simulation: the distribution-free threshold scaled by the reference's effective-sample-
    #: size factor when its lag-1 test fires; calibrated for CvM, conservative for KS); see
    #: stream_ml.drift.dependence and docs/drift.md for why "auto" is not the default
    dependence: Literal["auto", "none", "ar1", "block", "ess"] = "none"
    block_size: int | None = Field(None, ge=1)
    #: the detector's seed; None: the one ``build(seed=...)`` is given (a monitor derives one
    #: per detector), else :data:`~stream_ml.drift.seeding.DEFAULT_SEED`
    seed: int | None = None

    def _common(self, n_features: int, fields: tuple[str, ...] | None,
                ert: float | None, seed: int | None) -> dict[str, Any]:  # fmt: skip
        return {
            "n_features": n_features, "fields": fields,
            "reference_size": self.reference_size, "window_size": self.window_size,
            "check_every": self.check_every, "ert": self.ert if ert is None else ert,
            "threshold": self.threshold, "reference": self.reference, "lag": self.lag,
            "calibration": self.calibration, "n_simulations": self.n_simulations,
            "dependence": self.dependence, "block_size": self.block_size,
            "seed": self.seed if self.seed is not None else seed,
        }  # fmt: skip


class KSConfig(_Windowed):
    """Kolmogorov-Smirnov detector (:class:`~stream_ml.drift.ks.KSDetector`)."""

    kind: Literal["ks"] = "ks"

    def build(self, n_features: int = 1, fields: tuple[str, ...] | None = None,
              ert: float | None = None, seed: int | None = None) -> KSDetector:  # fmt: skip
        return KSDetector(**self._common(n_features, fields, ert, seed))


class CvMConfig(_Windowed):
    """Cramér-von Mises detector (:class:`~stream_ml.drift.cvm.CvMDetector`)."""

    kind: Literal["cvm"] = "cvm"

    def build(self, n_features: int = 1, fields: tuple[str, ...] | None = None,
              ert: float | None = None, seed: int | None = None) -> CvMDetector:  # fmt: skip
        return CvMDetector(**self._common(n_features, fields, ert, seed))


class MMDConfig(_Windowed):
    """MMD detector (:class:`~stream_ml.drift.mmd.MMDDetector`)."""

    kind: Literal["mmd"] = "mmd"
    n_components: int = Field(128, ge=8)
    bandwidth: float | None = Field(None, gt=0)

    def build(self, n_features: int = 1, fields: tuple[str, ...] | None = None,
              ert: float | None = None, seed: int | None = None) -> MMDDetector:  # fmt: skip
        return MMDDetector(n_components=self.n_components, bandwidth=self.bandwidth,
                           **self._common(n_features, fields, ert, seed))  # fmt: skip


class ChiSquaredConfig(_Windowed):
    """Chi-squared detector for a categorical field."""

    kind: Literal["chi2"] = "chi2"
    family: ClassVar[str] = "categorical"
    max_categories: int = Field(64, ge=2)

    def build(self, n_features: int = 1, fields: tuple[str, ...] | None = None,
              ert: float | None = None, seed: int | None = None) -> ChiSquaredDetector:  # fmt: skip
        return ChiSquaredDetector(max_categories=self.max_categories,
                                  **self._common(n_features, fields, ert, seed))  # fmt: skip


class PSIConfig(_Windowed):
    """Population stability index detector for a categorical field."""

    kind: Literal["psi"] = "psi"
    family: ClassVar[str] = "categorical"
    max_categories: int = Field(64, ge=2)
    eps: float = Field(1e-4, gt=0)

    def build(self, n_features: int = 1, fields: tuple[str, ...] | None = None,
              ert: float | None = None, seed: int | None = None) -> PSIDetector:  # fmt: skip
        return PSIDetector(max_categories=self.max_categories, eps=self.eps,
                           **self._common(n_features, fields, ert, seed))  # fmt: skip


class RiverConfig(_Config):
    """One of River's detectors on an error or loss stream; ``params`` go to its constructor."""

    kind: Literal["adwin", "page_hinkley", "kswin", "ddm", "eddm", "hddm_a", "hddm_w", "fhddm"]
    family: ClassVar[str] = "error"
    params: dict[str, float | int | str | bool | None] = Field(default_factory=dict)

    def build(self, n_features: int = 1, fields: tuple[str, ...] | None = None,
              ert: float | None = None, seed: int | None = None) -> RiverDetector:  # fmt: skip
        field = fields[0] if fields else None
        params = dict(self.params)
        own = params.pop("seed", None)  # the config's own seed overrides the monitor's
        return RiverDetector.of(self.kind, field=field, seed=seed if own is None else int(own),
                                **params)  # fmt: skip


class CUSUMConfig(_Config):
    """A bank of CUSUMs on a metric or error stream (:class:`~stream_ml.drift.cusum.CUSUMDetector`).

    One detector per field; calibrated to ``ert`` (per field ``ert * len(fields)`` in a monitor).

    >>> cfg = parse_detector_config({"kind": "cusum", "reference_size": 300, "ert": 5000,
    ...                              "shifts": [0.5, 1.0], "variance": []})
    >>> det = cfg.build(fields=("error",))
    >>> type(det).__name__, det.shifts, det.field, cfg.check_every
    ('CUSUMDetector', (0.5, 1.0), 'error', 1)
    """

    kind: Literal["cusum"] = "cusum"
    family: ClassVar[str] = "error"
    #: a check per value (a monitor's episodes count calm checks in these)
    check_every: ClassVar[int] = 1
    reference_size: int = Field(500, ge=2)
    ert: float | None = Field(10_000.0, gt=1)
    threshold: float | None = Field(None, gt=0)
    shifts: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
    sides: Literal["both", "up", "down"] = "both"
    variance: tuple[float, ...] = (2.0, 4.0)
    dependence: Literal["auto", "none", "ar1", "block"] = "none"
    block_size: int | None = Field(None, ge=1)
    n_simulations: int | None = Field(None, ge=10)
    seed: int | None = None

    def build(self, n_features: int = 1, fields: tuple[str, ...] | None = None,
              ert: float | None = None, seed: int | None = None) -> CUSUMDetector:  # fmt: skip
        if n_features != 1:
            raise ConfigError("a CUSUM watches one value: one detector per field")
        return CUSUMDetector(
            reference_size=self.reference_size, ert=self.ert if ert is None else ert,
            threshold=self.threshold, shifts=self.shifts, sides=self.sides,
            variance=self.variance, dependence=self.dependence, block_size=self.block_size,
            n_simulations=self.n_simulations, field=fields[0] if fields else None,
            seed=self.seed if self.seed is not None else seed,
        )  # fmt: skip


DetectorConfig = Annotated[
    KSConfig | CvMConfig | MMDConfig | ChiSquaredConfig | PSIConfig | RiverConfig | CUSUMConfig,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(DetectorConfig)


def parse_detector_config(data: Any) -> Any:
    """Validate a dict (from TOML or JSON) into a detector config; a bad one is a ConfigError."""
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"][1:] or first["loc"])
        raise ConfigError(f"bad drift detector config: {loc}: {first['msg']}") from exc
