"""Kafka goes through Bytewax's connector; no broker here, so only the wrapper is checked."""

from __future__ import annotations

import importlib.util

import pytest

from connectors.kafka import KafkaConfig, kafka_source, to_record
from stream_ml.errors import ConnectorError


def test_config_is_strict() -> None:
    with pytest.raises(ValueError, match="topic"):
        KafkaConfig.model_validate({"brokers": ["b:9092"], "topic": ["x"]})


def test_source_needs_confluent_kafka_or_builds() -> None:
    cfg = KafkaConfig(brokers=["127.0.0.1:9"], topics=["t"])
    if importlib.util.find_spec("confluent_kafka") is None:
        with pytest.raises(ConnectorError, match="confluent-kafka"):
            kafka_source(cfg)
    else:
        assert type(kafka_source(cfg)).__name__ == "KafkaSource"


def test_to_record_names_topic_partition_offset() -> None:
    class Msg:
        topic, partition, offset, value, key = "t", 3, 41, b'{"id": "e1"}', None

    assert to_record(Msg()) == ("t/3@41", b'{"id": "e1"}')
