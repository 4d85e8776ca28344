"""TAP-Vid 2D metrics (Doersch et al., 2022): occlusion accuracy, position accuracy and Jaccard.

Pure functions on arrays. Both tracks are scaled to the 256×256 scoring resolution before any
threshold, so the numbers do not depend on the resolution a video is stored or tracked at.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["THRESHOLDS", "SCORE_SIZE", "METRIC_NAMES", "tapvid_metrics", "tapvid_metrics_per_track",
           "tapvid_metrics_per_frame", "eval_mask", "squared_distance", "threshold_levels", "within_counts",
           "LEVEL_OF"]

THRESHOLDS = (1, 2, 4, 8, 16)
SCORE_SIZE = 256
METRIC_NAMES = (
    ("AJ", "delta_avg", "OA")
    + tuple(f"jaccard_{d}" for d in THRESHOLDS)
    + tuple(f"pts_within_{d}" for d in THRESHOLDS)
)

QueryMode = Literal["first", "strided"]


def eval_mask(query_frames: np.ndarray, n_frames: int, query_mode: QueryMode) -> np.ndarray:
    """Bool `(N, T)`: the frames scored for each query.

    `first`: frames after the query frame. `strided`: every frame but the query frame.
    """
    frames = np.arange(n_frames)[None, :]
    q = np.asarray(query_frames).astype(np.int64)[:, None]
    if query_mode == "first":
        return frames > q
    if query_mode == "strided":
        return frames != q
    raise ValueError(f"query_mode must be 'first' or 'strided'; got {query_mode!r}")


def squared_distance(pred_xy: np.ndarray, gt_xy: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """float64 `(...)`: squared distance between `pred_xy` and `gt_xy` `(..., 2)` after scaling both
    to 256×256 (x·256/W, y·256/H). "Within d px" is `squared_distance(...) < d * d` (NaN: never)."""
    height, width = image_size
    diff = pred_xy.astype(np.float64) - gt_xy
    dx, dy = diff[..., 0] * (SCORE_SIZE / width), diff[..., 1] * (SCORE_SIZE / height)
    return dx * dx + dy * dy


#: `THRESHOLDS` squared, ascending; a cell is within `THRESHOLDS[j]` when its level is at least `LEVEL_OF[j]`.
_SQUARED_THRESHOLDS = np.square(np.sort(np.asarray(THRESHOLDS, np.float64)))
LEVEL_OF = np.array([len(THRESHOLDS) - int(np.sum(_SQUARED_THRESHOLDS < d * d)) for d in THRESHOLDS])


def threshold_levels(sq_dist: np.ndarray) -> np.ndarray:
    """int8, the shape of `sq_dist`: how many of `THRESHOLDS` each squared distance is within
    (`sq < d * d`; NaN and inf: none), so "within `THRESHOLDS[j]`" is `levels >= LEVEL_OF[j]`."""
    return (len(THRESHOLDS) - np.searchsorted(_SQUARED_THRESHOLDS, sq_dist, side="right")).astype(np.int8)


def within_counts(histogram: np.ndarray) -> np.ndarray:
    """How many cells are within each δ of `THRESHOLDS` (the last axis), from their histogram of levels
    (`threshold_levels`; the last axis: `len(THRESHOLDS) + 1` bins)."""
    return np.cumsum(histogram[..., ::-1], axis=-1)[..., ::-1][..., LEVEL_OF]


def _within_counts(levels: np.ndarray, cells: np.ndarray, axis) -> list[np.ndarray]:
    """Per δ of `THRESHOLDS`: how many of `cells` are within δ, summed over `axis` (None, 0 or 1)."""
    bins = len(THRESHOLDS) + 1
    if axis is None:
        histogram = np.bincount(levels[cells], minlength=bins)
    else:
        groups = np.nonzero(cells)[1 - axis]  # the row (axis 1) or the frame (axis 0) of each cell
        size = cells.shape[1 - axis]
        histogram = np.bincount(groups * bins + levels[cells], minlength=size * bins).reshape(size, bins)
    within = within_counts(histogram)
    return [within[..., j] for j in range(len(THRESHOLDS))]


def _counts(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size, axis):
    """Counts behind every metric, summed over `axis` (None: whole video; 1: per track)."""
    gt_xy, pred_xy = np.asarray(gt_xy), np.asarray(pred_xy)
    gt_visible, pred_visible = np.asarray(gt_visible, bool), np.asarray(pred_visible, bool)
    n, t = gt_visible.shape
    for name, arr, shape in (("gt_xy", gt_xy, (n, t, 2)), ("pred_xy", pred_xy, (n, t, 2)),
                             ("pred_visible", pred_visible, (n, t)), ("query_frames", np.asarray(query_frames), (n,))):
        if arr.shape != shape:
            raise ValueError(f"tapvid_metrics: '{name}' must have shape {shape}; got {arr.shape}")
    sq_dist = squared_distance(pred_xy, gt_xy, image_size)

    evaluated = eval_mask(query_frames, t, query_mode)
    gt_vis_eval = gt_visible & evaluated
    pred_vis_eval = pred_visible & evaluated
    counts = {
        "evaluated": evaluated.sum(axis),
        "occlusion_correct": ((gt_visible == pred_visible) & evaluated).sum(axis),
        "gt_visible": gt_vis_eval.sum(axis),
    }
    # NaN distances (untracked positions) are within no threshold: never within, always a miss.
    levels = threshold_levels(sq_dist)
    within = _within_counts(levels, gt_vis_eval, axis)
    true_positives = _within_counts(levels, gt_vis_eval & pred_visible, axis)
    predicted = pred_vis_eval.sum(axis)
    for d, w, tp in zip(THRESHOLDS, within, true_positives):
        counts[f"within_{d}"] = w
        counts[f"tp_{d}"] = tp
        # A false positive is predicted visible where gt is occluded, or visible but too far.
        counts[f"fp_{d}"] = predicted - tp
    return counts


def _metrics_from_counts(c) -> dict:
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {"OA": c["occlusion_correct"] / c["evaluated"]}
        for d in THRESHOLDS:
            out[f"pts_within_{d}"] = c[f"within_{d}"] / c["gt_visible"]
            out[f"jaccard_{d}"] = c[f"tp_{d}"] / (c["gt_visible"] + c[f"fp_{d}"])
    out["delta_avg"] = np.mean([out[f"pts_within_{d}"] for d in THRESHOLDS], axis=0)
    out["AJ"] = np.mean([out[f"jaccard_{d}"] for d in THRESHOLDS], axis=0)
    return out


def tapvid_metrics(
    gt_xy: np.ndarray,
    gt_visible: np.ndarray,
    pred_xy: np.ndarray,
    pred_visible: np.ndarray,
    query_frames: np.ndarray,
    query_mode: QueryMode,
    image_size: tuple[int, int],
) -> dict[str, float]:
    """TAP-Vid metrics of one video, pooled over all its queries and scored frames.

    Args:
        gt_xy, pred_xy: `(N, T, 2)` pixel positions (raster convention) at `image_size`.
        gt_visible, pred_visible: bool `(N, T)`.
        query_frames: `(N,)` integer frame of each query.
        query_mode: `"first"` (score frames after the query) or `"strided"` (all but the query frame).
        image_size: `(height, width)` of the frames the positions refer to.

    Returns:
        `{"AJ", "delta_avg", "OA", "jaccard_δ", "pts_within_δ"}` for δ in 1, 2, 4, 8, 16 px at
        256×256, as fractions. `pts_within_δ` counts distance < δ among gt-visible points whatever the
        predicted visibility; Jaccard counts a visible point predicted visible but too far as a false
        positive (and a miss). Values are NaN when nothing can be scored: `n_scored_points` is 0.

    >>> xy = np.zeros((1, 3, 2)); vis = np.ones((1, 3), bool)
    >>> tapvid_metrics(xy, vis, xy, vis, np.array([0]), "first", (256, 256))["AJ"]
    1.0
    """
    counts = _counts(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size, None)
    metrics = {k: float(v) for k, v in _metrics_from_counts(counts).items()}
    metrics["n_scored_points"] = int(counts["gt_visible"])
    return metrics


def tapvid_metrics_per_track(
    gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode: QueryMode, image_size
) -> dict[str, np.ndarray]:
    """The metrics of `tapvid_metrics` for each query separately: arrays of shape `(N,)`."""
    counts = _counts(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size, 1)
    return _metrics_from_counts(counts)


def tapvid_metrics_per_frame(
    gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode: QueryMode, image_size
) -> dict[str, np.ndarray]:
    """The metrics of `tapvid_metrics` pooled over the queries scored at each frame: arrays `(T,)`
    (NaN at frames with nothing to score), e.g. to plot how a tracker does along the video."""
    counts = _counts(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size, 0)
    return _metrics_from_counts(counts)
