"""The Hawkes fit: parameter recovery on Ogata-thinning paths, likelihood and gradient checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from operators.hawkes import (
    HawkesIntensity,
    HawkesParams,
    fit,
    log_likelihood,
    loglik_grad,
    simulate,
)

TRUE = HawkesParams(np.array([0.5, 0.4]), np.array([[0.3, 0.2], [0.1, 0.4]]), 3.0)


def _direct_loglik(times, marks, horizon, p: HawkesParams) -> float:
    """O(n^2) log-likelihood straight from the definition (an independent calculation)."""
    ll = 0.0
    for k, (t, i) in enumerate(zip(times, marks, strict=True)):
        lam = p.mu[i]
        for tm, j in zip(times[:k], marks[:k], strict=True):
            lam += p.alpha[i, j] * p.beta * math.exp(-p.beta * (t - tm))
        ll += math.log(lam)
    for i in range(2):
        ll -= p.mu[i] * horizon
        for tm, j in zip(times, marks, strict=True):
            ll -= p.alpha[i, j] * (1 - math.exp(-p.beta * (horizon - tm)))
    return ll


def test_recursive_loglik_equals_the_direct_sum():
    times, marks = simulate(TRUE, 300.0, seed=4)
    assert 200 < len(times) < 1000
    assert log_likelihood(times, marks, 300.0, TRUE) == pytest.approx(
        _direct_loglik(times, marks, 300.0, TRUE), rel=1e-10
    )


def test_gradient_matches_finite_differences():
    times, marks = simulate(TRUE, 500.0, seed=5)
    v = TRUE.to_vector()
    _, g = loglik_grad(times, marks, 500.0, v[:2], v[2:6].reshape(2, 2), v[6])
    for k in range(7):
        e = np.zeros(7)
        e[k] = 1e-6
        hi, lo = v + e, v - e
        num = (
            loglik_grad(times, marks, 500.0, hi[:2], hi[2:6].reshape(2, 2), hi[6])[0]
            - loglik_grad(times, marks, 500.0, lo[:2], lo[2:6].reshape(2, 2), lo[6])[0]
        ) / 2e-6
        assert g[k] == pytest.approx(num, rel=1e-4, abs=1e-4), k


def test_simulated_event_rate_matches_the_stationary_rate():
    """Mean rate of a stationary Hawkes process: (I - alpha)^-1 mu."""
    _times, marks = simulate(TRUE, 20_000.0, seed=1)
    want = np.linalg.solve(np.eye(2) - TRUE.alpha, TRUE.mu)
    got = np.bincount(marks, minlength=2) / 20_000.0
    np.testing.assert_allclose(got, want, rtol=0.05)


@pytest.mark.parametrize("seed", [1, 2])
def test_fit_recovers_known_parameters(seed):
    """~35 000 events: mu and beta within 10 %, each alpha within 0.05."""
    times, marks = simulate(TRUE, 20_000.0, seed=seed)
    got = fit(times, marks, 20_000.0)
    np.testing.assert_allclose(got.mu, TRUE.mu, rtol=0.10)
    np.testing.assert_allclose(got.alpha, TRUE.alpha, atol=0.05)
    assert got.beta == pytest.approx(TRUE.beta, rel=0.10)
    assert log_likelihood(times, marks, 20_000.0, got) >= log_likelihood(
        times, marks, 20_000.0, TRUE
    )


def test_fit_of_a_poisson_process_keeps_its_rates():
    """No excitation in the data: the fitted stationary rates equal the empirical ones.

    (Excitation itself is not identified here: a very slow kernel looks like a baseline.)
    """
    rng = np.random.default_rng(0)
    times = np.sort(rng.uniform(0, 5_000, 6_000))
    marks = rng.integers(0, 2, 6_000)
    got = fit(times, marks, 5_000.0)
    rate = np.linalg.solve(np.eye(2) - got.alpha, got.mu)
    np.testing.assert_allclose(rate, np.bincount(marks) / 5_000.0, rtol=0.05)
    assert got.spectral_radius < 0.5


def test_online_intensity_equals_the_definition_and_ignores_batching():
    p = TRUE
    rng = np.random.default_rng(2)
    ts = np.cumsum(rng.integers(1, 400_000_000, 400))
    mid = 100 + np.cumsum(rng.choice([-0.5, 0, 0, 0.5], 400))
    whole = HawkesIntensity(p).update(ts, mid)
    parts = HawkesIntensity(p)
    split = np.concatenate([parts.update(ts[:123], mid[:123]), parts.update(ts[123:], mid[123:])])
    np.testing.assert_allclose(split, whole, rtol=1e-12)
    # lambda_i(t_k), counting the move at row k itself, from the definition.
    t = ts / 1e9
    moves = [(t[k], 0 if mid[k] > mid[k - 1] else 1) for k in range(1, 400) if mid[k] != mid[k - 1]]
    for k in (50, 200, 399):
        for i in range(2):
            lam = p.mu[i] + sum(
                p.alpha[i, j] * p.beta * math.exp(-p.beta * (t[k] - tm))
                for tm, j in moves
                if tm <= t[k]
            )
            assert whole[k, i] == pytest.approx(lam, rel=1e-9)
