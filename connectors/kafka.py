"""Kafka, through Bytewax's own connector (``bytewax.connectors.kafka``).

Kafka is not wrapped in our :class:`~connectors.base.Source` protocol: Bytewax's
``KafkaSource`` is already a ``FixedPartitionedSource`` with one partition per topic partition
whose resume state is the Kafka offset of the next message, so Bytewax recovery resumes it
exactly. These helpers build that source and sink from a small config, and turn Kafka messages
into records for :class:`stream_ml.runtime.bytewax.Decoder` (``(offset, record)`` with offset
``"topic/partition@offset"``) and outputs into Kafka messages keyed by the output id.

It needs ``confluent-kafka`` (not a dependency of stream-ml: ``pip install confluent-kafka``),
and it is **not tested against a broker here**: no Kafka runs on this machine or in CI. The tests
only check that this module imports and that a missing ``confluent-kafka`` is a clear error.

>>> cfg = KafkaConfig(brokers=["localhost:9092"], topics=["events"], output_topic="preds")
>>> cfg.starting_offset
'beginning'
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connectors.sinks import _output_id, to_json
from stream_ml.errors import ConnectorError


class KafkaConfig(BaseModel):
    """Brokers, topics to read, the topic to write outputs (and dead letters) to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["kafka"] = "kafka"
    brokers: list[str] = Field(min_length=1)
    topics: list[str] = Field(min_length=1)
    output_topic: str | None = None
    dead_letter_topic: str | None = None
    starting_offset: Literal["beginning", "end"] = "beginning"
    batch_size: int = Field(default=1000, ge=1)
    add_config: dict[str, str] = Field(default_factory=dict)


def _kafka() -> Any:
    try:
        import bytewax.connectors.kafka as bk
    except ImportError as exc:
        raise ConnectorError(
            "the Kafka connector needs confluent-kafka: pip install confluent-kafka"
        ) from exc
    return bk


def kafka_source(cfg: KafkaConfig) -> Any:
    """Bytewax's ``KafkaSource`` for ``cfg`` (resume state: the next offset per partition)."""
    bk = _kafka()
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END

    start = OFFSET_BEGINNING if cfg.starting_offset == "beginning" else OFFSET_END
    return bk.KafkaSource(
        cfg.brokers,
        cfg.topics,
        tail=True,
        starting_offset=start,
        add_config=dict(cfg.add_config),
        batch_size=cfg.batch_size,
        raise_on_errors=False,
    )


def kafka_sink(cfg: KafkaConfig, topic: str | None = None) -> Any:
    """Bytewax's ``KafkaSink`` for ``cfg`` (outputs, or dead letters with ``topic=``)."""
    bk = _kafka()
    return bk.KafkaSink(cfg.brokers, topic or cfg.output_topic, add_config=dict(cfg.add_config))


def to_record(msg: Any) -> tuple[str, Any]:
    """A ``KafkaSourceMessage`` (or ``KafkaError``) as ``(offset, record)`` for the Decoder."""
    err = getattr(msg, "err", None)
    if err is not None and not hasattr(msg, "value"):
        return f"kafka-error@{id(msg)}", ConnectorError(str(err))
    return f"{msg.topic}/{msg.partition}@{msg.offset}", msg.value


def to_message(output: dict[str, Any]) -> Any:
    """An output dict as a ``KafkaSinkMessage`` keyed by its output id (for log compaction)."""
    bk = _kafka()
    return bk.KafkaSinkMessage(_output_id(output).encode(), to_json(output).encode())
