"""History replay: a stretch of ``ticks.raw`` through the replay's steps equals the file replay."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from dataflows.publish import batches, publish
from dataflows.sinks import read_table
from flowsense.commands.replay import run_history, run_replay
from schemas import topics
from tests.integration.helpers import reset

pytestmark = pytest.mark.integration
SRC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "lobster"
ROWS = 6_000


def _copy(folder: Path, symbol: str, levels: int) -> None:
    folder.mkdir(exist_ok=True)
    for kind in ("message", "orderbook"):
        name = f"{symbol}_2012-06-21_34200000_57600000_{kind}_{levels}.csv"
        with open(SRC / name) as f:
            (folder / name).write_text("".join(next(f) for _ in range(ROWS)))


@pytest.fixture(scope="module")
def published(services, tmp_path_factory):
    """AMZN's rows written to ``ticks.raw``, then, a second later, GOOG's."""
    root = tmp_path_factory.mktemp("history")
    _copy(root / "amzn", "AMZN", 5)
    _copy(root / "goog", "GOOG", 10)
    both = root / "both"
    both.mkdir()
    for f in [*(root / "amzn").iterdir(), *(root / "goog").iterdir()]:
        shutil.copy(f, both / f.name)
    reset(services)
    publish(services.kafka.bootstrap, batches(root / "amzn", 512, None, services.cache_dir))
    time.sleep(1.2)
    between = datetime.now(UTC)
    time.sleep(1.2)
    publish(services.kafka.bootstrap, batches(root / "goog", 512, None, services.cache_dir))
    return root, between


def _same_run(a: Path, b: Path) -> None:
    fa, fb = read_table(a, "features"), read_table(b, "features")
    assert fa.height == fb.height > 0
    assert fa.sort("symbol", "seq").equals(fb.sort("symbol", "seq"))
    for table, key in (("orders", "client_order_id"), ("fills", "fill_id")):
        ta, tb = read_table(a, table), read_table(b, table)
        assert ta.height == tb.height
        if ta.height:
            assert ta.sort(key).equals(tb.sort(key)), table


def test_the_whole_topic_replays_as_the_files(services, published, tmp_path):
    root, _ = published
    exact = services.kafka.model_copy(update={"symbols": ["AMZN", "GOOG"]})
    settings = services.model_copy(update={"kafka": exact})
    run_replay(settings, root / "both", run_dir=tmp_path / "files")
    summary = run_history(settings, topics.TICKS_RAW, None, None, run_dir=tmp_path / "kafka")
    assert summary["events"] == 2 * ROWS
    _same_run(tmp_path / "files", tmp_path / "kafka")


def test_a_time_range_replays_exactly_its_messages(services, published, tmp_path):
    root, between = published
    run_replay(services, root / "goog", run_dir=tmp_path / "files")
    summary = run_history(services, topics.TICKS_RAW, between, None, run_dir=tmp_path / "after")
    assert set(summary["symbols"]) == {"GOOG"}
    _same_run(tmp_path / "files", tmp_path / "after")
    before = run_history(services, topics.TICKS_RAW, None, between, run_dir=tmp_path / "before")
    assert set(before["symbols"]) == {"AMZN"} and before["events"] == ROWS
    feats = read_table(tmp_path / "before", "features")
    assert feats.filter(pl.col("symbol") != "AMZN").height == 0
