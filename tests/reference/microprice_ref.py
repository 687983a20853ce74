"""Plain-Python reference of the streaming micro-price, for tests only.

Written from the definition (Stoikov 2018 and the schedule documented in
``operators/microprice.py``), independently of the Numba operator: rows one by
one, counts in dicts keyed by integer states, exact fractions for the
imbalance bucket and the rounding of mid changes, and numpy only to solve the
linear system. Slow; feed it tens of thousands of rows at most.
"""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import numpy as np

from schemas.market import EMPTY_ASK_PX, EMPTY_BID_PX

State = tuple[int, int]  # (imbalance bucket, spread in ticks)

MOVE_TICKS = {-2: -1.0, -1: -0.5, 1: 0.5, 2: 1.0}  # half ticks -> ticks


def book_state(
    bid_px: int, bid_sz: int, ask_px: int, ask_sz: int, tick: int, n_imb: int, n_spread: int
):
    """``None`` for a missing side, ``"off"`` off the grid, else ``(bucket, spread ticks)``."""
    if bid_sz <= 0 or ask_sz <= 0 or bid_px == EMPTY_BID_PX or ask_px == EMPTY_ASK_PX:
        return None
    spread = ask_px - bid_px
    if spread <= 0 or spread % tick != 0 or spread // tick > n_spread:
        return "off"
    bucket = math.floor(Fraction(bid_sz, bid_sz + ask_sz) * n_imb)
    return (bucket, spread // tick)


def half_ticks(d: int, tick: int) -> int:
    """``d`` (twice a mid change, price units) / tick rounded half away from zero."""
    magnitude = math.floor(Fraction(abs(d), tick) + Fraction(1, 2))
    return magnitude if d >= 0 else -magnitude


def fit(counts: Counter, n_imb: int, n_spread: int, max_iter: int, tol: float):
    """``(G* dict state -> ticks, converged)`` from raw counts ``{(x, y, half ticks): n}``."""
    states = [(i, s) for i in range(n_imb) for s in range(1, n_spread + 1)]

    def mirror(x: State) -> State:
        return (n_imb - 1 - x[0], x[1])

    sym: Counter = Counter()
    for (x, y, h), c in counts.items():
        sym[(x, y, h)] += c
        sym[(mirror(x), mirror(y), -h)] += c

    total: Counter = Counter()
    stay: dict[State, Counter] = {x: Counter() for x in states}  # dM = 0: x -> y
    jump: dict[State, Counter] = {x: Counter() for x in states}  # dM != 0: x -> y
    move: dict[State, Counter] = {x: Counter() for x in states}  # dM != 0: x -> h
    for (x, y, h), c in sym.items():
        total[x] += c
        if h == 0:
            stay[x][y] += c
        else:
            jump[x][y] += c
            move[x][h] += c

    live = {x for x in states if sum(move[x].values()) > 0}
    changed = True
    while changed:
        changed = False
        for x in states:
            if x not in live and any(c > 0 and y in live for y, c in stay[x].items()):
                live.add(x)
                changed = True
    live_list = [x for x in states if x in live]
    pos = {x: k for k, x in enumerate(live_list)}

    g1 = dict.fromkeys(states, 0.0)
    b = {x: dict.fromkeys(states, 0.0) for x in states}
    if live_list:
        m = len(live_list)
        lhs = [[0.0] * m for _ in range(m)]
        rhs = [[0.0] * (1 + len(states)) for _ in range(m)]
        for x in live_list:
            r = pos[x]
            lhs[r][r] = 1.0
            for y, c in stay[x].items():
                if y in pos:
                    lhs[r][pos[y]] -= c / total[x]
            rhs[r][0] = sum(MOVE_TICKS[h] * (c / total[x]) for h, c in sorted(move[x].items()))
            for j, y in enumerate(states):
                rhs[r][1 + j] = jump[x][y] / total[x]
        a_mat = np.array(lhs)
        b_mat = np.array(rhs)
        try:
            sol = np.linalg.solve(a_mat, b_mat)
        except np.linalg.LinAlgError:
            sol = np.linalg.lstsq(a_mat, b_mat, rcond=None)[0]
        for x in live_list:
            r = pos[x]
            g1[x] = float(sol[r][0])
            for j, y in enumerate(states):
                b[x][y] = float(sol[r][1 + j])

    g = dict(g1)
    term = dict(g1)
    converged = False
    for _ in range(max_iter):
        term = {x: sum(b[x][y] * term[y] for y in states) for x in states}
        for x in states:
            g[x] += term[x]
        if max(abs(v) for v in term.values()) <= tol:
            converged = True
            break
    converged = converged and all(math.isfinite(v) for v in g.values())
    return g, converged


def reference_microprices(
    bid_px,
    bid_sz,
    ask_px,
    ask_sz,
    tick: int,
    *,
    n_imb: int,
    n_spread: int,
    refit_every: int,
    min_transitions: int,
    max_iter: int = 1000,
    tol: float = 1e-12,
) -> tuple[list[float], dict[State, float]]:
    """Micro-prices (price units, NaN for a missing side) and the G* dict in force at the end.

    G is refitted just before each row ``k * refit_every`` (and after the last row
    if the row count is such a multiple), from the transitions of earlier rows.
    """
    rows = [
        (int(b), int(bs), int(a), int(az))
        for b, bs, a, az in zip(bid_px, bid_sz, ask_px, ask_sz, strict=True)
    ]
    counts: Counter = Counter()
    kept = 0
    g: dict[State, float] = {}

    def refit() -> None:
        nonlocal g
        if kept >= min_transitions:
            new_g, converged = fit(counts, n_imb, n_spread, max_iter, tol)
            if converged:
                g = new_g

    prices: list[float] = []
    prev = None
    prev_sum = 0
    for n, (b, bs, a, az) in enumerate(rows):
        if n > 0 and n % refit_every == 0:
            refit()
        x = book_state(b, bs, a, az, tick, n_imb, n_spread)
        if x is None:
            prices.append(math.nan)
        else:
            mid = (b + a) / 2
            prices.append(mid + g.get(x, 0.0) * tick if x != "off" else mid)
        if isinstance(x, tuple) and isinstance(prev, tuple):
            h = half_ticks(b + a - prev_sum, tick)
            if abs(h) <= 2:
                counts[(prev, x, h)] += 1
                kept += 1
        prev = x
        prev_sum = b + a
    if rows and len(rows) % refit_every == 0:
        refit()
    return prices, g
