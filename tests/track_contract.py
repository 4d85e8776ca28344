"""The output contract every learned adapter's `track` keeps, asserted in one place for their tests."""

from __future__ import annotations

import numpy as np

from pointbench.types import Tracks


def assert_tracks_contract(tracks, frames: np.ndarray, n_queries: int) -> None:
    """`tracks` is a `Tracks` with float32 positions, bool visibility and float32 confidence in [0, 1]
    for every query at every frame (before each query's frame too), all finite and near the image."""
    n, t = n_queries, len(frames)
    assert isinstance(tracks, Tracks)
    assert tracks.xy.shape == (n, t, 2) and tracks.xy.dtype == np.float32
    assert tracks.visible.shape == (n, t) and tracks.visible.dtype == bool
    assert tracks.confidence.shape == (n, t) and tracks.confidence.dtype == np.float32
    assert np.isfinite(tracks.xy).all()
    assert ((tracks.confidence >= 0) & (tracks.confidence <= 1)).all()
    assert np.abs(tracks.xy).max() < 10 * max(frames.shape[1:3]), "positions must stay near the image"
