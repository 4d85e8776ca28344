"""Query sampling from ground-truth tracks, as the TAP-Vid protocol defines it."""

from __future__ import annotations

import numpy as np

QUERY_MODES = ("first", "strided")


def sample_queries(xy: np.ndarray, visible: np.ndarray, query_mode: str, stride: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Queries `(M, 3)` float32 rows `(t, x, y)` and, for each, the index of its ground-truth track.

    `first`: one query per track at its first visible frame. `strided`: one query per track
    visible at each frame 0, stride, 2·stride, … (ordered by frame, then track). Tracks that are
    never visible give no query.
    """
    n, t = visible.shape
    if query_mode == "first":
        track = np.flatnonzero(visible.any(axis=1))
        frame = visible[track].argmax(axis=1)
    elif query_mode == "strided":
        if stride < 1:
            raise ValueError(f"query_stride must be a positive integer; got {stride}")
        frames = np.arange(0, t, stride)
        k, track = np.nonzero(visible[:, frames].T)
        frame = frames[k]
    else:
        raise ValueError(f"query_mode must be one of {QUERY_MODES}; got {query_mode!r}")
    queries = np.concatenate([frame[:, None], xy[track, frame]], axis=1).astype(np.float32)
    return queries, track
