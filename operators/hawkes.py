"""Bivariate Hawkes process with an exponential kernel on mid-price moves (up, down).

Intensity of type i (0 = up move, 1 = down move)::

    lambda_i(t) = mu_i + sum_j alpha_ij * sum_{t_k^j < t} beta * exp(-beta (t - t_k^j))

``alpha_ij`` is the branching ratio (expected type-i children of one type-j
event), one decay ``beta`` (1/s) is shared. The log-likelihood and its
gradient run in one O(n) pass (Ozaki 1979's recursion ``R_j <- exp(-beta dt)
R_j + 1``) in Numba; the maximum-likelihood fit is L-BFGS-B on log
parameters. Written here rather than taken from a library because none of
the Hawkes libraries (tick, hawkeslib) installs on Python 3.11 with our
NumPy, and the online intensity needs the same recursion as a stateful step.

``simulate`` draws a path by Ogata's thinning, which the tests fit to
recover known parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

UP, DOWN = 0, 1


@dataclass(frozen=True, slots=True)
class HawkesParams:
    """Baselines ``mu`` (2,), branching ratios ``alpha`` (2, 2) [to, from], decay ``beta``."""

    mu: np.ndarray
    alpha: np.ndarray
    beta: float

    def to_vector(self) -> np.ndarray:
        return np.concatenate([self.mu, self.alpha.ravel(), [self.beta]])

    @classmethod
    def from_vector(cls, v: np.ndarray) -> HawkesParams:
        v = np.asarray(v, np.float64)
        return cls(v[:2].copy(), v[2:6].reshape(2, 2).copy(), float(v[6]))

    def to_dict(self) -> dict:
        return {"mu": self.mu.tolist(), "alpha": self.alpha.tolist(), "beta": self.beta}

    @classmethod
    def from_dict(cls, d: dict) -> HawkesParams:
        return cls(np.asarray(d["mu"], float), np.asarray(d["alpha"], float), float(d["beta"]))

    @property
    def spectral_radius(self) -> float:
        """< 1 for a stationary process."""
        return float(np.max(np.abs(np.linalg.eigvals(self.alpha))))


@njit(cache=True)
def loglik_grad(times, marks, horizon, mu, alpha, beta):  # pragma: no cover - numba
    """Log-likelihood on [0, horizon] and its gradient in (mu0, mu1, alpha (row-major), beta)."""
    n = len(times)
    r = np.zeros(2)
    s = np.zeros(2)  # d r / d beta
    g = np.zeros(7)
    ll = 0.0
    last = 0.0
    for k in range(n):
        dt = times[k] - last
        e = math.exp(-beta * dt)
        for j in range(2):
            s[j] = e * (s[j] - dt * r[j])
            r[j] = e * r[j]
        i = marks[k]
        lam = mu[i]
        dlam_dbeta = 0.0
        for j in range(2):
            lam += alpha[i, j] * beta * r[j]
            dlam_dbeta += alpha[i, j] * (r[j] + beta * s[j])
        ll += math.log(lam)
        g[i] += 1.0 / lam
        for j in range(2):
            g[2 + 2 * i + j] += beta * r[j] / lam
        g[6] += dlam_dbeta / lam
        r[i] += 1.0
        last = times[k]
    # Compensator: mu_i T + sum_j alpha_ij sum_{m in j} (1 - exp(-beta (T - t_m))).
    c = np.zeros(2)
    dc = np.zeros(2)
    for k in range(n):
        u = horizon - times[k]
        e = math.exp(-beta * u)
        c[marks[k]] += 1.0 - e
        dc[marks[k]] += u * e
    for i in range(2):
        ll -= mu[i] * horizon
        g[i] -= horizon
        for j in range(2):
            ll -= alpha[i, j] * c[j]
            g[2 + 2 * i + j] -= c[j]
            g[6] -= alpha[i, j] * dc[j]
    return ll, g


def log_likelihood(times: np.ndarray, marks: np.ndarray, horizon: float, p: HawkesParams) -> float:
    return float(
        loglik_grad(
            np.asarray(times, np.float64),
            np.asarray(marks, np.int64),
            horizon,
            p.mu,
            p.alpha,
            p.beta,
        )[0]
    )


def fit(
    times: np.ndarray, marks: np.ndarray, horizon: float | None = None, max_iter: int = 500
) -> HawkesParams:
    """Maximum-likelihood parameters of events at ``times`` (seconds, sorted) of ``marks``."""
    from scipy.optimize import minimize

    times = np.asarray(times, np.float64)
    marks = np.asarray(marks, np.int64)
    if len(times) < 10 or len(np.unique(marks)) < 2:
        raise ValueError("a Hawkes fit needs at least 10 events of both types")
    t0 = times[0]
    times = times - t0
    horizon = (horizon - t0) if horizon is not None else float(times[-1]) + 1e-9
    n = len(times)
    rate = np.bincount(marks, minlength=2) / horizon
    gaps = np.diff(times)
    beta0 = 1.0 / max(float(np.median(gaps[gaps > 0])) if (gaps > 0).any() else 1.0, 1e-6)
    x0 = np.log(np.concatenate([0.5 * rate, [0.2, 0.1, 0.1, 0.2], [beta0]]))

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        v = np.exp(x)
        ll, g = loglik_grad(times, marks, horizon, v[:2], v[2:6].reshape(2, 2), v[6])
        return -ll / n, -g * v / n  # chain rule for log parameters

    res = minimize(
        objective,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-30, 30)] * 7,
        options={"maxiter": max_iter},
    )
    return HawkesParams.from_vector(np.exp(res.x))


def simulate(p: HawkesParams, horizon: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One path on [0, horizon] by Ogata's thinning: (times, marks)."""
    return _simulate(p.mu, p.alpha, p.beta, horizon, seed)


@njit(cache=True)
def _simulate(mu, alpha, beta, horizon, seed):  # pragma: no cover - numba
    np.random.seed(seed)
    cap = 1024
    times = np.empty(cap)
    marks = np.empty(cap, np.int64)
    n = 0
    r = np.zeros(2)  # sum exp(-beta (t - t_k)) per source type, at time t
    t = 0.0
    while True:
        # Intensities only decay between events: their value now bounds them until the next one.
        lam_bar = mu[0] + mu[1]
        for i in range(2):
            for j in range(2):
                lam_bar += alpha[i, j] * beta * r[j]
        w = -math.log(np.random.random()) / lam_bar
        t += w
        if t > horizon:
            break
        e = math.exp(-beta * w)
        r[0] *= e
        r[1] *= e
        lam0 = mu[0] + beta * (alpha[0, 0] * r[0] + alpha[0, 1] * r[1])
        lam1 = mu[1] + beta * (alpha[1, 0] * r[0] + alpha[1, 1] * r[1])
        u = np.random.random() * lam_bar
        if u < lam0 + lam1:
            m = 0 if u < lam0 else 1
            if n == cap:
                cap *= 2
                times = np.concatenate((times, np.empty(cap - n)))
                marks = np.concatenate((marks, np.empty(cap - n, np.int64)))
            times[n] = t
            marks[n] = m
            n += 1
            r[m] += 1.0
    return times[:n].copy(), marks[:n].copy()


@njit(cache=True)
def _intensity_rows(t, mark, mu, alpha, beta, r, last):  # pragma: no cover - numba
    """Intensities at each row (after the row's own move, if any); ``r``/``last`` updated."""
    n = len(t)
    out = np.empty((n, 2))
    for k in range(n):
        if last[0] >= -1e300:
            e = math.exp(-beta * max(t[k] - last[0], 0.0))
            r[0] *= e
            r[1] *= e
        last[0] = t[k]
        if mark[k] >= 0:
            r[mark[k]] += 1.0
        for i in range(2):
            out[k, i] = mu[i] + beta * (alpha[i, 0] * r[0] + alpha[i, 1] * r[1])
    return out


def mid_moves(mid: np.ndarray, prev_mid: float) -> tuple[np.ndarray, float]:
    """Per row: UP, DOWN or -1 (no move) against the previous finite mid; and the last mid."""
    mid = np.asarray(mid, np.float64)
    marks = np.full(len(mid), -1, np.int64)
    last = prev_mid
    finite = np.isfinite(mid)
    if finite.any():
        m = mid[finite]
        prev = np.concatenate([[last], m[:-1]])
        sub = np.full(len(m), -1, np.int64)
        sub[m > prev] = UP
        sub[m < prev] = DOWN
        marks[finite] = sub
        last = float(m[-1])
    return marks, last


@dataclass(slots=True)
class HawkesIntensity:
    """Online intensities of one symbol: decay, jump on each mid move; O(1) state."""

    params: HawkesParams
    last_mid: float = float("nan")
    _r: np.ndarray = field(default_factory=lambda: np.zeros(2))
    _last: np.ndarray = field(default_factory=lambda: np.array([-np.inf]))

    def update(self, ts_event: np.ndarray, mid: np.ndarray) -> np.ndarray:
        """(n, 2) intensities (up, down) per row, in events per second."""
        marks, self.last_mid = mid_moves(mid, self.last_mid)
        t = np.asarray(ts_event, np.float64) / 1e9
        p = self.params
        return _intensity_rows(t, marks, p.mu, p.alpha, p.beta, self._r, self._last)

    def replay(self, times_s: np.ndarray, marks: np.ndarray) -> None:
        """Bring the state up to past events (seconds, marks), e.g. those of a warm-up fit."""
        p = self.params
        _intensity_rows(
            np.asarray(times_s, np.float64),
            np.asarray(marks, np.int64),
            p.mu,
            p.alpha,
            p.beta,
            self._r,
            self._last,
        )


def p_up(intensity: np.ndarray) -> np.ndarray:
    """Probability that the next mid move is up: lambda_up / (lambda_up + lambda_down)."""
    total = intensity[:, 0] + intensity[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, intensity[:, 0] / total, 0.5)
