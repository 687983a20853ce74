"""OFI kernels against the plain-Python reference, on real books and on generated ones."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from dataflows.offline import compute
from operators.book import OFI, book_kernel
from operators.ofi import ofi_kernel
from tests.conftest import lobster
from tests.reference.ofi_ref import ofi_levels


def _kernel(bid_px, bid_sz, ask_px, ask_sz):
    """OFI from both kernels, which must agree."""
    prev = np.zeros((4, bid_px.shape[1]), np.int64)
    e = ofi_kernel(bid_px, bid_sz, ask_px, ask_sz, prev, False)
    fused = book_kernel(bid_px, bid_sz, ask_px, ask_sz, prev, False, 1, 1)[OFI:]
    np.testing.assert_array_equal(fused.T, e)
    return e


def _books(grid: np.ndarray, levels: int) -> list[list[tuple[int, int, int, int]]]:
    """LOBSTER orderbook rows (ask px, ask sz, bid px, bid sz per level) as reference books."""
    return [
        [
            (int(r[4 * m + 2]), int(r[4 * m + 3]), int(r[4 * m]), int(r[4 * m + 1]))
            for m in range(levels)
        ]
        for r in grid
    ]


def test_ofi_kernel_with_real_lobster_book_equals_reference():
    grid = np.loadtxt(
        lobster("GOOG", "orderbook", 10), delimiter=",", dtype=np.int64, max_rows=5000
    )
    e = _kernel(
        grid[:, 2::4].copy(), grid[:, 3::4].copy(), grid[:, 0::4].copy(), grid[:, 1::4].copy()
    )
    assert e.tolist() == ofi_levels(_books(grid, 10))
    assert np.abs(e).sum() > 0


def test_ofi_kernel_with_previous_state_continues_the_stream():
    grid = np.loadtxt(lobster("AMZN", "orderbook", 5), delimiter=",", dtype=np.int64, max_rows=3000)
    cols = [grid[:, k::4].copy() for k in (2, 3, 0, 1)]
    whole = _kernel(*cols)
    cut = 1234
    prev = np.stack([c[cut - 1] for c in cols])
    tail = ofi_kernel(*(c[cut:] for c in cols), prev, True)
    np.testing.assert_array_equal(tail, whole[cut:])


book_rows = st.lists(
    st.tuples(st.integers(90, 100), st.integers(0, 50), st.integers(101, 110), st.integers(0, 50)),
    min_size=2,
    max_size=60,
)


@given(
    rows=st.lists(book_rows, min_size=1, max_size=3).map(
        lambda ls: [r[: min(map(len, ls))] for r in ls]
    )
)
@settings(max_examples=200, deadline=None)
def test_ofi_kernel_with_generated_books_equals_reference(rows):
    levels = len(rows)
    n = len(rows[0])
    arr = np.array([[rows[m][i] for m in range(levels)] for i in range(n)], np.int64)  # [n, L, 4]
    e = _kernel(*(arr[:, :, k].copy() for k in range(4)))
    assert e.tolist() == ofi_levels([[tuple(arr[i, m]) for m in range(levels)] for i in range(n)])


def test_bar_ofi_of_level1_and_level5_files_agree():
    """The data README: best-level OFI over 10 s bars does not depend on the file's depth."""
    for symbol, deep in (("AMZN", 5), ("GOOG", 10)):
        one, _ = compute(lobster(symbol, "message", 1), None, 10 * 10**9)
        many, _ = compute(lobster(symbol, "message", deep), None, 10 * 10**9)
        shallow = one.select("ts_event", best=pl.col("ofi"))
        joined = many.join(shallow, on="ts_event", how="left").with_columns(
            pl.col("best").fill_null(0.0)
        )
        assert joined.height > 2000
        # Bars missing from the level-1 file had no level-1 event: their OFI is 0.
        np.testing.assert_array_equal(joined["ofi"].to_numpy(), joined["best"].to_numpy())
