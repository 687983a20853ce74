"""Generated ``ticks.raw`` messages, good and malformed, for the fuzz tests (seeded).

Good messages are FlowSense JSON v1 books and trades of one symbol, in time
order, each making one tick row. Bad ones are of the kinds operators meet:
bad JSON, wrong types, missing fields, crossed or negative books, huge
values, binary junk (some of it behind the internal format's magic), and
unknown symbols. Each bad message is built so that it cannot be read as a
good row, whatever the decoder's leniency.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

SYMBOL = "FUZZ"
T0 = 1_700_000_000_000_000_000


@dataclass(frozen=True, slots=True)
class Message:
    key: bytes
    value: bytes
    kind: str
    """``good`` or the kind of damage."""


def _book(ts: int, mid: float) -> dict:
    bid, ask = round(mid - 0.05, 2), round(mid + 0.05, 2)
    return {
        "v": 1,
        "type": "book",
        "symbol": SYMBOL,
        "ts_event": ts,
        "bids": [[f"{bid:.2f}", "3"], [f"{bid - 0.01:.2f}", "5"]],
        "asks": [[f"{ask:.2f}", "2"], [f"{ask + 0.01:.2f}", "4"]],
    }


def _trade(ts: int, mid: float, side: int) -> dict:
    px = round(mid + 0.05 * side, 2)
    return {"v": 1, "type": "trade", "symbol": SYMBOL, "ts_event": ts, "price": f"{px:.2f}",
            "size": "1", "side": side}  # fmt: skip


def _wrong_type(rng: random.Random, msg: dict) -> dict:
    field = rng.choice([f for f in msg if f not in ("v", "type")])
    msg[field] = rng.choice([[1, 2], {"a": 1}, True, None, "not-a-number", -1.5e308])
    if field == "symbol":
        msg[field] = rng.choice([[1, 2], {"a": 1}, True, None, 7])
    return msg


def _missing(rng: random.Random, msg: dict) -> dict:
    del msg[rng.choice([f for f in msg if f != "v"])]
    return msg


def _huge(rng: random.Random, msg: dict) -> dict:
    if msg["type"] == "book":
        side = rng.choice(["bids", "asks"])
        msg[side][0][rng.randrange(2)] = rng.choice(["1e400", "-1e400", "9" * 400, "NaN", "inf"])
    else:
        msg[rng.choice(["price", "size"])] = rng.choice(["1e400", "9" * 400, "NaN", "-inf"])
    return msg


def _crossed(msg: dict) -> dict:
    msg["bids"], msg["asks"] = msg["asks"], msg["bids"]  # best bid above best ask
    return msg


def _negative(rng: random.Random, msg: dict) -> dict:
    side = rng.choice(["bids", "asks"])
    msg[side][rng.randrange(len(msg[side]))][1] = rng.choice(["-1", "-0.5", "-1000"])
    return msg


def messages(n_bad: int, n_good: int, seed: int = 0) -> list[Message]:
    """``n_good`` good messages in time order with ``n_bad`` bad ones mixed in at random."""
    rng = random.Random(seed)
    kinds = ["bad_json", "wrong_type", "missing_field", "crossed_book", "negative_size",
             "huge_value", "binary_junk", "magic_junk", "unknown_symbol"]  # fmt: skip
    slots = ["good"] * n_good + [kinds[i % len(kinds)] for i in range(n_bad)]
    rng.shuffle(slots)
    out, ts, mid = [], T0, 100.0
    for kind in slots:
        ts += rng.randrange(1, 10_000_000)
        mid = max(1.0, mid + rng.choice([-0.01, 0.0, 0.01]))
        good = _book(ts, mid) if rng.random() < 0.7 else _trade(ts, mid, rng.choice([-1, 1]))
        key = SYMBOL.encode()
        if kind == "good":
            value = json.dumps(good).encode()
        elif kind == "bad_json":
            text = json.dumps(good)
            value = text[: rng.randrange(1, len(text) - 1)].encode()
        elif kind == "wrong_type":
            value = json.dumps(_wrong_type(rng, good)).encode()
        elif kind == "missing_field":
            value = json.dumps(_missing(rng, good)).encode()
        elif kind == "crossed_book":
            value = json.dumps(_crossed(_book(ts, mid))).encode()
        elif kind == "negative_size":
            value = json.dumps(_negative(rng, _book(ts, mid))).encode()
        elif kind == "huge_value":
            value = json.dumps(_huge(rng, good)).encode()
        elif kind == "binary_junk":
            value = rng.randbytes(rng.randrange(1, 300))
        elif kind == "magic_junk":
            value = b"FSW" + rng.randbytes(rng.randrange(0, 300))
        else:
            key, good["symbol"] = b"NOPE", "NOPE"
            value = json.dumps(good).encode()
        out.append(Message(key, value, kind))
    return out
