"""LOBSTER message + orderbook files, normalised to ``TickBatch``.

Row k of the orderbook file is the book after message k of the message file.
Every row becomes a ``TickFlag.BOOK`` tick; executions of visible (type 4) and
hidden (type 5) orders also carry the trade, signed by the aggressor: the
execution of a sell order (direction -1) is a buyer-initiated trade. Cross
trades (type 6) are auction prints, not order flow, and carry no trade.

File names give symbol, date and level count
(``SYM_YYYY-MM-DD_start_end_{message|orderbook}_L.csv``); message times are
seconds after midnight New York time, parsed as decimal strings so that every
nanosecond is kept, and converted to UTC with the date's own offset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from schemas.market import (
    EMPTY_ASK_PX,
    EMPTY_BID_PX,
    FeedData,
    Instrument,
    Reject,
    RejectReason,
    TickBatch,
    TickFlag,
)

PRICE_SCALE = 10_000  # LOBSTER prices are dollars x 10 000
TICK = 100  # $0.01, the NASDAQ tick for stocks above $1
DUMMY_ASK = 9_999_999_999
DUMMY_BID = -9_999_999_999
NEW_YORK = ZoneInfo("America/New_York")
MESSAGE_COLUMNS = 6
_NAME = re.compile(
    r"^(?P<symbol>[A-Za-z0-9.\-]+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)_"
    r"(?P<kind>message|orderbook)_(?P<levels>\d+)\.csv$"
)


@dataclass(frozen=True, slots=True)
class LobsterFiles:
    """A message/orderbook pair and what its name says."""

    symbol: str
    day: date
    levels: int
    message: Path
    orderbook: Path


def parse_name(path: Path) -> LobsterFiles:
    """The pair a LOBSTER file belongs to (either file of it may be given)."""
    m = _NAME.match(path.name)
    if m is None:
        raise ValueError(
            f"{path}: not a LOBSTER file name (SYM_YYYY-MM-DD_start_end_message|orderbook_L.csv)"
        )
    stem = f"{m['symbol']}_{m['date']}_{m['start']}_{m['end']}"
    return LobsterFiles(
        symbol=m["symbol"],
        day=date.fromisoformat(m["date"]),
        levels=int(m["levels"]),
        message=path.with_name(f"{stem}_message_{m['levels']}.csv"),
        orderbook=path.with_name(f"{stem}_orderbook_{m['levels']}.csv"),
    )


def midnight_utc_ns(day: date) -> int:
    """Nanoseconds since the epoch of midnight New York time on ``day``."""
    return int(datetime.combine(day, time(0), NEW_YORK).timestamp()) * 1_000_000_000


def _read_rows(path: Path, n_columns: int, string_first: bool) -> tuple[pl.DataFrame, list[int]]:
    """Parse a headerless CSV into ``n_columns`` columns; the 1-based lines of wrong width.

    Fast path: Polars' native reader with a fixed schema. If any row is ragged
    or holds a non-number, fall back to splitting lines, so that bad rows are
    found and reported instead of failing the whole file.
    """
    schema = {f"c{i}": pl.Int64 for i in range(n_columns)}
    if string_first:
        schema["c0"] = pl.Utf8
    try:
        df = pl.read_csv(path, has_header=False, schema=schema, raise_if_empty=False)
        if df.null_count().sum_horizontal().item() == 0:
            return df.with_columns(line=pl.int_range(1, df.height + 1, dtype=pl.Int64)), []
    except pl.exceptions.PolarsError:
        pass
    lines = pl.read_csv(
        path,
        has_header=False,
        separator="\x1f",
        quote_char=None,
        new_columns=["raw"],
        schema_overrides={"raw": pl.Utf8},
        raise_if_empty=False,
    ).with_columns(line=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
    parts = lines.with_columns(pl.col("raw").str.split(","))
    width = parts["raw"].list.len()
    bad_width = parts.filter(width != n_columns)["line"].to_list()
    good = parts.filter(width == n_columns)
    cols = []
    for i in range(n_columns):
        item = pl.col("raw").list.get(i).str.strip_chars()
        cols.append(
            (item if string_first and i == 0 else item.cast(pl.Int64, strict=False)).alias(f"c{i}")
        )
    return good.select([*cols, "line"]), bad_width


def _time_ns(text: pl.Expr) -> pl.Expr:
    """Decimal seconds string -> int ns, exactly (no binary float on the way)."""
    parts = text.str.split_exact(".", 1)
    whole = parts.struct.field("field_0").cast(pl.Int64, strict=False)
    frac = parts.struct.field("field_1").fill_null("").str.pad_end(9, "0").str.slice(0, 9)
    return whole * 1_000_000_000 + frac.cast(pl.Int64, strict=False)


def read_lobster(path: Path, levels: int | None = None) -> FeedData:
    """Read the pair that ``path`` belongs to, keeping ``levels`` levels (default: all)."""
    files = parse_name(path)
    for p in (files.message, files.orderbook):
        if not p.is_file():
            raise FileNotFoundError(
                f"{p}: missing (the other file of the LOBSTER pair of {path.name})"
            )
    keep = files.levels if levels is None else levels
    if not 1 <= keep <= files.levels:
        raise ValueError(f"{path.name}: holds {files.levels} levels, cannot give {keep}")
    instrument = Instrument(
        symbol=files.symbol,
        price_scale=PRICE_SCALE,
        size_scale=1,
        tick=TICK,
        levels=keep,
        venue="NASDAQ",
    )
    source = str(files.message)
    rejects: list[Reject] = []

    def reject(lines: list[int], reason: RejectReason, detail: str, src: str = source) -> None:
        rejects.extend(Reject(files.symbol, src, int(n), reason.value, detail) for n in lines)

    msg, msg_bad = _read_rows(files.message, MESSAGE_COLUMNS, string_first=True)
    book, book_bad = _read_rows(files.orderbook, 4 * files.levels, string_first=False)
    reject(msg_bad, RejectReason.WRONG_COLUMN_COUNT, f"expected {MESSAGE_COLUMNS} columns")
    reject(
        book_bad,
        RejectReason.WRONG_COLUMN_COUNT,
        f"expected {4 * files.levels} columns",
        str(files.orderbook),
    )

    msg = msg.select(
        ts=_time_ns(pl.col("c0")) + midnight_utc_ns(files.day),
        kind="c1",
        size="c3",
        price="c4",
        direction="c5",
        line="line",
    )
    book_cols = [f"c{i}" for i in range(4 * files.levels)]
    if msg.height != book.height or msg_bad or book_bad:
        # Pair rows by line number; a line refused or missing on one side orphans the other.
        pairs = msg.with_columns(in_msg=pl.lit(True)).join(
            book.with_columns(in_book=pl.lit(True)), on="line", how="full", coalesce=True
        )
        pairs = pairs.sort("line")
        paired = pairs["in_msg"].is_not_null() & pairs["in_book"].is_not_null()
        gone = set(msg_bad) | set(book_bad)
        lonely = [n for n in pairs.filter(~paired)["line"].to_list() if n not in gone]
        reject(lonely, RejectReason.UNPAIRED_ROW, "no valid partner row in the other file")
        pairs = pairs.filter(paired)
        msg, book = pairs.select(msg.columns), pairs.select(book_cols)

    # Nulls: numbers that did not parse (slow path) or a time that is not a decimal.
    has_null = msg.null_count().sum_horizontal().item() + book.null_count().sum_horizontal().item()
    ok = np.ones(msg.height, bool)
    if has_null:
        ok = (
            ~pl.concat([msg, book.drop("line", strict=False)], how="horizontal")
            .select(pl.any_horizontal(pl.all().is_null()))
            .to_series()
            .to_numpy()
        )
    line = msg["line"].to_numpy()
    reject(line[~ok].tolist(), RejectReason.BAD_VALUE, "not a number")
    size = msg["size"].fill_null(0).to_numpy()
    direction = msg["direction"].fill_null(1).to_numpy()
    bad_msg = ok & ((size < 0) | ((direction != 1) & (direction != -1)))
    for i in np.flatnonzero(bad_msg):
        reason = RejectReason.NEGATIVE_SIZE if size[i] < 0 else RejectReason.BAD_VALUE
        reject([line[i]], reason, f"message size {size[i]}, direction {direction[i]}")
    ok &= ~bad_msg

    grid = (
        book.select(book_cols).to_numpy()[ok] if not ok.all() else book.select(book_cols).to_numpy()
    )
    grid = grid.astype(np.int64, copy=False).reshape(len(grid), files.levels, 4)[:, :keep, :]
    ask_px = np.where(grid[:, :, 0] == DUMMY_ASK, EMPTY_ASK_PX, grid[:, :, 0])
    bid_px = np.where(grid[:, :, 2] == DUMMY_BID, EMPTY_BID_PX, grid[:, :, 2])
    kind = msg["kind"].to_numpy()[ok]
    size, direction, lines = size[ok], direction[ok], line[ok].astype(np.int64)
    is_trade = (kind == 4) | (kind == 5)
    flags = np.where(is_trade, TickFlag.BOOK | TickFlag.TRADE, TickFlag.BOOK).astype(np.uint8)
    ticks = TickBatch(
        instrument=instrument,
        ts_event=msg["ts"].to_numpy()[ok].astype(np.int64),
        seq=lines - 1,
        flags=flags,
        bid_px=np.ascontiguousarray(bid_px),
        bid_sz=np.ascontiguousarray(grid[:, :, 3]),
        ask_px=np.ascontiguousarray(ask_px),
        ask_sz=np.ascontiguousarray(grid[:, :, 1]),
        trade_px=np.where(is_trade, msg["price"].fill_null(0).to_numpy()[ok], 0).astype(np.int64),
        trade_sz=np.where(is_trade, -direction * size, 0).astype(np.int64),
        source=source,
        line=lines,
    )
    rejects.sort(key=lambda r: r.line)
    return FeedData(ticks=ticks, rejects=rejects)
