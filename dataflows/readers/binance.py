"""Binance websocket captures (gzip text, ``<receive ns> <json>`` a line) -> ``FeedData``.

One ``FeedData`` per instrument; several files of one market and symbol are
one stream, read in file-name order, so a book carries across midnight.

Clock: ``ts_event`` is the line's local receive time. The depth, trade and
bookTicker streams' exchange clocks (``E``, ``T``) are not mutually ordered in
receive order (measured on these captures: for 1.5-16 % of depth+trade events
the exchange time is earlier than that of an event received before it, by up
to 186 ms) and spot bookTicker carries no exchange time at all, so the receive
time is the one clock that orders the merged stream as a consumer saw it.

``book="depth"``: the full book is rebuilt from the REST snapshot and the
diffs (Binance's procedure). Every applied diff gives one ``BOOK`` row with
the top ``levels`` levels; every trade gives one ``TRADE`` row repeating the
current book. bookTicker messages are not part of this feed (they are the
``ticker`` feed). Sync rules:

- diffs received while there is no usable book (before the first snapshot,
  or stale) are held, as a live consumer buffers them while it fetches a
  snapshot: in 4 of these 5 captures the diff that brackets the snapshot id
  arrives *before* the snapshot line, so rejecting it would leave the book
  unsyncable. The next snapshot replays the held diffs newer than it; their
  rows carry the snapshot's receive time, the moment that book became
  knowable (no look-ahead). A held diff that never reaches the book keeps
  the reason of when it came: ``BOOK_NOT_READY`` before the first snapshot,
  ``SEQUENCE_GAP`` while stale (also when pushed out of a full hold buffer).
- after a snapshot, diffs with ``u`` <= the book's update id are
  ``SUPERSEDED``; the first diff applied must bracket the snapshot id (spot:
  ``U`` <= id + 1; futures: ``pu`` <= id, since futures ids between ``pu``
  and ``U`` belong to other symbols); later ones must continue it (spot ``U``
  == prev ``u`` + 1, futures ``pu`` == prev ``u``).
- an id gap is ``SEQUENCE_GAP`` for the diff that shows it and makes the book
  stale: every later diff and trade is ``SEQUENCE_GAP`` (detail: stale) until
  the next snapshot re-syncs the book.
- trades before the book is synced are ``BOOK_NOT_READY``; a snapshot older
  than the live book is ``SUPERSEDED``; applied snapshots make no row.

``book="ticker"``: level 1 from bookTicker (``b B a A``), one ``BOOK`` row per
message (an older or repeated ``u`` is ``SUPERSEDED``), trades as above;
depth diffs and snapshots belong to the depth feed and are skipped.

Every other message becomes a ``Reject``: an unparseable line, JSON or
missing field is ``MALFORMED_MESSAGE``; a futures trade that is not a market
execution (``X`` != ``MARKET``) or has zero quantity is ``BAD_VALUE``. Blank
lines and messages of the other mode count as nothing.

Units: prices and sizes are decimal strings converted exactly (string
arithmetic, never a float) to int64 with ``price_scale = size_scale = 10**8``.
``Instrument.tick`` is the gcd of the integer prices of the feed's first
snapshot (1000 levels a side: the venue's tick unless every level sits on a
coarser grid); without a snapshot (and in ticker mode, which takes none), the
gcd of the prices in the rows, 1 if there are none.

Live use: ``BinanceStream`` takes the same messages one at a time, as the
records ``schemas.wire.decode_message`` makes of Kafka messages, and runs them
through the same feed classes (one implementation of the sync, gap and hold
rules); ``drain`` hands over the rows and rejects made so far, ``seq``
continuing from one drain to the next. Fed a capture's lines in order and
drained after ``flush``, it gives exactly ``read_binance``'s ticks and rejects
(rejects in the order they were made; ``read_binance`` sorts them by line).

Naming: spot ``data["s"]`` (``BTCUSDT``, venue ``BINANCE``); USDⓈ-M perpetual
``BTCUSDT-PERP`` (venue ``BINANCE-USDM``); COIN-M ``data["s"]`` as is
(``BTCUSD_PERP``, venue ``BINANCE-COINM``). A message is futures when it
carries a field spot lacks (depth ``pu``, bookTicker ``E``, trade ``X``); a
futures symbol with ``_`` whose base ends in ``USD`` is COIN-M.
"""

from __future__ import annotations

import gzip
import math
import re
import zlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
from sortedcontainers import SortedDict

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
from schemas.wire import (
    BinanceBookTicker,
    BinanceDepthDiff,
    BinanceDepthSnapshot,
    BinanceRecord,
    BinanceTrade,
)

SCALE_DIGITS = 8
PRICE_SCALE = SIZE_SCALE = 10**SCALE_DIGITS
MAX_HELD_DIFFS = 1000
"""Diffs held while waiting for a snapshot; older ones are rejected (bounded memory)."""

_INT64_MAX = 2**63 - 1
_BOOK = int(TickFlag.BOOK)
_TRADE = int(TickFlag.TRADE)
_OTHER_MODE = {"depth": "bookTicker", "ticker": "depth"}
_STREAM_NAME = re.compile(rb'"stream"\s*:\s*"([^"@]+)@')

BookMode = Literal["depth", "ticker"]
Level = tuple[int, int]
Top = tuple[list[int], list[int], list[int], list[int]]


def to_units(text: str) -> int:
    """An unsigned decimal string as an exact integer count of 10**-8 units.

    ``"61800.20"`` -> 6180020000000. Parsed as text so no binary float ever
    rounds it; raises ``ValueError``/``TypeError`` for anything else.
    """
    if type(text) is not str:
        raise TypeError(f"expected a decimal string, got {text!r}")
    whole, _, frac = text.partition(".")
    if not (whole.isascii() and whole.isdigit()) or (
        frac and not (frac.isascii() and frac.isdigit())
    ):
        raise ValueError(f"not a plain decimal: {text!r}")
    if len(frac) > SCALE_DIGITS:
        if frac[SCALE_DIGITS:].strip("0"):
            raise ValueError(f"{text!r} has more than {SCALE_DIGITS} decimals")
        frac = frac[:SCALE_DIGITS]
    value = int(whole + frac.ljust(SCALE_DIGITS, "0"))
    if value > _INT64_MAX:
        raise ValueError(f"{text!r} does not fit int64 at scale 10**{SCALE_DIGITS}")
    return value


class _Units(dict[str, int]):
    """Memo of ``to_units`` for one read: prices and sizes repeat, a dict hit is ~10x cheaper."""

    def __missing__(self, text: str) -> int:
        value = to_units(text)
        self[text] = value
        return value


def _id(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"bad update id {value!r}")
    return value


def _levels(raw: Any, units: _Units) -> list[Level]:
    if type(raw) is not list:
        raise ValueError(f"price levels must be a list, got {type(raw).__name__}")
    return [(units[px], units[qty]) for px, qty in raw]


# --- parsed messages ---------------------------------------------------------------


@dataclass(slots=True)
class _Where:
    source: str
    line: int
    ts: int


@dataclass(slots=True)
class _Diff:
    first_id: int  # U
    last_id: int  # u
    prev_id: int | None  # pu (futures only)
    bids: list[Level]
    asks: list[Level]
    where: _Where


@dataclass(slots=True)
class _Snapshot:
    last_id: int
    bids: list[Level]
    asks: list[Level]


@dataclass(slots=True)
class _Trade:
    px: int
    size: int  # signed by the aggressor
    problem: str | None  # why it is not an aggressor trade, if it is not one


@dataclass(slots=True)
class _Ticker:
    update_id: int
    top: Top


_Event = _Diff | _Snapshot | _Trade | _Ticker


def _parse_diff(data: dict[str, Any], units: _Units, where: _Where) -> _Diff:
    diff = _Diff(
        first_id=_id(data["U"]),
        last_id=_id(data["u"]),
        prev_id=_id(data["pu"]) if "pu" in data else None,
        bids=_levels(data["b"], units),
        asks=_levels(data["a"], units),
        where=where,
    )
    if diff.first_id > diff.last_id:
        raise ValueError(f"U={diff.first_id} > u={diff.last_id}")
    return diff


def _parse_snapshot(msg: dict[str, Any], units: _Units) -> _Snapshot:
    return _Snapshot(
        _id(msg["lastUpdateId"]), _levels(msg["bids"], units), _levels(msg["asks"], units)
    )


def _trade(px: int, qty: int, maker_is_buyer: bool, execution: Any) -> _Trade:
    """Size signed by the aggressor: ``m`` true means the buyer was the maker (seller took).

    Only market executions (``X``; spot trades, which have none, are) with a
    quantity are order flow.
    """
    problem = None
    if execution != "MARKET":
        problem = f"not a market execution (X={execution!r})"
    elif qty == 0:
        problem = "zero quantity"
    return _Trade(px, -qty if maker_is_buyer else qty, problem)


def _parse_trade(data: dict[str, Any], units: _Units) -> _Trade:
    px, qty, maker_is_buyer = units[data["p"]], units[data["q"]], data["m"]
    if type(maker_is_buyer) is not bool:
        raise ValueError(f"'m' must be a boolean, got {maker_is_buyer!r}")
    return _trade(px, qty, maker_is_buyer, data.get("X", "MARKET"))


def _ticker(update_id: int, bid_px: int, bid_sz: int, ask_px: int, ask_sz: int) -> _Ticker:
    """Level-1 book; a side with zero size is an empty level."""
    if not bid_sz:
        bid_px = EMPTY_BID_PX
    if not ask_sz:
        ask_px = EMPTY_ASK_PX
    return _Ticker(update_id, ([bid_px], [bid_sz], [ask_px], [ask_sz]))


def _parse_ticker(data: dict[str, Any], units: _Units) -> _Ticker:
    return _ticker(
        _id(data["u"]), units[data["b"]], units[data["B"]], units[data["a"]], units[data["A"]]
    )


# --- naming --------------------------------------------------------------------


_FUTURES_ONLY = {"depth": "pu", "bookTicker": "E", "trade": "X"}


def _is_futures(kind: str, data: dict[str, Any]) -> bool:
    """Futures messages carry a field that spot ones lack."""
    return _FUTURES_ONLY[kind] in data


def _feed_id(raw_symbol: str, futures: bool) -> tuple[str, str]:
    """(venue, symbol) of a Binance symbol on its market."""
    if not futures:
        return "BINANCE", raw_symbol
    base, underscore, _ = raw_symbol.partition("_")
    if underscore and base.endswith("USD"):
        return "BINANCE-COINM", raw_symbol
    # USDⓈ-M delivery contracts (BTCUSDT_240927) already name their expiry.
    return "BINANCE-USDM", raw_symbol if underscore else f"{raw_symbol}-PERP"


# --- book ----------------------------------------------------------------------


class _Book:
    """The full book per side.

    A SortedDict keyed by integer price keeps every level (a deletion at the
    top must reveal the next one) with O(log n) updates and an in-order walk
    for the top levels. Bids are keyed by the negated price so both sides
    walk best-first from the start.
    """

    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()

    def load(self, bids: list[Level], asks: list[Level]) -> None:
        self.bids = SortedDict({-px: qty for px, qty in bids if qty})
        self.asks = SortedDict({px: qty for px, qty in asks if qty})

    def apply(self, bids: list[Level], asks: list[Level]) -> None:
        for side, key_sign, levels in ((self.bids, -1, bids), (self.asks, 1, asks)):
            for px, qty in levels:
                if qty:
                    side[key_sign * px] = qty
                else:
                    side.pop(key_sign * px, None)

    def top(self, levels: int) -> Top:
        """Top ``levels`` levels a side, padded with empty levels."""
        bid_keys = list(islice(self.bids, levels))
        ask_keys = list(islice(self.asks, levels))
        bid_pad = [EMPTY_BID_PX] * (levels - len(bid_keys))
        ask_pad = [EMPTY_ASK_PX] * (levels - len(ask_keys))
        return (
            [-k for k in bid_keys] + bid_pad,
            [self.bids[k] for k in bid_keys] + [0] * len(bid_pad),
            ask_keys + ask_pad,
            [self.asks[k] for k in ask_keys] + [0] * len(ask_pad),
        )


# --- feeds ---------------------------------------------------------------------


@dataclass(slots=True)
class Rows:
    """Row columns as Python lists (appending is cheap); arrays are built once per batch."""

    ts: list[int] = field(default_factory=list)
    line: list[int] = field(default_factory=list)
    flags: list[int] = field(default_factory=list)
    bid_px: list[int] = field(default_factory=list)
    bid_sz: list[int] = field(default_factory=list)
    ask_px: list[int] = field(default_factory=list)
    ask_sz: list[int] = field(default_factory=list)
    trade_px: list[int] = field(default_factory=list)
    trade_sz: list[int] = field(default_factory=list)

    def add(self, ts: int, line: int, flag: int, top: Top, px: int = 0, sz: int = 0) -> None:
        self.ts.append(ts)
        self.line.append(line)
        self.flags.append(flag)
        self.bid_px.extend(top[0])
        self.bid_sz.extend(top[1])
        self.ask_px.extend(top[2])
        self.ask_sz.extend(top[3])
        self.trade_px.append(px)
        self.trade_sz.append(sz)

    def __len__(self) -> int:
        return len(self.ts)

    def to_batch(
        self,
        instrument: tuple[str, str, int],
        tick: int,
        seq: np.ndarray,
        source: str,
        scale: int = PRICE_SCALE,
    ) -> TickBatch:
        """The rows as a ``TickBatch`` of ``instrument`` (symbol, venue, levels).

        Prices and sizes are at ``scale`` units; ``tick`` 0 means the gcd of the
        rows' prices (1 without any).
        """
        symbol, venue, levels = instrument
        n, i64 = len(self.ts), np.int64

        def matrix(values: list[int]) -> np.ndarray:
            return np.array(values, dtype=i64).reshape(n, levels)

        bid_px, ask_px = matrix(self.bid_px), matrix(self.ask_px)
        trade_px = np.array(self.trade_px, dtype=i64)
        return TickBatch(
            instrument=Instrument(
                symbol=symbol,
                price_scale=scale,
                size_scale=scale,
                tick=tick or _grid(bid_px, ask_px, trade_px),
                levels=levels,
                venue=venue,
            ),
            ts_event=np.array(self.ts, dtype=i64),
            seq=seq,
            flags=np.array(self.flags, dtype=np.uint8),
            bid_px=bid_px,
            bid_sz=matrix(self.bid_sz),
            ask_px=ask_px,
            ask_sz=matrix(self.ask_sz),
            trade_px=trade_px,
            trade_sz=np.array(self.trade_sz, dtype=i64),
            source=source,
            line=np.array(self.line, dtype=i64),
        )


class _Feed:
    """Rows and rejects of one instrument; subclasses hold the book logic of a mode."""

    def __init__(self, venue: str, symbol: str, source: str, levels: int) -> None:
        self.venue = venue
        self.symbol = symbol
        self.source = source
        self.levels = levels
        self.rows = Rows()
        self.rejects: list[Reject] = []
        self.tick = 0
        """gcd of the first snapshot's prices (or of the first drained rows'); 0 until then."""
        self.next_seq = 0

    def reject(self, where: _Where, reason: RejectReason, detail: str) -> None:
        self.rejects.append(Reject(self.symbol, where.source, where.line, reason, detail, where.ts))

    # Each mode's feed overrides the handlers of the messages it takes; the reader
    # sends it no others.
    def on_snapshot(self, snap: _Snapshot, where: _Where) -> None:
        raise NotImplementedError

    def on_diff(self, diff: _Diff) -> None:
        raise NotImplementedError

    def on_ticker(self, update_id: int, top: Top, where: _Where) -> None:
        raise NotImplementedError

    def on_trade(self, px: int, sz: int, where: _Where) -> None:
        raise NotImplementedError

    def _flush(self) -> None:
        """Reject what is still pending at the end of the input."""

    def take_rows(self) -> TickBatch:
        """The rows made since the last call, as one batch (``seq`` continues; may be empty).

        The tick, unless a snapshot gave it, is the gcd of the prices of the
        first rows taken, and stays that from then on.
        """
        rows, self.rows = self.rows, Rows()
        n = len(rows)
        seq = np.arange(self.next_seq, self.next_seq + n, dtype=np.int64)
        ticks = rows.to_batch((self.symbol, self.venue, self.levels), self.tick, seq, self.source)
        if n:
            self.tick, self.next_seq = ticks.instrument.tick, self.next_seq + n
        return ticks

    def drain(self) -> tuple[TickBatch | None, list[Reject]]:
        """Rows (``None`` if none) and rejects made since the last drain, in the order made."""
        rejects, self.rejects = self.rejects, []
        return (self.take_rows() if self.rows.ts else None), rejects

    def finish(self, rank: dict[str, int]) -> FeedData:
        """The feed's ticks and its rejects, in file then line order (``rank``: file order)."""
        self._flush()
        ticks = self.take_rows()
        rejects, self.rejects = self.rejects, []
        rejects.sort(key=lambda r: (rank[r.source], r.line))
        return FeedData(ticks=ticks, rejects=rejects)


def _grid(bid_px: np.ndarray, ask_px: np.ndarray, trade_px: np.ndarray) -> int:
    """gcd of the real prices in the rows (the tick when no snapshot was seen); 1 if none."""
    prices = np.concatenate(
        [bid_px[bid_px != EMPTY_BID_PX], ask_px[ask_px != EMPTY_ASK_PX], trade_px[trade_px != 0]]
    )
    return int(np.gcd.reduce(prices)) if len(prices) else 1


class _State(Enum):
    NO_SNAPSHOT = "no snapshot yet"
    SYNCING = "snapshot loaded, no diff applied yet"
    LIVE = "live"
    STALE = "stale"


class _DepthFeed(_Feed):
    """Book rebuilt from snapshot + diffs."""

    def __init__(self, venue: str, symbol: str, source: str, levels: int) -> None:
        super().__init__(venue, symbol, source, levels)
        self.book = _Book()
        self.book_id = 0
        self.state = _State.NO_SNAPSHOT
        self.stale_since = ""
        self.held: deque[tuple[_Diff, RejectReason, str]] = deque()
        self.top: Top = self.book.top(levels)

    def on_snapshot(self, snap: _Snapshot, where: _Where) -> None:
        if not self.tick:
            self.tick = math.gcd(*(px for px, _ in snap.bids), *(px for px, _ in snap.asks))
        if self.state is _State.LIVE and snap.last_id <= self.book_id:
            detail = f"snapshot lastUpdateId={snap.last_id} <= live book id {self.book_id}"
            self.reject(where, RejectReason.SUPERSEDED, detail)
            return
        self.book.load(snap.bids, snap.asks)
        self.book_id = snap.last_id
        self.state = _State.SYNCING
        held, self.held = self.held, deque()
        for diff, reason, detail in held:
            if diff.last_id <= snap.last_id:
                self.reject(
                    diff.where, reason, f"{detail}; covered by the snapshot at line {where.line}"
                )
            else:  # its book became knowable when the snapshot arrived
                self._diff(diff, max(diff.where.ts, where.ts))

    def on_diff(self, diff: _Diff) -> None:
        self._diff(diff, diff.where.ts)

    def _diff(self, diff: _Diff, ts: int) -> None:
        if self.state is _State.NO_SNAPSHOT:
            self._hold(diff, RejectReason.BOOK_NOT_READY, "received before any snapshot")
        elif self.state is _State.STALE:
            self._hold(diff, RejectReason.SEQUENCE_GAP, f"book stale since {self.stale_since}")
        elif diff.last_id <= self.book_id:
            detail = f"u={diff.last_id} <= book update id {self.book_id}"
            self.reject(diff.where, RejectReason.SUPERSEDED, detail)
        elif self._continues(diff):
            self.book.apply(diff.bids, diff.asks)
            self.book_id = diff.last_id
            self.state = _State.LIVE
            self.top = self.book.top(self.levels)
            self.rows.add(ts, diff.where.line, _BOOK, self.top)
        else:
            self.state = _State.STALE
            self.stale_since = f"line {diff.where.line} of {diff.where.source}"
            self.reject(diff.where, RejectReason.SEQUENCE_GAP, self._gap(diff))

    def _continues(self, diff: _Diff) -> bool:
        if diff.prev_id is None:  # spot: ids are contiguous
            return diff.first_id <= self.book_id + 1
        if self.state is _State.SYNCING:  # futures ids in (pu, U) belong to other symbols
            return diff.prev_id <= self.book_id
        return diff.prev_id == self.book_id

    def _gap(self, diff: _Diff) -> str:
        if diff.prev_id is None:
            return f"id gap: U={diff.first_id} > book id {self.book_id} + 1"
        return f"id gap: pu={diff.prev_id} != book id {self.book_id}"

    def _hold(self, diff: _Diff, reason: RejectReason, detail: str) -> None:
        self.held.append((diff, reason, detail))
        if len(self.held) > MAX_HELD_DIFFS:
            old, old_reason, old_detail = self.held.popleft()
            self.reject(old.where, old_reason, f"{old_detail}; pushed out of the held diffs")

    def on_trade(self, px: int, sz: int, where: _Where) -> None:
        if self.state is _State.LIVE:
            self.rows.add(where.ts, where.line, _TRADE, self.top, px, sz)
        elif self.state is _State.STALE:
            self.reject(where, RejectReason.SEQUENCE_GAP, f"book stale since {self.stale_since}")
        else:
            self.reject(where, RejectReason.BOOK_NOT_READY, f"book not synced ({self.state.value})")

    def _flush(self) -> None:
        while self.held:
            diff, reason, detail = self.held.popleft()
            self.reject(diff.where, reason, f"{detail}; no snapshot came after it")


class _TickerFeed(_Feed):
    """Level-1 book from bookTicker."""

    def __init__(self, venue: str, symbol: str, source: str, levels: int) -> None:
        super().__init__(venue, symbol, source, 1)
        self.last_id = -1
        self.top: Top | None = None

    def on_ticker(self, update_id: int, top: Top, where: _Where) -> None:
        if update_id <= self.last_id:
            detail = f"u={update_id} <= previous bookTicker u={self.last_id}"
            self.reject(where, RejectReason.SUPERSEDED, detail)
            return
        self.last_id = update_id
        self.top = top
        self.rows.add(where.ts, where.line, _BOOK, top)

    def on_trade(self, px: int, sz: int, where: _Where) -> None:
        if self.top is None:
            self.reject(where, RejectReason.BOOK_NOT_READY, "no bookTicker before it")
        else:
            self.rows.add(where.ts, where.line, _TRADE, self.top, px, sz)


# --- files ---------------------------------------------------------------------


def _load_lines(path: Path) -> tuple[bytes, list[bytes]]:
    """The file's text and lines; ``ValueError`` if it is not a Binance capture."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: unreadable gzip ({exc})") from None
    lines = raw.split(b"\n")
    first = next((line for line in lines if line.strip()), b"")
    stamp, _, payload = first.partition(b" ")
    try:
        ok = stamp.isdigit() and isinstance(orjson.loads(payload), dict)
    except orjson.JSONDecodeError:
        ok = False
    if not ok:
        raise ValueError(f"{path}: not a Binance capture (first line is not '<receive ns> <json>')")
    return raw, lines


class _FileReader:
    """Dispatches one file's lines to the feeds, creating feeds as symbols appear."""

    def __init__(
        self,
        path: Path,
        feeds: dict[tuple[str, str], _Feed],
        mode: BookMode,
        levels: int,
        units: _Units,
    ) -> None:
        self.path = path
        self.source = str(path)
        self.feeds = feeds
        self.mode = mode
        self.levels = levels
        self.units = units
        self.current: _Feed | None = None
        """Feed of the last identified message: owner of rejects that name no symbol."""
        self.orphans: list[tuple[_Where, str]] = []
        self.stream_symbols: set[str] | None = None

    def read(self) -> None:
        text, lines = _load_lines(self.path)
        for lineno, raw in enumerate(lines, 1):
            if raw and not raw.isspace():  # isspace stops at the first byte; strip would copy
                self._line(raw, lineno, text)
        if self.orphans:
            raise ValueError(f"{self.path}: no Binance stream message to attribute rejects to")

    def _line(self, raw: bytes, lineno: int, text: bytes) -> None:
        stamp, _, payload = raw.partition(b" ")
        if not stamp.isdigit():
            where = _Where(self.source, lineno, 0)
            self._malformed(where, "line does not start with '<receive ns> '")
            return
        where = _Where(self.source, lineno, int(stamp))
        # Only decoding is guarded: a message that does not parse is a reject, while
        # the book logic after it runs unguarded (a bug there must not pass as data).
        try:
            decoded = self._decode(orjson.loads(payload), where, text)
        except (KeyError, TypeError, ValueError) as exc:  # JSONDecodeError is a ValueError
            self._malformed(where, f"{type(exc).__name__}: {exc}")
            return
        if decoded is not None:
            _dispatch(*decoded, where)

    def _decode(self, msg: Any, where: _Where, text: bytes) -> tuple[_Feed, _Event] | None:
        """The message's feed and event; None for a message of the other mode."""
        if type(msg) is not dict:
            raise ValueError("JSON is not an object")
        if "stream" in msg:
            return self._decode_stream(msg["stream"], msg["data"], where)
        if "lastUpdateId" in msg:
            return self._decode_snapshot(msg, text)
        raise ValueError("neither a stream message nor a depth snapshot")

    def _decode_stream(self, stream: Any, data: Any, where: _Where) -> tuple[_Feed, _Event] | None:
        kind = stream.split("@")[1] if "@" in stream else stream
        if kind not in _FUTURES_ONLY:
            raise ValueError(f"unsupported stream {stream!r}")
        if kind == _OTHER_MODE[self.mode]:
            return None  # the other mode's message: neither a row nor a reject here
        feed = self._feed(data["s"], _is_futures(kind, data))
        if kind == "trade":
            return feed, _parse_trade(data, self.units)
        if kind == "depth":
            return feed, _parse_diff(data, self.units, where)
        return feed, _parse_ticker(data, self.units)

    def _decode_snapshot(self, msg: dict[str, Any], text: bytes) -> tuple[_Feed, _Event] | None:
        if self.mode != "depth":
            return None  # the ticker feed takes no snapshot
        # Futures snapshots carry E/T (COIN-M also the symbol); spot ones name no symbol,
        # which is then the one symbol of the file's streams.
        futures = "E" in msg or "symbol" in msg
        feed = self._feed(msg.get("symbol") or self._only_stream_symbol(text), futures)
        return feed, _parse_snapshot(msg, self.units)

    def _only_stream_symbol(self, text: bytes) -> str:
        if self.stream_symbols is None:
            self.stream_symbols = {m.decode().upper() for m in _STREAM_NAME.findall(text)}
        if len(self.stream_symbols) != 1:
            names = sorted(self.stream_symbols) or ["none"]
            raise ValueError(f"snapshot names no symbol and the file's streams are {names}")
        return next(iter(self.stream_symbols))

    def _feed(self, raw_symbol: Any, futures: bool) -> _Feed:
        if type(raw_symbol) is not str or not raw_symbol:
            raise ValueError(f"bad symbol {raw_symbol!r}")
        key = _feed_id(raw_symbol, futures)
        feed = self.feeds.get(key)
        if feed is None:
            cls = _DepthFeed if self.mode == "depth" else _TickerFeed
            feed = self.feeds[key] = cls(key[0], key[1], self.source, self.levels)
        if self.current is None:
            for where, detail in self.orphans:
                feed.reject(where, RejectReason.MALFORMED_MESSAGE, detail)
            self.orphans.clear()
        self.current = feed
        return feed

    def _malformed(self, where: _Where, detail: str) -> None:
        if self.current is None:
            self.orphans.append((where, detail))
        else:
            self.current.reject(where, RejectReason.MALFORMED_MESSAGE, detail)


def _dispatch(feed: _Feed, event: _Event, where: _Where) -> None:
    match event:
        case _Diff():
            feed.on_diff(event)
        case _Snapshot():
            feed.on_snapshot(event, where)
        case _Ticker():
            feed.on_ticker(event.update_id, event.top, where)
        case _Trade(problem=None):
            feed.on_trade(event.px, event.size, where)
        case _Trade(problem=str(problem)):
            feed.reject(where, RejectReason.BAD_VALUE, problem)


# --- live: decoded records one at a time -------------------------------------------


def binance_symbol(record: BinanceRecord) -> str:
    """The FlowSense symbol of a decoded Binance record (``BTCUSDT-PERP``...), its stream key."""
    return _feed_id(record.symbol, record.futures)[1]


def _event(record: BinanceRecord, mode: BookMode, where: _Where) -> _Event | None:
    """The feed event of a decoded record; None for a message of the other mode."""
    match record:
        case BinanceTrade():
            execution = "MARKET" if record.execution is None else record.execution  # spot
            return _trade(record.price, record.quantity, record.buyer_is_maker, execution)
        case BinanceDepthDiff() if mode == "depth":
            return _Diff(
                record.first_id,
                record.last_id,
                record.prev_id,
                list(record.bids),
                list(record.asks),
                where,
            )
        case BinanceDepthSnapshot() if mode == "depth":
            return _Snapshot(record.last_id, list(record.bids), list(record.asks))
        case BinanceBookTicker() if mode == "ticker":
            return _ticker(
                record.update_id, record.bid_px, record.bid_sz, record.ask_px, record.ask_sz
            )
    return None


class BinanceStream:
    """One instrument's Binance messages, taken one decoded record at a time (the live path).

    ``update`` runs a ``schemas.wire`` record through the reader's own feed
    (``book="depth"``: snapshot, diffs, hold buffer, sync and gap rules;
    ``"ticker"``: bookTicker), with ``source``/``line`` saying where the
    message was read and its ``ts_recv`` as the receive time. ``drain`` hands
    over the rows and rejects made so far; ``flush`` rejects what is still held
    (the end of the input).
    """

    def __init__(
        self,
        raw_symbol: str,
        futures: bool,
        source: str,
        levels: int = 10,
        book: BookMode = "depth",
    ) -> None:
        if book not in ("depth", "ticker"):
            raise ValueError(f"book must be 'depth' or 'ticker', not {book!r}")
        venue, symbol = _feed_id(raw_symbol, futures)
        cls = _DepthFeed if book == "depth" else _TickerFeed
        self._feed: _Feed = cls(venue, symbol, source, levels)
        self._mode: BookMode = book

    @property
    def symbol(self) -> str:
        return self._feed.symbol

    def update(self, record: BinanceRecord, source: str, line: int) -> None:
        where = _Where(source, line, record.ts_recv)
        event = _event(record, self._mode, where)
        if event is not None:
            _dispatch(self._feed, event, where)

    def flush(self) -> None:
        self._feed._flush()

    def drain(self) -> tuple[TickBatch | None, list[Reject]]:
        return self._feed.drain()


def read_binance(
    paths: Sequence[Path], levels: int = 10, book: BookMode = "depth"
) -> list[FeedData]:
    """Read Binance captures into one ``FeedData`` per instrument (see the module docstring).

    Files are read in file-name order; files of one market and symbol continue
    one stream. ``book="ticker"`` gives the level-1 bookTicker feed (levels 1).
    """
    if book not in ("depth", "ticker"):
        raise ValueError(f"book must be 'depth' or 'ticker', not {book!r}")
    if levels < 1:
        raise ValueError(f"levels must be >= 1, not {levels}")
    ordered = sorted((Path(p) for p in paths), key=lambda p: (p.name, str(p)))
    rank = {str(p): i for i, p in enumerate(ordered)}
    feeds: dict[tuple[str, str], _Feed] = {}
    units = _Units()
    for path in ordered:
        _FileReader(path, feeds, book, levels, units).read()
    return [feed.finish(rank) for feed in feeds.values()]
