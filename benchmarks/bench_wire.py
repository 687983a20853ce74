"""Wire formats of the Kafka topics, measured against each other on real data (issue 3).

    .venv/bin/python benchmarks/bench_wire.py [--data DIR] [--repeat 3] [--json | --markdown]

Tick batches (the full-day LOBSTER GOOG 10-level and AMZN 5-level files) cut
into messages of 1, 64, 1 024 and 16 384 rows of one symbol, each candidate
turning a ``TickBatch`` into one message and back into a ``TickBatch`` (the
instrument, ``source`` and every column, ``line`` included):

- ``raw``: ``schemas.wire`` (header + raw little-endian column buffers;
  decoding gives zero-copy views), ``raw+copy``: the same, decoded into
  fresh writeable arrays, and ``raw+lz4_frame``: the raw message in an LZ4
  frame (what Kafka's producer ``compression.type=lz4`` would store);
- ``arrow_ipc``: an Arrow IPC stream of one record batch (book columns as
  fixed-size lists, the instrument in the schema metadata), and
  ``arrow_ipc_lz4`` / ``arrow_ipc_zstd``: the same with buffer compression;
- ``json_rows``: orjson, one object per row (the baseline).

Rates are rows/s, best of ``--repeat`` passes over the same messages; one-row
messages use the first 20 000 rows, JSON rows the first 32 768 (per-row costs
do not depend on how many). Bytes/row is the total message size over rows.

Also measured: ``encode_table``/``decode_table`` of feature tables (the
envelope of the output topics) against LZ4 IPC and JSON rows, and the JSON edge
(``decode_message`` on every line of the Binance captures and on FlowSense
JSON v1 book messages), in messages/s.
"""

from __future__ import annotations

import argparse
import gzip
import json
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import best_of, machine  # noqa: E402
from dataflows.readers.lobster import read_lobster  # noqa: E402
from dataflows.tables import features_table  # noqa: E402
from flowsense.settings import SHARED_DATA  # noqa: E402
from operators.features import FeatureState  # noqa: E402
from schemas.market import EMPTY_ASK_PX, EMPTY_BID_PX, Instrument, TickBatch  # noqa: E402
from schemas.wire import (  # noqa: E402
    decode_message,
    decode_table,
    decode_ticks,
    encode_table,
    encode_ticks,
)

BATCH_ROWS = (1, 64, 1024, 16384)
FILES = {
    "GOOG": "GOOG_2012-06-21_34200000_57600000_message_10.csv",
    "AMZN": "AMZN_2012-06-21_34200000_57600000_message_5.csv",
}
ONE_ROW_CAP = 20_000
JSON_CAP = 32_768

Encode = Callable[[TickBatch], bytes]
Decode = Callable[[bytes], TickBatch]


# --- candidates ---------------------------------------------------------------------------


def _instrument_meta(batch: TickBatch) -> dict[bytes, bytes]:
    ins = batch.instrument
    fields = {
        "symbol": ins.symbol,
        "price_scale": ins.price_scale,
        "size_scale": ins.size_scale,
        "tick": ins.tick,
        "levels": ins.levels,
        "venue": ins.venue,
    }
    return {b"instrument": orjson.dumps(fields), b"source": batch.source.encode()}


def arrow_codec(compression: str | None) -> tuple[Encode, Decode]:
    """Arrow IPC stream, one record batch a message."""
    options = pa.ipc.IpcWriteOptions(compression=compression)

    def encode(batch: TickBatch) -> bytes:
        levels = batch.instrument.levels

        def matrix(a: np.ndarray) -> pa.Array:
            return pa.FixedSizeListArray.from_arrays(pa.array(a.reshape(-1)), levels)

        names = ["ts_event", "seq", "flags", "trade_px", "trade_sz", "line"]
        arrays = [pa.array(getattr(batch, n)) for n in names]
        for n in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
            names.append(n)
            arrays.append(matrix(getattr(batch, n)))
        rb = pa.RecordBatch.from_arrays(arrays, names=names).replace_schema_metadata(
            _instrument_meta(batch)
        )
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, rb.schema, options=options) as writer:
            writer.write_batch(rb)
        return sink.getvalue().to_pybytes()

    def decode(data: bytes) -> TickBatch:
        with pa.ipc.open_stream(data) as reader:
            rb = reader.read_next_batch()
            meta = reader.schema.metadata
        ins = Instrument(**orjson.loads(meta[b"instrument"]))
        cols = {n: rb.column(n).to_numpy() for n in ("ts_event", "seq", "flags", "trade_px")}
        cols["trade_sz"] = rb.column("trade_sz").to_numpy()
        for n in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
            cols[n] = rb.column(n).flatten().to_numpy().reshape(-1, ins.levels)
        return TickBatch(
            instrument=ins,
            source=meta[b"source"].decode(),
            line=rb.column("line").to_numpy(),
            **cols,
        )

    return encode, decode


_ROW_NAMES = ("ts_event", "seq", "flags", "trade_px", "trade_sz", "line")
_BOOK_NAMES = ("bid_px", "bid_sz", "ask_px", "ask_sz")


def json_encode(batch: TickBatch) -> bytes:
    """orjson rows: one object a row, the instrument once."""
    cols = [getattr(batch, n).tolist() for n in (*_ROW_NAMES, *_BOOK_NAMES)]
    names = (*_ROW_NAMES, *_BOOK_NAMES)
    rows = [dict(zip(names, values, strict=True)) for values in zip(*cols, strict=True)]
    ins = batch.instrument
    head = {
        "symbol": ins.symbol,
        "price_scale": ins.price_scale,
        "size_scale": ins.size_scale,
        "tick": ins.tick,
        "levels": ins.levels,
        "venue": ins.venue,
    }
    return orjson.dumps({"instrument": head, "source": batch.source, "rows": rows})


def json_decode(data: bytes) -> TickBatch:
    msg = orjson.loads(data)
    ins = Instrument(**msg["instrument"])
    rows = msg["rows"]
    cols = {n: np.array([r[n] for r in rows], dtype=np.int64) for n in _ROW_NAMES}
    cols["flags"] = cols["flags"].astype(np.uint8)
    for n in _BOOK_NAMES:
        cols[n] = np.array([r[n] for r in rows], dtype=np.int64).reshape(-1, ins.levels)
    return TickBatch(instrument=ins, source=msg["source"], **cols)


def raw_lz4() -> tuple[Encode, Decode]:
    """The raw message in an LZ4 frame: what Kafka's ``compression.type=lz4`` would store.

    (Kafka compresses whole record batches of messages in librdkafka's threads;
    per message, this is the same codec on the same bytes.)
    """
    codec = pa.Codec("lz4")
    size = struct.Struct("<I")

    def encode(batch: TickBatch) -> bytes:
        message = encode_ticks(batch)
        return size.pack(len(message)) + codec.compress(message, asbytes=True)

    def decode(data: bytes) -> TickBatch:
        (n,) = size.unpack_from(data)
        return decode_ticks(codec.decompress(data[4:], decompressed_size=n, asbytes=True))

    return encode, decode


def candidates() -> dict[str, tuple[Encode, Decode]]:
    return {
        "raw": (encode_ticks, decode_ticks),
        "raw+copy": (encode_ticks, lambda d: decode_ticks(d, copy=True)),
        "raw+lz4_frame": raw_lz4(),
        "arrow_ipc": arrow_codec(None),
        "arrow_ipc_lz4": arrow_codec("lz4"),
        "arrow_ipc_zstd": arrow_codec("zstd"),
        "json_rows": (json_encode, json_decode),
    }


# --- measuring --------------------------------------------------------------------------------


def same(a: TickBatch, b: TickBatch) -> bool:
    names = ("ts_event", "seq", "flags", "trade_px", "trade_sz", "line", *_BOOK_NAMES)
    return (
        a.instrument == b.instrument
        and a.source == b.source
        and all(np.array_equal(getattr(a, n), getattr(b, n)) for n in names)
        and all(getattr(a, n).dtype == getattr(b, n).dtype for n in names)
    )


def measure_ticks(ticks: TickBatch, repeat: int) -> list[dict]:
    out = []
    for name, (encode, decode) in candidates().items():
        for size in BATCH_ROWS:
            cap = len(ticks)
            if size == 1:
                cap = ONE_ROW_CAP
            if name == "json_rows":
                cap = min(cap, JSON_CAP)
            batches = ticks.take(slice(0, cap)).split(size)
            rows = sum(len(b) for b in batches)
            messages = [encode(b) for b in batches]
            assert same(decode(messages[0]), batches[0]), f"{name} does not round-trip"
            t_enc = best_of(lambda batches=batches, enc=encode: [enc(b) for b in batches], repeat)
            t_dec = best_of(lambda ms=messages, dec=decode: [dec(m) for m in ms], repeat)
            out.append(
                {
                    "symbol": ticks.symbol,
                    "levels": ticks.instrument.levels,
                    "candidate": name,
                    "batch_rows": size,
                    "rows": rows,
                    "encode_rows_per_s": round(rows / t_enc),
                    "decode_rows_per_s": round(rows / t_dec),
                    "bytes_per_row": round(sum(map(len, messages)) / rows, 1),
                }
            )
            print(_line(out[-1]), file=sys.stderr)
    return out


def measure_tables(ticks: TickBatch, repeat: int) -> list[dict]:
    """The features table of the first 65 536 GOOG ticks through the envelope and alternatives."""
    features = FeatureState(ticks.instrument).update(ticks.take(slice(0, 65_536)))
    table = features_table(ticks.symbol, features)
    lz4 = pa.ipc.IpcWriteOptions(compression="lz4")

    def ipc_lz4(t: pa.Table) -> bytes:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, t.schema, options=lz4) as writer:
            writer.write_table(t)
        return sink.getvalue().to_pybytes()

    def ipc_read(data: bytes) -> pa.Table:
        with pa.ipc.open_stream(data) as reader:
            return reader.read_all()

    codecs = {
        "envelope (arrow_ipc)": (lambda t: encode_table("features", t), decode_table),
        "arrow_ipc_lz4": (ipc_lz4, ipc_read),
        "json_rows": (
            lambda t: orjson.dumps(t.to_pylist(), option=orjson.OPT_SERIALIZE_NUMPY),
            lambda d: pa.Table.from_pylist(orjson.loads(d)),
        ),
    }
    out = []
    for name, (encode, decode) in codecs.items():
        for size in (64, 1024, 16384):
            rows_cap = JSON_CAP if name == "json_rows" else len(table)
            parts = [table.slice(i, size) for i in range(0, rows_cap, size)]
            rows = sum(len(p) for p in parts)
            messages = [encode(p) for p in parts]
            t_enc = best_of(lambda ps=parts, enc=encode: [enc(p) for p in ps], repeat)
            t_dec = best_of(lambda ms=messages, dec=decode: [dec(m) for m in ms], repeat)
            out.append(
                {
                    "table": "features",
                    "columns": table.num_columns,
                    "candidate": name,
                    "batch_rows": size,
                    "rows": rows,
                    "encode_rows_per_s": round(rows / t_enc),
                    "decode_rows_per_s": round(rows / t_dec),
                    "bytes_per_row": round(sum(map(len, messages)) / rows, 1),
                }
            )
            print(_line(out[-1]), file=sys.stderr)
    return out


def flowsense_book(ticks: TickBatch, i: int) -> bytes:
    """Row ``i`` as a FlowSense JSON v1 book message with decimal-string prices."""
    ins = ticks.instrument

    def side(px: np.ndarray, sz: np.ndarray, empty: int) -> list[list[str]]:
        return [
            [f"{p // ins.price_scale}.{p % ins.price_scale:04d}", str(q)]
            for p, q in zip(px.tolist(), sz.tolist(), strict=True)
            if p != empty
        ]

    msg = {
        "v": 1,
        "type": "book",
        "symbol": ins.symbol,
        "ts_event": int(ticks.ts_event[i]),
        "seq": int(ticks.seq[i]),
        "bids": side(ticks.bid_px[i], ticks.bid_sz[i], EMPTY_BID_PX),
        "asks": side(ticks.ask_px[i], ticks.ask_sz[i], EMPTY_ASK_PX),
    }
    return orjson.dumps(msg)


def measure_edge(data: Path, goog: TickBatch, repeat: int) -> list[dict]:
    out = []
    lines = []
    for path in sorted((data / "binance").glob("*.gz")):
        for raw in gzip.decompress(path.read_bytes()).split(b"\n"):
            if raw.strip():
                stamp, _, payload = raw.partition(b" ")
                lines.append((int(stamp), payload))
    kinds: dict[str, int] = {}
    for ts, payload in lines:
        kind = type(decode_message(payload, key=b"BTCUSDT", ts_recv=ts)).__name__
        kinds[kind] = kinds.get(kind, 0) + 1

    def binance():
        for ts, payload in lines:
            decode_message(payload, key=b"BTCUSDT", ts_recv=ts)

    t = best_of(binance, repeat)
    out.append(
        {
            "input": "Binance capture lines, all 6 files",
            "messages": len(lines),
            "kinds": kinds,
            "messages_per_s": round(len(lines) / t),
            "bytes_per_message": round(sum(len(p) for _, p in lines) / len(lines), 1),
        }
    )
    books = [flowsense_book(goog, i) for i in range(20_000)]

    def flowsense():
        for m in books:
            decode_message(m)

    t = best_of(flowsense, repeat)
    out.append(
        {
            "input": "FlowSense JSON v1 book, GOOG 10 levels",
            "messages": len(books),
            "kinds": {"WireBook": len(books)},
            "messages_per_s": round(len(books) / t),
            "bytes_per_message": round(sum(map(len, books)) / len(books), 1),
        }
    )
    for row in out:
        print(f"{row['input']:40s} {row['messages_per_s']:>12,} msg/s", file=sys.stderr)
    return out


def _line(r: dict) -> str:
    what = r.get("symbol") or r.get("table")
    return (
        f"{what:8s} {r['candidate']:20s} {r['batch_rows']:>6} rows/msg "
        f"enc {r['encode_rows_per_s']:>14,} dec {r['decode_rows_per_s']:>15,} rows/s "
        f"{r['bytes_per_row']:>8,.1f} B/row"
    )


def _millions(rate: float) -> str:
    """Rows/s in millions, three significant digits without exponents."""
    m = rate / 1e6
    return f"{m:,.0f}" if m >= 100 else f"{m:.3g}" if m >= 0.01 else f"{m:.4f}"


def markdown(result: dict) -> str:
    """The tables of RESULTS.md: one per input, rows/s in millions."""
    out = []
    groups: dict[str, list[dict]] = {}
    for row in (*result["ticks"], *result["tables"]):
        title = (
            f"{row['symbol']} ticks, {row['levels']} levels"
            if "symbol" in row
            else f"{row['table']} table, {row['columns']} columns"
        )
        groups.setdefault(title, []).append(row)
    for title, rows in groups.items():
        out += [
            f"{title} (M rows/s; bytes per row):",
            "",
            "| format | rows/msg | encode | decode | B/row |",
            "|---|---:|---:|---:|---:|",
        ]
        out += [
            f"| {r['candidate']} | {r['batch_rows']:,} | {_millions(r['encode_rows_per_s'])} "
            f"| {_millions(r['decode_rows_per_s'])} | {r['bytes_per_row']:,.1f} |"
            for r in rows
        ]
        out.append("")
    out += ["JSON edge, `decode_message` on one message at a time:", ""]
    out += ["| input | messages | msg/s | B/msg | decoded as |", "|---|---:|---:|---:|---|"]
    for r in result["edge"]:
        kinds = ", ".join(f"{k} {v:,}" for k, v in r["kinds"].items())
        out.append(
            f"| {r['input']} | {r['messages']:,} | {r['messages_per_s']:,} "
            f"| {r['bytes_per_message']:,.0f} | {kinds} |"
        )
    return "\n".join(out)


def versions() -> str:
    return (
        f"{machine()}, pyarrow {pa.__version__}, numpy {np.__version__}, "
        f"orjson {orjson.__version__}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED_DATA)
    ap.add_argument("--repeat", type=int, default=3)
    out = ap.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the results as one JSON object")
    out.add_argument("--markdown", action="store_true", help="print RESULTS.md tables")
    args = ap.parse_args()

    ticks = {s: read_lobster(args.data / "lobster" / f).ticks for s, f in FILES.items()}
    result = {
        "machine": versions(),
        "ticks": [row for t in ticks.values() for row in measure_ticks(t, args.repeat)],
        "tables": measure_tables(ticks["GOOG"], args.repeat),
        "edge": measure_edge(args.data, ticks["GOOG"], args.repeat),
    }
    if args.json:
        print(json.dumps(result))
        return
    if args.markdown:
        print(markdown(result))
        return
    print(result["machine"])
    for row in (*result["ticks"], *result["tables"]):
        print(_line(row))
    for row in result["edge"]:
        print(
            f"{row['input']:40s} {row['messages']:>8,} msgs {row['messages_per_s']:>12,} msg/s "
            f"{row['bytes_per_message']:>8,.1f} B/msg {row['kinds']}"
        )


if __name__ == "__main__":
    main()
