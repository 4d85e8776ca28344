"""Breakdowns of 2D tracking accuracy: what the TAP-Vid means hide, per video, as named columns.

Pure numpy functions with the arguments of `tapvid_metrics` (`gt_xy`, `gt_visible`, `pred_xy`,
`pred_visible`, `query_frames`, `query_mode`, `image_size`), each returning a flat dict of scalar
columns for one video. The conventions are TAP-Vid's (see `pointbench.metrics.tapvid`):

- distances are measured after scaling both tracks to 256×256 (x·256/W, y·256/H) and compared
  with strict `<`, from squared distances exactly as `tapvid_metrics` computes them;
- the cells scored for query i are those of `eval_mask(query_frames, T, query_mode)` (`first`:
  frames after the query frame; `strided`: every frame but it);
- within a video, counts are pooled over its queries (one query = one row of the arrays, so a
  track queried twice in `strided` mode counts twice, as in `tapvid_metrics`);
- a non-finite predicted position is never within any threshold (its error is +inf).

Across videos the rule is explicit and separate (`aggregate_breakdowns`, like `tables.summarize`):
a score column is the mean over the videos where it is defined (not NaN), a count column
(`BREAKDOWN_COUNT_COLUMNS`) is the sum over those videos.

    row = breakdown_metrics(gt.xy, gt.visible, pred.xy, pred.visible, queries[:, 0], "first", (h, w),
                            occluded_positions=True)      # synthetic / Kubric: gt known under occlusion
    summary = aggregate_breakdowns([row, ...])

Every function returns exactly its part of `BREAKDOWN_COLUMNS` (the stable table schema).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping

import numpy as np

from pointbench.metrics.tapvid import (
    THRESHOLDS, QueryMode, eval_mask, squared_distance, threshold_levels, within_counts,
)

__all__ = [
    "REDETECT_FRAMES", "SURVIVAL_PX", "GAP_BINS", "SPEED_BINS", "QDIST_BINS",
    "REDETECT_COLUMNS", "OUT_OF_VIEW_COLUMNS", "TRAJECTORY_COLUMNS", "OCCLUDED_COLUMNS", "SPEED_COLUMNS",
    "QDIST_COLUMNS", "BREAKDOWN_COLUMNS", "BREAKDOWN_COUNT_COLUMNS",
    "bin_name", "redetection_events", "events_mask", "redetection_metrics", "out_of_view_metrics",
    "trajectory_metrics", "occluded_metrics", "speed_metrics", "query_distance_metrics", "track_speed",
    "breakdown_metrics", "aggregate_breakdowns",
]

#: "The frames right after a re-appearance": the first K frames of the visible run it starts.
REDETECT_FRAMES = 3
#: Survival threshold, px at 256×256.
SURVIVAL_PX = 50
#: Occlusion-length bins, in frames, inclusive `(lo, hi)`; `hi = None` is open-ended.
GAP_BINS = ((1, 4), (5, 16), (17, 64), (65, None))
#: Per-track speed bins, px per frame at 256×256, half-open `[lo, hi)`; `hi = None` is open-ended.
SPEED_BINS = ((0, 1), (1, 2), (2, 4), (4, 8), (8, None))
#: Distance from the query frame |t - t_query|, in frames, inclusive `(lo, hi)`.
QDIST_BINS = ((1, 4), (5, 16), (17, 64), (65, None))


def bin_name(lo, hi) -> str:
    """`(1, 4)` -> `"1-4"`, `(65, None)` -> `"65+"` (the suffix of the binned column names)."""
    return f"{lo:g}+" if hi is None else f"{lo:g}-{hi:g}"


def _event_columns(prefix: str) -> tuple[str, ...]:
    names = ("",) + tuple(f"_{bin_name(*b)}" for b in GAP_BINS)
    return tuple(c for s in names for c in (f"{prefix}_jaccard{s}", f"{prefix}_events{s}"))


REDETECT_COLUMNS = _event_columns("redetect")
OUT_OF_VIEW_COLUMNS = _event_columns("out_of_view")
TRAJECTORY_COLUMNS = (f"survival_{SURVIVAL_PX}px", "median_traj_err_px")
OCCLUDED_COLUMNS = (tuple(f"occluded_pts_within_{d}" for d in THRESHOLDS)
                    + ("occluded_pts_within_avg", "occluded_points"))
SPEED_COLUMNS = tuple(f"speed_{bin_name(*b)}_{s}" for b in SPEED_BINS for s in ("delta_avg", "queries"))
QDIST_COLUMNS = tuple(f"qdist_{bin_name(*b)}_{s}" for b in QDIST_BINS for s in ("delta_avg", "points"))
#: Every column `breakdown_metrics` returns, in table order.
BREAKDOWN_COLUMNS = (REDETECT_COLUMNS + OUT_OF_VIEW_COLUMNS + TRAJECTORY_COLUMNS + OCCLUDED_COLUMNS
                     + SPEED_COLUMNS + QDIST_COLUMNS)
#: The columns that are counts (summed across videos); every other column is a score (averaged).
BREAKDOWN_COUNT_COLUMNS = tuple(c for c in BREAKDOWN_COLUMNS
                                if "_events" in c or c.endswith("_queries") or c.endswith("_points"))


# --- Shared pieces ------------------------------------------------------------------------------------------


_SHARED = threading.local()  # within one `breakdown_metrics` call: the checked inputs, computed once


@contextlib.contextmanager
def _shared_inputs():
    """Let every breakdown of one `breakdown_metrics` call reuse one `_inputs` result (the call is pure,
    so its arrays cannot change meanwhile; the memo holds them, so their ids stay theirs)."""
    _SHARED.memo = {}
    try:
        yield
    finally:
        _SHARED.memo = None


class _Inputs:
    """The checked arrays of one call, and what every breakdown derives from them once:

    - `sq`: float64 `(N, T)` squared error at 256×256 (+inf where it is not finite);
    - `levels`: int8 `(N, T)`, how many of `THRESHOLDS` the error is within (`sq < d * d`);
    - `evaluated`: the scored cells (`eval_mask`);
    - `derived`: values computed from these by one breakdown and reused by another.
    """

    __slots__ = ("gt_xy", "gt_visible", "pred_visible", "q", "sq", "levels", "evaluated", "derived")

    def __init__(self, gt_xy, gt_visible, pred_visible, q, sq, evaluated):
        self.gt_xy, self.gt_visible, self.pred_visible, self.q = gt_xy, gt_visible, pred_visible, q
        self.sq, self.evaluated, self.derived = sq, evaluated, {}
        self.levels = threshold_levels(sq)


def _inputs(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size, fn: str) -> _Inputs:
    """The checked inputs of a breakdown (shared by every breakdown of one `breakdown_metrics` call)."""
    memo = getattr(_SHARED, "memo", None)
    if memo is None:
        return _checked_inputs(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size, fn)
    key = (id(gt_xy), id(gt_visible), id(pred_xy), id(pred_visible), id(query_frames), query_mode,
           tuple(image_size))
    if key not in memo:
        memo[key] = ((gt_xy, gt_visible, pred_xy, pred_visible, query_frames),
                     _checked_inputs(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size,
                                     fn))
    return memo[key][1]


def _checked_inputs(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size, fn: str):
    gt_xy, pred_xy = np.asarray(gt_xy), np.asarray(pred_xy)
    gt_visible, pred_visible = np.asarray(gt_visible), np.asarray(pred_visible)
    if gt_visible.ndim != 2:
        raise ValueError(f"{fn}: 'gt_visible' must have shape (N, T); got {gt_visible.shape}")
    n, t = gt_visible.shape
    q = np.asarray(query_frames)
    for name, arr, shape in (("gt_xy", gt_xy, (n, t, 2)), ("pred_xy", pred_xy, (n, t, 2)),
                             ("pred_visible", pred_visible, (n, t)), ("query_frames", q, (n,))):
        if arr.shape != shape:
            raise ValueError(f"{fn}: '{name}' must have shape {shape}; got {arr.shape}")
    for name, arr in (("gt_visible", gt_visible), ("pred_visible", pred_visible)):
        if arr.dtype != np.bool_:
            raise ValueError(f"{fn}: '{name}' must be a bool array; got dtype {arr.dtype}")
    if n and (not np.array_equal(q, np.round(q)) or q.min() < 0 or q.max() >= t):
        raise ValueError(f"{fn}: 'query_frames' must be integer frames in [0, {t}); got {q[:5].tolist()}…")
    q = q.astype(np.int64)
    with np.errstate(invalid="ignore", over="ignore"):
        sq = squared_distance(pred_xy, gt_xy, image_size)  # as `tapvid_metrics`: "within d" decided identically
    sq = np.where(np.isnan(sq), np.inf, sq)
    return _Inputs(gt_xy, gt_visible, pred_visible, q, sq, eval_mask(q, t, query_mode))


def _bin_histograms(membership: np.ndarray, histograms: np.ndarray) -> np.ndarray:
    """int64 `(B, len(THRESHOLDS) + 1)`: the summed histograms of the groups in each bin (exact integers),
    from the bool `(B, G)` membership of G groups in B bins and the groups' `(G, len(THRESHOLDS) + 1)`."""
    return membership.astype(np.int64) @ histograms


def _avg_over_bins(histograms: np.ndarray) -> tuple[list[float], list[int]]:
    """Per row of `(B, len(THRESHOLDS) + 1)` level histograms: (the mean over δ of the fraction of its
    cells within δ, NaN without cells; its number of cells)."""
    counts = histograms.sum(axis=1)
    within = within_counts(histograms)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = (within / counts[:, None]).mean(axis=1)
    return [float(v) if c else float("nan") for v, c in zip(values, counts)], [int(c) for c in counts]


def _level_histograms(inputs: _Inputs, cells: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """int64 `(n_groups, len(THRESHOLDS) + 1)`: per group, the histogram of levels of `cells`, where
    `groups` (int, broadcast to `(N, T)`) names each cell's group."""
    bins = len(THRESHOLDS) + 1
    keys = np.broadcast_to(groups, cells.shape)[cells] * bins + inputs.levels[cells]
    return np.bincount(keys, minlength=n_groups * bins).reshape(n_groups, bins)


def _in_bin(values: np.ndarray, lo, hi, closed: bool) -> np.ndarray:
    """Membership of `values` in the bin: `[lo, hi]` when `closed` (integer bins), else `[lo, hi)`."""
    above = values >= lo
    if hi is None:
        return above
    return above & ((values <= hi) if closed else (values < hi))


# --- Re-detection and out of view ---------------------------------------------------------------------------


def redetection_events(gt_visible, query_frames, query_mode: QueryMode, window: int = REDETECT_FRAMES) -> dict:
    """The re-appearance events of every query, as parallel int64 arrays of length E.

    Time runs away from the query frame: forwards over the frames after it and, where the frames
    before it are scored (`strided`), backwards over those (the tracker follows the point
    backwards there). On each side, an *event* is a maximal run of k >= 1 consecutive
    ground-truth-occluded frames with a ground-truth-visible frame on both ends of the run, both on
    that side of the query (or the query frame itself): the point was seen, lost for k frames and
    is visible again. Its *re-appearance frame* is the visible frame ending the run (away from the
    query); its *window* ("the frames right after it re-appears") is the first `window` frames of
    the visible run that starts there, cut short where the point is occluded again or the video
    ends, so every window frame is ground-truth visible and scored, and windows never overlap.
    The query frame is never in a gap or a window. A point's first appearance is not an event.

    Returns `{"query", "frame", "gap", "gap_from", "gap_to", "window_from", "window_to",
    "direction"}`: the query row, the re-appearance frame, k, the gap's and the window's first
    and last frames (inclusive, `from <= to`), and +1 (forwards) or -1 (backwards).
    """
    gt_visible = np.asarray(gt_visible, bool)
    n, t = gt_visible.shape
    if window < 1:
        raise ValueError(f"redetection_events: 'window' must be a positive number of frames; got {window!r}")
    q = np.asarray(query_frames).astype(np.int64)
    scored = eval_mask(q, t, query_mode)
    keys = ("query", "frame", "gap", "gap_from", "gap_to", "window_from", "window_to", "direction")
    forward = _forward_events(gt_visible, q, window)
    backward_rows = np.flatnonzero((scored & (np.arange(t)[None, :] < q[:, None])).any(axis=1))
    if not len(backward_rows):  # forwards only: already in query order, each away from the query
        forward["direction"] = np.ones(len(forward["query"]), np.int64)
        return {k: forward[k].astype(np.int64) for k in keys}
    # Backwards: the same on the time-reversed video (frame t -> t - 1 - frame), for the rows scored before
    # their query, mapped back to frames.
    back = _forward_events(gt_visible[backward_rows, ::-1], t - 1 - q[backward_rows], window)
    flip = lambda f: t - 1 - f  # noqa: E731
    back = {"query": backward_rows[back["query"]], "frame": flip(back["frame"]), "gap": back["gap"],
            "gap_from": flip(back["gap_to"]), "gap_to": flip(back["gap_from"]),
            "window_from": flip(back["window_to"]), "window_to": flip(back["window_from"])}
    events = {k: np.concatenate([forward[k], back[k]]) for k in keys if k != "direction"}
    events["direction"] = np.concatenate([np.ones(len(forward["query"]), np.int64),
                                          -np.ones(len(back["query"]), np.int64)])
    # In query order, forwards before backwards, each side away from the query.
    order = np.lexsort((np.arange(len(events["query"])), -events["direction"], events["query"]))
    return {k: events[k][order].astype(np.int64) for k in keys}


def _forward_events(gt_visible: np.ndarray, q: np.ndarray, window: int) -> dict:
    """`redetection_events` on the frames at and after each query's frame, for every row at once."""
    n, t = gt_visible.shape
    frames = np.arange(t)[None, :]
    occluded = ~gt_visible & (frames >= q[:, None])
    padded = np.pad(occluded, ((0, 0), (1, 1)))
    start_rows, starts = np.nonzero(padded[:, 1:-1] & ~padded[:, :-2])
    _, ends = np.nonzero(padded[:, 1:-1] & ~padded[:, 2:])
    # The start of the next occluded run of the same row (the end of a window), else the video's end + 1.
    following = np.append(starts[1:], t)
    following = np.where(np.append(start_rows[1:] == start_rows[:-1], False), following, t)
    keep = (starts > q[start_rows]) & (ends < t - 1)  # seen before the run, and seen again after it
    rows, a, b, nxt = start_rows[keep], starts[keep], ends[keep], following[keep]
    e = b + 1
    last = np.minimum(e + window - 1, nxt - 1)
    return {"query": rows, "frame": e, "gap": b - a + 1, "gap_from": a, "gap_to": b, "window_from": e,
            "window_to": last}


def _window_cells(events: Mapping[str, np.ndarray], n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(flat `(N, T)` index of every window cell of the events, the event each belongs to)."""
    lengths = events["window_to"] - events["window_from"] + 1
    event = np.repeat(np.arange(len(lengths)), lengths)
    offset = np.arange(len(event)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return (events["query"] * n_frames + events["window_from"])[event] + offset, event


def events_mask(events: Mapping[str, np.ndarray], shape: tuple[int, int],
                which: np.ndarray | None = None) -> np.ndarray:
    """Bool `(N, T)`: the window frames of the events (of those selected by the bool `which`)."""
    mask = np.zeros(shape, bool)
    cells, event = _window_cells(events, shape[1])
    mask.flat[cells if which is None else cells[np.asarray(which, bool)[event]]] = True
    return mask


def _event_scores(prefix: str, events, select, inputs: _Inputs) -> dict:
    """Jaccard-style score and event count, over all gap lengths and per `GAP_BINS`, of the selected events.

    Windows never overlap (`redetection_events`), so the cells of a set of events are the sum of
    each event's: per event, its number of cells and the levels of its predicted-visible ones."""
    levels, sizes = _event_histograms(events, inputs)
    gap = events["gap"]
    suffixes = [""] + [f"_{bin_name(lo, hi)}" for lo, hi in GAP_BINS]
    chosen = np.stack([select] + [select & _in_bin(gap, lo, hi, closed=True) for lo, hi in GAP_BINS])  # (bins, E)
    histograms = _bin_histograms(chosen, levels)
    n_cells = chosen.astype(np.int64) @ sizes
    n_predicted = histograms.sum(axis=1)
    tp = within_counts(histograms)  # (bins, δ)
    with np.errstate(invalid="ignore", divide="ignore"):
        # TP / (TP + FN + FP) = TP / (cells + FP): every window cell is ground-truth visible.
        jaccard = (tp / ((n_cells + n_predicted)[:, None] - tp)).mean(axis=1)
    out = {}
    for k, suffix in enumerate(suffixes):
        out[f"{prefix}_jaccard{suffix}"] = float(jaccard[k]) if n_cells[k] else float("nan")
        out[f"{prefix}_events{suffix}"] = int(chosen[k].sum())
    return out


def _event_histograms(events, inputs: _Inputs) -> tuple[np.ndarray, np.ndarray]:
    """Per event: the histogram of levels of its predicted-visible window cells `(E, len(THRESHOLDS) + 1)`
    and its number of window cells `(E,)` (computed once per events of one `breakdown_metrics` call)."""
    key = ("event_histograms", id(events))
    if key not in inputs.derived:
        cells, event = _window_cells(events, inputs.levels.shape[1])
        predicted = inputs.pred_visible.ravel()[cells]
        bins = len(THRESHOLDS) + 1
        levels = np.bincount(event[predicted] * bins + inputs.levels.ravel()[cells[predicted]],
                             minlength=len(events["query"]) * bins).reshape(-1, bins)
        inputs.derived[key] = (events, levels, np.bincount(event, minlength=len(events["query"])))
    return inputs.derived[key][1:]


def _shared_events(inputs: _Inputs, query_mode: QueryMode, window: int) -> dict:
    """`redetection_events` of the inputs, computed once per `breakdown_metrics` call."""
    key = ("events", query_mode, window)
    if key not in inputs.derived:
        inputs.derived[key] = redetection_events(inputs.gt_visible, inputs.q, query_mode, window)
    return inputs.derived[key]


def redetection_metrics(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode: QueryMode,
                        image_size, window: int = REDETECT_FRAMES) -> dict:
    """Whether the tracker finds a point again when it re-appears after k occluded frames.

    Events and their windows are those of `redetection_events` (the first `window` visible frames
    after each re-appearance). Over the window cells of the events whose gap length k falls in a
    bin of `GAP_BINS` (1-4, 5-16, 17-64, 65+ frames; no suffix: every k), pooled over the
    video's queries, for each δ in 1, 2, 4, 8, 16 px at 256×256:

        TP = predicted visible and within δ (strict <);  FP = predicted visible but not within δ;
        FN = not TP (every window cell is ground-truth visible);
        jaccard_δ = TP / (TP + FP + FN) = TP / (cells + FP),

    which is TAP-Vid's `jaccard_δ` restricted to those cells; `redetect_jaccard[_bin]` is its mean
    over δ (as AJ is), NaN where the bin has no event. `redetect_events[_bin]` counts the events.
    """
    inputs = _inputs(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size,
                     "redetection_metrics")
    events = _shared_events(inputs, query_mode, window)
    return _event_scores("redetect", events, np.ones(len(events["query"]), bool), inputs)


def _outside(gt_xy: np.ndarray, image_size) -> np.ndarray:
    """Bool (N, T): finite ground-truth positions outside [0, W) × [0, H)."""
    height, width = image_size
    x, y = gt_xy[..., 0], gt_xy[..., 1]
    with np.errstate(invalid="ignore"):
        inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    return np.isfinite(x) & np.isfinite(y) & ~inside


def out_of_view_metrics(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode: QueryMode,
                        image_size, window: int = REDETECT_FRAMES) -> dict:
    """`redetection_metrics` for the points that left the frame and came back.

    An out-of-view event is a re-appearance event (`redetection_events`) whose ground-truth
    position is finite and outside the image, `[0, W) × [0, H)` at `image_size`, at *every* frame
    of its gap (a gap that is partly in view, e.g. hidden behind an object at the border, is not
    one). Scores and counts as `redetection_metrics`, under `out_of_view_*`, binned by gap length.
    Needs ground truth positions at occluded frames (synthetic sets, Kubric); elsewhere the
    positions there are arbitrary and the caller should not report these columns
    (`breakdown_metrics(..., occluded_positions=False)` sets them to NaN).
    """
    inputs = _inputs(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size,
                     "out_of_view_metrics")
    events = _shared_events(inputs, query_mode, window)
    outside = _outside(inputs.gt_xy, image_size)
    count = np.concatenate([np.zeros((len(outside), 1), np.int64), np.cumsum(outside, axis=1)], axis=1)
    rows = events["query"]
    out_of_view = count[rows, events["gap_to"] + 1] - count[rows, events["gap_from"]] == events["gap"]
    return _event_scores("out_of_view", events, out_of_view, inputs)


# --- Survival and trajectory error --------------------------------------------------------------------------


def trajectory_metrics(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode: QueryMode,
                       image_size, survival_px: float = SURVIVAL_PX) -> dict:
    """Survival and median trajectory error, in px at 256×256.

    - `survival_<survival_px>px`: for each query with at least one ground-truth-visible frame
      after its query frame (t > t_query, in either query mode), take those frames in time order;
      the query *survives* up to the first of them whose error is not < `survival_px` (strict, as
      `pts_within`; a non-finite prediction fails). Its survival is the number of those frames
      before that first failure divided by their number (1 if none fails). Frames where the
      ground truth is occluded are skipped, and predicted visibility is ignored. The video's value
      is the mean over those queries (NaN if there is none).
    - `median_traj_err_px`: the median of the errors over every scored (`eval_mask`),
      ground-truth-visible cell of the video, pooled over queries (NaN if none; +inf if more than
      half are non-finite).
    """
    inputs = _inputs(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size,
                     "trajectory_metrics")
    gt_visible, q, sq, evaluated = inputs.gt_visible, inputs.q, inputs.sq, inputs.evaluated
    n, t = gt_visible.shape
    frames = np.arange(t)[None, :]
    counted = gt_visible & (frames > q[:, None])
    failed = counted & ~(sq < survival_px * survival_px)
    first_failure = np.where(failed.any(axis=1), failed.argmax(axis=1), t)
    survived = (counted & (frames < first_failure[:, None])).sum(axis=1)
    total = counted.sum(axis=1)
    has = total > 0
    survival = float(np.mean(survived[has] / total[has])) if has.any() else float("nan")
    cells = evaluated & gt_visible
    median = float(np.median(np.sqrt(sq[cells]))) if cells.any() else float("nan")
    return {f"survival_{survival_px:g}px": survival, "median_traj_err_px": median}


# --- Occluded points ----------------------------------------------------------------------------------------


def occluded_metrics(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode: QueryMode,
                     image_size) -> dict:
    """Position accuracy where the point is hidden: `pts_within_δ` over ground-truth-occluded cells.

    The cells are the scored (`eval_mask`) cells where the ground truth is occluded and its
    position is finite (in the image or outside it); `occluded_pts_within_δ` is the fraction of
    them with error < δ px at 256×256 (predicted visibility ignored, as `pts_within_δ`),
    `occluded_pts_within_avg` its mean over δ (the occluded counterpart of `delta_avg`), and
    `occluded_points` the number of cells (NaN scores if 0). Meaningful only where the dataset
    gives positions under occlusion (synthetic sets, Kubric).
    """
    inputs = _inputs(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size,
                     "occluded_metrics")
    finite = np.isfinite(inputs.gt_xy)
    cells = inputs.evaluated & ~inputs.gt_visible & finite[..., 0] & finite[..., 1]
    count = int(cells.sum())
    within = within_counts(np.bincount(inputs.levels[cells], minlength=len(THRESHOLDS) + 1)) if count \
        else [None] * len(THRESHOLDS)
    out = {f"occluded_pts_within_{d}": float(k / count) if count else float("nan") for d, k in zip(THRESHOLDS, within)}
    out["occluded_pts_within_avg"] = float(np.mean([out[f"occluded_pts_within_{d}"] for d in THRESHOLDS]))
    out["occluded_points"] = count
    return out


# --- Motion magnitude and distance from the query frame -----------------------------------------------------


def track_speed(gt_xy, gt_visible, image_size) -> np.ndarray:
    """float64 `(N,)`: mean ground-truth displacement per frame, px at 256×256, of each track.

    Averaged over the pairs of consecutive frames (t, t+1) where the ground truth is visible at
    both, over the whole video (not only scored frames); NaN for a track with no such pair.
    """
    gt_xy, gt_visible = np.asarray(gt_xy, np.float64), np.asarray(gt_visible, bool)
    step = np.sqrt(squared_distance(gt_xy[:, 1:], gt_xy[:, :-1], image_size))
    pairs = gt_visible[:, 1:] & gt_visible[:, :-1]
    total = np.where(pairs, step, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs.any(axis=1), total / pairs.sum(axis=1), np.nan)


def speed_metrics(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode: QueryMode, image_size) -> dict:
    """Accuracy by motion magnitude: `delta_avg` of the queries whose track speed is in each bin.

    A query's speed is `track_speed` of its ground-truth row; bins are `SPEED_BINS`, half-open
    `[lo, hi)` px/frame at 256×256 (0-1, 1-2, 2-4, 4-8, 8+). `speed_<bin>_delta_avg` is
    `delta_avg` (mean over δ of `pts_within_δ`) pooled over the scored, ground-truth-visible cells
    of the queries in the bin, i.e. `tapvid_metrics(...)["delta_avg"]` of those rows (NaN if no
    cell); `speed_<bin>_queries` counts the queries in the bin. Queries with no speed are in none.
    """
    inputs = _inputs(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size, "speed_metrics")
    n = len(inputs.q)
    per_query = _level_histograms(inputs, inputs.evaluated & inputs.gt_visible, np.arange(n)[:, None], n)
    speed = track_speed(inputs.gt_xy, inputs.gt_visible, image_size)
    with np.errstate(invalid="ignore"):
        rows = np.stack([_in_bin(speed, lo, hi, closed=False) for lo, hi in SPEED_BINS])  # NaN is in no bin
    values, _ = _avg_over_bins(_bin_histograms(rows, per_query))
    out = {}
    for (lo, hi), value, in_bin in zip(SPEED_BINS, values, rows):
        out[f"speed_{bin_name(lo, hi)}_delta_avg"], out[f"speed_{bin_name(lo, hi)}_queries"] = value, int(in_bin.sum())
    return out


def query_distance_metrics(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode: QueryMode,
                           image_size) -> dict:
    """Accuracy by distance from the query frame: `delta_avg` of the cells |t - t_query| frames away.

    Bins are `QDIST_BINS`, inclusive frame counts (1-4, 5-16, 17-64, 65+), on either side of the
    query frame (`strided` scores both). `qdist_<bin>_delta_avg` is `delta_avg` pooled over the
    scored, ground-truth-visible cells at those distances (NaN if none) and `qdist_<bin>_points`
    the number of those cells.
    """
    inputs = _inputs(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size,
                     "query_distance_metrics")
    t = inputs.levels.shape[1]
    distance = np.abs(np.arange(t)[None, :] - inputs.q[:, None])  # 0 .. t - 1
    per_distance = _level_histograms(inputs, inputs.evaluated & inputs.gt_visible, distance, t)
    bins = np.stack([_in_bin(np.arange(t), lo, hi, closed=True) for lo, hi in QDIST_BINS])  # (bins, distances)
    out = {}
    for (lo, hi), value, count in zip(QDIST_BINS, *_avg_over_bins(_bin_histograms(bins, per_distance))):
        out[f"qdist_{bin_name(lo, hi)}_delta_avg"], out[f"qdist_{bin_name(lo, hi)}_points"] = value, count
    return out


# --- All of them, and the rule across videos ----------------------------------------------------------------


def breakdown_metrics(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode: QueryMode,
                      image_size, *, occluded_positions: bool = False, window: int = REDETECT_FRAMES) -> dict:
    """Every breakdown of one video: a dict with exactly the keys of `BREAKDOWN_COLUMNS`.

    `occluded_positions`: whether the ground-truth positions at occluded frames are real (synthetic
    sets, Kubric). When False (TAP-Vid DAVIS/Kinetics/RGB-Stacking: arbitrary there) the columns
    that need them, `out_of_view_*` and `occluded_*`, are NaN, counts included (NaN = not
    measured, 0 = measured and none). `window` is the re-detection window (`REDETECT_FRAMES`).

    >>> xy = np.zeros((1, 4, 2), np.float32); vis = np.array([[True, False, True, True]])
    >>> row = breakdown_metrics(xy, vis, xy, vis, np.array([0]), "first", (256, 256))
    >>> row["redetect_events_1-4"], row["redetect_jaccard_1-4"], row["survival_50px"]
    (1, 1.0, 1.0)
    """
    args = (gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size)
    with _shared_inputs():
        out = redetection_metrics(*args, window=window)
        if occluded_positions:
            out.update(out_of_view_metrics(*args, window=window))
            out.update(occluded_metrics(*args))
        else:
            out.update({c: float("nan") for c in OUT_OF_VIEW_COLUMNS + OCCLUDED_COLUMNS})
        out.update(trajectory_metrics(*args))
        out.update(speed_metrics(*args))
        out.update(query_distance_metrics(*args))
    return {c: out[c] for c in BREAKDOWN_COLUMNS}


def aggregate_breakdowns(rows) -> dict:
    """The dataset row of per-video breakdowns: the explicit rule across videos.

    `rows`: per-video dicts (or a DataFrame with those columns). For each of `BREAKDOWN_COLUMNS`,
    a score is the mean over the videos where it is not NaN (as `tables.summarize` takes the mean
    of each metric over scored videos, skipping NaN) and a count (`BREAKDOWN_COUNT_COLUMNS`) is
    the sum over them; NaN where no video defines the column.
    """
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict("records")
    rows = list(rows)
    out = {}
    for column in BREAKDOWN_COLUMNS:
        values = np.array([float(r.get(column, np.nan)) for r in rows], np.float64)
        values = values[~np.isnan(values)]
        if not len(values):
            out[column] = float("nan")
        elif column in BREAKDOWN_COUNT_COLUMNS:
            out[column] = int(values.sum())
        else:
            out[column] = float(values.mean())
    return out
