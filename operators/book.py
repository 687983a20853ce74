"""Prices and depth of the best levels: mid, spread, imbalance-weighted mid, depth."""

from __future__ import annotations

import numpy as np

from schemas.market import EMPTY_ASK_PX, EMPTY_BID_PX


def two_sided(bid_px: np.ndarray, ask_px: np.ndarray) -> np.ndarray:
    """True where both sides of the best level are present."""
    return (bid_px != EMPTY_BID_PX) & (ask_px != EMPTY_ASK_PX)


def best_prices(
    bid_px: np.ndarray, bid_sz: np.ndarray, ask_px: np.ndarray, ask_sz: np.ndarray, price_scale: int
) -> dict[str, np.ndarray]:
    """``mid``, ``spread`` and ``weighted_mid`` in float currency (NaN for a one-sided book).

    ``weighted_mid`` = (bid * ask_sz + ask * bid_sz) / (bid_sz + ask_sz): the
    price leans toward the side with less size, where the next move is likelier.
    """
    ok = two_sided(bid_px, ask_px)
    bid = np.where(ok, bid_px, 0).astype(np.float64) / price_scale
    ask = np.where(ok, ask_px, 0).astype(np.float64) / price_scale
    qb = bid_sz.astype(np.float64)
    qa = ask_sz.astype(np.float64)
    depth = qb + qa
    with np.errstate(invalid="ignore", divide="ignore"):
        weighted = np.where(depth > 0, (bid * qa + ask * qb) / depth, (bid + ask) / 2)
    nan = np.float64("nan")
    return {
        "mid": np.where(ok, (bid + ask) / 2, nan),
        "spread": np.where(ok, ask - bid, nan),
        "weighted_mid": np.where(ok, weighted, nan),
    }
