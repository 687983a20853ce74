"""Shared fixtures: the real data of ../shared/data, and small derived samples."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LOBSTER = DATA / "lobster"
BINANCE = DATA / "binance"
PREFIX = "2012-06-21_34200000_57600000"


def lobster(symbol: str, kind: str, levels: int) -> Path:
    return LOBSTER / f"{symbol}_{PREFIX}_{kind}_{levels}.csv"


@pytest.fixture(autouse=True, scope="session")
def _own_cache(tmp_path_factory):
    """Keep the tests' parse cache out of the user's home."""
    mp = pytest.MonkeyPatch()
    mp.setenv("FLOWSENSE_CACHE_DIR", str(tmp_path_factory.mktemp("feed-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert DATA.is_dir(), f"the shared data folder is missing: {DATA}"
    return DATA


@pytest.fixture
def lobster_sample(tmp_path: Path):
    """Write the first ``rows`` rows of a real LOBSTER pair to tmp_path (same file names)."""

    def make(symbol: str = "AMZN", levels: int = 5, rows: int = 2000) -> Path:
        for kind in ("message", "orderbook"):
            src = lobster(symbol, kind, levels)
            with open(src) as f:
                head = [next(f) for _ in range(rows)]
            (tmp_path / src.name).write_text("".join(head))
        return tmp_path / lobster(symbol, "message", levels).name

    return make
