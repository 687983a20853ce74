"""The file source: batching, resume positions, and pacing at a replay speed (injected clock)."""

from __future__ import annotations

import numpy as np
import pytest

from dataflows.readers import discover, group_feeds
from dataflows.sources import FeedSource


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _ticks(batches):
    return np.concatenate([b.ticks.ts_event for b in batches if b.ticks is not None] or [[]])


@pytest.fixture
def source_for(lobster_sample):
    def make(rows=3000, **kw):
        groups = group_feeds(discover(lobster_sample("AMZN", 1, rows)))
        return FeedSource(groups, **kw), next(iter(groups))

    return make


def test_max_speed_emits_batches_and_resumes_after_the_last_row(source_for):
    source, part = source_for(batch_size=1000)
    p = source.build_part("ticks", part, None)
    first = p.next_batch()
    assert [len(b.ticks) for b in first] == [1000]
    assert p.snapshot() == (0, 0, 1000)
    resumed = source.build_part("ticks", part, p.snapshot())
    rest = []
    while True:
        try:
            rest += resumed.next_batch()
        except StopIteration:
            break
    assert sum(len(b.ticks) for b in rest) == 2000
    assert rest[0].ticks.seq[0] == 1000


def test_paced_source_emits_what_is_due_and_sleeps_until_the_next_event(source_for):
    clock = FakeClock()
    source, part = source_for(batch_size=100_000, speed=10.0, clock=clock)
    p = source.build_part("ticks", part, None)
    got = _ticks(p.next_batch())
    t0 = got[0]
    assert (got == t0).all()  # only the first instant is due at the start
    clock.now += 0.5  # half a wall second at 10x: five event seconds
    got = _ticks(p.next_batch())
    assert got.max() <= t0 + 5 * 10**9
    awake = p.next_awake()
    assert awake is not None
    # The next batch is due exactly when its first event is, at 10x.
    pending = p.next_batch()
    assert pending == [] or _ticks(pending).size == 0
    clock.now = awake.timestamp()
    nxt = _ticks(p.next_batch())
    assert nxt.size > 0 and nxt[0] > t0 + 5 * 10**9
    assert (nxt[0] - t0) / 10 / 1e9 == pytest.approx(awake.timestamp() - 1_000.0, abs=1e-6)


def test_days_of_one_symbol_are_one_partition_read_in_order(lobster_sample):
    first = lobster_sample("AMZN", 1, 500)
    for kind in ("message", "orderbook"):  # the same rows, filed as the next day
        src = first.with_name(first.name.replace("message", kind))
        src.with_name(src.name.replace("2012-06-21", "2012-06-22")).write_text(src.read_text())
    groups = group_feeds(discover(first.parent))
    assert list(groups) == ["AMZN"] and len(groups["AMZN"]) == 2
    source = FeedSource(groups, batch_size=400)
    p = source.build_part("ticks", "AMZN", None)
    ts = [_ticks(p.next_batch())]
    resumed = source.build_part("ticks", "AMZN", p.snapshot())  # resume mid-way, then across days
    while True:
        try:
            ts.append(_ticks(resumed.next_batch()))
        except StopIteration:
            break
    ts = np.concatenate(ts)
    assert len(ts) == 1000 and (np.diff(ts) >= 0).all()
    assert ts[500] - ts[0] == 86_400 * 10**9
