"""Per-record forms of the market data, features and predictions, for APIs and outside producers.

The hot path moves columnar batches (``TickBatch``, ``FeatureBatch``,
``PredictionBatch``); an API answer or a JSON message from an outside
producer is one of these records instead. They are frozen pydantic models
that refuse unknown fields and non-finite numbers where a number must be
finite. ``*_records`` convert a batch to records in one place.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from schemas.features import FeatureBatch
from schemas.market import EMPTY_ASK_PX, EMPTY_BID_PX, TickBatch, TickFlag
from schemas.trading import Direction, PredictionBatch

Price = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Size = Annotated[float, Field(ge=0, allow_inf_nan=False)]
TimeNs = Annotated[int, Field(ge=0, description="nanoseconds since the Unix epoch, UTC")]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Level(_Record):
    price: Price
    size: Size


class BookUpdate(_Record):
    """The book of ``symbol`` after event ``seq``: levels best first, prices in currency."""

    symbol: str
    ts_event: TimeNs
    seq: int
    bids: list[Level]
    asks: list[Level]


class QuoteTick(_Record):
    """The best bid and ask (level 1)."""

    symbol: str
    ts_event: TimeNs
    bid_px: Price
    bid_sz: Size
    ask_px: Price
    ask_sz: Size


class Trade(_Record):
    """A trade; ``side`` is the aggressor: 1 buyer-initiated, -1 seller-initiated."""

    symbol: str
    ts_event: TimeNs
    seq: int
    price: Price
    size: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    side: Annotated[int, Field(ge=-1, le=1)]


class Features(_Record):
    """Order-flow features of one book update (see ``schemas.features``); NaN: one-sided book."""

    symbol: str
    ts_event: TimeNs
    seq: int
    mid: float
    spread: float
    weighted_mid: float
    microprice: float
    ofi: float
    ofi_levels: list[float]
    bid_depth: float
    ask_depth: float


class Prediction(_Record):
    """The seed's GraphQL ``Prediction``: direction of the mid and the model's confidence."""

    symbol: str
    timestamp: TimeNs
    model: str
    direction: Direction
    confidence: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


def tick_records(batch: TickBatch) -> list[BookUpdate | Trade]:
    """Each row as a ``BookUpdate`` (if it carries a book) and/or a ``Trade``, in order."""
    ins = batch.instrument
    out: list[BookUpdate | Trade] = []
    for i in range(len(batch)):
        ts, seq, flags = int(batch.ts_event[i]), int(batch.seq[i]), int(batch.flags[i])
        if flags & TickFlag.BOOK:
            bids = [
                Level(price=p / ins.price_scale, size=q / ins.size_scale)
                for p, q in zip(batch.bid_px[i].tolist(), batch.bid_sz[i].tolist(), strict=True)
                if p != EMPTY_BID_PX
            ]
            asks = [
                Level(price=p / ins.price_scale, size=q / ins.size_scale)
                for p, q in zip(batch.ask_px[i].tolist(), batch.ask_sz[i].tolist(), strict=True)
                if p != EMPTY_ASK_PX
            ]
            out.append(BookUpdate(symbol=ins.symbol, ts_event=ts, seq=seq, bids=bids, asks=asks))
        if flags & TickFlag.TRADE and batch.trade_sz[i] != 0:
            q = int(batch.trade_sz[i])
            out.append(
                Trade(
                    symbol=ins.symbol,
                    ts_event=ts,
                    seq=seq,
                    price=int(batch.trade_px[i]) / ins.price_scale,
                    size=abs(q) / ins.size_scale,
                    side=1 if q > 0 else -1,
                )
            )
    return out


def feature_records(batch: FeatureBatch) -> list[Features]:
    """Book-update rows of a feature batch as records."""
    c = batch.columns
    levels = batch.instrument.levels
    rows = (c["flags"] & TickFlag.BOOK).nonzero()[0]
    return [
        Features(
            symbol=batch.symbol,
            ts_event=int(c["ts_event"][i]),
            seq=int(c["seq"][i]),
            mid=float(c["mid"][i]),
            spread=float(c["spread"][i]),
            weighted_mid=float(c["weighted_mid"][i]),
            microprice=float(c["microprice"][i]),
            ofi=float(c["ofi"][i]),
            ofi_levels=[float(c[f"ofi_{m}"][i]) for m in range(1, levels + 1)],
            bid_depth=float(c["bid_depth"][i]),
            ask_depth=float(c["ask_depth"][i]),
        )
        for i in rows
    ]


def prediction_records(batch: PredictionBatch) -> list[Prediction]:
    c = batch.columns
    return [
        Prediction(
            symbol=batch.symbol,
            timestamp=int(t),
            model=batch.model,
            direction=Direction(int(d)),
            confidence=float(0.0 if math.isnan(p) else p),
        )
        for t, d, p in zip(c["ts_event"], c["direction"], c["confidence"], strict=True)
    ]
