"""Conformance check: does a tracker keep pointbench's contracts and conventions?

    pointbench-check tracker=lk
    pointbench-check tracker=dis tracker.preset=fast
    pointbench-check tracker=tapir tracker.checkpoint=random tracker.device=cpu   # structural checks only

The tracker runs on small synthetic clips whose motion is known exactly (a smooth random texture
translated by multiples of 1/32 pixel, which `cv2.warpAffine`'s bilinear tables render exactly), and
each property is reported on its own line, passed, failed (with the measurement) or skipped (with why):

=================== ============ ==========================================================================
check               applies to   what it asks
=================== ============ ==========================================================================
shapes_dtypes       all          `Tracks` with xy float32 (N, T, 2), visible bool (N, T), confidence float32
                                 (N, T) in [0, 1] if given; a finite position at the query frame and after
before_query        all          frames before each query's frame are predicted: finite positions, not one
                                 fill value for every query; with accuracy checks also visible, and as
                                 accurate as the frames after the query
determinism         all          the same clip twice gives the same tracks
resize_invariance   all          the clip at two resolutions (exact 2× area downsampling, queries ×½) gives
                                 the same tracks up to scale: within 0.5 px with accuracy checks, within
                                 5 % of the image width structurally (a coordinate left at the model's
                                 resolution is caught either way)
xy_order            accuracy     displacements follow the true motion, which differs in x and y, and not
                                 the motion with x and y swapped
pixel_convention    accuracy     the median signed error of positions is within 0.2 px on each axis: the
                                 TAP-Vid raster convention, so a ±0.5 px slip to pixel centres is caught
leaves_frame        accuracy     a point that leaves the frame (forward, or backward in time) is occluded
                                 while it is outside, and visible while well inside after its query frame
=================== ============ ==========================================================================

Accuracy checks apply to trackers that really track (real weights, not `checkpoint=random`); a
tracker that declares `follows_motion = False` (like `static`) is exempt from those that need
motion, and its positions are checked only at each query's own frame.

From Python (for plugin authors' tests):

    from pointbench.check import assert_conforms, check_tracker
    results = check_tracker(MyTracker())           # list of CheckResult
    assert_conforms(MyTracker())                   # raises AssertionError with the table on a failure
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pointbench.types import Tracks

__all__ = ["CheckResult", "CHECKS", "check_tracker", "assert_conforms", "format_results", "follows_motion",
           "translation_clip", "leaving_clip", "main"]

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"

#: name -> (applies to, what it asks), in the order of the report.
CHECKS = {
    "shapes_dtypes": ("all", "Tracks of the documented shapes and dtypes, a position at every frame from the query on"),
    "before_query": ("all", "frames before the query's frame are predicted"),
    "determinism": ("all", "the same clip twice gives the same tracks"),
    "resize_invariance": ("all", "the clip at two resolutions gives the same tracks up to scale"),
    "xy_order": ("accuracy", "displacements in (x, y) order, not swapped"),
    "pixel_convention": ("accuracy", "raster convention: no half-pixel slip"),
    "leaves_frame": ("accuracy", "a point outside the frame is occluded"),
}

# Tolerances (pixels of the clip the tracker sees).
BIAS_TOLERANCE = 0.2            # a raster/centre slip is 0.5
DISPLACEMENT_TOLERANCE = 1.0    # median error of displacements for xy_order
RESIZE_TOLERANCE = 0.5          # median difference between the two resolutions (low-resolution pixels)
RESIZE_STRUCTURAL = 0.05        # ... structurally, as a fraction of the low-resolution width
DETERMINISM_TOLERANCE = 1e-3    # px; confidence within 1e-4
BEFORE_EXTRA_ERROR = 1.0        # frames before the query may be this much (px) less accurate than after it
BEFORE_VISIBLE_DROP = 0.2       # ... and this much less often visible
OUTSIDE_OCCLUDED = 0.9          # fraction of cells outside the frame that must be predicted occluded
INSIDE_VISIBLE = 0.8            # fraction of cells well inside that must be predicted visible
INSIDE_MARGIN = 8.0             # px from the border for "well inside"
OUTSIDE_MARGIN = 1.0            # px beyond the border for "outside"


@dataclass(frozen=True)
class CheckResult:
    """One property: `status` is 'pass', 'fail' or 'skipped'; `detail` the measurement or why it was skipped."""

    name: str
    status: str
    detail: str
    applies_to: str = "all"

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @property
    def failed(self) -> bool:
        return self.status == FAIL


# ---------------------------------------------------------------- clips with exactly known motion


@dataclass(frozen=True)
class Clip:
    """Frames, queries and their exact ground truth (raster convention)."""

    frames: np.ndarray      # uint8 (T, H, W, 3)
    queries: np.ndarray     # float32 (N, 3): t, x, y
    xy: np.ndarray          # float64 (N, T, 2)

    @property
    def inside(self) -> np.ndarray:
        height, width = self.frames.shape[1:3]
        return (self.xy[..., 0] >= 0) & (self.xy[..., 0] < width) & (self.xy[..., 1] >= 0) & (self.xy[..., 1] < height)

    @property
    def query_frame(self) -> np.ndarray:
        return self.queries[:, 0].astype(np.int64)


def _texture(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth random colour texture, uint8 (height, width, 3): detail at every scale down to ~2 px."""
    rng = np.random.default_rng(seed)
    out = np.zeros((height, width, 3), np.float32)
    for sigma, weight in ((2.0, 1.0), (6.0, 1.5)):
        noise = rng.standard_normal((height, width, 3)).astype(np.float32)
        blurred = cv2.GaussianBlur(noise, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        out += weight * blurred / blurred.std()
    out = (out - out.mean()) / out.std()
    return np.clip(128 + 45 * out, 0, 255).astype(np.uint8)


def _render(texture: np.ndarray, offsets: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Frame t shows `texture` moved by `offsets[t]` pixels: its pixel at (u, v) lands at (u, v) + offsets[t].

    Offsets are multiples of 1/32 px, so bilinear warpAffine (whose weights are in 1/32 px steps) is exact. A
    translation is the same in the raster and pixel-centre conventions, so no ±0.5 is involved.
    """
    height, width = size
    frames = []
    for dx, dy in offsets:
        matrix = np.array([[1, 0, dx], [0, 1, dy]], np.float64)
        frames.append(cv2.warpAffine(texture, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REFLECT))
    return np.stack(frames)


def _clip(texture, origin, velocity, n_frames, size, queries_txy) -> Clip:
    """A texture translating at `velocity` px/frame from `-origin`; queries (t, x, y) at their own frames."""
    t = np.arange(n_frames, dtype=np.float64)[:, None]
    offsets = -np.asarray(origin, np.float64) + t * np.asarray(velocity, np.float64)
    frames = _render(texture, offsets, size)
    queries = np.asarray(queries_txy, np.float32)
    q_frame = queries[:, 0].astype(np.int64)
    shift = offsets[None, :, :] - offsets[q_frame][:, None, :]          # (N, T, 2)
    xy = queries[:, None, 1:3].astype(np.float64) + shift
    return Clip(frames, queries, xy)


def translation_clip(height: int = 96, width: int = 128, n_frames: int = 10, seed: int = 0) -> Clip:
    """A texture translating by (1.125, -0.5) px per frame; 20 queries at frames 0, middle, last and 3,
    all inside the frame at every frame."""
    velocity = np.array([1.125, -0.5])
    span = np.abs(velocity) * (n_frames - 1)
    margin = 16
    texture = _texture(height + int(span[1]) + 2 * margin, width + int(span[0]) + 2 * margin, seed)
    # texture pixel (u, v) is at (u, v) - origin at frame 0
    origin = np.array([margin, margin + span[1]])
    xs = np.linspace(margin + 4, width - margin - 4 - span[0], 5) + 0.3
    ys = np.linspace(margin + 4 + span[1], height - margin - 4, 4) + 0.7
    gx, gy = np.meshgrid(xs, ys)
    points = np.stack([gx.ravel(), gy.ravel()], 1)                     # positions at frame 0
    frames_of = np.array([0, n_frames // 2, n_frames - 1, 3])[np.arange(len(points)) % 4]
    at_query = points + velocity * frames_of[:, None]
    queries = np.concatenate([frames_of[:, None], at_query], 1)
    return _clip(texture, origin, velocity, n_frames, (height, width), queries)


def leaving_clip(height: int = 96, width: int = 128, n_frames: int = 8, seed: int = 1) -> Clip:
    """A texture moving right by 4 px per frame: points queried near the right edge at frame 0 leave the frame
    going forward, points queried near the left edge at the last frame leave it going backward, points in the
    middle stay well inside."""
    velocity = np.array([4.0, 0.25])
    span = np.abs(velocity) * (n_frames - 1)
    texture = _texture(height + 16, width + int(span[0]) + 16, seed)
    origin = np.array([8 + span[0], 8])
    last = n_frames - 1
    ys = np.linspace(12, height - 14, 4) + 0.45
    queries = [(0, x, y) for x in (width - 13.6, width - 7.2) for y in ys]             # leave forward
    queries += [(last, x, y) for x in (6.3, 13.8) for y in ys]                         # leave backward
    queries += [(t, x, y) for t, x in ((0, 40.4), (last, 80.6)) for y in ys]          # stay inside
    return _clip(texture, origin, velocity, n_frames, (height, width), queries)


def _downsample(clip: Clip) -> Clip:
    """The same clip at half the resolution: exact 2×2 area averages; raster coordinates scale by exactly ½."""
    frames = np.stack([cv2.resize(f, (f.shape[1] // 2, f.shape[0] // 2), interpolation=cv2.INTER_AREA)
                       for f in clip.frames])
    queries = clip.queries.copy()
    queries[:, 1:] /= 2
    return Clip(frames, queries, clip.xy / 2)


# ---------------------------------------------------------------- what applies to whom


def follows_motion(tracker) -> bool:
    """Whether `tracker` is expected to follow motion: its `follows_motion` attribute (default True;
    the built-in `static` tracker, which never moves a point, declares False)."""
    return bool(getattr(tracker, "follows_motion", True))


def has_real_weights(config: dict) -> bool:
    """False for a learned tracker's config with `checkpoint: random` (then only structural checks apply)."""
    return str(config.get("checkpoint", "")) != "random"


# ---------------------------------------------------------------- the checks


def _run(tracker, clip: Clip):
    return tracker.track(clip.frames.copy(), clip.queries.copy())


def _shapes(pred, clip: Clip) -> CheckResult:
    name, problems = "shapes_dtypes", []
    n, t = len(clip.queries), len(clip.frames)
    if not isinstance(pred, Tracks):
        return CheckResult(name, FAIL, f"track returned {type(pred).__name__}, expected pointbench.Tracks")
    for key, shape, dtype in (("xy", (n, t, 2), np.float32), ("visible", (n, t), np.bool_),
                              ("confidence", (n, t), np.float32), ("xyz", (n, t, 3), np.float32)):
        value = getattr(pred, key)
        if value is None and key in ("confidence", "xyz"):
            continue
        if not isinstance(value, np.ndarray) or value.shape != shape or value.dtype != dtype:
            found = f"{value.dtype} {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__
            problems.append(f"{key}: expected {np.dtype(dtype).name} {shape}, got {found}")
    if problems:
        return CheckResult(name, FAIL, "; ".join(problems))
    if pred.confidence is not None and not ((pred.confidence >= 0) & (pred.confidence <= 1)).all():
        problems.append("confidence outside [0, 1]")
    from_query = np.arange(t)[None, :] >= clip.query_frame[:, None]
    bad = ~np.isfinite(pred.xy).all(-1) & from_query
    if bad.any():
        problems.append(f"xy not finite at {int(bad.sum())} of {int(from_query.sum())} cells from the query frame on")
    if problems:
        return CheckResult(name, FAIL, "; ".join(problems))
    extra = " + confidence" if pred.confidence is not None else ""
    return CheckResult(name, PASS, f"xy float32 {pred.xy.shape}, visible bool {pred.visible.shape}{extra}")


def _displacement_errors(pred, clip: Clip):
    """Median |error| of displacements from each query's frame, as given and with x and y swapped."""
    q = clip.query_frame
    rows = np.arange(len(q))
    truth = clip.xy - clip.xy[rows, q][:, None]
    given = pred.xy.astype(np.float64) - pred.xy[rows, q].astype(np.float64)[:, None]
    mask = np.arange(clip.xy.shape[1])[None, :] != q[:, None]
    as_given = np.median(np.linalg.norm(given - truth, axis=-1)[mask])
    swapped = np.median(np.linalg.norm(given[..., ::-1] - truth, axis=-1)[mask])
    return as_given, swapped


def _before_query(pred, clip: Clip, accuracy: bool, moves: bool) -> CheckResult:
    name = "before_query"
    n_frames = clip.frames.shape[0]
    before = np.arange(n_frames)[None, :] < clip.query_frame[:, None]
    after = np.arange(n_frames)[None, :] > clip.query_frame[:, None]
    xy = pred.xy[before]
    if not np.isfinite(xy).all():
        bad = int((~np.isfinite(xy).all(-1)).sum())
        return CheckResult(name, FAIL, f"xy is NaN/inf at {bad} of {len(xy)} cells before the query frame: "
                                       "left empty (a position is required at every frame)")
    rows_before = np.flatnonzero(before.any(1))
    if len(rows_before) > 1 and np.ptp(xy, axis=0).max() == 0:
        return CheckResult(name, FAIL, f"every cell before the query frame holds the same position {xy[0].tolist()}: "
                                       "left at a fill value, not predicted")
    if not accuracy:
        return CheckResult(name, PASS, f"finite positions at all {len(xy)} cells before the query frame "
                                       "(accuracy not checked)")
    if not moves:
        return CheckResult(name, PASS, f"finite positions at all {len(xy)} cells before the query frame "
                                       "(tracker declares it does not follow motion: accuracy not checked)")
    gt_visible = clip.inside
    error = np.linalg.norm(pred.xy.astype(np.float64) - clip.xy, axis=-1)
    as_given, swapped = _displacement_errors(pred, clip)
    if swapped < as_given:  # a swap is xy_order's finding, not this check's
        error = np.linalg.norm(pred.xy[..., ::-1].astype(np.float64) - clip.xy, axis=-1)
    err_before, err_after = np.median(error[before & gt_visible]), np.median(error[after & gt_visible])
    vis_before, vis_after = pred.visible[before & gt_visible].mean(), pred.visible[after & gt_visible].mean()
    measured = (f"before / after the query: median error {err_before:.2f} / {err_after:.2f} px, "
                f"visible {vis_before:.0%} / {vis_after:.0%}")
    if vis_before < vis_after - BEFORE_VISIBLE_DROP:
        return CheckResult(name, FAIL, f"{measured}: frames before the query are left occluded")
    if err_before > err_after + BEFORE_EXTRA_ERROR:
        return CheckResult(name, FAIL, f"{measured}: frames before the query are not tracked")
    return CheckResult(name, PASS, measured)


def _determinism(first, second) -> CheckResult:
    name = "determinism"
    if first.xy.shape != second.xy.shape:
        return CheckResult(name, FAIL, f"two runs gave shapes {first.xy.shape} and {second.xy.shape}")
    both = np.isfinite(first.xy) & np.isfinite(second.xy)
    if not np.array_equal(np.isfinite(first.xy), np.isfinite(second.xy)):
        return CheckResult(name, FAIL, "two runs differ in where xy is finite")
    difference = float(np.abs(first.xy[both] - second.xy[both]).max(initial=0.0))
    flips = int((first.visible != second.visible).sum())
    conf = 0.0
    if (first.confidence is None) != (second.confidence is None):
        return CheckResult(name, FAIL, "one run gave a confidence, the other none")
    if first.confidence is not None:
        conf = float(np.abs(first.confidence - second.confidence).max(initial=0.0))
    measured = f"max difference {difference:.2g} px, {flips} visibility flips, confidence {conf:.2g}"
    if difference > DETERMINISM_TOLERANCE or flips or conf > 1e-4:
        return CheckResult(name, FAIL, f"two runs on the same clip differ: {measured}")
    return CheckResult(name, PASS, "identical" if difference == 0 and conf == 0 else measured)


def _resize(high, low, clip_low: Clip, accuracy: bool) -> CheckResult:
    name = "resize_invariance"
    width = clip_low.frames.shape[2]
    scaled = high.xy.astype(np.float64) / 2
    both = np.isfinite(scaled).all(-1) & np.isfinite(low.xy).all(-1)
    if not both.any():
        return CheckResult(name, FAIL, "no finite positions to compare")
    difference = np.linalg.norm(scaled - low.xy, axis=-1)[both]
    median = float(np.median(difference))
    agree = float((high.visible == low.visible).mean())
    measured = (f"{clip_low.frames.shape[2]}×{clip_low.frames.shape[1]} vs 2×: median difference {median:.2f} px "
                f"(low resolution), visibility agrees at {agree:.0%}")
    tolerance = RESIZE_TOLERANCE if accuracy else RESIZE_STRUCTURAL * width
    if median > tolerance:
        return CheckResult(name, FAIL, f"{measured}; tolerance {tolerance:.2g} px: tracks do not scale with the image")
    if accuracy and agree < 0.9:
        return CheckResult(name, FAIL, f"{measured}: visibility depends on the resolution")
    return CheckResult(name, PASS, measured if accuracy else f"{measured} (structural tolerance {tolerance:.2g} px)")


def _xy_order(pred, clip: Clip) -> CheckResult:
    name = "xy_order"
    as_given, swapped = _displacement_errors(pred, clip)
    measured = f"median displacement error {as_given:.2f} px (with x and y swapped: {swapped:.2f} px)"
    if swapped < as_given:
        return CheckResult(name, FAIL, f"{measured}: x and y are swapped", "accuracy")
    if as_given > DISPLACEMENT_TOLERANCE:
        return CheckResult(name, FAIL, f"{measured}; tolerance {DISPLACEMENT_TOLERANCE} px: does not follow "
                                       "the known motion", "accuracy")
    return CheckResult(name, PASS, measured, "accuracy")


def _pixel_convention(pred, clip: Clip, moves: bool) -> CheckResult:
    name = "pixel_convention"
    rows = np.arange(len(clip.queries))
    xy = pred.xy.astype(np.float64)
    if moves:
        as_given, swapped = _displacement_errors(pred, clip)
        if swapped < as_given:  # a swap is xy_order's finding; measure the offset in the order that fits
            xy = xy[..., ::-1]
        mask = clip.inside & np.isfinite(xy).all(-1)
        error = xy[mask] - clip.xy[mask]
        where = "all frames"
    else:
        q = clip.query_frame
        error = xy[rows, q] - clip.xy[rows, q]
        where = "each query's own frame (tracker declares it does not follow motion)"
    bias = np.median(error, axis=0)
    spread = float(np.median(np.linalg.norm(error - bias, axis=-1)))
    measured = f"median signed error (x, y) = ({bias[0]:+.2f}, {bias[1]:+.2f}) px at {where}"
    if spread > 2.0:
        return CheckResult(name, FAIL, f"{measured}, but positions scatter by {spread:.1f} px: too inaccurate to "
                                       "tell the convention", "accuracy")
    if np.abs(bias).max() > BIAS_TOLERANCE:
        hint = " (a half-pixel slip: pixel centres instead of raster coordinates?)" \
            if np.abs(np.abs(bias) - 0.5).min() < 0.15 else ""
        return CheckResult(name, FAIL, f"{measured}; tolerance ±{BIAS_TOLERANCE} px{hint}", "accuracy")
    return CheckResult(name, PASS, measured, "accuracy")


def _leaves_frame(pred, clip: Clip) -> CheckResult:
    name = "leaves_frame"
    height, width = clip.frames.shape[1:3]
    x, y = clip.xy[..., 0], clip.xy[..., 1]
    outside = (x < -OUTSIDE_MARGIN) | (x >= width + OUTSIDE_MARGIN) | (y < -OUTSIDE_MARGIN) | (y >= height + OUTSIDE_MARGIN)
    m = INSIDE_MARGIN
    after = np.arange(clip.xy.shape[1])[None, :] > clip.query_frame[:, None]  # before the query: before_query's
    well_inside = (x >= m) & (x < width - m) & (y >= m) & (y < height - m) & after
    occluded = float((~pred.visible[outside]).mean())
    visible = float(pred.visible[well_inside].mean())
    measured = (f"occluded at {occluded:.0%} of {int(outside.sum())} cells outside the frame, visible at "
                f"{visible:.0%} of {int(well_inside.sum())} well inside after the query")
    if occluded < OUTSIDE_OCCLUDED:
        return CheckResult(name, FAIL, f"{measured}: a point outside the frame must be occluded "
                                       f"(at least {OUTSIDE_OCCLUDED:.0%})", "accuracy")
    if visible < INSIDE_VISIBLE:
        return CheckResult(name, FAIL, f"{measured}: points inside the frame are lost "
                                       f"(at least {INSIDE_VISIBLE:.0%} visible)", "accuracy")
    return CheckResult(name, PASS, measured, "accuracy")


def check_tracker(tracker, accuracy: bool = True, motion: bool | None = None) -> list[CheckResult]:
    """Run every check on `tracker` (anything with `track(frames, queries) -> Tracks`).

    Args:
        accuracy: also run the accuracy checks (for trackers with real weights); False: structural only.
        motion: whether the tracker follows motion; None: `follows_motion(tracker)`. A tracker that does not
            is exempt from the checks that need motion and is checked for the convention at its query frames.

    Returns one `CheckResult` per entry of `CHECKS`, in that order. A tracker that raises fails the checks
    whose clip it failed on, with the error.

    >>> from pointbench.trackers.static import StaticTracker
    >>> [r.status for r in check_tracker(StaticTracker())][:4]
    ['pass', 'pass', 'pass', 'pass']
    """
    moves = follows_motion(tracker) if motion is None else bool(motion)
    clip = translation_clip()
    clip_low = _downsample(clip)
    leaving = leaving_clip()
    runs, errors = {}, {}
    for key, c in (("main", clip), ("again", clip), ("low", clip_low), ("leaving", leaving)):
        if key == "leaving" and not (accuracy and moves):
            continue
        try:
            runs[key] = _run(tracker, c)
        except Exception as error:  # reported per check, so the other checks still run
            errors[key] = f"track raised {type(error).__name__}: {error}"

    def shaped(key, c):
        """The run's Tracks if it ran and has the right shapes, else the reason it cannot be checked."""
        if key in errors:
            return None, errors[key]
        result = _shapes(runs[key], c)
        return (runs[key], None) if result.passed else (None, f"output of the wrong form ({result.detail})")

    results = []
    main_pred, main_problem = shaped("main", clip)
    if "main" in errors:
        results.append(CheckResult("shapes_dtypes", FAIL, errors["main"]))
    else:
        results.append(_shapes(runs["main"], clip))

    def guarded(name, applies, needs, fn):
        problems = [p for _, p in needs if p]
        if problems:
            results.append(CheckResult(name, FAIL if any("raised" in p for p in problems) else SKIPPED,
                                       problems[0], applies))
            return
        try:
            results.append(fn())
        except Exception as error:
            results.append(CheckResult(name, FAIL, f"check raised {type(error).__name__}: {error}", applies))

    main = (main_pred, main_problem)
    guarded("before_query", "all", [main], lambda: _before_query(main_pred, clip, accuracy, moves))
    again = shaped("again", clip)
    guarded("determinism", "all", [main, again], lambda: _determinism(main_pred, again[0]))
    low = shaped("low", clip_low)
    guarded("resize_invariance", "all", [main, low], lambda: _resize(main_pred, low[0], clip_low, accuracy))

    def exempt(name, why):
        results.append(CheckResult(name, SKIPPED, why, "accuracy"))

    no_accuracy = "structural checks only (accuracy=False: e.g. random weights)"
    no_motion = "the tracker declares it does not follow motion (follows_motion = False)"
    if not accuracy:
        for name in ("xy_order", "pixel_convention", "leaves_frame"):
            exempt(name, no_accuracy)
        return results
    if moves:
        guarded("xy_order", "accuracy", [main], lambda: _xy_order(main_pred, clip))
    else:
        exempt("xy_order", no_motion)
    guarded("pixel_convention", "accuracy", [main], lambda: _pixel_convention(main_pred, clip, moves))
    if moves:
        leaving_run = shaped("leaving", leaving)
        guarded("leaves_frame", "accuracy", [leaving_run], lambda: _leaves_frame(leaving_run[0], leaving))
    else:
        exempt("leaves_frame", no_motion)
    return results


def format_results(results: list[CheckResult], title: str | None = None) -> str:
    """The report: one line per check with its status and detail."""
    width = max(len(r.name) for r in results)
    lines = [title] if title else []
    for r in results:
        lines.append(f"  {r.name:<{width}}  {r.status.upper():<7}  {r.detail}")
    failed = sum(r.failed for r in results)
    passed = sum(r.passed for r in results)
    skipped = len(results) - failed - passed
    lines.append(f"{passed} passed, {failed} failed, {skipped} skipped")
    return "\n".join(lines)


def assert_conforms(tracker, accuracy: bool = True, motion: bool | None = None) -> list[CheckResult]:
    """`check_tracker`, raising AssertionError with the report if any check failed (for pytest)."""
    results = check_tracker(tracker, accuracy=accuracy, motion=motion)
    if any(r.failed for r in results):
        raise AssertionError(f"{type(tracker).__name__} does not conform:\n{format_results(results)}")
    return results


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """`pointbench-check tracker=NAME [tracker.key=value ...] [--structural | --accuracy]`."""
    parser = argparse.ArgumentParser(
        prog="pointbench-check",
        description="Run a tracker on small synthetic clips with exactly known motion and report, property by "
                    "property, whether it keeps pointbench's contracts (exit status 1 on any failure).",
        epilog="example: pointbench-check tracker=dis tracker.preset=fast")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides: tracker=NAME tracker.key=value ...")
    level = parser.add_mutually_exclusive_group()
    level.add_argument("--structural", action="store_true",
                       help="structural checks only (default for checkpoint=random)")
    level.add_argument("--accuracy", action="store_true",
                       help="also the accuracy checks (default unless checkpoint=random)")
    args = parser.parse_args(argv)
    bad = [o for o in args.overrides if not (o.startswith("tracker=") or o.startswith("tracker.")
                                             or o.startswith("+tracker."))]
    if bad:
        parser.error(f"only tracker overrides are used (tracker=NAME, tracker.key=value); got {bad}")

    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from pointbench.runner import build  # also registers installed tracker plugins

    conf = str(Path(__file__).parent / "conf")
    try:
        with initialize_config_dir(config_dir=conf, version_base="1.3"):
            cfg = compose(config_name="config", overrides=args.overrides)
    except Exception as error:
        print(f"pointbench-check: {error}", file=sys.stderr)
        return 2
    params = OmegaConf.to_container(cfg.tracker, resolve=True)
    name, tracker = build(cfg.tracker, "tracker")
    accuracy = True if args.accuracy else False if args.structural else has_real_weights(params)
    moves = follows_motion(tracker)
    scope = ("structural and accuracy checks" if accuracy else "structural checks only") + \
        ("" if moves else "; does not follow motion")
    results = check_tracker(tracker, accuracy=accuracy)
    print(format_results(results, f"pointbench-check: tracker '{name}' ({params['_target_']}): {scope}"))
    return 1 if any(r.failed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
