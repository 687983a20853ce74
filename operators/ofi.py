"""Order-flow imbalance at each book level (Cont, Kukanov & Stoikov 2014; Xu, Gould & Howison 2018).

For consecutive book states n-1, n and level m:

    e_n = 1{Pb_n >= Pb_{n-1}} qb_n - 1{Pb_n <= Pb_{n-1}} qb_{n-1}
        - 1{Pa_n <= Pa_{n-1}} qa_n + 1{Pa_n >= Pa_{n-1}} qa_{n-1}

Level 1 is the best-level OFI of CKS; levels 1..L the multi-level OFI. The
first state of a stream has no predecessor: its e is 0.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def ofi_kernel(
    bid_px, bid_sz, ask_px, ask_sz, prev_bid_px, prev_bid_sz, prev_ask_px, prev_ask_sz, has_prev
):  # pragma: no cover - numba
    """int64 [n, L] of e_n per level; ``prev_*`` [L] is the state before row 0."""
    n, levels = bid_px.shape
    out = np.zeros((n, levels), np.int64)
    for i in range(n):
        if i == 0 and not has_prev:
            continue
        for m in range(levels):
            if i == 0:
                pb, qb, pa, qa = prev_bid_px[m], prev_bid_sz[m], prev_ask_px[m], prev_ask_sz[m]
            else:
                pb, qb = bid_px[i - 1, m], bid_sz[i - 1, m]
                pa, qa = ask_px[i - 1, m], ask_sz[i - 1, m]
            e = 0
            if bid_px[i, m] >= pb:
                e += bid_sz[i, m]
            if bid_px[i, m] <= pb:
                e -= qb
            if ask_px[i, m] <= pa:
                e -= ask_sz[i, m]
            if ask_px[i, m] >= pa:
                e += qa
            out[i, m] = e
    return out
