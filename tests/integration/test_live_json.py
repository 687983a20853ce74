"""The JSON edge on the real servers: a raw Binance capture on Kafka gives the replay's features.

A capture is published line by line as JSON (``flowsense publish --format
json``), with FlowSense JSON messages of an allowed symbol and one malformed
message of each kind; the live flow must make of the capture exactly what the
replay of the file makes, and dead-letter each malformed message with its
reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from bytewax.testing import run_main
from confluent_kafka import Producer

from dataflows.archive import run_archive
from dataflows.live import build_live_flow
from dataflows.publish import json_messages, publish_json
from dataflows.sinks import read_table
from dataflows.stores.questdb import execute
from flowsense.commands.replay import run_replay
from flowsense.settings import Settings
from schemas import topics
from tests.integration.helpers import consume_all, reset, wal_applied

pytestmark = pytest.mark.integration
CAPTURE = (
    Path(__file__).resolve().parents[2].parent / "shared/data/binance/usdm_ethusdt_20240808.gz"
)
SYMBOL = "ETHUSDT-PERP"
OTHER = "FSJSON"  # an allowed symbol fed by FlowSense JSON messages
T0 = 1_723_161_600_000_000_000


def _msg(body: dict) -> bytes:
    return json.dumps(body).encode()


def _book(ts: int, bids: list, asks: list) -> dict:
    return {"v": 1, "type": "book", "symbol": OTHER, "ts_event": ts, "bids": bids, "asks": asks}


def _trade(symbol: str, ts: int, **fields) -> dict:
    return {"v": 1, "type": "trade", "symbol": symbol, "ts_event": ts, **fields}


GOOD = [
    (OTHER, _msg(_book(T0, [["100.5", "2"], ["100.4", "1"]], [["100.6", "3"]]))),
    (OTHER, _msg(_trade(OTHER, T0 + 1, price="100.6", size="0.5", side=1))),
]
MALFORMED = [
    ("bad JSON", OTHER, b'{"v": 1, "type": "book", "symbol": "FSJSON"', "malformed_message"),
    (
        "missing field",
        OTHER,
        _msg(_trade(OTHER, T0 + 2, size=1, side=1)),
        "malformed_message",
    ),
    (
        "missing Binance field",
        "ETHUSDT",
        _msg({"stream": "ethusdt@depth@0ms", "data": {"s": "ETHUSDT", "U": 1, "b": [], "a": []}}),
        "malformed_message",
    ),
    ("crossed book", OTHER, _msg(_book(T0 + 3, [["101", "1"]], [["100.6", "1"]])), "crossed_book"),
    ("negative size", OTHER, _msg(_book(T0 + 4, [["100", "-1"]], [])), "negative_size"),
    (
        "unknown symbol",
        "DOGEUSDT",
        _msg(_trade("DOGEUSDT", T0, price="0.1", size="10", side=-1)),
        "unknown_symbol",
    ),
]


def _produce(settings: Settings, messages: list[tuple[str, bytes]]) -> list[tuple[str, int]]:
    """Send in order; where each landed, ``(topic/partition, offset)``."""
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap, "enable.idempotence": True})
    where: list[tuple[str, int] | None] = [None] * len(messages)

    def delivered(i: int):
        def report(err, msg) -> None:
            assert err is None, err
            where[i] = (f"{msg.topic()}/{msg.partition()}", msg.offset())

        return report

    for i, (key, value) in enumerate(messages):
        producer.produce(topics.TICKS_RAW, value, key.encode(), on_delivery=delivered(i))
    assert producer.flush(30) == 0
    assert all(w is not None for w in where)
    return where  # type: ignore[return-value]


@pytest.fixture(scope="module")
def json_run(services, tmp_path_factory):
    # merge_wait_ms None: an exact event-time merge over the backlog, as the replay does
    kafka = services.kafka.model_copy(update={"symbols": [SYMBOL, OTHER], "merge_wait_ms": None})
    settings = services.model_copy(update={"kafka": kafka})
    reset(settings)
    replay_dir = tmp_path_factory.mktemp("replay-json") / "run"
    run_replay(settings, CAPTURE, run_dir=replay_dir)
    capture = json_messages(CAPTURE)
    assert publish_json(settings.kafka.bootstrap, capture) == len(capture) == 74_655
    where = _produce(settings, GOOD + [(key, value) for _, key, value, _ in MALFORMED])
    run_main(build_live_flow(settings, from_beginning=True, until_idle_s=3.0))
    run_archive(settings, until_idle_s=1.0)  # QuestDB catches up from the output topics
    letters = [json.loads(v) for _, v in consume_all(settings, topics.TICKS_DEADLETTER)]
    return settings, replay_dir, where[len(GOOD) :], letters


def _features(settings: Settings, symbol: str) -> pl.DataFrame:
    rows = execute(
        settings.questdb,
        "SELECT seq, ts, ofi, mid, microprice FROM features "
        f"WHERE symbol = '{symbol}' ORDER BY seq",
    )["dataset"]
    return pl.DataFrame(rows, schema=["seq", "ts", "ofi", "mid", "microprice"], orient="row")


def test_questdb_features_of_the_capture_equal_the_replay_row_for_row(json_run):
    settings, replay_dir, _, _ = json_run
    want = read_table(replay_dir, "features").filter(pl.col("symbol") == SYMBOL).sort("seq")
    assert want.height > 20_000
    assert wal_applied(settings, "features", want.height + len(GOOD)) == want.height + len(GOOD)
    got = _features(settings, SYMBOL)
    assert got["seq"].to_list() == want["seq"].to_list()
    np.testing.assert_array_equal(got["ofi"].to_numpy(), want["ofi"].to_numpy())
    np.testing.assert_array_equal(got["mid"].to_numpy(), want["mid"].to_numpy())
    np.testing.assert_allclose(
        got["microprice"].to_numpy(), want["microprice"].to_numpy(), rtol=1e-15
    )
    # ts_event is the capture's receive time, carried in the ts_recv header
    ts = pl.Series(got["ts"]).str.to_datetime(time_unit="ns").dt.epoch("ns")
    assert ts.to_list() == want["ts_event"].to_list()


def test_flowsense_json_messages_become_rows(json_run):
    settings, _, _, _ = json_run
    got = _features(settings, OTHER)
    assert got["seq"].to_list() == [0, 1]
    assert got["mid"].to_list() == [100.55, 100.55]


def test_each_malformed_message_is_dead_lettered_with_its_reason(json_run):
    _, _, where, letters = json_run
    by_place = {(d["source"], d["line"]): d for d in letters}
    for (what, _, value, reason), place in zip(MALFORMED, where, strict=True):
        letter = by_place.get(place)
        assert letter is not None, f"{what}: not dead-lettered"
        assert letter["reason"] == reason, what
        if reason != "crossed_book":  # refused at decode: the raw bytes ride along
            assert letter["detail"].endswith(f"raw[hex]={value.hex()}"), what


def test_the_capture_rejects_are_the_replay_rejects(json_run):
    _, replay_dir, where, letters = json_run
    want = read_table(replay_dir, "rejects").filter(pl.col("symbol") == SYMBOL)
    assert want.height > 0
    own = set(where)
    got = sorted(
        (d["line"] + 1, d["reason"])  # one message per line, offsets from 0 on a fresh topic
        for d in letters
        if d["symbol"] == SYMBOL and (d["source"], d["line"]) not in own
    )
    assert got == sorted(zip(want["line"].to_list(), want["reason"].to_list(), strict=True))
