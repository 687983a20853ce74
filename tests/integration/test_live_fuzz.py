"""Fuzz: 10 000 generated malformed messages mixed with good ones through the live flow.

No worker may crash; every bad message must be in ``ticks.deadletter`` (by its
partition and offset) with a reason, and every good one must become a row.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from bytewax.testing import run_main
from confluent_kafka import Producer

from dataflows.live import build_live_flow
from schemas import topics, wire
from tests.integration.helpers import consume_all, reset
from tests.malformed import SYMBOL, messages

pytestmark = pytest.mark.integration
BAD, GOOD = 10_000, 3_000


def test_ten_thousand_malformed_messages_are_dead_lettered_and_good_ones_go_through(services):
    kafka = services.kafka.model_copy(update={"symbols": [SYMBOL]})
    settings = services.model_copy(update={"kafka": kafka})
    reset(settings)
    sent = messages(BAD, GOOD, seed=7)
    where: list[tuple[str, int] | None] = [None] * len(sent)

    def delivered(i: int):
        def report(err, msg) -> None:
            assert err is None, err
            where[i] = (f"{msg.topic()}/{msg.partition()}", msg.offset())

        return report

    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap, "linger.ms": 5})
    for i, m in enumerate(sent):
        producer.produce(topics.TICKS_RAW, m.value, m.key, on_delivery=delivered(i))
        producer.poll(0)
    assert producer.flush(60) == 0

    run_main(build_live_flow(settings, from_beginning=True, until_idle_s=3.0))  # no raise

    letters = [json.loads(v) for _, v in consume_all(settings, topics.TICKS_DEADLETTER)]
    by_place = {(d["source"], d["line"]): d for d in letters}
    missing = [
        m.kind for m, w in zip(sent, where, strict=True) if m.kind != "good" and w not in by_place
    ]
    assert missing == []
    assert len(letters) == BAD  # and nothing good among them
    reasons = Counter(
        (m.kind, by_place[w]["reason"]) for m, w in zip(sent, where, strict=True) if w in by_place
    )
    assert reasons[("unknown_symbol", "unknown_symbol")] == sum(
        m.kind == "unknown_symbol" for m in sent
    )
    assert reasons[("negative_size", "negative_size")] == sum(
        m.kind == "negative_size" for m in sent
    )
    assert all(reason for (_, reason) in reasons)
    rows = sum(
        wire.decode_table(v)[1].num_rows
        for k, v in consume_all(settings, topics.FEATURES)
        if k == SYMBOL.encode()
    )
    assert rows == GOOD
