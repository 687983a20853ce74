"""Validation: every row is accepted or refused with a reason, and accepted rows are sound."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from operators.validate import Validator
from schemas.market import EMPTY_ASK_PX, EMPTY_BID_PX, Instrument, TickBatch, TickFlag

INS = Instrument("T", price_scale=100, size_scale=1, tick=1, levels=2)

row = st.tuples(
    st.integers(0, 30),  # time step (may go back below)
    st.booleans(),  # time goes back
    st.integers(95, 105),  # best bid
    st.integers(95, 105),  # best ask
    st.integers(-2, 20),  # a size, sometimes negative
    st.booleans(),  # empty ask side
    st.sampled_from([TickFlag.BOOK, TickFlag.TRADE, TickFlag.BOOK | TickFlag.TRADE]),
)


def _batch(rows) -> TickBatch:
    t, ts = 1_000, []
    for step, back, *_ in rows:
        t = t - step if back else t + step
        ts.append(t)
    n = len(rows)
    bid_px = np.array([[r[2], r[2] - 1] for r in rows], np.int64).reshape(n, 2)
    ask_px = np.array(
        [[EMPTY_ASK_PX if r[5] else r[3], EMPTY_ASK_PX] for r in rows], np.int64
    ).reshape(n, 2)
    bid_sz = np.array([[r[4], 5] for r in rows], np.int64).reshape(n, 2)
    ask_sz = np.array([[0 if r[5] else 7, 0] for r in rows], np.int64).reshape(n, 2)
    return TickBatch(
        INS,
        np.array(ts, np.int64),
        np.arange(n),
        np.array([r[6] for r in rows], np.uint8),
        bid_px,
        bid_sz,
        ask_px,
        ask_sz,
        np.zeros(n, np.int64),
        np.zeros(n, np.int64),
        line=np.arange(1, n + 1),
    )


def _reference(b: TickBatch) -> dict[int, str]:
    """Plain-Python reading of the rules: line -> reason of each refused row."""
    refused, last = {}, None
    for i in range(len(b)):
        book = bool(b.flags[i] & TickFlag.BOOK)
        if book and (b.bid_sz[i] < 0).any() | (b.ask_sz[i] < 0).any():
            refused[i + 1] = "negative_size"
        elif (
            book
            and b.bid_px[i, 0] != EMPTY_BID_PX
            and b.ask_px[i, 0] != EMPTY_ASK_PX
            and (b.bid_px[i, 0] >= b.ask_px[i, 0])
        ):
            refused[i + 1] = "crossed_book"
        elif last is not None and b.ts_event[i] < last:
            refused[i + 1] = "non_monotonic_time"
        else:
            last = b.ts_event[i]
    return refused


@given(rows=st.lists(row, min_size=1, max_size=80), cut=st.integers(0, 80))
@settings(max_examples=300, deadline=None)
def test_validation_refuses_exactly_the_bad_rows_whatever_the_batches(rows, cut):
    batch = _batch(rows)
    v = Validator()
    cut = min(cut, len(batch))
    ok1, bad1 = v.update(batch.take(slice(0, cut)))
    ok2, bad2 = v.update(batch.take(slice(cut, None)))
    refused = {r.line: r.reason for r in bad1 + bad2}
    assert refused == _reference(batch)
    ts = np.concatenate([ok1.ts_event, ok2.ts_event])
    assert len(ts) + len(refused) == len(batch)  # nothing lost
    assert (np.diff(ts) >= 0).all()
    for ok in (ok1, ok2):
        two_sided = (ok.bid_px[:, 0] != EMPTY_BID_PX) & (ok.ask_px[:, 0] != EMPTY_ASK_PX)
        book = (ok.flags & TickFlag.BOOK) != 0
        assert not (book & two_sided & (ok.bid_px[:, 0] >= ok.ask_px[:, 0])).any()
        assert not (book[:, None] & (ok.bid_sz < 0)).any()
