"""The JSON edge of ``ticks.raw``, one symbol at a time: decoded records -> tick batches.

``schemas.wire.decode_message`` turns each Kafka message into a record; the
live dataflow keys the records by symbol (``symbol_of``) and keeps one
``Normalizer`` per symbol, which takes them in Kafka order and returns the
same ``TickBatch`` rows the replay path makes, plus the records it refuses.
No Bytewax here: the dataflow step is a thin wrapper, and tests call
``update`` directly.

A symbol is fed either by Binance or by FlowSense JSON, fixed by its first
record; a record of the other family is ``BAD_VALUE``.

Binance records (``BinanceStream``, the file reader's own book logic): the
book is rebuilt from the REST snapshot and the depth diffs with the reader's
hold buffer, sync and gap rules, trades repeat the book, bookTicker messages
are not part of the depth feed. ``ts_event`` is each message's receive time
(``ts_recv``), as for the reader. Fed a capture's lines in order, the rows
and rejects are exactly ``read_binance``'s.

FlowSense JSON records (``JSON_SCALE`` units, so ``price_scale = size_scale =
10**8``): ``book`` gives a ``BOOK`` row with its top ``levels`` levels a side
(best first, strictly: bids falling, asks rising, sizes > 0, else
``BAD_VALUE``); ``quote`` a level-1 ``BOOK`` row (a size of 0 leaves that
side empty); ``trade`` a ``TRADE`` row repeating the last book
(``BOOK_NOT_READY`` before any). The first book or quote fixes the
instrument's level count: ``levels`` for a book, 1 for a quote (a book on a
quoted symbol keeps its best level; a quote on a book symbol, which would
blank the deeper levels, is ``BAD_VALUE``). ``seq`` is the record's own, or
the previous one + 1 when it has none; a ``seq`` that does not increase is a
repeat or out of order and ``BAD_VALUE`` (it would overwrite a row that has
the same key downstream). The instrument's tick is the gcd of the prices of
the first rows made (a producer sends no tick), fixed from then on. Crossed
books, negative sizes and time order are the validation step's.

Rows carry ``source`` (``topic/partition``) and ``line`` (the offset) of their
message; rejects too, with the record's ``ts_event`` (Binance: ``ts_recv``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from dataflows.readers.binance import BinanceStream, Rows, Top, binance_symbol
from schemas.market import (
    EMPTY_ASK_PX,
    EMPTY_BID_PX,
    Reject,
    RejectReason,
    TickBatch,
    TickFlag,
)
from schemas.wire import (
    JSON_SCALE,
    BinanceRecord,
    JsonRecord,
    WireBook,
    WireQuote,
    WireTrade,
)

_BOOK = int(TickFlag.BOOK)
_TRADE = int(TickFlag.TRADE)
Record = JsonRecord | BinanceRecord
_JSON_TYPES = (WireBook, WireQuote, WireTrade)


class Received(NamedTuple):
    """A decoded record and where its message was read (``topic/partition`` and offset)."""

    record: Record
    source: str
    line: int


def symbol_of(record: Record) -> str:
    """The symbol a record belongs to: its own, or Binance's by the reader's naming rules."""
    if isinstance(record, _JSON_TYPES):
        return record.symbol
    return binance_symbol(record)


class _JsonFeed:
    """Rows of one symbol from FlowSense JSON v1 records (see the module docstring)."""

    def __init__(self, symbol: str, levels: int) -> None:
        self.symbol = symbol
        self.max_levels = levels
        self.levels = 0
        """The instrument's level count, fixed by the first book or quote; 0 until then."""
        self.top: Top | None = None
        self.last_seq = -1
        self.tick = 0
        self.source = ""
        self.rows = Rows()
        self.seqs: list[int] = []
        self.rejects: list[Reject] = []

    def update(self, record: JsonRecord, source: str, line: int) -> None:
        problem = self._problem(record)
        if problem is not None:
            reason, detail = problem
            self.rejects.append(Reject(self.symbol, source, line, reason, detail, record.ts_event))
            return
        seq = self.last_seq + 1 if record.seq is None else record.seq
        if not self.source:
            self.source = source
        if isinstance(record, WireTrade):
            assert self.top is not None
            self.rows.add(record.ts_event, line, _TRADE, self.top, record.price, record.signed_size)
        else:
            if not self.levels:
                self.levels = 1 if isinstance(record, WireQuote) else self.max_levels
            self.top = _quote_top(record) if isinstance(record, WireQuote) else self._book(record)
            self.rows.add(record.ts_event, line, _BOOK, self.top)
        self.seqs.append(seq)
        self.last_seq = seq

    def _problem(self, record: JsonRecord) -> tuple[RejectReason, str] | None:
        if record.seq is not None and record.seq <= self.last_seq:
            detail = f"seq {record.seq} <= previous seq {self.last_seq} (a repeat or out of order)"
            return RejectReason.BAD_VALUE, detail
        if isinstance(record, WireTrade):
            if self.top is None:
                return RejectReason.BOOK_NOT_READY, "no book or quote before this trade"
        elif isinstance(record, WireQuote):
            if self.levels > 1:
                return RejectReason.BAD_VALUE, f"quote for a symbol with a {self.levels}-level book"
        else:
            return _book_problem(record)
        return None

    def _book(self, record: WireBook) -> Top:
        levels = self.levels
        bids, asks = record.bids[:levels], record.asks[:levels]
        pad_bids, pad_asks = levels - len(bids), levels - len(asks)
        return (
            [px for px, _ in bids] + [EMPTY_BID_PX] * pad_bids,
            [sz for _, sz in bids] + [0] * pad_bids,
            [px for px, _ in asks] + [EMPTY_ASK_PX] * pad_asks,
            [sz for _, sz in asks] + [0] * pad_asks,
        )

    def drain(self) -> tuple[TickBatch | None, list[Reject]]:
        rejects, self.rejects = self.rejects, []
        if not len(self.rows):
            return None, rejects
        rows, seqs = self.rows, np.array(self.seqs, dtype=np.int64)
        self.rows, self.seqs = Rows(), []
        ticks = rows.to_batch(
            (self.symbol, "", self.levels), self.tick, seqs, self.source, JSON_SCALE
        )
        self.tick = ticks.instrument.tick
        return ticks, rejects


def _quote_top(q: WireQuote) -> Top:
    return (
        [q.bid_px if q.bid_sz else EMPTY_BID_PX],
        [q.bid_sz],
        [q.ask_px if q.ask_sz else EMPTY_ASK_PX],
        [q.ask_sz],
    )


def _book_problem(book: WireBook) -> tuple[RejectReason, str] | None:
    for name, side, step in (("bids", book.bids, -1), ("asks", book.asks, 1)):
        for i, (px, sz) in enumerate(side):
            if sz == 0:
                return RejectReason.BAD_VALUE, f"{name}[{i}] has size 0"
            if i and (px - side[i - 1][0]) * step <= 0:
                order = "falling" if step < 0 else "rising"
                return RejectReason.BAD_VALUE, f"{name} are not strictly {order} at level {i}"
    return None


class Normalizer:
    """One symbol's records in Kafka order -> its tick rows and refused records.

    ``levels``: book levels of the rows (the replay's ``levels``, Binance's 10 by default).
    """

    def __init__(self, symbol: str, levels: int = 10) -> None:
        self.symbol = symbol
        self.levels = levels
        self._binance: BinanceStream | None = None
        self._json: _JsonFeed | None = None

    def update(self, received: Iterable[Received]) -> tuple[TickBatch | None, list[Reject]]:
        """Apply the records; the rows and rejects they made (rows ``None`` when none)."""
        rejects: list[Reject] = []
        for record, source, line in received:
            if isinstance(record, _JSON_TYPES):
                if self._binance is None:
                    self._json = self._json or _JsonFeed(self.symbol, self.levels)
                    self._json.update(record, source, line)
                    continue
            elif self._json is None:
                if self._binance is None:
                    self._binance = BinanceStream(
                        record.symbol, record.futures, source, self.levels
                    )
                self._binance.update(record, source, line)
                continue
            fed_by = "Binance" if self._binance is not None else "FlowSense JSON"
            detail = f"{type(record).__name__} for a symbol fed by {fed_by} messages"
            ts = record.ts_event if isinstance(record, _JSON_TYPES) else record.ts_recv
            rejects.append(Reject(self.symbol, source, line, RejectReason.BAD_VALUE, detail, ts))
        ticks, made = self.drain()
        return ticks, rejects + made if rejects else made

    def flush(self) -> tuple[TickBatch | None, list[Reject]]:
        """The end of the input: Binance diffs still held for a snapshot are rejected."""
        if self._binance is not None:
            self._binance.flush()
        return self.drain()

    def drain(self) -> tuple[TickBatch | None, list[Reject]]:
        feed = self._binance or self._json
        return (None, []) if feed is None else feed.drain()
