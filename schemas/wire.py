"""Wire formats of the Kafka topics: the binary batch envelope and the JSON edge of ``ticks.raw``.

Pure codecs (no Kafka client here); they import nothing of ours but ``schemas``.

Internal topics: the binary batch envelope
=========================================

``ticks.raw`` as written by ``flowsense publish``, and ``features``,
``predictions``, ``orders``, ``fills``, ``alerts``: one Kafka message is one
batch of rows of ONE symbol (the message key is the symbol). Every message
starts with the same 8-byte prefix, all integers little-endian::

    0  magic    3 bytes  b"FSW"  (no JSON text starts with "F")
    3  version  u8       WIRE_VERSION (1); a consumer refuses any other
    4  kind     u8       1 = ticks, 2 = table
    5  flags    u8       ticks: bit 0 = a ``line`` column follows; other bits must be 0
    6  reserved u16      0

Ticks (kind 1): a fixed part ``n_rows u32, levels u32, price_scale i64,
size_scale i64, tick i64, len(symbol) u16, len(venue) u16, len(source) u16,
reserved u16``, then the UTF-8 ``symbol``, ``venue`` and ``source``, zero
padding to a multiple of 8 bytes, then the raw little-endian column buffers
in this order: ``ts_event, seq, trade_px, trade_sz`` (int64 [n]), ``line``
(int64 [n], only with flag bit 0), ``bid_px, bid_sz, ask_px, ask_sz``
(int64 [n, levels], row-major) and ``flags`` (uint8 [n]). The message is
exactly that long; anything else is refused. Every column starts on an
8-byte boundary, so ``decode_ticks`` returns zero-copy, read-only NumPy views
of the message (``copy=True`` for writeable arrays) and a ``TickBatch``
round-trips bit for bit, instrument and ``source`` included.

Tables (kind 2): ``len(kind name) u8``, the ASCII name of a ``TableKind``,
zero padding to a multiple of 8, then an Arrow IPC stream (schema and record
batches, uncompressed) of the table.

Why this format: measured by ``benchmarks/bench_wire.py`` (figures and
machine in ``benchmarks/RESULTS.md``, "Wire format (issue 3)") on the
full-day LOBSTER GOOG 10-level and AMZN 5-level files, against an Arrow IPC
stream of one record batch per message (book columns as fixed-size lists),
the same with LZ4 or ZSTD buffer compression, and orjson rows (the
baseline). At 1 024 and 16 384 rows a message, the one regime that matters
for the live path, the raw buffers encode at 18-36 M rows/s and decode at
76-1 240 M rows/s (zero-copy: decoding checks a header; 12-34 M rows/s into
fresh arrays), against 5-19 M / 6-114 M for Arrow IPC, 1.7-7 M / 1.7-11 M
with LZ4, 0.6-3.8 M / 0.9-7.7 M with ZSTD, and 0.14-0.23 M / 0.07-0.19 M for
JSON rows. At one row a message raw still does 0.17 M / 0.07 M rows/s, Arrow
IPC 0.01 M / 0.006 M (it repeats its schema in every message: 2 144 bytes for
one GOOG row, against 497 here, with the 71-byte source path). Bytes at
>= 1 024 rows equal Arrow IPC's uncompressed body (361 B/row for GOOG, 201 for
AMZN, ``line`` included). Compression makes ~10x fewer bytes (23-44 B/row)
at 2-30x less throughput (decoding compared with copying into fresh arrays);
where the broker's disk or network is short, Kafka's
own ``compression.type=lz4`` gets the same bytes (the benchmark's
``raw+lz4_frame``) in librdkafka's threads, for JSON too, so the envelope
stays uncompressed. Tables ride Arrow IPC: they carry strings and nulls, the
IPC stream encodes 8-100x faster than JSON rows and decodes faster still
(12-18 M rows/s encode at >= 1 024 rows), and Arrow is what the sinks write.

The JSON edge of ``ticks.raw``: outside producers
=================================================

``decode_message`` takes one raw Kafka value and tells apart the binary
envelope (leading ``b"FSW"``), FlowSense JSON (an object with ``"v"``) and
Binance JSON (an object with ``"stream"``, or a REST snapshot with
``"lastUpdateId"``). It never raises: anything it cannot decode is a
``Reject`` with ``RejectReason.MALFORMED_MESSAGE`` (bad JSON, not an object,
missing or unknown field, wrong type, unknown type, stream or version, bad
binary envelope) and a short detail. A negative size is
``NEGATIVE_SIZE``; a zero trade size, a side other than 1/-1 or a price that
collides with the empty-level sentinels is ``BAD_VALUE``. Crossed books and
time order are the validation step's (``operators.validate``), unknown
symbols the dataflow's.

Prices and sizes in JSON are converted exactly to integers in units of
10**-8 (``JSON_SCALE``, the Binance reader's scale: a consumer rescales to its
instrument with ``rescale``), from their decimal text, never through a binary
float: decimal strings (``"223.82"``, ``"1e-3"``) or JSON numbers, whose
literal text is re-read when a producer sends them as numbers. More than 8
non-zero decimals, or a value outside int64, is refused.

FlowSense JSON v1, one record per message. Common fields: ``"v": 1``,
``"type"``, ``"symbol"`` (non-empty string), ``"ts_event"`` (int ns since the
Unix epoch, UTC) and, optional, ``"seq"`` (int >= 0: the row's position in
the producer's stream, which with the symbol identifies it; timestamps
repeat). No other field is allowed.

- ``book``: the book after the event, top levels best first, each side
  ``[[price, size], ...]`` in currency and shares/coins (a side may be empty)::

      {"v": 1, "type": "book", "symbol": "AMZN", "ts_event": 1340285400017101088,
       "seq": 7, "bids": [["223.82", "100"], [223.81, 21]], "asks": [["223.95", 100]]}

- ``quote``: the best bid and ask (a size of 0 leaves that side empty)::

      {"v": 1, "type": "quote", "symbol": "BTCUSDT", "ts_event": 1723161254087891268,
       "bid_px": "61837.63", "bid_sz": "3.78826", "ask_px": "61837.64", "ask_sz": "1.54698"}

- ``trade``: ``size`` > 0, ``side`` the aggressor, 1 buyer- and -1
  seller-initiated::

      {"v": 1, "type": "trade", "symbol": "AMZN", "ts_event": 1340285400017101088,
       "seq": 8, "price": "223.95", "size": 100, "side": 1}

They decode to ``WireBook``, ``WireQuote`` and ``WireTrade``.

Binance JSON, exactly as the public websocket streams deliver it (see
``../shared/data/README.md``): the combined-stream envelope
``{"stream": "<symbol>@<stream>", "data": {...}}`` of ``depth`` (any update
speed), ``bookTicker`` and ``trade``, and the REST depth snapshot
``{"lastUpdateId": ..., "bids": [...], "asks": [...]}`` (spot snapshots name
no symbol: the Kafka key is used). They decode to ``BinanceDepthDiff``,
``BinanceDepthSnapshot``, ``BinanceBookTicker`` and ``BinanceTrade``: the
message's fields, typed, with exact int units and exchange times in ns.
Rebuilding the book from them (snapshot, diffs, gaps) is stateful and belongs
to the dataflow.
"""

from __future__ import annotations

import json
import re
import reprlib
import struct
from enum import IntEnum, StrEnum
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import orjson
import pyarrow as pa

from schemas.market import (
    EMPTY_ASK_PX,
    EMPTY_BID_PX,
    Instrument,
    Reject,
    RejectReason,
    TickBatch,
)
from schemas.topics import TICKS_RAW

MAGIC = b"FSW"
WIRE_VERSION = 1
JSON_VERSION = 1
JSON_DIGITS = 8
JSON_SCALE = 10**JSON_DIGITS
"""Units per currency unit (and per share or coin) of every price and size parsed from JSON."""

_INT64_MAX = 2**63 - 1
_MAX_DECIMAL_CHARS = 64
_MAX_EXPONENT = 40
_MS = 1_000_000  # ns per ms


class WireError(ValueError):
    """Not a valid envelope or JSON record; ``decode_message`` makes it a ``Reject``."""


class WireKind(IntEnum):
    TICKS = 1
    TABLE = 2


class TableKind(StrEnum):
    """Tables that ride the envelope (the output topics, plus bars and rejects)."""

    TICKS = "ticks"
    FEATURES = "features"
    BARS = "bars"
    PREDICTIONS = "predictions"
    ORDERS = "orders"
    FILLS = "fills"
    ALERTS = "alerts"
    REJECTS = "rejects"
    BOOK = "book"


# --- binary envelope -----------------------------------------------------------------

_PREFIX = struct.Struct("<3sBBBH")  # magic, version, kind, flags, reserved
_ROWS = struct.Struct("<I")  # n_rows
_TICKS = struct.Struct("<IqqqHHHH")  # levels, price/size scale, tick, 3 string lengths, pad
_HEAD = _PREFIX.size + _ROWS.size + _TICKS.size
_HAS_LINE = 1
_I8 = np.dtype("<i8")
_U1 = np.dtype("u1")
_NATIVE = np.dtype(np.int64) == _I8
_VECTORS = ("ts_event", "seq", "trade_px", "trade_sz")
_MATRICES = ("bid_px", "bid_sz", "ask_px", "ask_sz")


def _pad8(n: int) -> int:
    return -n % 8


@lru_cache(maxsize=1024)
def _tick_head(ins: Instrument, source: str, flags: int) -> tuple[bytes, bytes]:
    """The header bytes before and after ``n_rows``: the same for every batch of a feed."""
    texts = [text.encode() for text in (ins.symbol, ins.venue, source)]
    if max(map(len, texts)) > 0xFFFF:
        raise ValueError("symbol, venue and source must be at most 65 535 bytes of UTF-8")
    after = _TICKS.pack(
        ins.levels, ins.price_scale, ins.size_scale, ins.tick, *map(len, texts), 0
    ) + b"".join(texts)
    after += bytes(_pad8(_HEAD + len(after) - _TICKS.size))
    return _PREFIX.pack(MAGIC, WIRE_VERSION, WireKind.TICKS, flags, 0), after


def _int_column(batch: TickBatch, name: str, dtype: np.dtype) -> np.ndarray:
    a = getattr(batch, name)
    if a.dtype.kind not in "iu":
        raise TypeError(f"TickBatch.{name} must be integers, not {a.dtype}")
    return np.ascontiguousarray(a, dtype=dtype)


def encode_ticks(batch: TickBatch) -> bytes:
    """One message holding ``batch`` (see the module docstring for the layout)."""
    flags = _HAS_LINE if batch.line is not None else 0
    before, after = _tick_head(batch.instrument, batch.source, flags)
    names = (*_VECTORS, "line", *_MATRICES) if flags else (*_VECTORS, *_MATRICES)
    return b"".join(
        [
            before,
            _ROWS.pack(len(batch)),
            after,
            *[_int_column(batch, name, _I8) for name in names],
            _int_column(batch, "flags", _U1),
        ]
    )


def _prefix(data: bytes | bytearray | memoryview, kind: WireKind) -> int:
    """Check the common prefix; the envelope's flags."""
    if len(data) < _PREFIX.size:
        raise WireError(f"binary message of {len(data)} bytes is shorter than its prefix")
    magic, version, got, flags, _ = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise WireError(f"not a FlowSense binary message (magic {bytes(magic)!r})")
    if version != WIRE_VERSION:
        raise WireError(f"unsupported wire version {version} (this reader knows {WIRE_VERSION})")
    if got != kind:
        names = {k.value: k.name.lower() for k in WireKind}
        raise WireError(f"expected a {kind.name.lower()} message, got kind {names.get(got, got)}")
    return flags


@lru_cache(maxsize=1024)
def _read_head(after: bytes) -> tuple[Instrument, str]:
    """Instrument and source of a ticks header (cached: a feed's batches share it)."""
    levels, price_scale, size_scale, tick, *lengths, _ = _TICKS.unpack_from(after)
    at = _TICKS.size
    texts = []
    try:
        for length in lengths:
            texts.append(after[at : at + length].decode())
            at += length
        return Instrument(texts[0], price_scale, size_scale, tick, levels, texts[1]), texts[2]
    except ValueError as exc:  # UnicodeDecodeError is one
        raise WireError(f"bad ticks header: {exc}") from None


def decode_ticks(data: bytes | bytearray | memoryview, *, copy: bool = False) -> TickBatch:
    """The ``TickBatch`` of one ticks message; ``WireError`` if it is not a valid one.

    The arrays are read-only views of ``data`` unless ``copy``.
    """
    flags = _prefix(data, WireKind.TICKS)
    if flags & ~_HAS_LINE:
        raise WireError(f"unknown ticks flags {flags:#04x}")
    if len(data) < _HEAD:
        raise WireError("ticks message truncated in its header")
    (n,) = _ROWS.unpack_from(data, _PREFIX.size)
    levels, *_, len_symbol, len_venue, len_source, _ = _TICKS.unpack_from(data, _HEAD - _TICKS.size)
    at = _HEAD + len_symbol + len_venue + len_source
    at += _pad8(at)
    has_line = flags & _HAS_LINE
    n_vectors = 4 + has_line
    expected = at + 8 * n * (n_vectors + 4 * levels) + n
    if len(data) != expected:
        raise WireError(f"ticks message of {len(data)} bytes, expected {expected} for {n} rows")
    instrument, source = _read_head(bytes(data[_HEAD - _TICKS.size : at]))
    block = np.frombuffer(data, _I8, n * (n_vectors + 4 * levels), at)
    if copy or not _NATIVE:
        block = block.astype(np.int64)
    cols = {name: block[i * n : (i + 1) * n] for i, name in enumerate(_VECTORS)}
    line = block[4 * n : 5 * n] if has_line else None
    at_book, size = n_vectors * n, n * levels
    for i, name in enumerate(_MATRICES):
        cols[name] = block[at_book + i * size : at_book + (i + 1) * size].reshape(n, levels)
    flags_col = np.frombuffer(data, _U1, n, expected - n)
    if copy:
        flags_col = flags_col.copy()
    return TickBatch(instrument=instrument, flags=flags_col, source=source, line=line, **cols)


_TABLE = struct.Struct("<B")


def encode_table(kind: TableKind | str, table: pa.Table) -> bytes:
    """One message holding ``table`` of an output stream ``kind`` (a ``TableKind``)."""
    name = TableKind(kind).value.encode()
    head = _PREFIX.pack(MAGIC, WIRE_VERSION, WireKind.TABLE, 0, 0) + _TABLE.pack(len(name)) + name
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return b"".join([head, bytes(_pad8(len(head))), sink.getvalue()])


def decode_table(data: bytes | bytearray | memoryview) -> tuple[TableKind, pa.Table]:
    """``(kind, table)`` of one table message; ``WireError`` if it is not a valid one."""
    if _prefix(data, WireKind.TABLE):
        raise WireError("table messages have no flags")
    if len(data) < _PREFIX.size + 1:
        raise WireError("table message truncated in its header")
    (length,) = _TABLE.unpack_from(data, _PREFIX.size)
    at = _PREFIX.size + 1
    name = bytes(data[at : at + length]).decode("ascii", errors="replace")
    try:
        kind = TableKind(name)
    except ValueError:
        raise WireError(f"unknown table kind {name!r}") from None
    at += length
    at += _pad8(at)
    try:
        with pa.ipc.open_stream(pa.py_buffer(data)[at:]) as reader:
            table = reader.read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise WireError(f"bad Arrow IPC body: {exc}") from None
    return kind, table


def is_binary(data: bytes | bytearray | memoryview) -> bool:
    """Whether ``data`` starts like a binary envelope (of any version)."""
    return bytes(data[:3]) == MAGIC


# --- exact decimals ----------------------------------------------------------------------

_DECIMAL = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?")


class _FloatNumberError(Exception):
    """A JSON number was parsed as a binary float: re-read its literal text."""


def _text_units(text: str, digits: int) -> int:
    if len(text) > _MAX_DECIMAL_CHARS:
        raise WireError(f"decimal of {len(text)} characters")
    m = _DECIMAL.fullmatch(text)
    if m is None:
        raise WireError(f"not a decimal number: {text!r}")
    sign, whole, frac, exp = m.groups()
    frac = frac or ""
    exponent = int(exp) if exp else 0
    if abs(exponent) > _MAX_EXPONENT:
        raise WireError(f"exponent out of range: {text!r}")
    shift = digits + exponent - len(frac)
    mantissa = int(whole + frac)
    if shift >= 0:
        units = mantissa * 10**shift
    else:
        units, rest = divmod(mantissa, 10**-shift)
        if rest:
            raise WireError(f"{text!r} has more than {digits} decimals")
    if units > _INT64_MAX:
        raise WireError(f"{text!r} does not fit int64 at scale 10**{digits}")
    return -units if sign else units


def decimal_units(value: Any, digits: int = JSON_DIGITS) -> int:
    """A decimal string or integer as an exact count of ``10**-digits`` units.

    ``"61800.20"`` -> 6180020000000 at 8 digits; ``"1e-3"`` -> 100000. Parsed
    as text (never a binary float); ``WireError`` for anything else, for more
    than ``digits`` non-zero decimals and for results outside int64.
    """
    if type(value) is str:
        return _text_units(value, digits)
    if type(value) is int:
        units = value * 10**digits
        if not -_INT64_MAX <= units <= _INT64_MAX:
            raise WireError(f"{value} does not fit int64 at scale 10**{digits}")
        return units
    if type(value) is float:
        raise _FloatNumberError
    raise WireError(f"expected a decimal string or number, got {_show(value)}")


def rescale(units: int, scale: int, to_scale: int) -> int:
    """``units`` at ``scale`` units per currency unit, as units at ``to_scale``, exactly.

    ``rescale(22382000000, JSON_SCALE, 10_000)`` -> 2238200; ``ValueError`` when
    the value is not a whole number of the target units.
    """
    q, r = divmod(units * to_scale, scale)
    if r:
        raise ValueError(f"{units}/{scale} is not a whole number of 1/{to_scale} units")
    return q


# --- decoded JSON records ---------------------------------------------------------------

# Immutable records; NamedTuples rather than frozen dataclasses because they are built
# once per message at the edge, and a frozen dataclass's __init__ costs ~10x more.

Level = tuple[int, int]
"""(price, size) in ``JSON_SCALE`` units."""


class WireBook(NamedTuple):
    """FlowSense JSON ``book``: the book after the event, best first, ``JSON_SCALE`` units."""

    symbol: str
    ts_event: int
    seq: int | None
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class WireQuote(NamedTuple):
    """FlowSense JSON ``quote``: best bid and ask, ``JSON_SCALE`` units."""

    symbol: str
    ts_event: int
    seq: int | None
    bid_px: int
    bid_sz: int
    ask_px: int
    ask_sz: int


class WireTrade(NamedTuple):
    """FlowSense JSON ``trade``: ``size`` > 0, ``side`` 1 buyer- / -1 seller-initiated."""

    symbol: str
    ts_event: int
    seq: int | None
    price: int
    size: int
    side: int

    @property
    def signed_size(self) -> int:
        """Size signed by the aggressor, as ``TickBatch.trade_sz`` holds it."""
        return self.size * self.side


class BinanceDepthDiff(NamedTuple):
    """``<symbol>@depth``: level changes (size 0 removes the level), update ids ``U``..``u``.

    ``prev_id`` is futures' ``pu`` (None on spot). ``ts_event`` is ``E`` and
    ``ts_trade`` futures' ``T``, in ns (0 when absent); ``ts_recv`` is the
    receive time given to ``decode_message``.
    """

    symbol: str
    futures: bool
    first_id: int
    last_id: int
    prev_id: int | None
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    ts_event: int
    ts_trade: int
    ts_recv: int


class BinanceDepthSnapshot(NamedTuple):
    """REST depth snapshot: the book at update id ``last_id`` (``symbol`` from the key on spot)."""

    symbol: str
    futures: bool
    last_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    ts_event: int
    ts_trade: int
    ts_recv: int


class BinanceBookTicker(NamedTuple):
    """``<symbol>@bookTicker``: best bid/ask at update id ``update_id`` (spot has no ``E``)."""

    symbol: str
    futures: bool
    update_id: int
    bid_px: int
    bid_sz: int
    ask_px: int
    ask_sz: int
    ts_event: int
    ts_trade: int
    ts_recv: int


class BinanceTrade(NamedTuple):
    """``<symbol>@trade``: ``buyer_is_maker`` (``m``) true means the seller took liquidity.

    ``execution`` is futures' ``X`` (``"MARKET"`` for an order-book trade),
    None on spot. ``ts_event`` is the trade time ``T`` (else ``E``) in ns.
    Non-market executions and zero quantities are kept as sent: whether they
    are order flow is the stateful step's call (the reader refuses them as
    ``BAD_VALUE``).
    """

    symbol: str
    futures: bool
    trade_id: int
    price: int
    quantity: int
    buyer_is_maker: bool
    execution: str | None
    ts_event: int
    ts_recv: int

    @property
    def signed_size(self) -> int:
        """Quantity signed by the aggressor (+ buyer-initiated)."""
        return -self.quantity if self.buyer_is_maker else self.quantity


JsonRecord = WireBook | WireQuote | WireTrade
BinanceRecord = BinanceDepthDiff | BinanceDepthSnapshot | BinanceBookTicker | BinanceTrade
Decoded = TickBatch | JsonRecord | BinanceRecord


# --- field checks -------------------------------------------------------------------------


class _RefusedValueError(Exception):
    """A decodable message whose values are refused with a reason other than malformed."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _show(value: Any) -> str:
    """A value for an error detail, short however big or deep it is."""
    return f"{type(value).__name__} {reprlib.repr(value)}"


def _field(msg: dict[str, Any], name: str) -> Any:
    try:
        return msg[name]
    except KeyError:
        raise WireError(f"missing field {name!r}") from None


def _int(value: Any, name: str, low: int = 0) -> int:
    if type(value) is not int or not low <= value <= _INT64_MAX:
        raise WireError(f"{name!r} must be an integer >= {low}, got {_show(value)}")
    return value


def _str(value: Any, name: str) -> str:
    if type(value) is not str or not value:
        raise WireError(f"{name!r} must be a non-empty string, got {_show(value)}")
    return value


class _UnitsMemo(dict[str, int]):
    """``decimal_units`` of decimal strings seen before.

    Prices and sizes repeat; a dict hit costs a tenth of parsing. Only strings
    are kept (so ``True`` never hits the entry of ``"1"``), and the memo is
    emptied when full, so it stays bounded in a long-running consumer.
    """

    def __missing__(self, key: Any) -> int:
        value = decimal_units(key)
        if type(key) is str:
            if len(self) >= _MEMO_SIZE:
                self.clear()
            self[key] = value
        return value


_MEMO_SIZE = 1 << 16
_UNITS = _UnitsMemo()


def _price(value: Any, name: str) -> int:
    px = _UNITS[value] if type(value) is str else decimal_units(value)
    if not EMPTY_BID_PX < px < EMPTY_ASK_PX:
        raise _RefusedValueError(RejectReason.BAD_VALUE, f"{name} {value!r} out of the price range")
    return px


def _size(value: Any, name: str) -> int:
    sz = _UNITS[value] if type(value) is str else decimal_units(value)
    if sz < 0:
        raise _RefusedValueError(RejectReason.NEGATIVE_SIZE, f"{name} {value!r} is negative")
    return sz


def _levels(raw: Any, name: str) -> tuple[Level, ...]:
    """``[[price, size], ...]`` as int pairs: a fast pass, then a checked one naming the fault."""
    if type(raw) is not list:
        raise WireError(f"{name!r} must be a list of [price, size], got {_show(raw)}")
    units = _UNITS
    try:
        levels = tuple([(units[px], units[sz]) for px, sz in raw])
    except (ValueError, TypeError):  # not pairs, or not decimals: find which
        return _levels_checked(raw, name)
    if all([type(level) is list for level in raw]) and all(
        [sz >= 0 and EMPTY_BID_PX < px < EMPTY_ASK_PX for px, sz in levels]
    ):
        return levels
    return _levels_checked(raw, name)


def _levels_checked(raw: list[Any], name: str) -> tuple[Level, ...]:
    out = []
    for i, level in enumerate(raw):
        if type(level) is not list or len(level) != 2:
            raise WireError(f"{name}[{i}] must be [price, size], got {_show(level)}")
        out.append((_price(level[0], f"{name}[{i}] price"), _size(level[1], f"{name}[{i}] size")))
    return tuple(out)


def _ms(msg: dict[str, Any], name: str) -> int:
    """An optional exchange time in ms, as ns (0 when absent)."""
    value = msg.get(name)
    if value is None:
        return 0
    if type(value) is not int or not 0 <= value <= _INT64_MAX // _MS:
        raise WireError(f"{name!r} must be a time in ms, got {_show(value)}")
    return value * _MS


# --- FlowSense JSON v1 -------------------------------------------------------------------

_COMMON = {"v", "type", "symbol", "ts_event", "seq"}
_FIELDS = {
    "book": _COMMON | {"bids", "asks"},
    "quote": _COMMON | {"bid_px", "bid_sz", "ask_px", "ask_sz"},
    "trade": _COMMON | {"price", "size", "side"},
}


def _flowsense(msg: dict[str, Any]) -> JsonRecord:
    version = msg["v"]
    if type(version) is not int or version != JSON_VERSION:
        raise WireError(f"unsupported FlowSense JSON version {_show(version)} (knows 1)")
    kind = _field(msg, "type")
    if type(kind) is not str or kind not in _FIELDS:
        raise WireError(f"unknown type {_show(kind)} (book, quote or trade)")
    allowed = _FIELDS[kind]
    unknown = sorted(k for k in msg if k not in allowed)
    if unknown:
        raise WireError(f"unknown field(s) {unknown} in a {kind} message")
    missing = sorted(k for k in allowed - msg.keys() if k != "seq")
    if missing:
        raise WireError(f"missing field(s) {missing} in a {kind} message")
    symbol = _str(msg["symbol"], "symbol")
    ts = _int(msg["ts_event"], "ts_event")
    seq = None if msg.get("seq") is None else _int(msg["seq"], "seq")
    if kind == "book":
        return WireBook(symbol, ts, seq, _levels(msg["bids"], "bids"), _levels(msg["asks"], "asks"))
    if kind == "quote":
        return WireQuote(
            symbol,
            ts,
            seq,
            _price(msg["bid_px"], "bid_px"),
            _size(msg["bid_sz"], "bid_sz"),
            _price(msg["ask_px"], "ask_px"),
            _size(msg["ask_sz"], "ask_sz"),
        )
    side = msg["side"]
    if type(side) is not int:
        raise WireError(f"'side' must be 1 or -1, got {_show(side)}")
    if side not in (1, -1):
        raise _RefusedValueError(RejectReason.BAD_VALUE, f"side {side} is neither 1 nor -1")
    size = _size(msg["size"], "size")
    if size == 0:
        raise _RefusedValueError(RejectReason.BAD_VALUE, "trade size is 0")
    return WireTrade(symbol, ts, seq, _price(msg["price"], "price"), size, side)


# --- Binance JSON ------------------------------------------------------------------------

_FUTURES_ONLY = {"depth": "pu", "bookTicker": "E", "trade": "X"}


def _binance_stream(stream: Any, data: Any, ts_recv: int) -> BinanceRecord:
    if type(stream) is not str or "@" not in stream:
        raise WireError(f"'stream' must be '<symbol>@<stream>', got {_show(stream)}")
    kind = stream.split("@")[1]
    if kind not in _FUTURES_ONLY:
        raise WireError(f"unsupported stream {stream!r} (depth, bookTicker or trade)")
    if type(data) is not dict:
        raise WireError(f"'data' must be an object, got {_show(data)}")
    futures = _FUTURES_ONLY[kind] in data
    symbol = _str(_field(data, "s"), "s")
    if kind == "depth":
        first, last = _int(_field(data, "U"), "U"), _int(_field(data, "u"), "u")
        if first > last:
            raise WireError(f"U={first} > u={last}")
        return BinanceDepthDiff(
            symbol,
            futures,
            first,
            last,
            _int(data["pu"], "pu") if futures else None,
            _levels(_field(data, "b"), "b"),
            _levels(_field(data, "a"), "a"),
            _ms(data, "E"),
            _ms(data, "T"),
            ts_recv,
        )
    if kind == "bookTicker":
        return BinanceBookTicker(
            symbol,
            futures,
            _int(_field(data, "u"), "u"),
            _price(_field(data, "b"), "b"),
            _size(_field(data, "B"), "B"),
            _price(_field(data, "a"), "a"),
            _size(_field(data, "A"), "A"),
            _ms(data, "E"),
            _ms(data, "T"),
            ts_recv,
        )
    maker = _field(data, "m")
    if type(maker) is not bool:
        raise WireError(f"'m' must be a boolean, got {_show(maker)}")
    execution = data.get("X")
    if futures and type(execution) is not str:
        raise WireError(f"'X' must be a string, got {_show(execution)}")
    trade_id = data.get("t")
    return BinanceTrade(
        symbol,
        futures,
        -1 if trade_id is None else _int(trade_id, "t"),
        _price(_field(data, "p"), "p"),
        _size(_field(data, "q"), "q"),
        maker,
        execution,
        _ms(data, "T") or _ms(data, "E"),
        ts_recv,
    )


def _binance_snapshot(msg: dict[str, Any], key: str, ts_recv: int) -> BinanceDepthSnapshot:
    symbol = msg.get("symbol", key)
    if not symbol:
        raise WireError("depth snapshot names no symbol and the message has no key")
    return BinanceDepthSnapshot(
        _str(symbol, "symbol"),
        "E" in msg or "symbol" in msg,
        _int(msg["lastUpdateId"], "lastUpdateId"),
        _levels(_field(msg, "bids"), "bids"),
        _levels(_field(msg, "asks"), "asks"),
        _ms(msg, "E"),
        _ms(msg, "T"),
        ts_recv,
    )


# --- the edge ----------------------------------------------------------------------------


def _key_text(key: bytes | str | None) -> str:
    if key is None:
        return ""
    if isinstance(key, str):
        return key
    return bytes(key).decode("utf-8", errors="replace")


def _json_record(msg: Any, key: str, ts_recv: int) -> JsonRecord | BinanceRecord:
    if type(msg) is not dict:
        raise WireError(f"JSON is not an object but {type(msg).__name__}")
    if "v" in msg:
        return _flowsense(msg)
    if "stream" in msg:
        return _binance_stream(msg["stream"], _field(msg, "data"), ts_recv)
    if "lastUpdateId" in msg:
        return _binance_snapshot(msg, key, ts_recv)
    raise WireError("neither FlowSense JSON ('v') nor a Binance stream or depth snapshot")


def _no_constant(name: str) -> None:
    raise WireError(f"{name} is not a number")


def _decode(value: bytes, key: str, ts_recv: int) -> Decoded:
    if is_binary(value):
        return decode_ticks(value)
    try:
        msg = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise WireError(f"bad JSON: {exc}") from None
    try:
        return _json_record(msg, key, ts_recv)
    except _FloatNumberError:  # a price or size sent as a JSON number: re-read its literal text
        exact = json.loads(value, parse_float=str, parse_constant=_no_constant)
        return _json_record(exact, key, ts_recv)


def decode_message(
    value: bytes | bytearray | memoryview | None,
    *,
    key: bytes | str | None = None,
    ts_recv: int = 0,
    source: str = TICKS_RAW,
    line: int = 0,
) -> Decoded | Reject:
    """One raw ``ticks.raw`` value: a ``TickBatch``, a JSON record, or a ``Reject``. Never raises.

    ``key`` is the message key (the symbol; spot Binance snapshots name no
    other), ``ts_recv`` the receive time in ns that Binance records carry,
    ``source``/``line`` where the message came from, for the ``Reject``.
    """
    symbol = _key_text(key)
    try:
        if value is None:
            raise WireError("empty message (no value)")
        data = value if isinstance(value, bytes) else bytes(value)
        if not data or data.isspace():
            raise WireError("empty message")
        return _decode(data, symbol, ts_recv)
    except _RefusedValueError as exc:
        return Reject(symbol, source, line, exc.reason, exc.detail, ts_recv)
    except (WireError, ValueError, TypeError, KeyError, RecursionError) as exc:
        detail = str(exc) if isinstance(exc, WireError) else f"{type(exc).__name__}: {exc}"
        return Reject(symbol, source, line, RejectReason.MALFORMED_MESSAGE, detail[:200], ts_recv)
