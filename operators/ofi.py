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


@njit(cache=True, inline="always")
def ofi_e(pb0, qb0, pa0, qa0, pb1, qb1, pa1, qa1):  # pragma: no cover - numba
    """e_n of one level from the state before (…0) and after (…1)."""
    e = 0
    if pb1 >= pb0:
        e += qb1
    if pb1 <= pb0:
        e -= qb0
    if pa1 <= pa0:
        e -= qa1
    if pa1 >= pa0:
        e += qa0
    return e


@njit(cache=True, nogil=True)
def ofi_kernel(bid_px, bid_sz, ask_px, ask_sz, prev, has_prev):  # pragma: no cover - numba
    """int64 [n, L] of e_n per level; ``prev`` int64 [4, L] is the book before row 0."""
    n, levels = bid_px.shape
    out = np.zeros((n, levels), np.int64)
    for i in range(n):
        if i == 0 and not has_prev:
            continue
        for m in range(levels):
            if i == 0:
                pb, qb, pa, qa = prev[0, m], prev[1, m], prev[2, m], prev[3, m]
            else:
                pb, qb = bid_px[i - 1, m], bid_sz[i - 1, m]
                pa, qa = ask_px[i - 1, m], ask_sz[i - 1, m]
            out[i, m] = ofi_e(
                pb, qb, pa, qa, bid_px[i, m], bid_sz[i, m], ask_px[i, m], ask_sz[i, m]
            )
    return out
