"""Stoikov's micro-price as a causal streaming operator.

Stoikov (2018), "The micro-price: a high-frequency estimator of future
prices", Quantitative Finance 18(12). The book's state is ``x = (i, s)``: the
imbalance bucket ``i`` of ``I = bid_sz / (bid_sz + ask_sz)`` at the best level
(``n_imb`` equal buckets on [0, 1], bucket ``i`` holds ``i/n <= I < (i+1)/n``)
and the spread ``s`` in ticks (1..``n_spread``). From consecutive rows the
estimator counts transitions ``x -> (y, dM)`` where ``dM`` is the mid change in
half ticks; only ``dM`` in {-1, -1/2, 0, 1/2, 1} ticks with both states on the
grid are kept. Each transition is also counted mirrored (``i -> n_imb-1-i``,
``dM -> -dM``), which makes the fitted adjustment antisymmetric in the
imbalance. With the counts normalised per starting state,

- ``Q[x, y]``: move to ``y`` without a mid change,
- ``R[x, k]``: mid change by ``K[k]`` ticks, ``K = [-1, -1/2, 1/2, 1]``,
- ``T[x, y]``: mid change and new state ``y``,

the expected mid change up to the next mid change is ``G1 = (I-Q)^-1 R K`` and
the state distribution at that moment ``B = (I-Q)^-1 T``; the adjustment is
``G* = G1 + B G1 + B^2 G1 + ...`` and the micro-price ``mid + G*(x) * tick``.

Streaming and causality
-----------------------
Rows are numbered 0, 1, 2, ... in the symbol's stream. The transition from row
``n-1`` to row ``n`` is counted when row ``n`` arrives. Refit points are the
rows ``n = k * refit_every`` (k >= 1): just before row ``n`` is priced, G is
refitted from all transitions completed in rows ``< n`` (if at least
``min_transitions`` were counted; otherwise G stays as it is, 0 before the
first fit). So the price of row ``n`` depends on rows ``<= n`` only (its own
mid and state, and a G from strictly earlier rows), and since refit points are
fixed row counts, any split of the stream into batches gives bit-identical
output.

Degenerate fits. A state from which the counts show no way to a mid change
(only ``dM = 0`` moves within a closed set of states) makes ``I - Q``
singular; such states carry no information about the next mid change and get
``G = 0``; the linear system is solved on the other states, where it is
non-singular (``lstsq`` remains as a fallback for numerical singularity). If
the series for ``G*`` has not converged after ``max_iter`` terms (a periodic
or reducible ``B``, only seen on tiny or artificial samples), the fit is
discarded and the previous G stays in force (``n_unconverged`` counts these).

Units: prices int64 in price units, ``tick`` in price units; outputs float64
in price units (the caller converts to currency with ``Instrument.px``). Rows
with a missing side (``EMPTY_BID_PX`` / ``EMPTY_ASK_PX`` or size <= 0) give
NaN; rows off the grid (spread not a positive multiple of the tick, or more
than ``n_spread`` ticks) give the mid. Sizes must stay below ``2**63 / n_imb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from schemas.market import EMPTY_ASK_PX, EMPTY_BID_PX

__all__ = [
    "MOVES_TICKS",
    "MicropriceConfig",
    "MicropriceEstimator",
    "MicropriceState",
    "fit_g_star",
]

MOVES_TICKS = np.array([-1.0, -0.5, 0.5, 1.0])
"""Mid changes (ticks) of the columns of the move counts ``R``."""

_MISSING = -2  # state code: a side of the book is missing -> NaN
_OFF_GRID = -1  # state code: valid book outside the (imbalance, spread) grid -> mid


@dataclass(frozen=True, slots=True)
class MicropriceConfig:
    """Grid, refit schedule and series cap of the micro-price estimator."""

    n_imb: int = 10
    n_spread: int = 4
    refit_every: int = 5000
    """Refit G before rows ``k * refit_every`` of the symbol's stream (k >= 1)."""
    min_transitions: int = 1000
    """Kept transitions (not mirrored) needed before the first fit."""
    max_iter: int = 1000
    """Cap on the number of ``B^k G1`` terms added to ``G*``."""
    tol: float = 1e-12
    """``G*`` has converged once a term is at most this (ticks) in every state."""

    def __post_init__(self) -> None:
        if self.n_imb < 2 or self.n_spread < 1:
            raise ValueError("n_imb must be >= 2 and n_spread >= 1")
        if self.refit_every < 1 or self.min_transitions < 1 or self.max_iter < 1:
            raise ValueError("refit_every, min_transitions and max_iter must be >= 1")
        if not self.tol > 0:
            raise ValueError("tol must be > 0")

    @property
    def n_states(self) -> int:
        return self.n_imb * self.n_spread


@dataclass(slots=True)
class MicropriceState:
    """Everything the estimator carries between batches (about 27 KB at 10 x 4).

    State ``x = i * n_spread + (s - 1)`` for imbalance bucket ``i`` and spread
    ``s`` ticks. Counts are raw (not mirrored); mirroring happens at each fit.
    """

    trans: np.ndarray
    """int64 [2, N, N]: transitions x -> y, [0] without and [1] with a mid change."""
    moves: np.ndarray
    """int64 [N, 4]: mid changes from x, columns as ``MOVES_TICKS``."""
    g: np.ndarray
    """float64 [n_imb, n_spread]: G* in ticks now in force; column j is spread j+1."""
    prev: np.ndarray
    """int64 [5]: has-previous flag, then bid px, bid size, ask px, ask size of the last row."""
    events: int = 0
    """Rows seen."""
    n_transitions: int = 0
    """Transitions kept (not mirrored)."""
    tick: int = 0
    """Tick of the stream in price units, fixed by the first batch (0 before it)."""
    n_fits: int = 0
    n_unconverged: int = 0

    @staticmethod
    def initial(config: MicropriceConfig) -> MicropriceState:
        n = config.n_states
        return MicropriceState(
            trans=np.zeros((2, n, n), np.int64),
            moves=np.zeros((n, 4), np.int64),
            g=np.zeros((config.n_imb, config.n_spread), np.float64),
            prev=np.zeros(5, np.int64),
        )

    def copy(self) -> MicropriceState:
        return MicropriceState(
            trans=self.trans.copy(),
            moves=self.moves.copy(),
            g=self.g.copy(),
            prev=self.prev.copy(),
            events=self.events,
            n_transitions=self.n_transitions,
            tick=self.tick,
            n_fits=self.n_fits,
            n_unconverged=self.n_unconverged,
        )


@njit(cache=True, inline="always")
def _state_of(bid_px, bid_sz, ask_px, ask_sz, tick, n_imb, n_spread):
    if bid_sz <= 0 or ask_sz <= 0 or bid_px == EMPTY_BID_PX or ask_px == EMPTY_ASK_PX:
        return _MISSING
    spread = ask_px - bid_px
    if spread <= 0 or spread > n_spread * tick or spread % tick != 0:
        return _OFF_GRID
    imb = (bid_sz * n_imb) // (bid_sz + ask_sz)
    return imb * n_spread + spread // tick - 1


@njit(cache=True, nogil=True)
def _run_segment(
    bid_px, bid_sz, ask_px, ask_sz, tick, n_imb, n_spread, g_flat, prev, trans, moves, out
):
    """Price rows with ``g_flat`` and count their transitions; returns the number kept.

    ``prev`` (the row before this segment) and the counts are updated in place.
    """
    n = bid_px.shape[0]
    if prev[0] != 0:
        ps = _state_of(prev[1], prev[2], prev[3], prev[4], tick, n_imb, n_spread)
        psum = prev[1] + prev[3]
    else:
        ps = _MISSING
        psum = 0
    kept = 0
    two_tick = 2 * tick
    for k in range(n):
        b = bid_px[k]
        a = ask_px[k]
        s = _state_of(b, bid_sz[k], a, ask_sz[k], tick, n_imb, n_spread)
        if s == _MISSING:
            out[k] = np.nan
        else:
            mid = 0.5 * (np.float64(b) + np.float64(a))
            out[k] = mid + g_flat[s] * tick if s >= 0 else mid
        if s >= 0 and ps >= 0:
            d = (b + a) - psum  # twice the mid change, price units
            h = (2 * abs(d) + tick) // two_tick  # |mid change| in half ticks, half up
            if d < 0:
                h = -h
            if h == 0:
                trans[0, ps, s] += 1
                kept += 1
            elif -2 <= h <= 2:
                trans[1, ps, s] += 1
                moves[ps, h + 2 if h < 0 else h + 1] += 1
                kept += 1
        ps = s
        psum = b + a
    if n > 0:
        prev[0] = 1
        prev[1] = bid_px[n - 1]
        prev[2] = bid_sz[n - 1]
        prev[3] = ask_px[n - 1]
        prev[4] = ask_sz[n - 1]
    return kept


def _mirror(n_imb: int, n_spread: int) -> np.ndarray:
    i, s = np.divmod(np.arange(n_imb * n_spread), n_spread)
    return (n_imb - 1 - i) * n_spread + s


@njit(cache=True, nogil=True)
def _linear_system(trans, moves, perm, moves_ticks):
    """Mirror the counts, normalise them per state; return ``(live, I - Q, [R K | T])``.

    ``live``: indices of the states that reach a mid change through moves
    without one; the system is restricted to them (elsewhere ``I - Q`` is
    singular). ``Q`` is ``live x live``, ``T`` is ``live x all states``.
    """
    n = perm.size
    q = np.empty((n, n))
    t = np.empty((n, n))
    r = np.empty((n, 4))
    total = np.zeros(n)
    live = np.zeros(n, np.bool_)
    for x in range(n):
        mx = perm[x]
        for y in range(n):
            q[x, y] = trans[0, x, y] + trans[0, mx, perm[y]]
            t[x, y] = trans[1, x, y] + trans[1, mx, perm[y]]
            total[x] += q[x, y]
        for k in range(4):
            r[x, k] = moves[x, k] + moves[mx, 3 - k]
            total[x] += r[x, k]
            if r[x, k] > 0:
                live[x] = True
    grown = True
    while grown:
        grown = False
        for x in range(n):
            if not live[x]:
                for y in range(n):
                    if live[y] and q[x, y] > 0:
                        live[x] = True
                        grown = True
                        break
    idx = np.flatnonzero(live)
    m = idx.size
    lhs = np.empty((m, m))
    rhs = np.empty((m, n + 1))
    for a in range(m):
        x = idx[a]
        for c in range(m):
            lhs[a, c] = (1.0 if a == c else 0.0) - q[x, idx[c]] / total[x]
        drift = 0.0
        for k in range(4):
            drift += moves_ticks[k] * (r[x, k] / total[x])
        rhs[a, 0] = drift
        for y in range(n):
            rhs[a, 1 + y] = t[x, y] / total[x]
    return idx, lhs, rhs


@njit(cache=True, nogil=True)
def _series(b, g1, max_iter, tol):
    """``G1 + B G1 + B^2 G1 + ...`` until a term is at most ``tol`` everywhere (or ``max_iter``)."""
    n = g1.size
    g = g1.copy()
    term = g1.copy()
    nxt = np.empty(n)
    for _ in range(max_iter):
        largest = 0.0
        for x in range(n):
            acc = 0.0
            for y in range(n):
                acc += b[x, y] * term[y]
            nxt[x] = acc
            g[x] += acc
            largest = max(largest, abs(acc))
        term, nxt = nxt, term
        if largest <= tol:
            return g, True
    return g, False


def fit_g_star(
    trans: np.ndarray,
    moves: np.ndarray,
    n_imb: int,
    n_spread: int,
    max_iter: int = 1000,
    tol: float = 1e-12,
) -> tuple[np.ndarray, bool]:
    """``G*`` in ticks, float64 [n_imb, n_spread], from raw counts, and whether it converged.

    ``trans`` int64 [2, N, N] and ``moves`` int64 [N, 4] as in ``MicropriceState``;
    the counts are mirrored here. States never left, or from which no mid change
    was ever reached, get 0. Not converged also when the sum is not finite.
    """
    n = n_imb * n_spread
    idx, lhs, rhs = _linear_system(trans, moves, _mirror(n_imb, n_spread), MOVES_TICKS)
    g1 = np.zeros(n)
    b = np.zeros((n, n))
    if idx.size:
        try:
            sol = np.linalg.solve(lhs, rhs)
        except np.linalg.LinAlgError:
            sol = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
        g1[idx] = sol[:, 0]
        b[idx] = sol[:, 1:]
    g, converged = _series(b, g1, max_iter, tol)
    converged = converged and bool(np.isfinite(g).all())
    return g.reshape(n_imb, n_spread), converged


class MicropriceEstimator:
    """Causal streaming micro-price of one symbol's book, refitted at fixed row counts."""

    __slots__ = ("config", "state")

    def __init__(self, config: MicropriceConfig | None = None) -> None:
        self.config = config or MicropriceConfig()
        self.state = MicropriceState.initial(self.config)

    @property
    def g(self) -> np.ndarray:
        """G* in ticks now in force, [n_imb, n_spread] (column j: spread j+1 ticks)."""
        return self.state.g.copy()

    def snapshot(self) -> MicropriceState:
        return self.state.copy()

    @classmethod
    def from_snapshot(cls, config: MicropriceConfig, state: MicropriceState) -> MicropriceEstimator:
        n = config.n_states
        if (
            state.trans.shape != (2, n, n)
            or state.moves.shape != (n, 4)
            or state.g.shape != (config.n_imb, config.n_spread)
            or state.prev.shape != (5,)
        ):
            raise ValueError("snapshot does not match the config's grid")
        if not (
            state.trans.dtype == state.moves.dtype == state.prev.dtype == np.int64
            and state.g.dtype == np.float64
        ):
            raise ValueError("snapshot arrays must be int64 counts and a float64 G")
        est = cls(config)
        est.state = state.copy()
        return est

    def update(
        self,
        bid_px: np.ndarray,
        bid_sz: np.ndarray,
        ask_px: np.ndarray,
        ask_sz: np.ndarray,
        tick: int,
    ) -> np.ndarray:
        """Micro-prices (float64, price units) of consecutive best-level rows ([n] int64 each)."""
        cols = [np.ascontiguousarray(c, dtype=np.int64) for c in (bid_px, bid_sz, ask_px, ask_sz)]
        n = cols[0].shape[0]
        if any(c.ndim != 1 or c.shape[0] != n for c in cols):
            raise ValueError("bid_px, bid_sz, ask_px, ask_sz must be 1-d arrays of one length")
        tick = int(tick)
        st = self.state
        if tick <= 0:
            raise ValueError(f"tick must be > 0, got {tick}")
        if st.tick == 0:
            st.tick = tick
        elif tick != st.tick:
            raise ValueError(f"tick changed from {st.tick} to {tick} within one stream")

        cfg = self.config
        out = np.empty(n, np.float64)
        pos = 0
        while pos < n:
            stop = min(n, pos + cfg.refit_every - st.events % cfg.refit_every)
            st.n_transitions += _run_segment(
                cols[0][pos:stop],
                cols[1][pos:stop],
                cols[2][pos:stop],
                cols[3][pos:stop],
                tick,
                cfg.n_imb,
                cfg.n_spread,
                st.g.reshape(-1),
                st.prev,
                st.trans,
                st.moves,
                out[pos:stop],
            )
            st.events += stop - pos
            pos = stop
            if st.events % cfg.refit_every == 0:
                self._refit()
        return out

    def _refit(self) -> None:
        st = self.state
        cfg = self.config
        if st.n_transitions < cfg.min_transitions:
            return
        g, converged = fit_g_star(
            st.trans, st.moves, cfg.n_imb, cfg.n_spread, cfg.max_iter, cfg.tol
        )
        st.n_fits += 1
        if converged:
            st.g = g
        else:
            st.n_unconverged += 1
