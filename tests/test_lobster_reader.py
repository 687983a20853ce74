"""LOBSTER reader: exact times, trades signed by aggressor, bad rows refused with reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from dataflows.offline import compute
from dataflows.readers import discover
from dataflows.readers.lobster import read_lobster
from schemas.market import EMPTY_ASK_PX, TickFlag
from tests.conftest import lobster


@pytest.fixture(scope="module")
def amzn5():
    return read_lobster(lobster("AMZN", "orderbook", 5))


def test_reader_with_real_pair_keeps_every_row_and_nanosecond(amzn5):
    lines = lobster("AMZN", "message", 5).read_text().splitlines()
    ticks = amzn5.ticks
    assert len(ticks) == len(lines) == 155_935
    assert amzn5.rejects == []
    # Independent: Decimal seconds after midnight, New York = UTC-4 on 2012-06-21.
    midnight = int(datetime(2012, 6, 21, 4, 0, tzinfo=UTC).timestamp()) * 10**9
    for k in (0, 1, 777, 155_934):
        seconds = Decimal(lines[k].split(",")[0])
        assert ticks.ts_event[k] == midnight + int(seconds * 10**9)
    assert ticks.ts_event[0] == 1_340_285_400_017_459_617  # 09:30:00.017459617 New York


def test_reader_signs_trades_by_aggressor(amzn5):
    msgs = np.loadtxt(lobster("AMZN", "message", 5), delimiter=",", usecols=(1, 3, 5))
    executions = np.isin(msgs[:, 0], (4, 5))
    expected = -msgs[executions, 2] * msgs[executions, 1]  # a sell order executed: buyer-initiated
    ticks = amzn5.ticks
    is_trade = (ticks.flags & TickFlag.TRADE) != 0
    assert is_trade.sum() == executions.sum() > 10_000
    np.testing.assert_array_equal(ticks.trade_sz[is_trade], expected)
    assert (ticks.flags & TickFlag.BOOK).all()


def test_reader_with_level_subset_keeps_the_first_levels(amzn5):
    two = read_lobster(lobster("AMZN", "message", 5), levels=2).ticks
    np.testing.assert_array_equal(two.bid_px, amzn5.ticks.bid_px[:, :2])
    np.testing.assert_array_equal(two.ask_sz, amzn5.ticks.ask_sz[:, :2])
    with pytest.raises(ValueError, match="cannot give 6"):
        read_lobster(lobster("AMZN", "message", 5), levels=6)


def test_reader_maps_missing_levels_to_empty_prices(tmp_path: Path):
    name = "TEST_2012-06-21_34200000_57600000_{}_2.csv"
    (tmp_path / name.format("message")).write_text("34200.5,1,7,10,1000000,1\n")
    (tmp_path / name.format("orderbook")).write_text(
        "1000100,5,1000000,10,9999999999,0,-9999999999,0\n"
    )
    ticks = read_lobster(tmp_path / name.format("message")).ticks
    assert ticks.ask_px[0, 1] == EMPTY_ASK_PX and ticks.ask_sz[0, 1] == 0
    assert ticks.bid_px[0, 0] == 1_000_000


def _write_pair(tmp_path: Path, messages: list[str], books: list[str]) -> Path:
    name = "BAD_2012-06-21_34200000_57600000_{}_1.csv"
    (tmp_path / name.format("message")).write_text("\n".join(messages) + "\n")
    (tmp_path / name.format("orderbook")).write_text("\n".join(books) + "\n")
    return tmp_path / name.format("orderbook")


def test_bad_rows_are_rejected_with_reasons_and_counted(tmp_path: Path):
    messages = [
        "34200.1,1,1,100,1000000,1",  # 1 ok
        "34200.2,1,2,100,1000000,1,99",  # 2 wrong column count (message)
        "34200.3,1,3,100,1000000,1",  # 3 crossed book
        "34200.4,1,4,100,1000000,1",  # 4 negative size in book
        "34200.05,1,5,100,1000000,1",  # 5 time goes back
        "34200.6,1,6,abc,1000000,1",  # 6 not a number
        "34200.7,4,7,-5,1000000,1",  # 7 negative message size
        "34200.8,1,8,100,1000000,1",  # 8 ok
        "34200.9,1,9,100,1000000,1",  # 9 wrong column count (book)
    ]
    books = [
        "1000100,5,1000000,10",
        "1000100,5,1000000,10",
        "1000000,5,1000100,10",
        "1000100,-5,1000000,10",
        "1000100,5,1000000,10",
        "1000100,5,1000000,10",
        "1000100,5,1000000,10",
        "1000100,5,1000000,12",
        "1000100,5,1000000",
    ]
    path = _write_pair(tmp_path, messages, books)
    features, rejects = compute(path)
    assert features["seq"].to_list() == [0, 7]
    reasons = dict(zip(rejects["line"].to_list(), rejects["reason"].to_list(), strict=True))
    assert reasons == {
        2: "wrong_column_count",
        3: "crossed_book",
        4: "negative_size",
        5: "non_monotonic_time",
        6: "bad_value",
        7: "negative_size",
        9: "wrong_column_count",
    }
    assert features.height + rejects.height == len(messages)  # nothing lost


def test_unpaired_rows_are_rejected(tmp_path: Path):
    path = _write_pair(
        tmp_path,
        ["34200.1,1,1,100,1000000,1", "34200.2,1,2,100,1000000,1"],
        ["1000100,5,1000000,10"],
    )
    features, rejects = compute(path)
    assert features.height == 1
    assert rejects["reason"].to_list() == ["unpaired_row"]


def test_missing_partner_and_bad_names_are_clear_errors(tmp_path: Path):
    lonely = tmp_path / "X_2012-06-21_34200000_57600000_message_1.csv"
    lonely.write_text("34200.1,1,1,100,1000000,1\n")
    with pytest.raises(FileNotFoundError, match=r"orderbook_1\.csv: missing"):
        read_lobster(lonely)
    odd = tmp_path / "prices.csv"
    odd.write_text("1,2\n")
    with pytest.raises(ValueError, match="not a LOBSTER file name"):
        discover(odd)


def test_discover_in_folder_picks_deepest_file_per_symbol(data_dir: Path):
    feeds = discover(data_dir / "lobster")
    assert sorted(f.name for f in feeds) == ["AMZN_2012-06-21_L5", "GOOG_2012-06-21_L10"]


def test_parse_cache_returns_the_same_ticks_and_notices_edits(lobster_sample, tmp_path):
    from dataflows.readers import read_feed

    path = lobster_sample("AMZN", 5, 500)
    feed = discover(path)[0]
    cache = tmp_path / "cache"
    fresh = read_feed(feed, None, cache)[0].ticks
    again = read_feed(feed, None, cache)[0].ticks
    assert len(list(cache.iterdir())) == 1
    assert isinstance(again.bid_px, np.memmap)  # served from the cache
    for name in ("ts_event", "seq", "flags", "bid_px", "ask_sz", "trade_sz", "line"):
        np.testing.assert_array_equal(getattr(again, name), getattr(fresh, name))
    assert again.instrument == fresh.instrument
    book = path.with_name(path.name.replace("message", "orderbook"))
    lines = book.read_text().splitlines()
    book.write_text("\n".join(lines[:-1]) + "\n")  # drop the last row: the cache must notice
    edited = read_feed(feed, None, cache)
    assert len(edited[0].ticks) == 499
    assert [r.reason for r in edited[0].rejects] == ["unpaired_row"]
