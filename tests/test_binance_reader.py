"""Binance capture reader, checked against real captures and independent plain scans of them."""

from __future__ import annotations

import gzip
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from dataflows.readers import binance
from dataflows.readers.binance import read_binance, to_units
from schemas.market import EMPTY_ASK_PX, EMPTY_BID_PX, FeedData, RejectReason, TickFlag

SNAPSHOT_FILES = [
    "spot_btcusdt_20240808.gz",
    "spot_ethusdt_20240808.gz",
    "usdm_btcusdt_20240808.gz",
    "usdm_ethusdt_20240808.gz",
    "cm_btcusd_perp_20240808.gz",
]
ETH_0808, ETH_0809 = "spot_ethusdt_20240808.gz", "spot_ethusdt_20240809.gz"
BOOK, TRADE = int(TickFlag.BOOK), int(TickFlag.TRADE)


# --- independent scan ------------------------------------------------------------


@dataclass(frozen=True)
class Msg:
    line: int
    ts: int
    kind: str  # "snapshot", "depth", "trade" or "bookTicker"
    body: dict[str, Any]


@dataclass(frozen=True)
class Scan:
    msgs: list[Msg]
    nonempty: int

    def of(self, kind: str) -> list[Msg]:
        return [m for m in self.msgs if m.kind == kind]

    def ready_line(self) -> int:
        """Line after which the book is synced: the snapshot or its bracketing diff, the later."""
        snap = self.of("snapshot")[0]
        last_id = snap.body["lastUpdateId"]
        first = next(m for m in self.of("depth") if m.body["u"] > last_id)
        # It must bracket the snapshot id (spot ids are contiguous, futures chain by pu).
        assert first.body["U"] <= last_id + 1 or first.body.get("pu", last_id + 1) <= last_id
        return max(snap.line, first.line)


def scan(path: Path) -> Scan:
    msgs, nonempty = [], 0
    with gzip.open(path, "rb") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            nonempty += 1
            ts, payload = line.split(b" ", 1)
            obj = orjson.loads(payload)
            if "stream" in obj:
                kind = obj["stream"].split("@")[1]
                msgs.append(Msg(line_no, int(ts), kind, obj["data"]))
            else:
                msgs.append(Msg(line_no, int(ts), "snapshot", obj))
    return Scan(msgs, nonempty)


def units(text: str) -> int:
    """Independent decimal conversion to 10**-8 units (Decimal, exactness asserted)."""
    value = Decimal(text).scaleb(8)
    assert value == value.to_integral_value(), text
    return int(value)


def signed(trade: dict[str, Any]) -> int:
    return -units(trade["q"]) if trade["m"] else units(trade["q"])


def raw_lines(path: Path) -> list[bytes]:
    return gzip.decompress(path.read_bytes()).rstrip(b"\n").split(b"\n")


def write_capture(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n", compresslevel=1))
    return path


def reasons(feed: FeedData) -> Counter[str]:
    return Counter(r.reason for r in feed.rejects)


class Captures:
    """Each real file read and scanned at most once per module."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._feeds: dict[tuple[str, str], FeedData] = {}
        self._scans: dict[str, Scan] = {}

    def path(self, name: str) -> Path:
        return self.root / name

    def feed(self, name: str, book: str = "depth") -> FeedData:
        if (name, book) not in self._feeds:
            (data,) = read_binance([self.path(name)], book=book)  # type: ignore[arg-type]
            self._feeds[name, book] = data
        return self._feeds[name, book]

    def scan(self, name: str) -> Scan:
        if name not in self._scans:
            self._scans[name] = scan(self.path(name))
        return self._scans[name]


@pytest.fixture(scope="module")
def binance_dir(data_dir: Path) -> Path:
    """The real captures; ``data_dir`` (conftest) is ``<repo>/../shared/data``, asserted present."""
    return data_dir / "binance"


@pytest.fixture(scope="module")
def captures(binance_dir: Path) -> Captures:
    return Captures(binance_dir)


# --- instrument ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "symbol", "venue", "tick"),
    [
        ("spot_btcusdt_20240808.gz", "BTCUSDT", "BINANCE", 10**6),
        ("spot_ethusdt_20240808.gz", "ETHUSDT", "BINANCE", 10**6),
        ("usdm_btcusdt_20240808.gz", "BTCUSDT-PERP", "BINANCE-USDM", 10**7),
        ("usdm_ethusdt_20240808.gz", "ETHUSDT-PERP", "BINANCE-USDM", 10**6),
        ("cm_btcusd_perp_20240808.gz", "BTCUSD_PERP", "BINANCE-COINM", 10**7),
    ],
)
def test_instrument_with_real_capture_has_venue_naming_and_tick(
    captures: Captures, name: str, symbol: str, venue: str, tick: int
) -> None:
    ticks = captures.feed(name).ticks
    inst = ticks.instrument
    assert (inst.symbol, inst.venue, inst.tick, inst.levels) == (symbol, venue, tick, 10)
    assert inst.price_scale == inst.size_scale == 10**8
    assert ticks.source == str(captures.path(name))
    # The ticker feed takes no snapshot: its tick (gcd of its row prices) agrees.
    assert captures.feed(name, "ticker").ticks.instrument.tick == tick


# --- 1. book against bookTicker ------------------------------------------------------


@pytest.mark.parametrize("name", SNAPSHOT_FILES)
def test_rebuilt_book_top_with_same_update_id_equals_bookticker(
    captures: Captures, name: str
) -> None:
    """Best bid/ask price and size equal the bookTicker that carries the same update id.

    bookTicker and depth ids are one sequence on spot and futures alike, but a
    bookTicker arrives *before* the depth diff with its ``u`` (spot and COIN-M
    always, USDⓈ-M ~80 %), so matching "the last applied diff in receive order"
    finds no pair on spot/COIN-M; we match the diff with that ``u`` wherever it is.
    """
    ticks, msgs = captures.feed(name).ticks, captures.scan(name)
    row_of_line = {int(ln): k for k, ln in enumerate(ticks.line) if ticks.flags[k] & BOOK}
    row_of_u = {m.body["u"]: row_of_line[m.line] for m in msgs.of("depth") if m.line in row_of_line}
    matched = 0
    for m in msgs.of("bookTicker"):
        row = row_of_u.get(m.body["u"])
        if row is None:
            continue
        matched += 1
        got = (
            ticks.bid_px[row, 0],
            ticks.bid_sz[row, 0],
            ticks.ask_px[row, 0],
            ticks.ask_sz[row, 0],
        )
        want = tuple(units(m.body[k]) for k in ("b", "B", "a", "A"))
        assert got == want, f"line {m.line}: book {got} != bookTicker {want}"
    assert matched >= 500


# --- 2. row invariants -------------------------------------------------------------


@pytest.mark.parametrize("name", SNAPSHOT_FILES)
def test_rows_with_real_capture_keep_book_invariants(captures: Captures, name: str) -> None:
    data, msgs = captures.feed(name), captures.scan(name)
    t = data.ticks
    assert len(t) > 5000
    np.testing.assert_array_equal(t.seq, np.arange(len(t)))
    assert np.all(np.diff(t.ts_event) >= 0)
    assert set(np.unique(t.flags)) == {BOOK, TRADE}
    for px, sz, empty, step in (
        (t.bid_px, t.bid_sz, EMPTY_BID_PX, -1),
        (t.ask_px, t.ask_sz, EMPTY_ASK_PX, 1),
    ):
        present = px != empty
        assert np.all(sz[present] > 0) and np.all(sz[~present] == 0)
        assert not np.any(~present[:, :-1] & present[:, 1:]), "a level after an empty one"
        both = present[:, :-1] & present[:, 1:]
        assert np.all(np.sign(np.diff(px, axis=1))[both] == step), "levels out of order"
    quoted = (t.bid_px[:, 0] != EMPTY_BID_PX) & (t.ask_px[:, 0] != EMPTY_ASK_PX)
    assert quoted.mean() > 0.99
    assert np.all(t.bid_px[quoted, 0] < t.ask_px[quoted, 0]), "crossed book"
    is_trade = t.flags == TRADE
    assert np.all(t.trade_sz[is_trade] != 0) and np.all(t.trade_px[is_trade] > 0)
    assert not np.any(t.trade_sz[~is_trade]) and not np.any(t.trade_px[~is_trade])
    # Nothing lost: every line is a row, a reject, a snapshot, or a bookTicker (ticker feed).
    other = len(msgs.of("bookTicker")) + len(msgs.of("snapshot"))
    assert len(t) + len(data.rejects) + other == msgs.nonempty


# --- 3. trades ---------------------------------------------------------------------


@pytest.mark.parametrize("name", SNAPSHOT_FILES)
def test_trade_rows_with_real_capture_match_independent_scan(captures: Captures, name: str) -> None:
    data, msgs = captures.feed(name), captures.scan(name)
    t = data.ticks
    ready = msgs.ready_line()
    trades = msgs.of("trade")
    after = [m for m in trades if m.line > ready]
    is_trade = t.flags == TRADE
    assert int(is_trade.sum()) == len(after) > 1000
    assert int(t.trade_sz[is_trade].sum()) == sum(signed(m.body) for m in after)
    np.testing.assert_array_equal(t.line[is_trade], [m.line for m in after])
    np.testing.assert_array_equal(t.trade_px[is_trade], [units(m.body["p"]) for m in after])
    np.testing.assert_array_equal(t.ts_event[is_trade], [m.ts for m in after])
    early = {r.line for r in data.rejects if r.reason == RejectReason.BOOK_NOT_READY}
    assert {m.line for m in trades if m.line <= ready} <= early


# --- 4. gaps -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["spot_ethusdt_20240808.gz", "usdm_ethusdt_20240808.gz"])
def test_dropped_depth_line_gives_sequence_gap_and_no_rows_after_it(
    captures: Captures, tmp_path: Path, name: str
) -> None:
    msgs = captures.scan(name)
    ready = msgs.ready_line()
    depth_after = [m.line for m in msgs.of("depth") if m.line > ready]
    dropped, shows_gap = depth_after[50], depth_after[51] - 1  # line numbers shift by one
    lines = raw_lines(captures.path(name))
    copy = write_capture(tmp_path / name, lines[: dropped - 1] + lines[dropped:])
    (data,) = read_binance([copy])
    t, clean = data.ticks, captures.feed(name).ticks

    gaps = [r for r in data.rejects if r.reason == RejectReason.SEQUENCE_GAP]
    assert gaps[0].line == shows_gap and "gap" in gaps[0].detail
    assert all("stale" in r.detail for r in gaps[1:])
    later = {m.line - 1 for m in msgs.msgs if m.line > shows_gap and m.kind in ("depth", "trade")}
    assert {r.line for r in gaps} == later
    assert t.line.max() < shows_gap  # the stale book makes no row until a snapshot
    # Rows before the loss are untouched; trades between it and the diff that shows it
    # still repeat the (unknowingly incomplete) book, as a live consumer would have.
    kept = clean.line < dropped
    unaware = (clean.line > dropped) & (clean.line <= shows_gap)
    n_kept = int(kept.sum())
    assert len(t) == n_kept + int(unaware.sum())
    for column in ("ts_event", "flags", "bid_px", "bid_sz", "ask_px", "ask_sz", "trade_sz", "line"):
        np.testing.assert_array_equal(getattr(t, column)[:n_kept], getattr(clean, column)[kept])
    assert np.all(t.flags[n_kept:] == TRADE)
    np.testing.assert_array_equal(t.trade_sz[n_kept:], clean.trade_sz[unaware])
    other = len(msgs.of("bookTicker")) + len(msgs.of("snapshot"))
    assert len(t) + len(data.rejects) + other == msgs.nonempty - 1


def _line(ts: int, obj: dict[str, Any]) -> bytes:
    return b"%d %s" % (ts, orjson.dumps(obj))


def _diff(first: int, last: int, bids: list[list[str]], asks: list[list[str]]) -> dict[str, Any]:
    data = {"e": "depthUpdate", "E": 0, "s": "XUSDT", "U": first, "u": last, "b": bids, "a": asks}
    return {"stream": "xusdt@depth@100ms", "data": data}


def _snap(last: int, bids: list[list[str]], asks: list[list[str]]) -> dict[str, Any]:
    return {"lastUpdateId": last, "bids": bids, "asks": asks}


def _trade(px: str, qty: str, maker_is_buyer: bool) -> dict[str, Any]:
    data = {
        "e": "trade",
        "E": 0,
        "s": "XUSDT",
        "t": 1,
        "p": px,
        "q": qty,
        "T": 0,
        "m": maker_is_buyer,
    }
    return {"stream": "xusdt@trade", "data": data}


def test_stale_book_with_later_snapshot_resyncs_from_held_diffs(tmp_path: Path) -> None:
    ticker = {
        "stream": "xusdt@bookTicker",
        "data": {"u": 1, "s": "XUSDT", "b": "1", "B": "1", "a": "2", "A": "1"},
    }
    lines = [
        _line(1000, _diff(95, 99, [["10", "5"]], [])),  # 1 held, covered by snapshot: not ready
        _line(1001, _diff(100, 101, [["10", "3"]], [])),  # 2 held, brackets 100: row at 1002
        _line(1002, _snap(100, [["10", "1"], ["9", "1"]], [["11", "2"]])),  # 3
        _line(1003, _trade("10.5", "0.5", False)),  # 4 buyer-initiated trade row
        _line(1004, _diff(105, 106, [], [])),  # 5 gap (U should be 102): stale
        _line(1005, _trade("10.5", "1", True)),  # 6 stale trade
        _line(1006, _diff(107, 108, [], [])),  # 7 held while stale, covered by snapshot
        _line(1007, _diff(109, 110, [["9", "0"]], [])),  # 8 held, brackets 110: row at 1008
        _line(1008, _snap(109, [["10", "4"], ["9", "1"]], [["11", "2"], ["12", "1"]])),  # 9
        _line(1009, _diff(111, 111, [], [["11", "0"]])),  # 10 row
        _line(1010, _snap(105, [], [])),  # 11 older than the live book
        _line(1011, _diff(112, 112, [], [["12", "0"]])),  # 12 row, no ask left
        _line(1012, ticker),  # 13 the ticker feed's: nothing here
    ]
    (data,) = read_binance([write_capture(tmp_path / "x.gz", lines)], levels=2)
    t, e8 = data.ticks, 10**8
    assert [(r.line, r.reason) for r in data.rejects] == [
        (1, RejectReason.BOOK_NOT_READY),
        (5, RejectReason.SEQUENCE_GAP),
        (6, RejectReason.SEQUENCE_GAP),
        (7, RejectReason.SEQUENCE_GAP),
        (11, RejectReason.SUPERSEDED),
    ]
    assert [r.ts_event for r in data.rejects] == [1000, 1004, 1005, 1006, 1010]
    assert t.line.tolist() == [2, 4, 8, 10, 12]
    assert t.ts_event.tolist() == [1002, 1003, 1008, 1009, 1011]
    assert t.flags.tolist() == [BOOK, TRADE, BOOK, BOOK, BOOK]
    assert t.trade_sz.tolist() == [0, e8 // 2, 0, 0, 0]
    assert (
        t.bid_px.tolist() == [[10 * e8, 9 * e8], [10 * e8, 9 * e8]] + [[10 * e8, EMPTY_BID_PX]] * 3
    )
    assert t.bid_sz.tolist() == [[3 * e8, e8], [3 * e8, e8]] + [[4 * e8, 0]] * 3
    assert t.ask_px.tolist() == [
        [11 * e8, EMPTY_ASK_PX],
        [11 * e8, EMPTY_ASK_PX],
        [11 * e8, 12 * e8],
        [12 * e8, EMPTY_ASK_PX],
        [EMPTY_ASK_PX, EMPTY_ASK_PX],
    ]
    assert t.ask_sz.tolist()[-2:] == [[e8, 0], [0, 0]]
    assert t.instrument.tick == e8  # gcd of the first snapshot's prices 10, 9 and 11


@pytest.mark.parametrize(
    ("raw", "futures", "venue", "symbol"),
    [
        ("BTCUSDT", False, "BINANCE", "BTCUSDT"),
        ("BTCUSDT", True, "BINANCE-USDM", "BTCUSDT-PERP"),
        ("BTCUSDT_240927", True, "BINANCE-USDM", "BTCUSDT_240927"),
        ("BTCUSD_PERP", True, "BINANCE-COINM", "BTCUSD_PERP"),
        ("ETHUSD_240927", True, "BINANCE-COINM", "ETHUSD_240927"),
    ],
)
def test_feed_id_names_market_and_symbol(raw: str, futures: bool, venue: str, symbol: str) -> None:
    assert binance._feed_id(raw, futures) == (venue, symbol)


def test_bad_book_mode_or_levels_raise_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="book"):
        read_binance([], book="l2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="levels"):
        read_binance([], levels=0)


# --- 5. continuation across files -----------------------------------------------------


def test_ethusdt_across_midnight_is_one_feed_without_gap(captures: Captures) -> None:
    paths = [captures.path(ETH_0809), captures.path(ETH_0808)]  # read in file-name order anyway
    feeds = read_binance(paths)
    assert len(feeds) == 1
    data, first = feeds[0], captures.feed(ETH_0808)
    t, n_0808 = data.ticks, len(first.ticks)
    assert t.source == str(captures.path(ETH_0808))
    assert reasons(data) == reasons(first)  # nothing refused in 0809
    second = captures.scan(ETH_0809)
    assert len(t) - n_0808 == len(second.of("depth")) + len(second.of("trade"))
    np.testing.assert_array_equal(t.seq, np.arange(len(t)))
    assert np.all(np.diff(t.ts_event) >= 0)
    np.testing.assert_array_equal(t.bid_px[:n_0808], first.ticks.bid_px)
    assert t.line[n_0808] == second.of("depth")[0].line


def test_ethusdt_0809_alone_is_never_ready(captures: Captures) -> None:
    data, msgs = captures.feed(ETH_0809), captures.scan(ETH_0809)
    assert len(data.ticks) == 0
    expected = {m.line for m in msgs.msgs if m.kind in ("depth", "trade")}
    assert {r.line for r in data.rejects} == expected
    assert reasons(data) == {RejectReason.BOOK_NOT_READY: len(expected)}


def test_held_diffs_pushed_out_keep_their_reason(
    captures: Captures, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(binance, "MAX_HELD_DIFFS", 3)
    copy = write_capture(tmp_path / ETH_0809, raw_lines(captures.path(ETH_0809))[:3000])
    (data,) = read_binance([copy])
    depth = [r for r in data.rejects if "held" in r.detail]
    assert len(depth) > 100 and all(r.reason == RejectReason.BOOK_NOT_READY for r in depth)
    assert len(data.rejects) + len(scan(copy).of("bookTicker")) == 3000


# --- 6. decimals, malformed input ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("61800.20", 6_180_020_000_000),
        ("0.00000001", 1),
        ("0", 0),
        ("0.000", 0),
        ("2683.80000000", 268_380_000_000),
        ("1001", 100_100_000_000),
        ("1.1234567800", 112_345_678),
        ("92233720368.54775807", 2**63 - 1),
    ],
)
def test_to_units_with_decimal_string_is_exact(text: str, value: int) -> None:
    assert to_units(text) == value


@pytest.mark.parametrize(
    "text",
    ["1.123456789", "-1", "+1", "1e-8", "", ".", "abc", " 1", "1_0", "١", "92233720368.54775808"],
)
def test_to_units_with_bad_text_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        to_units(text)


def test_to_units_with_float_raises_type_error() -> None:
    with pytest.raises(TypeError):
        to_units(0.1)  # type: ignore[arg-type]


def test_malformed_lines_become_rejects_and_reading_goes_on(
    captures: Captures, tmp_path: Path
) -> None:
    """The first 2000 lines of spot_ethusdt_20240808, then bad lines, then a valid trade."""
    head = raw_lines(captures.path(ETH_0808))[:2000]
    (clean,) = read_binance([write_capture(tmp_path / "clean.gz", head)])
    ts = int(head[-1].split(b" ")[0])
    trade = orjson.loads(next(x for x in reversed(head) if b"@trade" in x).split(b" ", 1)[1])
    no_price = {
        "stream": trade["stream"],
        "data": {k: v for k, v in trade["data"].items() if k != "p"},
    }
    exponent = {"stream": trade["stream"], "data": {**trade["data"], "q": "1e-3"}}
    bad_level = _diff(1, 2, [["2683.80"]], [])  # a level without its quantity
    bad_level["stream"], bad_level["data"]["s"] = "ethusdt@depth@100ms", "ETHUSDT"
    bad = [
        b"garbage",
        b"%d {not json" % ts,
        b"%d [1, 2]" % ts,
        _line(ts, no_price),
        _line(ts, exponent),
        _line(ts, bad_level),
        _line(ts, {"stream": "ethusdt@aggTrade", "data": {"s": "ETHUSDT"}}),
    ]
    copy = write_capture(tmp_path / "bad.gz", [*head, *bad, _line(ts, trade)])
    (data,) = read_binance([copy])
    malformed = [r for r in data.rejects if r.reason == RejectReason.MALFORMED_MESSAGE]
    assert [r.line for r in malformed] == list(range(2001, 2001 + len(bad)))
    assert all(r.symbol == "ETHUSDT" and r.source == str(copy) for r in malformed)
    assert len(data.ticks) == len(clean.ticks) + 1
    assert data.ticks.line[-1] == 2001 + len(bad) and data.ticks.flags[-1] == TRADE


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", b"hello world\n"),
        ("prices.csv.gz", gzip.compress(b"ts,price\n1,2\n")),
        ("empty.gz", gzip.compress(b"")),
        ("broken.gz", gzip.compress(b"123 {}")[:-6]),
    ],
)
def test_non_capture_file_raises_value_error_naming_it(
    tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=name):
        read_binance([path])


def test_several_instruments_give_one_feed_each(captures: Captures, tmp_path: Path) -> None:
    spot = write_capture(
        tmp_path / "a.gz", raw_lines(captures.path("spot_btcusdt_20240808.gz"))[:3000]
    )
    perp = write_capture(
        tmp_path / "b.gz", raw_lines(captures.path("usdm_btcusdt_20240808.gz"))[:3000]
    )
    both = read_binance([perp, spot])
    assert [f.ticks.symbol for f in both] == ["BTCUSDT", "BTCUSDT-PERP"]
    for path, data in zip((spot, perp), both, strict=True):
        (alone,) = read_binance([path])
        np.testing.assert_array_equal(data.ticks.bid_px, alone.ticks.bid_px)
        assert data.rejects == alone.rejects


# --- 7. ticker mode ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["spot_btcusdt_20240808.gz", "cm_btcusd_perp_20240808.gz"])
def test_ticker_mode_rows_are_the_bookticker_stream(captures: Captures, name: str) -> None:
    data, msgs = captures.feed(name, "ticker"), captures.scan(name)
    t = data.ticks
    tickers = msgs.of("bookTicker")
    assert t.instrument.levels == 1 and t.bid_px.shape == (len(t), 1)
    early = [m.line for m in msgs.of("trade") if m.line < tickers[0].line]
    assert [(r.line, r.reason) for r in data.rejects] == [
        (ln, RejectReason.BOOK_NOT_READY) for ln in early
    ]
    is_book = t.flags == BOOK
    assert int(is_book.sum()) == len(tickers)
    for column, key in (("bid_px", "b"), ("bid_sz", "B"), ("ask_px", "a"), ("ask_sz", "A")):
        np.testing.assert_array_equal(
            getattr(t, column)[is_book, 0], [units(m.body[key]) for m in tickers]
        )
    np.testing.assert_array_equal(t.line[is_book], [m.line for m in tickers])
    trades = [m for m in msgs.of("trade") if m.line > tickers[0].line]
    assert int((t.flags == TRADE).sum()) == len(trades)
    assert int(t.trade_sz.sum()) == sum(signed(m.body) for m in trades)
    np.testing.assert_array_equal(t.seq, np.arange(len(t)))
    assert np.all(np.diff(t.ts_event) >= 0)


def test_ticker_mode_with_synthetic_futures_capture_refuses_old_quotes_and_odd_trades(
    tmp_path: Path,
) -> None:
    def quote(u: int, bid: str, bid_size: str) -> dict[str, Any]:
        data = {"e": "bookTicker", "E": 0, "T": 0, "u": u, "s": "XUSDT"}
        return {
            "stream": "xusdt@bookTicker",
            "data": {**data, "b": bid, "B": bid_size, "a": "11", "A": "2"},
        }

    def trade(qty: str, execution: str = "MARKET") -> dict[str, Any]:
        data = {"e": "trade", "E": 0, "T": 0, "s": "XUSDT", "t": 1, "p": "10", "q": qty, "m": True}
        return {"stream": "xusdt@trade", "data": {**data, "X": execution}}

    lines = [
        _line(1, trade("1")),  # 1 before any quote
        _line(2, quote(5, "10", "1")),  # 2 row
        _line(3, quote(5, "10", "3")),  # 3 repeated u
        _line(4, quote(4, "10", "3")),  # 4 older u
        _line(5, quote(6, "10", "0")),  # 5 row, bid side empty
        _line(6, trade("1", "INSURANCE_FUND")),  # 6 not an aggressor trade
        _line(7, trade("0")),  # 7 zero quantity
        _line(8, trade("2")),  # 8 seller-initiated trade row
        _line(9, _diff(1, 2, [], [])),  # 9 the depth feed's: nothing here
        _line(10, _snap(1, [], [])),  # 10 the depth feed's: nothing here
    ]
    (data,) = read_binance([write_capture(tmp_path / "x.gz", lines)], levels=5, book="ticker")
    t, e8 = data.ticks, 10**8
    assert (t.symbol, t.instrument.venue, t.instrument.levels, t.instrument.tick) == (
        "XUSDT-PERP",
        "BINANCE-USDM",
        1,
        e8,
    )
    assert [(r.line, r.reason) for r in data.rejects] == [
        (1, RejectReason.BOOK_NOT_READY),
        (3, RejectReason.SUPERSEDED),
        (4, RejectReason.SUPERSEDED),
        (6, RejectReason.BAD_VALUE),
        (7, RejectReason.BAD_VALUE),
    ]
    assert t.line.tolist() == [2, 5, 8]
    assert t.bid_px[:, 0].tolist() == [10 * e8, EMPTY_BID_PX, EMPTY_BID_PX]
    assert t.bid_sz[:, 0].tolist() == [e8, 0, 0]
    assert t.ask_px[:, 0].tolist() == [11 * e8] * 3
    assert t.trade_sz.tolist() == [0, 0, -2 * e8]
