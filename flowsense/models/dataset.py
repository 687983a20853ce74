"""Feature rows of whole files per symbol, the same state objects as the dataflow, and labels."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataflows.readers import discover, group_feeds, read_feed
from flowsense.settings import ModelsConfig
from operators.features import FeatureState
from operators.labels import event_labels
from operators.validate import Validator
from schemas.features import FeatureBatch


@dataclass(frozen=True, slots=True)
class Labelled:
    """All feature rows of one symbol, their labels and which labels exist."""

    features: FeatureBatch
    labels: np.ndarray
    valid: np.ndarray

    def __len__(self) -> int:
        return len(self.features)


def load_features(
    path: Path, levels: int | None = None, cache_dir: Path | None = None
) -> dict[str, FeatureBatch]:
    """Every accepted row (book and trade-only, as the dataflow sees them) per symbol."""
    parts: dict[str, list[FeatureBatch]] = {}
    state: dict[str, tuple[Validator, FeatureState]] = {}
    for feeds in group_feeds(discover(path)).values():
        for feed in feeds:
            for data in read_feed(feed, levels, cache_dir):
                ins = data.ticks.instrument
                validator, fs = state.setdefault(ins.symbol, (Validator(), FeatureState(ins)))
                ticks, _ = validator.update(data.ticks)
                if len(ticks):
                    parts.setdefault(ins.symbol, []).append(fs.update(ticks))
    out = {}
    for symbol, batches in parts.items():
        cols = {k: np.concatenate([b.columns[k] for b in batches]) for k in batches[0].columns}
        out[symbol] = FeatureBatch(batches[0].instrument, cols)
    return out


def label(features: FeatureBatch, mc: ModelsConfig) -> Labelled:
    y, valid = event_labels(features["mid"], mc.horizon, mc.label_alpha, mc.label_method)
    return Labelled(features, y, valid)


def load_labelled(
    path: Path, mc: ModelsConfig, cache_dir: Path | None = None
) -> dict[str, Labelled]:
    data = {s: label(f, mc) for s, f in load_features(path, None, cache_dir).items()}
    if not data:
        raise ValueError(f"{path}: no market data rows")
    return data


def fingerprint(path: Path) -> str:
    """SHA-256 over the input files' names and bytes (the data a model was trained on)."""
    h = hashlib.sha256()
    for feed in sorted(discover(path), key=lambda f: str(f.paths)):
        for p in feed.paths:
            h.update(Path(p).name.encode())
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def slice_batch(f: FeatureBatch, sl: slice) -> FeatureBatch:
    return FeatureBatch(f.instrument, {k: v[sl] for k, v in f.columns.items()})
