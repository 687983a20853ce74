"""Plain-Python references for the tests: written from the papers' definitions, loops only."""

from __future__ import annotations

import itertools
import math


def ofi_e(prev: tuple[int, int, int, int], cur: tuple[int, int, int, int]) -> int:
    """Cont, Kukanov & Stoikov (2014) e_n from (bid px, bid sz, ask px, ask sz) before and after."""
    pb0, qb0, pa0, qa0 = prev
    pb1, qb1, pa1, qa1 = cur
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


def ofi_levels(rows: list[list[tuple[int, int, int, int]]]) -> list[list[int]]:
    """e_n per level for a list of books (each a list of per-level tuples); first row 0."""
    out = [[0] * len(rows[0])] if rows else []
    for prev, cur in itertools.pairwise(rows):
        out.append([ofi_e(p, c) for p, c in zip(prev, cur, strict=True)])
    return out


def bars(ts: list[int], e: list[float], mid: list[float], trade: list[float], bar_ns: int):
    """Bars as dicts: ends aligned to multiples of bar_ns since midnight UTC (half-open)."""
    day = 86_400 * 10**9
    out: dict[int, dict] = {}
    order: list[int] = []
    last_mid = math.nan
    for t, x, m, q in zip(ts, e, mid, trade, strict=True):
        d0 = t - t % day
        end = min(d0 + ((t - d0) // bar_ns + 1) * bar_ns, d0 + day)
        if end not in out:
            out[end] = {
                "ofi": 0.0,
                "n": 0,
                "ti": 0.0,
                "vol": 0.0,
                "mid0": last_mid,
                "mid1": last_mid,
            }
            order.append(end)
        b = out[end]
        b["ofi"] += x
        b["n"] += 1
        b["ti"] += q
        b["vol"] += abs(q)
        if not math.isnan(m):
            if math.isnan(b["mid0"]):
                b["mid0"] = m
            last_mid = m
            b["mid1"] = m
    return [
        {
            "ts_event": k,
            "ofi": out[k]["ofi"],
            "dmid": out[k]["mid1"] - out[k]["mid0"],
            "n_events": out[k]["n"],
            "trade_imbalance": out[k]["ti"],
            "volume": out[k]["vol"],
        }
        for k in order
    ]
