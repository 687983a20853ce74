"""Wire formats: binary envelopes round-trip real ticks bit for bit; the JSON edge never raises."""

from __future__ import annotations

import gzip
import itertools
import json
import re
import struct
from collections import Counter
from decimal import Decimal

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dataflows import tables
from dataflows.readers.lobster import read_lobster
from operators.features import FeatureState
from operators.predictors import make_predictor
from operators.validate import Validator
from schemas.market import TICK_COLUMNS, Instrument, Reject, RejectReason, TickBatch
from schemas.topics import TICKS_RAW
from schemas.trading import Alert, AlertSeverity, OrderDenied, OrderFilled, Side, SubmitOrder
from schemas.wire import (
    JSON_SCALE,
    MAGIC,
    WIRE_VERSION,
    BinanceBookTicker,
    BinanceDepthDiff,
    BinanceDepthSnapshot,
    BinanceTrade,
    TableKind,
    WireBook,
    WireError,
    WireQuote,
    WireTrade,
    decimal_units,
    decode_message,
    decode_table,
    decode_ticks,
    encode_table,
    encode_ticks,
    rescale,
)
from tests.conftest import BINANCE, lobster

MALFORMED = RejectReason.MALFORMED_MESSAGE


def assert_identical(got: TickBatch, want: TickBatch) -> None:
    """Same instrument, source and every column: values, dtype and shape."""
    assert got.instrument == want.instrument
    assert got.source == want.source
    for name in (*TICK_COLUMNS, "line"):
        a, b = getattr(got, name), getattr(want, name)
        if b is None:
            assert a is None, name
            continue
        assert a.dtype == b.dtype, name
        assert a.shape == b.shape, name
        assert np.array_equal(a, b), name


@pytest.fixture(scope="module")
def goog() -> TickBatch:
    return read_lobster(lobster("GOOG", "message", 10)).ticks


@pytest.fixture(scope="module")
def amzn() -> TickBatch:
    return read_lobster(lobster("AMZN", "message", 5)).ticks


# --- binary ticks --------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["GOOG", "AMZN"])
@pytest.mark.parametrize("rows", [1, 64, 1024, 16384])
def test_real_ticks_round_trip_bit_for_bit_at_every_batch_size(symbol, rows, goog, amzn):
    ticks = {"GOOG": goog, "AMZN": amzn}[symbol]
    if rows == 1:
        ticks = ticks.take(slice(0, 3000))
    batches = ticks.split(rows)
    messages = [encode_ticks(b) for b in batches]
    decoded = [decode_ticks(m) for m in messages]
    for got, want in zip(decoded, batches, strict=True):
        assert_identical(got, want)
    ins = ticks.instrument
    # 48-byte fixed header, the three strings padded to 8, then per row: 5 int64 vectors
    # (line included), 4 int64 book matrices of ``levels`` and the uint8 flags
    head = 48 + sum(len(t.encode()) for t in (ins.symbol, ins.venue, ticks.source))
    head += -head % 8
    per_row = 8 * (5 + 4 * ins.levels) + 1
    assert [len(m) for m in messages] == [head + per_row * len(b) for b in batches]


def test_whole_day_round_trips_and_decoded_views_are_read_only(goog):
    message = encode_ticks(goog)
    got = decode_ticks(message)
    assert_identical(got, goog)
    assert not got.bid_px.flags.writeable  # zero-copy views of the message
    copied = decode_ticks(message, copy=True)
    assert_identical(copied, goog)
    assert copied.bid_px.flags.writeable and copied.flags.flags.writeable
    copied.bid_px[0, 0] += 1  # a copy: the message is untouched
    assert_identical(decode_ticks(message), goog)


def test_decoded_batch_gives_the_same_validation_and_features(amzn):
    ticks = amzn.take(slice(0, 5000))
    got = decode_ticks(encode_ticks(ticks))
    ok_a, rej_a = Validator().update(ticks)
    ok_b, rej_b = Validator().update(got)
    assert rej_a == rej_b and len(ok_a) == len(ok_b)
    fa = FeatureState(ticks.instrument).update(ticks)
    fb = FeatureState(got.instrument).update(got)
    assert fa.columns.keys() == fb.columns.keys()
    for name in fa.columns:
        assert np.array_equal(fa[name], fb[name], equal_nan=True), name


def test_batch_without_line_and_empty_batch_round_trip():
    ins = Instrument("BTCUSDT-PERP", 10**8, 10**8, 10**7, 3, "BINANCE-USDM")
    empty = TickBatch.empty(ins, source="kafka://ticks.raw/0")
    assert_identical(decode_ticks(encode_ticks(empty)), empty)
    one = TickBatch(
        instrument=ins,
        ts_event=np.array([1], np.int64),
        seq=np.array([0], np.int64),
        flags=np.array([3], np.uint8),
        bid_px=np.array([[5, 4, -(2**62)]], np.int64),
        bid_sz=np.array([[1, 2, 0]], np.int64),
        ask_px=np.array([[6, 2**62, 2**62]], np.int64),
        ask_sz=np.array([[7, 0, 0]], np.int64),
        trade_px=np.array([6], np.int64),
        trade_sz=np.array([-3], np.int64),
    )
    got = decode_ticks(encode_ticks(one))
    assert got.line is None
    assert_identical(got, one)


I64 = st.integers(-(2**63), 2**63 - 1)
POSITIVE = st.integers(1, 2**63 - 1)


@st.composite
def tick_batches(draw) -> TickBatch:
    n, levels = draw(st.integers(0, 20)), draw(st.integers(1, 12))
    ins = Instrument(
        symbol=draw(st.text(min_size=1, max_size=12)),
        price_scale=draw(POSITIVE),
        size_scale=draw(POSITIVE),
        tick=draw(POSITIVE),
        levels=levels,
        venue=draw(st.text(max_size=12)),
    )

    def vec() -> np.ndarray:
        return draw(arrays(np.int64, n, elements=I64))

    def mat() -> np.ndarray:
        return draw(arrays(np.int64, (n, levels), elements=I64))

    return TickBatch(
        instrument=ins,
        ts_event=vec(),
        seq=vec(),
        flags=draw(arrays(np.uint8, n)),
        bid_px=mat(),
        bid_sz=mat(),
        ask_px=mat(),
        ask_sz=mat(),
        trade_px=vec(),
        trade_sz=vec(),
        source=draw(st.text(max_size=40)),
        line=draw(st.none() | st.just(vec())),
    )


@settings(max_examples=60, deadline=None)
@given(batch=tick_batches())
def test_any_batch_round_trips(batch):
    message = encode_ticks(batch)
    assert len(message) % 8 == len(batch) % 8  # every int64 column starts 8-aligned
    assert_identical(decode_ticks(message), batch)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cuts=st.lists(st.integers(0, 4000), max_size=6),
    levels=st.integers(1, 5),
)
def test_real_ticks_split_anywhere_with_any_levels_reassemble(amzn, cuts, levels):
    ticks = amzn.take(slice(0, 4000))
    # the first ``levels`` levels of the real book: strided, non-contiguous columns
    ticks = TickBatch(
        instrument=Instrument("AMZN", 10_000, 1, 100, levels, "NASDAQ"),
        ts_event=ticks.ts_event,
        seq=ticks.seq,
        flags=ticks.flags,
        bid_px=ticks.bid_px[:, :levels],
        bid_sz=ticks.bid_sz[:, :levels],
        ask_px=ticks.ask_px[:, :levels],
        ask_sz=ticks.ask_sz[:, :levels],
        trade_px=ticks.trade_px,
        trade_sz=ticks.trade_sz,
        source=ticks.source,
        line=ticks.line,
    )
    bounds = [0, *sorted(cuts), len(ticks)]
    pieces = [
        decode_ticks(encode_ticks(ticks.take(slice(a, b)))) for a, b in itertools.pairwise(bounds)
    ]
    for name in (*TICK_COLUMNS, "line"):
        joined = np.concatenate([getattr(p, name) for p in pieces])
        assert np.array_equal(joined, getattr(ticks, name)), name
    assert {p.instrument for p in pieces} == {ticks.instrument}


def _small_message() -> bytes:
    ins = Instrument("GOOG", 10_000, 1, 100, 2, "NASDAQ")
    batch = TickBatch(
        instrument=ins,
        ts_event=np.array([10, 11], np.int64),
        seq=np.array([0, 1], np.int64),
        flags=np.array([1, 3], np.uint8),
        bid_px=np.array([[5, 4], [5, 4]], np.int64),
        bid_sz=np.array([[1, 2], [1, 1]], np.int64),
        ask_px=np.array([[6, 7], [6, 7]], np.int64),
        ask_sz=np.array([[7, 8], [7, 8]], np.int64),
        trade_px=np.array([0, 5], np.int64),
        trade_sz=np.array([0, -1], np.int64),
        source="lobster",
        line=np.array([1, 2], np.int64),
    )
    return encode_ticks(batch)


def test_unknown_version_is_refused_by_both_decoders():
    message = bytearray(_small_message())
    assert message[:3] == MAGIC and message[3] == WIRE_VERSION
    message[3] = WIRE_VERSION + 1
    with pytest.raises(WireError, match="unsupported wire version 2"):
        decode_ticks(bytes(message))
    reject = decode_message(bytes(message), key=b"GOOG", line=42)
    assert isinstance(reject, Reject)
    assert (reject.reason, reject.symbol, reject.source, reject.line) == (
        MALFORMED,
        "GOOG",
        TICKS_RAW,
        42,
    )
    assert "version 2" in reject.detail


@pytest.mark.parametrize(
    ("patch", "detail"),
    [
        (lambda m: m[:-1], "expected"),  # truncated
        (lambda m: m + b"\0", "expected"),  # trailing bytes
        (lambda m: m[:5], "shorter than its prefix|truncated"),
        (lambda m: m[:4] + b"\x02" + m[5:], "expected a ticks message, got kind table"),
        (lambda m: m[:4] + b"\x07" + m[5:], "got kind 7"),
        (lambda m: m[:5] + b"\x02" + m[6:], "unknown ticks flags"),
        (lambda m: m[:16] + struct.pack("<q", 0) + m[24:], "bad ticks header"),  # price_scale 0
        (lambda m: m[:8] + struct.pack("<I", 3) + m[12:], "expected"),  # row count lies
    ],
)
def test_damaged_binary_messages_are_refused(patch, detail):
    bad = patch(_small_message())
    with pytest.raises(WireError, match=detail):
        decode_ticks(bad)
    reject = decode_message(bad)
    assert isinstance(reject, Reject) and reject.reason == MALFORMED
    assert re.search(detail, reject.detail)


def test_every_truncation_of_a_message_is_a_reject():
    message = _small_message()
    for end in range(len(message)):
        reject = decode_message(message[:end])
        assert isinstance(reject, Reject) and reject.reason == MALFORMED, end


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_damaged_bytes_never_raise(data):
    message = bytearray(_small_message())
    for _ in range(data.draw(st.integers(1, 4))):
        message[data.draw(st.integers(0, len(message) - 1))] = data.draw(st.integers(0, 255))
    result = decode_message(bytes(message))
    assert isinstance(result, Reject | TickBatch)


# --- tables ----------------------------------------------------------------------------------


def _tables(goog: TickBatch) -> dict[str, pa.Table]:
    ticks = goog.take(slice(0, 2000))
    features = FeatureState(ticks.instrument).update(ticks)
    predictions = make_predictor("ofi").update(features)
    order = SubmitOrder("o1", "GOOG", 5, Side.BUY, 10.0, "GOOG:ofi:3", 580.1, 580.2, 580.15)
    denied = OrderDenied("o2", "GOOG", 6, Side.SELL, 5.0, "GOOG:ofi:4", "max_position", "10 > 5")
    fill = OrderFilled("f1", "o1", "GOOG", 7, Side.BUY, 10.0, 580.2, 0.01, 10.0)
    alert = Alert("a1", "GOOG", 8, AlertSeverity.WARNING, "drawdown", "drawdown 2 %")
    reject = Reject("GOOG", "x.csv", 3, RejectReason.CROSSED_BOOK, "bid >= ask", 9)
    return {
        "features": tables.features_table("GOOG", features),
        "predictions": tables.predictions_table("GOOG", predictions),
        "orders": tables.orders_table("GOOG", [order, denied]),
        "fills": tables.fills_table("GOOG", [fill]),
        "alerts": tables.alerts_table("GOOG", [alert]),
        "rejects": tables.rejects_table("GOOG", [reject]),
    }


def test_table_envelopes_round_trip(goog):
    for kind, table in _tables(goog).items():
        got_kind, got = decode_table(encode_table(kind, table))
        assert got_kind == TableKind(kind)
        assert got.equals(table, check_metadata=True), kind
        empty = table.slice(0, 0)
        assert decode_table(encode_table(kind, empty))[1].equals(empty)


def test_table_envelope_keeps_nulls_and_schema_metadata(goog):
    orders = _tables(goog)["orders"].replace_schema_metadata({b"run": b"r1"})
    assert orders.column("bid_px").null_count == 1
    _, got = decode_table(encode_table(TableKind.ORDERS, orders))
    assert got.schema.metadata == {b"run": b"r1"} and got.column("bid_px").null_count == 1


def test_table_envelope_refuses_unknown_kinds_and_other_messages():
    table = pa.table({"a": [1]})
    with pytest.raises(ValueError):
        encode_table("positions", table)
    message = bytearray(encode_table("fills", table))
    assert message[9:14] == b"fills"
    message[9:14] = b"fillz"
    with pytest.raises(WireError, match="unknown table kind 'fillz'"):
        decode_table(bytes(message))
    with pytest.raises(WireError, match="expected a table message"):
        decode_table(_small_message())
    with pytest.raises(WireError, match="expected a ticks message"):
        decode_ticks(encode_table("fills", table))
    with pytest.raises(WireError, match="Arrow IPC"):
        decode_table(encode_table("fills", table)[:-9])
    reject = decode_message(encode_table("fills", table))
    assert isinstance(reject, Reject) and "expected a ticks message" in reject.detail


# --- exact decimals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("61800.20", 6_180_020_000_000),
        ("0.00000001", 1),
        ("0.00000000", 0),
        ("100", 10_000_000_000),
        (100, 10_000_000_000),
        ("1e-3", 100_000),
        ("2.2382E2", 22_382_000_000),
        ("-1.5", -150_000_000),
        ("1.234000000000", 123_400_000),  # zeros beyond 8 decimals are fine
        ("92233720368.54775807", 2**63 - 1),
    ],
)
def test_decimal_units_are_exact(text, units):
    assert decimal_units(text) == units
    assert Decimal(str(text)) * JSON_SCALE == units  # independent: decimal arithmetic


@pytest.mark.parametrize(
    "text",
    ["", "abc", "1.", ".5", "+1", "1,5", " 1", "nan", "inf", "0x10", "1.000000001", "١٢", "1e99",
     "92233720368.54775808", True, None, [1], 1.5],
)  # fmt: skip
def test_decimal_units_refuse_what_is_not_an_exact_decimal(text):
    with pytest.raises(Exception):  # noqa: B017 - WireError, or the float marker for 1.5
        decimal_units(text)


def test_rescale_is_exact():
    assert rescale(22_382_000_000, JSON_SCALE, 10_000) == 2_238_200
    with pytest.raises(ValueError):  # 1.5 shares is not a whole share
        rescale(150_000_000, JSON_SCALE, 1)


# --- FlowSense JSON v1 ----------------------------------------------------------------------


def test_flowsense_book_decodes_to_the_hand_computed_ints():
    raw = (
        b'{"v": 1, "type": "book", "symbol": "AMZN", "ts_event": 1340285400017101088, "seq": 7,'
        b' "bids": [["223.82", "100"], [223.81, 21]], "asks": [["223.95", 100], ["224", "0.5"]]}'
    )
    got = decode_message(raw, key=b"AMZN")
    # 223.82 x 10**8 = 22 382 000 000; 100 x 10**8 = 10 000 000 000; 0.5 x 10**8 = 50 000 000
    assert got == WireBook(
        symbol="AMZN",
        ts_event=1_340_285_400_017_101_088,
        seq=7,
        bids=((22_382_000_000, 10_000_000_000), (22_381_000_000, 2_100_000_000)),
        asks=((22_395_000_000, 10_000_000_000), (22_400_000_000, 50_000_000)),
    )
    assert rescale(got.bids[0][0], JSON_SCALE, 10_000) == 2_238_200  # LOBSTER price units


def test_flowsense_quote_and_trade_decode():
    quote = decode_message(
        b'{"v":1,"type":"quote","symbol":"BTCUSDT","ts_event":1723161254087891268,'
        b'"bid_px":"61837.63","bid_sz":"3.78826","ask_px":"61837.64","ask_sz":"1.54698"}'
    )
    assert quote == WireQuote(
        "BTCUSDT", 1723161254087891268, None, 6_183_763_000_000, 378_826_000,
        6_183_764_000_000, 154_698_000,
    )  # fmt: skip
    trade = decode_message(
        b'{"v":1,"type":"trade","symbol":"AMZN","ts_event":5,"seq":8,"price":"223.95",'
        b'"size":100,"side":-1}'
    )
    assert trade == WireTrade("AMZN", 5, 8, 22_395_000_000, 10_000_000_000, -1)
    assert trade.signed_size == -10_000_000_000


def test_json_numbers_are_read_from_their_text_not_through_a_float():
    # 19 significant digits: the nearest double is 12345678901.123457..., not this
    raw = (
        b'{"v":1,"type":"trade","symbol":"X","ts_event":1,'
        b'"price":12345678901.12345678,"size":1e-8,"side":1}'
    )
    got = decode_message(raw)
    assert isinstance(got, WireTrade)
    assert got.price == 1_234_567_890_112_345_678 and got.size == 1
    assert int(12345678901.12345678 * JSON_SCALE) != got.price
    # 0.1 + 0.2 as a double has 17 decimals: refused, not rounded
    raw = b'{"v":1,"type":"trade","symbol":"X","ts_event":1,"price":0.30000000000000004,'
    got = decode_message(raw + b'"size":1,"side":1}')
    assert isinstance(got, Reject) and "more than 8 decimals" in got.detail


BOOK = {"v": 1, "type": "book", "symbol": "A", "ts_event": 1, "bids": [["1", "1"]], "asks": []}


def _with(**changes) -> bytes:
    msg = {**BOOK, **changes}
    return orjson.dumps({k: v for k, v in msg.items() if v is not ...})


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"", "empty"),
        (b"  \n", "empty"),
        (None, "empty"),
        (b"{", "bad JSON"),
        (b'{"v":1,', "bad JSON"),
        (b"\xff\xfe{}", "bad JSON"),
        (b'{"v": NaN}', "bad JSON"),
        (b"[" * 5000, "bad JSON"),
        (b"[1, 2]", "not an object"),
        (b"42", "not an object"),
        (b'"book"', "not an object"),
        (b"null", "not an object"),
        (b'{"hello": 1}', "neither"),
        (_with(v=2), "unsupported FlowSense JSON version"),
        (_with(v="1"), "unsupported FlowSense JSON version"),
        (_with(v=True), "unsupported FlowSense JSON version"),
        (_with(v=1.0), "unsupported FlowSense JSON version"),
        (_with(type=...), "missing field 'type'"),
        (_with(type="depth"), "unknown type"),
        (_with(type=None), "unknown type"),
        (_with(symbol=...), "missing field"),
        (_with(ts_event=...), "missing field"),
        (_with(bids=...), "missing field"),
        (_with(extra=1), "unknown field"),
        (_with(symbol=""), "'symbol' must be a non-empty string"),
        (_with(symbol=7), "'symbol' must be a non-empty string"),
        (_with(ts_event="1"), "'ts_event' must be an integer"),
        (_with(ts_event=-1), "'ts_event' must be an integer"),
        (_with(ts_event=1.5), "'ts_event' must be an integer"),
        (_with(ts_event=2**63), "'ts_event' must be an integer"),
        (_with(seq="3"), "'seq' must be an integer"),
        (_with(bids={"1": "1"}), "must be a list"),
        (_with(bids=[["1"]]), r"bids\[0\] must be \[price, size\]"),
        (_with(bids=[["1", "1", "1"]]), r"bids\[0\] must be \[price, size\]"),
        (_with(bids=["12"]), r"bids\[0\] must be \[price, size\]"),
        (_with(bids=[{"p": 1, "q": 2}]), r"bids\[0\] must be \[price, size\]"),
        (_with(bids=[["abc", "1"]]), "not a decimal number"),
        (_with(bids=[["1", None]]), "expected a decimal string or number"),
        (_with(bids=[["1", True]]), "expected a decimal string or number"),
        (_with(bids=[[[1], "1"]]), "expected a decimal string or number"),
        (_with(asks=[["1.123456789", "1"]]), "more than 8 decimals"),
        (_with(asks=[["1e40", "1"]]), "does not fit int64"),
        (b'{"stream": "btcusdt@depth@100ms"}', "missing field 'data'"),
        (b'{"stream": "btcusdt@kline_1m", "data": {}}', "unsupported stream"),
        (b'{"stream": "btcusdt", "data": {}}', "'stream' must be"),
        (b'{"stream": 5, "data": {}}', "'stream' must be"),
        (b'{"stream": "btcusdt@trade", "data": [1]}', "'data' must be an object"),
        (b'{"stream": "btcusdt@trade", "data": {"s": "BTCUSDT", "p": "1", "q": "1"}}', "'m'"),
        (
            b'{"stream":"btcusdt@trade","data":{"s":"BTCUSDT","p":"1","q":"1","m":"yes"}}',
            "'m' must be a boolean",
        ),
        (
            b'{"stream":"x@depth","data":{"s":"X","U":5,"u":4,"b":[],"a":[]}}',
            "U=5 > u=4",
        ),
        (b'{"stream":"x@depth","data":{"s":"X","U":"5","u":6,"b":[],"a":[]}}', "'U' must be"),
        (b'{"stream":"x@depth","data":{"s":"X","U":5,"u":6,"b":[]}}', "missing field 'a'"),
        (
            b'{"stream":"x@depth","data":{"s":"X","U":5,"u":6,"b":[],"a":[],"E":"now"}}',
            "'E' must be a time",
        ),
        (
            b'{"stream":"x@bookTicker","data":{"s":"X","u":1,"b":"1","B":"1","a":"2"}}',
            "missing field 'A'",
        ),
        (b'{"lastUpdateId": 5, "bids": []}', "missing field 'asks'"),
        (b'{"lastUpdateId": -5, "bids": [], "asks": []}', "'lastUpdateId' must be"),
    ],
)
def test_malformed_messages_are_rejects_with_a_reason(raw, detail):
    got = decode_message(raw, key=b"X", ts_recv=99, source="ticks.raw/3", line=17)
    assert isinstance(got, Reject), got
    assert got.reason == MALFORMED
    assert re.search(detail, got.detail), got.detail
    assert (got.symbol, got.source, got.line, got.ts_event) == ("X", "ticks.raw/3", 17, 99)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (_with(bids=[["1", "-1"]]), RejectReason.NEGATIVE_SIZE),
        (_with(asks=[["1", -0.5]]), RejectReason.NEGATIVE_SIZE),
        (_with(asks=[["46116860185", "1"]]), RejectReason.BAD_VALUE),  # >= 2**62 units
        (b'{"v":1,"type":"trade","symbol":"A","ts_event":1,"price":1,"size":0,"side":1}',
         RejectReason.BAD_VALUE),
        (b'{"v":1,"type":"trade","symbol":"A","ts_event":1,"price":1,"size":1,"side":0}',
         RejectReason.BAD_VALUE),
        (b'{"stream":"x@bookTicker","data":{"s":"X","u":1,"b":"1","B":"-1","a":"2","A":"1"}}',
         RejectReason.NEGATIVE_SIZE),
    ],
)  # fmt: skip
def test_bad_values_are_rejects_with_their_own_reason(raw, reason):
    got = decode_message(raw)
    assert isinstance(got, Reject) and got.reason == reason, got


def test_spot_snapshot_takes_the_key_as_symbol_and_needs_one():
    raw = b'{"lastUpdateId": 7, "bids": [["1.5", "2"]], "asks": [["1.6", "0.1"]]}'
    got = decode_message(raw, key=b"BTCUSDT", ts_recv=3)
    assert got == BinanceDepthSnapshot(
        "BTCUSDT", False, 7, ((150_000_000, 200_000_000),), ((160_000_000, 10_000_000),), 0, 0, 3
    )
    got = decode_message(raw)
    assert isinstance(got, Reject) and "no key" in got.detail


KEYS = ["v", "type", "symbol", "ts_event", "seq", "bids", "asks", "price", "size", "side",
        "bid_px", "bid_sz", "ask_px", "ask_sz", "stream", "data", "s", "U", "u", "pu", "b", "a",
        "B", "A", "p", "q", "m", "X", "E", "T", "lastUpdateId"]  # fmt: skip
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["book", "quote", "trade", "1", "-2.5", "x@depth", "x@trade", "1e5"])
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=3), inner, max_size=8)
    ),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_any_json_value_gives_a_record_or_a_reject(value):
    got = decode_message(orjson.dumps(value))
    assert isinstance(got, Reject | WireBook | WireQuote | WireTrade | tuple)


@settings(max_examples=150, deadline=None)
@given(field=st.sampled_from(sorted(BOOK)), value=JSON)
def test_any_field_of_a_book_replaced_gives_a_record_or_a_reject(field, value):
    got = decode_message(orjson.dumps({**BOOK, field: value}))
    assert isinstance(got, Reject | WireBook)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_a_reject_or_a_record(raw):
    got = decode_message(raw)
    assert isinstance(got, Reject | WireBook | WireQuote | WireTrade | tuple | TickBatch)


# --- Binance captures --------------------------------------------------------------------------

KIND_OF = {
    BinanceDepthDiff: "depth",
    BinanceBookTicker: "bookTicker",
    BinanceTrade: "trade",
    BinanceDepthSnapshot: "snapshot",
}
_STREAM = re.compile(rb'\{"stream":"[a-z0-9_]+@(depth|bookTicker|trade)[@"]')


def _independent_kind(payload: bytes) -> str:
    """Kind by a plain look at the text (no JSON parse)."""
    if payload.startswith(b'{"lastUpdateId":'):
        return "snapshot"
    m = _STREAM.match(payload)
    assert m, payload[:80]
    return m[1].decode()


def _units(text: str) -> int:
    value = Decimal(text) * JSON_SCALE
    assert value == value.to_integral_value()
    return int(value)


def _check_values(got, body: dict, ts_recv: int) -> None:
    """Fields of a decoded Binance record against stdlib-json text and decimal arithmetic."""
    data = body.get("data", body)
    if isinstance(got, BinanceDepthSnapshot):
        assert got.last_id == body["lastUpdateId"]
        sides = (("bids", got.bids), ("asks", got.asks))
    elif isinstance(got, BinanceDepthDiff):
        assert (got.first_id, got.last_id, got.prev_id) == (data["U"], data["u"], data.get("pu"))
        assert got.ts_event == data["E"] * 1_000_000 and got.futures == ("pu" in data)
        sides = (("b", got.bids), ("a", got.asks))
    elif isinstance(got, BinanceBookTicker):
        assert got.update_id == data["u"]
        assert (got.bid_px, got.bid_sz, got.ask_px, got.ask_sz) == tuple(
            _units(data[k]) for k in "bBaA"
        )
        sides = ()
    else:
        assert (got.price, got.quantity) == (_units(data["p"]), _units(data["q"]))
        assert got.buyer_is_maker is data["m"] and got.ts_event == data["T"] * 1_000_000
        assert got.signed_size == (-1 if data["m"] else 1) * got.quantity
        sides = ()
    for name, levels in sides:
        assert levels == tuple((_units(p), _units(q)) for p, q in data[name])
    assert got.ts_recv == ts_recv


@pytest.mark.slow
def test_every_binance_capture_line_classifies_and_parses():
    files = sorted(BINANCE.glob("*.gz"))
    assert len(files) >= 6
    for path in files:
        symbol = path.name.split("_")[1].upper()  # the Kafka key a publisher would set
        decoded: Counter[str] = Counter()
        independent: Counter[str] = Counter()
        lines = [ln for ln in gzip.decompress(path.read_bytes()).split(b"\n") if ln.strip()]
        for i, line in enumerate(lines):
            stamp, _, payload = line.partition(b" ")
            got = decode_message(payload, key=symbol, ts_recv=int(stamp), source=path.name)
            assert not isinstance(got, Reject), (path.name, i, got)
            decoded[KIND_OF[type(got)]] += 1
            independent[_independent_kind(payload)] += 1
            if i % 50 == 0 or isinstance(got, BinanceDepthSnapshot):
                _check_values(got, json.loads(payload), int(stamp))
        assert decoded == independent, path.name
        assert sum(decoded.values()) == len(lines)
        assert decoded["snapshot"] == ("20240808" in path.name)


def _capture_line(name: str, kind: bytes) -> tuple[int, bytes]:
    with gzip.open(BINANCE / name) as f:
        for line in f:
            if kind in line[:80]:
                stamp, _, payload = line.rstrip(b"\n").partition(b" ")
                return int(stamp), payload
    raise AssertionError(f"no {kind!r} in {name}")


def test_binance_futures_messages_keep_their_futures_fields():
    ts, payload = _capture_line("usdm_btcusdt_20240808.gz", b"@trade")
    got = decode_message(payload, ts_recv=ts)
    assert isinstance(got, BinanceTrade) and got.futures and got.execution == "MARKET"
    _check_values(got, json.loads(payload), ts)
    ts, payload = _capture_line("cm_btcusd_perp_20240808.gz", b"lastUpdateId")
    got = decode_message(payload, ts_recv=ts)
    assert isinstance(got, BinanceDepthSnapshot)
    assert (got.symbol, got.futures, len(got.bids)) == ("BTCUSD_PERP", True, 1000)
    ts, payload = _capture_line("spot_btcusdt_20240808.gz", b"@bookTicker")
    got = decode_message(payload, ts_recv=ts)
    assert isinstance(got, BinanceBookTicker) and not got.futures and got.ts_event == 0


def test_messages_are_typed_records_never_floats():
    ts, payload = _capture_line("spot_ethusdt_20240808.gz", b"@depth")
    got = decode_message(payload, ts_recv=ts)
    assert isinstance(got, BinanceDepthDiff)
    assert all(type(v) is int for level in (*got.bids, *got.asks) for v in level)
