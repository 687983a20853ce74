"""The Kafka sink reports failed deliveries (and only those) back into the worker."""

from __future__ import annotations

import time

import pytest
from bytewax.connectors.kafka import KafkaSinkMessage

from dataflows.kafka import _ProducerPartition


def test_a_failed_delivery_is_raised_at_the_next_write():
    # Nothing listens on port 1: librdkafka gives up on the message after its time-out.
    part = _ProducerPartition(
        {"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": 300, "log_level": 0},
        "out",
    )
    part.write_batch([KafkaSinkMessage(b"k", b"v")])
    deadline = time.monotonic() + 10
    while part.failure is None and time.monotonic() < deadline:
        part.producer.poll(0.1)
    assert part.failure is not None and "Kafka delivery to out failed" in part.failure
    with pytest.raises(RuntimeError, match="Kafka delivery to out failed"):
        part.write_batch([KafkaSinkMessage(b"k", b"v2")])
