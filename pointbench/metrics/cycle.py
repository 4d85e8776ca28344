"""Metrics that need no ground truth: forward–backward cycle consistency and track survival.

Cycle consistency (two tracker runs on the same frames): every query whose forward track is
predicted visible at the last frame T-1 (and is not itself on that frame) is sent back as a new
query at (T-1, x, y) of its forward track there. The second run's track of that query, read at
the original query's frame, should land on the original query position; the distance is scaled
to 256×256 as TAP-Vid scores (x·256/W, y·256/H), so it does not depend on the video's size.

    back_queries, index = cycle_queries(pred.xy, pred.visible, queries, image_size=(h, w))
    back = tracker.track(frames, back_queries)            # the second run
    row = cycle_consistency(queries, back.xy, back.visible, index, (h, w))
    row["survival"] = track_survival(pred.visible, queries)

Pure numpy; the keys of the returned dicts are the table column names (`CYCLE_COLUMNS`).
"""

from __future__ import annotations

import numpy as np

from pointbench.metrics.tapvid import SCORE_SIZE, THRESHOLDS

__all__ = ["CYCLE_COLUMNS", "cycle_queries", "cycle_consistency", "track_survival", "survival_curve"]

#: Columns these metrics add to a per-video table (the tracker runs twice for the cycle_* ones).
CYCLE_COLUMNS = (("cycle_median_px",) + tuple(f"cycle_within_{d}" for d in THRESHOLDS)
                 + ("cycle_returned", "cycle_n", "survival"))


def _frames(queries: np.ndarray, n_frames: int, name: str = "queries") -> np.ndarray:
    q = np.asarray(queries)
    if q.ndim != 2 or q.shape[1] != 3:
        raise ValueError(f"'{name}' must have shape (N, 3) with rows (t, x, y); got {q.shape}")
    t = q[:, 0]
    integer = np.isfinite(t).all() and np.array_equal(t, np.round(t))
    if not integer or (len(t) and (t.min() < 0 or t.max() >= n_frames)):
        raise ValueError(f"'{name}' must have integer frames t in [0, {n_frames}); got {t[:5].tolist()}…")
    return t.astype(np.int64)


def _check_tracks(xy, visible, n: int | None, name: str) -> tuple[np.ndarray, np.ndarray]:
    xy, visible = np.asarray(xy), np.asarray(visible)
    if xy.ndim != 3 or xy.shape[2] != 2 or (n is not None and xy.shape[0] != n):
        expected = "(N, T, 2)" if n is None else f"({n}, T, 2)"
        raise ValueError(f"'{name}_xy' must have shape {expected}; got {xy.shape}")
    if visible.shape != xy.shape[:2] or visible.dtype != np.bool_:
        raise ValueError(f"'{name}_visible' must be bool of shape {xy.shape[:2]}; got {visible.dtype} {visible.shape}")
    return xy, visible


def cycle_queries(forward_xy: np.ndarray, forward_visible: np.ndarray, queries: np.ndarray,
                  image_size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Queries for the backward run: `(back_queries float32 (M, 3), index int64 (M,))`.

    Query i is sent back, as `(T-1, x, y)` with (x, y) its forward position at the last frame, when
    its forward track is predicted visible there, its own frame is before T-1 (a query on the last
    frame has no cycle), and — when `image_size` (H, W) is given — that position lies in the frame.
    `index[k]` is the original query of back query k; the N - M others are not sent back.
    """
    xy, visible = _check_tracks(forward_xy, forward_visible, None, "forward")
    n, t = visible.shape
    frames = _frames(queries, t)
    if len(frames) != n:
        raise ValueError(f"'queries' must have one row per track ({n}); got {len(frames)}")
    last = xy[:, t - 1] if t else np.zeros((n, 2))
    send = (visible[:, t - 1] & (frames < t - 1)) if t else np.zeros(n, bool)
    if image_size is not None:
        height, width = image_size
        send &= (last[:, 0] >= 0) & (last[:, 0] <= width) & (last[:, 1] >= 0) & (last[:, 1] <= height)
    index = np.flatnonzero(send)
    back = np.column_stack([np.full(len(index), t - 1), last[index]]).astype(np.float32).reshape(-1, 3)
    return back, index.astype(np.int64)


def cycle_consistency(queries: np.ndarray, backward_xy: np.ndarray, backward_visible: np.ndarray,
                      index: np.ndarray, image_size: tuple[int, int],
                      thresholds: tuple[float, ...] = THRESHOLDS) -> dict:
    """Return errors of the backward tracks at the original query frames, at 256×256.

    `backward_xy` (M, T, 2) / `backward_visible` (M, T) are the second run's tracks of the queries
    from `cycle_queries`, `index` (M,) their original queries. Returns:

    - `cycle_median_px`: median return error (pixels at 256×256) over the M sent back (NaN if M = 0);
    - `cycle_within_δ`: fraction of the M whose return error is < δ (strict), whatever their
      predicted visibility (like `pts_within_δ`); a non-finite position counts as never within;
    - `cycle_returned`: fraction of all N queries that were sent back and are predicted visible
      at their own frame by the backward run (NaN if N = 0);
    - `cycle_n`: M, how many were sent back.
    """
    xy, visible = _check_tracks(backward_xy, backward_visible, None, "backward")
    m, t = visible.shape
    index = np.asarray(index)
    if index.shape != (m,) or (m and (index.dtype.kind not in "iu" or index.min() < 0 or index.max() >= len(queries))):
        raise ValueError(f"'index' must hold {m} integer indices into the {len(queries)} queries; got {index!r}")
    q = np.asarray(queries, np.float64)
    frames = _frames(q, t)[index]
    height, width = image_size
    scale = np.array([SCORE_SIZE / width, SCORE_SIZE / height])
    returned = xy[np.arange(m), frames].astype(np.float64)
    error = np.sqrt(np.sum(np.square((returned - q[index, 1:]) * scale), axis=-1))
    error = np.where(np.isfinite(error), error, np.inf)
    out = {"cycle_median_px": float(np.median(error)) if m else np.nan}
    for d in thresholds:
        out[f"cycle_within_{d:g}"] = float(np.mean(error < d)) if m else np.nan
    came_back = visible[np.arange(m), frames]
    out["cycle_returned"] = float(came_back.sum() / len(q)) if len(q) else np.nan
    out["cycle_n"] = int(m)
    return out


def survival_curve(visible: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """float64 (T,): entry d is the fraction of tracks predicted visible d frames after their query frame.

    Averaged over the queries whose frame t + d exists (NaN where none does); entry 0 is the query frame.
    """
    visible = np.asarray(visible, bool)
    n, t = visible.shape
    frames = _frames(queries, t)
    lag = np.arange(t)[None, :] - frames[:, None]  # (N, T): frames after each query's frame
    after = lag >= 0
    seen = np.bincount(lag[after & visible], minlength=t)[:t]
    total = np.bincount(lag[after], minlength=t)[:t]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, seen / np.maximum(total, 1), np.nan)


def track_survival(visible: np.ndarray, queries: np.ndarray) -> float:
    """Mean over queries of the fraction of frames at or after its query frame predicted visible (NaN if N = 0)."""
    visible = np.asarray(visible, bool)
    n, t = visible.shape
    frames = _frames(queries, t)
    if len(frames) != n:
        raise ValueError(f"'queries' must have one row per track ({n}); got {len(frames)}")
    if n == 0:
        return float("nan")
    after = np.arange(t)[None, :] >= frames[:, None]
    return float(np.mean((visible & after).sum(axis=1) / after.sum(axis=1)))
