"""Find and read market-data files: LOBSTER pairs and Binance captures.

``discover`` turns a file or a folder into feeds; a feed is the ordered list
of files of one stream (one LOBSTER pair, or the Binance captures of one
market and symbol, which continue each other across days). ``read_feed``
turns a feed into ``FeedData`` (ticks and rejects), one per symbol.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dataflows.readers.cache import cached
from dataflows.readers.lobster import parse_name, read_lobster
from schemas.market import FeedData

_BINANCE_NAME = re.compile(r"^(?P<stream>.+?)_(?P<date>\d{8})\.gz$")


@dataclass(frozen=True, slots=True)
class Feed:
    """The files of one stream, in reading order, and its format."""

    name: str
    kind: Literal["lobster", "binance"]
    paths: tuple[Path, ...]
    group: str
    """Feeds of one group (one LOBSTER symbol on several days) are read in order, as one stream."""


def _is_binance_capture(path: Path) -> bool:
    try:
        with gzip.open(path, "rt") as f:
            head = f.readline()
    except (OSError, EOFError, UnicodeDecodeError):
        return False
    stamp, _, payload = head.partition(" ")
    return stamp.isdigit() and payload.lstrip().startswith("{")


def _feed_of(path: Path) -> Feed:
    if path.suffix == ".csv":
        files = parse_name(path)
        name = f"{files.symbol}_{files.day}_L{files.levels}"
        return Feed(name, "lobster", (files.message, files.orderbook), files.symbol)
    if path.suffix == ".gz" and _is_binance_capture(path):
        m = _BINANCE_NAME.match(path.name)
        stream = m["stream"] if m else path.stem
        return Feed(stream, "binance", (path,), stream)
    raise ValueError(f"{path}: not a LOBSTER .csv file nor a Binance .gz capture")


def discover(path: Path) -> list[Feed]:
    """The feeds in ``path``: one file (its pair or stream) or every data file of a folder.

    In a folder, a LOBSTER symbol and day present at several depths is read
    once, at its deepest level count; Binance captures of one stream on
    several days become one feed, in date order.
    """
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_file():
        return [_feed_of(path)]
    lobster: dict[tuple[str, str], tuple[int, Path]] = {}
    streams: dict[str, list[Path]] = {}
    for p in sorted(path.iterdir()):
        if p.suffix == ".csv" and "_message_" in p.name:
            try:
                files = parse_name(p)
            except ValueError:
                continue
            key = (files.symbol, str(files.day))
            if key not in lobster or lobster[key][0] < files.levels:
                lobster[key] = (files.levels, p)
        elif p.suffix == ".gz" and _is_binance_capture(p):
            m = _BINANCE_NAME.match(p.name)
            streams.setdefault(m["stream"] if m else p.stem, []).append(p)
    feeds = [_feed_of(p) for _, p in sorted(lobster.values(), key=lambda lp: lp[1].name)]
    feeds += [Feed(name, "binance", tuple(ps), name) for name, ps in sorted(streams.items())]
    if not feeds:
        raise ValueError(f"{path}: no LOBSTER or Binance data files in this folder")
    return feeds


def read_feed(
    feed: Feed, levels: int | None = None, cache_dir: Path | None = None
) -> list[FeedData]:
    """Read a feed into one ``FeedData`` per symbol (through the parse cache when given one)."""
    if feed.kind == "lobster":
        return cached(cache_dir, feed.paths, levels, lambda: [read_lobster(feed.paths[0], levels)])
    from dataflows.readers.binance import read_binance

    return cached(
        cache_dir, feed.paths, levels, lambda: read_binance(list(feed.paths), levels=levels or 10)
    )


def group_feeds(feeds: list[Feed]) -> dict[str, list[Feed]]:
    """Feeds by group, each group in reading order: one source partition per group."""
    groups: dict[str, list[Feed]] = {}
    for feed in feeds:
        groups.setdefault(feed.group, []).append(feed)
    return groups
