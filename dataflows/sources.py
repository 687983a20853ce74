"""File source of the replay dataflow: one partition per stream, resumable, optionally paced."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from dataflows.readers import Feed, read_feed
from dataflows.steps import SourceBatch
from schemas.market import FeedData, TickBatch

# Resume state: (feed, symbol's data within the feed, next row in it).
Position = tuple[int, int, int]


class _FeedPartition(StatefulSourcePartition[SourceBatch, Position]):
    def __init__(
        self,
        feeds: list[Feed],
        levels: int | None,
        batch_size: int,
        speed: float | None,
        resume: Position | None,
        cache_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._feeds, self._levels, self._cache_dir = feeds, levels, cache_dir
        self._now = clock
        self._feed, self._index, self._row = resume or (0, 0, 0)
        self._data: list[FeedData] = []
        self._loaded = -1  # one feed (a file, a day) in memory at a time
        self._batch_size = batch_size
        self._speed = speed
        self._clock: tuple[float, int] | None = None  # (wall s, event ns) pacing origin
        self._awake: datetime | None = None

    def _current(self) -> FeedData | None:
        """The data being read, loading the next feed when one is used up."""
        while self._feed < len(self._feeds):
            if self._loaded != self._feed:
                self._data = read_feed(self._feeds[self._feed], self._levels, self._cache_dir)
                self._loaded = self._feed
            if self._index < len(self._data):
                return self._data[self._index]
            self._feed, self._index, self._row = self._feed + 1, 0, 0
        return None

    def next_batch(self) -> list[SourceBatch]:
        data = self._current()
        if data is None:
            raise StopIteration
        out = []
        if self._row == 0 and data.rejects:
            out.append(SourceBatch(data.ticks.symbol, rejects=data.rejects))
        end = self._paced_end(data.ticks)
        if end > self._row:
            out.append(SourceBatch(data.ticks.symbol, ticks=data.ticks.take(slice(self._row, end))))
            self._row = end
        if self._row >= len(data.ticks):
            self._index, self._row, self._clock = self._index + 1, 0, None
        return out

    def _paced_end(self, ticks: TickBatch) -> int:
        """End row of the next batch: the batch size, or what is due at this replay speed."""
        end = min(self._row + self._batch_size, len(ticks))
        self._awake = None
        if self._speed is None or self._row >= len(ticks):
            return end
        now = self._now()
        if self._clock is None:  # each feed (file, day) restarts the clock: no overnight waits
            self._clock = (now, int(ticks.ts_event[self._row]))
        wall0, event0 = self._clock
        due = event0 + int((now - wall0) * self._speed * 1e9)
        end = self._row + int(np.searchsorted(ticks.ts_event[self._row : end], due, side="right"))
        if end < len(ticks):
            wait_s = (int(ticks.ts_event[end]) - event0) / self._speed / 1e9
            # Round up to datetime's microsecond: waking a hair early would find nothing due.
            self._awake = datetime.fromtimestamp(math.ceil((wall0 + wait_s) * 1e6) / 1e6, UTC)
        return end

    def next_awake(self) -> datetime | None:
        return self._awake

    def snapshot(self) -> Position:
        return (self._feed, self._index, self._row)


class FeedSource(FixedPartitionedSource[SourceBatch, Position]):
    """Replays feeds (LOBSTER pairs, Binance captures) in batches, one partition per group.

    ``speed`` None replays as fast as possible; 1.0 keeps the events' own
    pace, 10.0 ten times faster. ``clock`` (wall seconds) is injectable for tests.
    """

    def __init__(
        self,
        groups: dict[str, list[Feed]],
        levels: int | None = None,
        batch_size: int = 65_536,
        speed: float | None = None,
        cache_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._groups = groups
        self._cache_dir = cache_dir
        self._clock = clock
        self._levels = levels
        self._batch_size = batch_size
        self._speed = speed

    def list_parts(self) -> list[str]:
        return list(self._groups)

    def build_part(
        self, step_id: str, for_part: str, resume_state: Position | None
    ) -> _FeedPartition:
        return _FeedPartition(
            self._groups[for_part],
            self._levels,
            self._batch_size,
            self._speed,
            resume_state,
            self._cache_dir,
            self._clock,
        )
