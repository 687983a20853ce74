"""One pass over a batch of books: multi-level OFI, mid, spread, weighted mid and depth.

Fused in one Numba loop because the feature step runs on every event: the
separate NumPy expressions it replaces cost ~3x more in temporaries.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from operators.ofi import ofi_e
from schemas.market import EMPTY_ASK_PX, EMPTY_BID_PX

MID, SPREAD, WEIGHTED_MID, BID_DEPTH, ASK_DEPTH, OFI = range(6)
"""Rows of ``book_kernel``'s output; OFI level m (1-based) is row OFI + m - 1."""


@njit(cache=True, nogil=True)
def book_kernel(
    bid_px, bid_sz, ask_px, ask_sz, prev, has_prev, price_scale, size_scale
):  # pragma: no cover
    """float64 [5 + L, n]: mid, spread, weighted mid (currency), depths, e_n per level (sizes).

    ``weighted_mid`` = (bid * ask_sz + ask * bid_sz) / (bid_sz + ask_sz): the price
    leans toward the side with less size. Prices are NaN for a one-sided book.
    ``prev`` int64 [4, L] is the book before row 0 (bid px, bid sz, ask px, ask sz).
    """
    n, levels = bid_px.shape
    out = np.empty((OFI + levels, n))
    for i in range(n):
        b, a = bid_px[i, 0], ask_px[i, 0]
        if b != EMPTY_BID_PX and a != EMPTY_ASK_PX:
            bid, ask = b / price_scale, a / price_scale
            qb, qa = bid_sz[i, 0], ask_sz[i, 0]
            out[MID, i] = 0.5 * (bid + ask)
            out[SPREAD, i] = ask - bid
            out[WEIGHTED_MID, i] = (
                (bid * qa + ask * qb) / (qa + qb) if qa + qb > 0 else 0.5 * (bid + ask)
            )
        else:
            out[MID, i] = np.nan
            out[SPREAD, i] = np.nan
            out[WEIGHTED_MID, i] = np.nan
        depth_b = 0
        depth_a = 0
        for m in range(levels):
            depth_b += bid_sz[i, m]
            depth_a += ask_sz[i, m]
            if i == 0:
                if not has_prev:
                    out[OFI + m, i] = 0.0
                    continue
                pb, qb0, pa, qa0 = prev[0, m], prev[1, m], prev[2, m], prev[3, m]
            else:
                pb, qb0 = bid_px[i - 1, m], bid_sz[i - 1, m]
                pa, qa0 = ask_px[i - 1, m], ask_sz[i - 1, m]
            e = ofi_e(pb, qb0, pa, qa0, bid_px[i, m], bid_sz[i, m], ask_px[i, m], ask_sz[i, m])
            out[OFI + m, i] = e / size_scale
        out[BID_DEPTH, i] = depth_b / size_scale
        out[ASK_DEPTH, i] = depth_a / size_scale
    return out
