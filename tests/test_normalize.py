"""The JSON edge, per symbol: FlowSense JSON and Binance records -> the replay path's tick rows."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import bytewax.operators as op
import numpy as np
import orjson
import pytest
from bytewax.connectors.kafka import KafkaSourceMessage
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, cluster_main

from dataflows.live import ticks_in
from dataflows.normalize import Normalizer, Received, symbol_of
from dataflows.publish import TS_RECV_HEADER, capture_messages
from dataflows.readers.binance import read_binance
from flowsense.settings import Settings
from schemas.market import (
    EMPTY_ASK_PX,
    EMPTY_BID_PX,
    TICK_COLUMNS,
    Reject,
    RejectReason,
    TickBatch,
    TickFlag,
)
from schemas.wire import decode_message

BOOK, TRADE = int(TickFlag.BOOK), int(TickFlag.TRADE)
E8 = 10**8
COLUMNS = (*TICK_COLUMNS, "line")


def records(*messages: dict[str, Any], source: str = "ticks.raw/0") -> list[Received]:
    """FlowSense JSON messages as the live flow decodes them, at offsets 0, 1, 2..."""
    out = []
    for offset, body in enumerate(messages):
        rec = decode_message(json.dumps(body).encode(), source=source, line=offset)
        assert not isinstance(rec, Reject), rec
        out.append(Received(rec, source, offset))
    return out


def book(ts: int, bids: list, asks: list, seq: int | None = None, symbol: str = "AMZN") -> dict:
    body = {"v": 1, "type": "book", "symbol": symbol, "ts_event": ts, "bids": bids, "asks": asks}
    return body if seq is None else {**body, "seq": seq}


def quote(ts: int, bid: tuple, ask: tuple, symbol: str = "BTCUSDT") -> dict:
    return {
        "v": 1,
        "type": "quote",
        "symbol": symbol,
        "ts_event": ts,
        "bid_px": bid[0],
        "bid_sz": bid[1],
        "ask_px": ask[0],
        "ask_sz": ask[1],
    }


def trade(ts: int, px: Any, size: Any, side: int, seq: int | None = None, symbol="AMZN") -> dict:
    body = {"v": 1, "type": "trade", "symbol": symbol, "ts_event": ts}
    body |= {"price": px, "size": size, "side": side}
    return body if seq is None else {**body, "seq": seq}


def concat(batches: list[TickBatch]) -> dict[str, np.ndarray]:
    return {c: np.concatenate([getattr(b, c) for b in batches]) for c in COLUMNS}


# --- FlowSense JSON ---------------------------------------------------------------------


def test_json_book_and_trade_records_give_exact_integer_rows() -> None:
    norm = Normalizer("AMZN", levels=3)
    ticks, rejects = norm.update(
        records(
            book(100, [["223.82", "100"], [223.81, 21]], [["223.95", 100]], seq=7),
            trade(101, "223.95", 100, 1),  # no seq: the previous one + 1
            trade(102, 223.82, "0.5", -1, seq=10),
            book(103, [], [["223.95", "1e2"]]),
        )
    )
    assert rejects == []
    assert ticks is not None
    inst = ticks.instrument
    assert (inst.symbol, inst.venue, inst.levels) == ("AMZN", "", 3)
    assert inst.price_scale == inst.size_scale == E8
    assert inst.tick == 10**6  # gcd of the first rows' prices: 0.01
    assert ticks.source == "ticks.raw/0"
    assert ticks.line.tolist() == [0, 1, 2, 3]
    assert ticks.seq.tolist() == [7, 8, 10, 11]
    assert ticks.ts_event.tolist() == [100, 101, 102, 103]
    assert ticks.flags.tolist() == [BOOK, TRADE, TRADE, BOOK]
    first = [[22382 * 10**6, 22381 * 10**6, EMPTY_BID_PX]]
    assert ticks.bid_px.tolist() == first * 3 + [[EMPTY_BID_PX] * 3]
    assert ticks.bid_sz.tolist() == [[100 * E8, 21 * E8, 0]] * 3 + [[0, 0, 0]]
    assert ticks.ask_px.tolist() == [[22395 * 10**6, EMPTY_ASK_PX, EMPTY_ASK_PX]] * 4
    assert ticks.ask_sz.tolist() == [[100 * E8, 0, 0]] * 4
    assert ticks.trade_px.tolist() == [0, 22395 * 10**6, 22382 * 10**6, 0]
    assert ticks.trade_sz.tolist() == [0, 100 * E8, -(E8 // 2), 0]
    assert all(a.dtype == np.int64 for a in (ticks.bid_px, ticks.trade_sz, ticks.seq))


def test_json_quotes_give_level_one_rows_with_empty_sides() -> None:
    norm = Normalizer("BTCUSDT")
    ticks, rejects = norm.update(
        records(
            quote(1, ("61837.63", "3.78826"), ("61837.64", "1.54698"), symbol="BTCUSDT"),
            quote(2, ("61837.63", "0"), ("61837.65", 2), symbol="BTCUSDT"),
            trade(3, "61837.65", "0.001", 1, symbol="BTCUSDT"),
        )
    )
    assert rejects == []
    assert ticks is not None and ticks.instrument.levels == 1
    assert ticks.instrument.tick == 10**6
    assert ticks.bid_px.tolist() == [[6_183_763_000_000], [EMPTY_BID_PX], [EMPTY_BID_PX]]
    assert ticks.bid_sz.tolist() == [[378_826_000], [0], [0]]
    assert ticks.ask_px.tolist() == [[6_183_764_000_000], [6_183_765_000_000], [6_183_765_000_000]]
    assert ticks.ask_sz.tolist() == [[154_698_000], [2 * E8], [2 * E8]]
    assert ticks.trade_sz.tolist() == [0, 0, 100_000]
    assert ticks.seq.tolist() == [0, 1, 2]


def test_json_records_that_cannot_be_rows_are_rejected_and_the_rest_go_on() -> None:
    norm = Normalizer("AMZN", levels=2)
    ticks, rejects = norm.update(
        records(
            trade(1, "10", 1, 1),  # 0 no book yet
            book(2, [["10", "1"], ["11", "1"]], [["12", "1"]]),  # 1 bids rising
            book(3, [["10", "0"]], [["12", "1"]]),  # 2 a level with size 0
            book(4, [["10", "1"]], [["12", "1"], ["13", "2"], ["14", "3"]], seq=5),  # 3 row
            book(5, [["10", "2"]], [["12", "1"]], seq=5),  # 4 repeated seq
            quote(6, ("10", "1"), ("12", "1"), symbol="AMZN"),  # 5 quote on a 2-level book
            trade(7, "12", "1", 1),  # 6 row, seq 6
        )
    )
    assert [(r.line, r.reason) for r in rejects] == [
        (0, RejectReason.BOOK_NOT_READY),
        (1, RejectReason.BAD_VALUE),
        (2, RejectReason.BAD_VALUE),
        (4, RejectReason.BAD_VALUE),
        (5, RejectReason.BAD_VALUE),
    ]
    assert all(r.symbol == "AMZN" and r.source == "ticks.raw/0" for r in rejects)
    assert [r.ts_event for r in rejects] == [1, 2, 3, 5, 6]
    assert ticks is not None
    assert ticks.line.tolist() == [3, 6] and ticks.seq.tolist() == [5, 6]
    assert ticks.ask_px.tolist() == [[12 * E8, 13 * E8]] * 2  # deeper levels cut at 2


def test_json_rows_across_updates_continue_seq_and_keep_the_instrument() -> None:
    norm = Normalizer("AMZN", levels=1)
    first, _ = norm.update(records(book(1, [["10", "1"]], [["10.5", "1"]])))
    again, rejects = norm.update(records(book(2, [["10.01", "1"]], [["10.5", "1"]])))
    assert rejects == [] and first is not None and again is not None
    assert again.instrument == first.instrument  # tick 0.5 from the first rows, kept
    assert again.seq.tolist() == [1]
    assert norm.update([]) == (None, [])


def test_crossed_book_is_left_to_validation() -> None:
    ticks, rejects = Normalizer("AMZN").update(records(book(1, [["11", "1"]], [["10", "1"]])))
    assert rejects == [] and ticks is not None and ticks.bid_px[0, 0] > ticks.ask_px[0, 0]


def test_record_of_the_other_family_is_rejected(binance_dir: Path) -> None:
    lines = gzip.decompress((binance_dir / "spot_btcusdt_20240808.gz").read_bytes()).split(b"\n")
    stamp, _, payload = next(ln for ln in lines if b"@trade" in ln[:60]).partition(b" ")
    binance_trade = decode_message(payload, ts_recv=int(stamp))
    assert symbol_of(binance_trade) == "BTCUSDT"
    norm = Normalizer("BTCUSDT")
    norm.update(records(quote(1, ("1", "1"), ("2", "1"))))
    _, rejects = norm.update([Received(binance_trade, "ticks.raw/1", 9)])
    assert [(r.line, r.reason, r.ts_event) for r in rejects] == [
        (9, RejectReason.BAD_VALUE, int(stamp))
    ]


# --- Binance: the file reader's rows, message by message -------------------------------------

FEEDS = [
    ["spot_btcusdt_20240808.gz"],
    ["spot_ethusdt_20240808.gz", "spot_ethusdt_20240809.gz"],
    ["spot_ethusdt_20240809.gz"],
    ["usdm_btcusdt_20240808.gz"],
    ["usdm_ethusdt_20240808.gz"],
    ["cm_btcusd_perp_20240808.gz"],
]


@pytest.fixture(scope="module")
def binance_dir(data_dir: Path) -> Path:
    return data_dir / "binance"


def capture_records(paths: list[Path]) -> list[Received]:
    """Each line decoded as the live flow decodes its message (key: the publisher's)."""
    out = []
    messages = capture_messages(paths)
    for path in paths:
        for line_no, line in enumerate(gzip.decompress(path.read_bytes()).split(b"\n"), 1):
            if not line.strip():
                continue
            msg = next(messages)
            assert msg.ts_recv == int(line.split(b" ")[0]) and line.endswith(msg.value)
            rec = decode_message(msg.value, key=msg.key, ts_recv=msg.ts_recv)
            assert not isinstance(rec, Reject), (path.name, line_no, rec)
            out.append(Received(rec, str(path), line_no))
    assert next(messages, None) is None
    return out


def feed_in_chunks(items: list[Received]) -> tuple[list[TickBatch], list[Reject]]:
    """Through one Normalizer in uneven chunks (1 to 997 records), then flushed."""
    symbols = {symbol_of(r.record) for r in items}
    assert len(symbols) == 1
    norm = Normalizer(symbols.pop())
    batches, rejects, at, size = [], [], 0, 1
    while at < len(items):
        ticks, refused = norm.update(items[at : at + size])
        batches += [ticks] if ticks is not None else []
        rejects += refused
        at, size = at + size, size * 7 % 997 + 1
    ticks, refused = norm.flush()
    return batches + ([ticks] if ticks is not None else []), rejects + refused


def assert_same_as_reader(paths: list[Path], batches: list[TickBatch], rejects: list[Reject]):
    (want,) = read_binance(paths)
    rank = {str(p): i for i, p in enumerate(sorted(paths, key=lambda p: p.name))}
    assert sorted(rejects, key=lambda r: (rank[r.source], r.line)) == want.rejects
    if len(want.ticks) == 0:
        assert batches == []
        return
    assert {b.instrument for b in batches} == {want.ticks.instrument}
    assert {b.source for b in batches} == {want.ticks.source}
    got = concat(batches)
    for column in COLUMNS:
        np.testing.assert_array_equal(got[column], getattr(want.ticks, column), err_msg=column)


@pytest.mark.slow
@pytest.mark.parametrize("names", FEEDS, ids=lambda names: "+".join(n[:-3] for n in names))
def test_binance_capture_fed_message_by_message_equals_the_file_reader(
    binance_dir: Path, names: list[str]
) -> None:
    paths = [binance_dir / n for n in names]
    batches, rejects = feed_in_chunks(capture_records(paths))
    assert_same_as_reader(paths, batches, rejects)


@pytest.mark.parametrize("name", ["spot_ethusdt_20240808.gz", "usdm_ethusdt_20240808.gz"])
def test_binance_capture_with_a_dropped_line_equals_the_file_reader(
    binance_dir: Path, tmp_path: Path, name: str
) -> None:
    lines = gzip.decompress((binance_dir / name).read_bytes()).split(b"\n")[:20_000]
    depth = [i for i, ln in enumerate(lines) if b"@depth" in ln[:80]]
    dropped = depth[len(depth) // 3]
    copy = tmp_path / name
    copy.write_bytes(gzip.compress(b"\n".join(lines[:dropped] + lines[dropped + 1 :]) + b"\n"))
    batches, rejects = feed_in_chunks(capture_records([copy]))
    gaps = [r for r in rejects if r.reason == RejectReason.SEQUENCE_GAP]
    assert gaps and "gap" in gaps[0].detail and all("stale" in r.detail for r in gaps[1:])
    assert_same_as_reader([copy], batches, rejects)


# --- the live flow's decode and normalize steps, on 1 and 2 workers ---------------------------


@pytest.fixture(params=[1, 2], ids=["1-worker", "2-workers"])
def workers(request) -> int:
    return request.param


def kafka_messages(paths: list[Path], partition: int) -> list[KafkaSourceMessage]:
    return [
        KafkaSourceMessage(
            m.key,
            m.value,
            topic="ticks.raw",
            headers=[(TS_RECV_HEADER, b"%d" % m.ts_recv)],
            offset=offset,
            partition=partition,
            timestamp=(1, 0),
        )
        for offset, m in enumerate(capture_messages(paths))
    ]


def test_live_steps_with_binance_messages_make_the_reader_rows_and_dead_letter_the_rest(
    binance_dir: Path, tmp_path: Path, workers: int
) -> None:
    heads = {}
    for name, rows in (("usdm_ethusdt_20240808.gz", 6000), ("spot_btcusdt_20240808.gz", 4000)):
        lines = gzip.decompress((binance_dir / name).read_bytes()).split(b"\n")[:rows]
        heads[name] = tmp_path / name
        heads[name].write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    perp = kafka_messages([heads["usdm_ethusdt_20240808.gz"]], 0)
    spot = kafka_messages([heads["spot_btcusdt_20240808.gz"]], 1)
    junk = [
        (b"ETHUSDT", b'{"stream": "ethusdt@trade", "data": {'),  # bad JSON
        (b"XRPUSDT", orjson.dumps(quote(1, ("1", "1"), ("2", "1"), symbol="XRPUSDT"))),
        (b"ETHUSDT", orjson.dumps(book(1, [["1", "-1"]], [], symbol="ETHUSDT-PERP"))),
    ]
    junk_msgs = [
        KafkaSourceMessage(k, v, topic="ticks.raw", offset=i, partition=2, timestamp=(1, 5))
        for i, (k, v) in enumerate(junk)
    ]
    bad_header = KafkaSourceMessage(
        b"ETHUSDT",
        perp[-1].value,
        topic="ticks.raw",
        headers=[(TS_RECV_HEADER, b"12x")],
        offset=0,
        partition=3,
    )
    messages = [m for pair in zip(perp, spot, strict=False) for m in pair]
    messages += [*perp[len(spot) :], *junk_msgs, bad_header]
    settings = Settings(kafka={"symbols": ["ETHUSDT-PERP", "BTCUSDT"]})

    flow = Dataflow("json_edge")
    raw = op.input("in", flow, TestingSource(messages, batch_size=700))
    out: list[tuple[str, Any]] = []
    op.output("out", ticks_in(raw, settings), TestingSink(out))
    cluster_main(flow, [], 0, worker_count_per_proc=workers)

    for symbol, name, partition in (
        ("ETHUSDT-PERP", "usdm_ethusdt_20240808.gz", 0),
        ("BTCUSDT", "spot_btcusdt_20240808.gz", 1),
    ):
        mine = [b for s, b in out if s == symbol]
        (want,) = read_binance([heads[name]])
        got = concat([b.ticks for b in mine if b.ticks is not None])
        for column in COLUMNS[:-1]:
            np.testing.assert_array_equal(got[column], getattr(want.ticks, column), column)
        np.testing.assert_array_equal(got["line"] + 1, want.ticks.line)  # offset = line - 1
        rejects = sorted((r.line + 1, r.reason) for b in mine for r in b.rejects)
        assert rejects == [(r.line, r.reason) for r in want.rejects]
        assert all(r.source == f"ticks.raw/{partition}" for b in mine for r in b.rejects)

    dead = {
        (r.source, r.line): (r.reason, r.detail)
        for _, b in out
        for r in b.rejects
        if r.source in ("ticks.raw/2", "ticks.raw/3")
    }
    assert {where: reason for where, (reason, _) in dead.items()} == {
        ("ticks.raw/2", 0): RejectReason.MALFORMED_MESSAGE,
        ("ticks.raw/2", 1): RejectReason.UNKNOWN_SYMBOL,
        ("ticks.raw/2", 2): RejectReason.NEGATIVE_SIZE,
        ("ticks.raw/3", 0): RejectReason.MALFORMED_MESSAGE,
    }
    for i, (_, value) in enumerate(junk):
        assert dead["ticks.raw/2", i][1].endswith(f"raw[hex]={value.hex()}")
