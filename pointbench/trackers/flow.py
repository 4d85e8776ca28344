"""Dense optical-flow chaining with OpenCV's classical flow (DIS, Farnebäck): weight-free baselines.

The flow-chaining baseline of the TAP-Vid paper, with classical flow in place of RAFT: a point's
position is carried from frame to frame by the dense flow between the two frames, sampled bilinearly
at the point, forward from its query frame to the last frame and backward to frame 0. A point is
occluded at a frame where the forward–backward consistency of that step fails or where it lies
outside the frame.
"""

from __future__ import annotations

import abc

import cv2
import numpy as np

from pointbench.trackers.base import Tracker, validate_track_inputs
from pointbench.types import Tracks

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def sample_bilinear(field: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Bilinear samples `(N, C)` of `field` `(H, W, C)` at pixel-centre coordinates `xy` `(N, 2)`.

    Pixel (i, j) of `field` sits at (x, y) = (j, i); outside the image the border value is repeated.
    (Plain numpy in float64: `cv2.remap` quantises its weights to 1/32 pixel.)
    """
    height, width = field.shape[:2]
    x = np.clip(xy[:, 0].astype(np.float64), 0, width - 1)
    y = np.clip(xy[:, 1].astype(np.float64), 0, height - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), max(width - 2, 0))
    y0 = np.minimum(np.floor(y).astype(np.int64), max(height - 2, 0))
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = field[y0, x0] * (1 - fx) + field[y0, x1] * fx
    bottom = field[y1, x0] * (1 - fx) + field[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


class FlowChainTracker(Tracker):
    """Chains a dense flow field frame to frame; subclasses say how the flow is computed.

    The flow of each pair of consecutive frames is computed once in each direction (forward a → a+1
    and backward a+1 → a) and all queries are chained through it together; each query moves forward
    from its own frame and backward from it. At every step a point at `p` moves to `p + f(p)`; it is
    visible at the new frame where the flow back from there returns it close to `p`,

        |f(p) + b(p + f(p))| <= fb_threshold + fb_relative * (|f(p)| + |b(p + f(p))|),

    and the new position lies inside the frame (and, with `sticky_occlusion`, it was visible at the
    frame it came from). Its position keeps following the flow either way (outside the frame the
    flow at the nearest border pixel is used).

    Args:
        fb_threshold: forward–backward error in pixels below which a step is consistent.
        fb_relative: tolerance added per pixel of motion (0: a fixed threshold).
        sticky_occlusion: once a step fails, the point stays occluded for the rest of that direction
            (a chained point that lost its surface usually rides on whatever covered it: AJ rises, OA
            falls, and a point that reappears is never seen again). False: each step decides alone.
        max_cache_mb: flows of the frame pairs that both directions use are kept for the second
            direction up to this many megabytes; past it they are computed again.
    """

    def __init__(self, fb_threshold: float = 1.0, fb_relative: float = 0.0, sticky_occlusion: bool = False,
                 max_cache_mb: float = 1024.0):
        owner = type(self).__name__
        for key, value in (("fb_threshold", fb_threshold), ("fb_relative", fb_relative),
                           ("max_cache_mb", max_cache_mb)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"{owner}: '{key}' must be a number >= 0; got {value!r}")
        self.fb_threshold = float(fb_threshold)
        self.fb_relative = float(fb_relative)
        if not isinstance(sticky_occlusion, (bool, np.bool_)):
            raise ValueError(f"{owner}: 'sticky_occlusion' must be true or false; got {sticky_occlusion!r}")
        self.sticky_occlusion = bool(sticky_occlusion)
        self.max_cache_bytes = float(max_cache_mb) * 2**20

    @abc.abstractmethod
    def flow(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Dense flow float32 `(H, W, 2)` from grey uint8 image `first` to `second`: the pixel centred at
        (x, y) of `first` moves to (x, y) + flow[y, x] in `second` (OpenCV's pixel-centre convention)."""

    def track(self, frames: np.ndarray, queries: np.ndarray) -> Tracks:
        if not validate_track_inputs(frames, queries, type(self).__name__):
            return Tracks.empty(len(frames))
        n_frames = len(frames)
        gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
        query_frame = queries[:, 0].astype(np.int64)
        xy = np.repeat(queries[:, None, 1:3].astype(np.float64), n_frames, axis=1)
        visible = np.zeros((len(queries), n_frames), bool)
        visible[np.arange(len(queries)), query_frame] = True
        first, last = int(query_frame.min()), int(query_frame.max())

        # Forward: pairs (a, a+1) from the earliest query frame on. Those below the latest query frame are
        # needed again by the backward sweep: keep them while the budget allows.
        cache, cached_bytes = {}, 0
        current = queries[:, 1:3].astype(np.float64)
        steps = (n_frames - 1 - first) + last
        for a in range(first, n_frames - 1):
            self.report_progress(a - first, steps)
            forward, backward = self.flow(gray[a], gray[a + 1]), self.flow(gray[a + 1], gray[a])
            if a < last and cached_bytes + forward.nbytes + backward.nbytes <= self.max_cache_bytes:
                cache[a] = (forward, backward)
                cached_bytes += forward.nbytes + backward.nbytes
            rows = np.flatnonzero(query_frame <= a)
            self._step(current, rows, forward, backward, xy, visible, a, a + 1)
        # Backward: pairs (a-1, a) from the latest query frame down to frame 0.
        current = queries[:, 1:3].astype(np.float64)
        for a in range(last, 0, -1):
            self.report_progress(n_frames - 1 - first + last - a, steps)
            pair = cache.pop(a - 1, None)
            forward, backward = pair if pair is not None else (self.flow(gray[a - 1], gray[a]),
                                                                self.flow(gray[a], gray[a - 1]))
            rows = np.flatnonzero(query_frame >= a)
            self._step(current, rows, backward, forward, xy, visible, a, a - 1)
        return Tracks(xy=xy.astype(np.float32), visible=visible)

    def _step(self, current, rows, flow, back, xy, visible, source, target) -> None:
        """Move the points `current[rows]` (raster) by `flow` and check them with `back`, in place."""
        if rows.size == 0:
            return
        height, width = flow.shape[:2]
        p = current[rows]
        # OpenCV's flow lives on pixel centres: raster - 0.5 at this boundary only.
        moved = sample_bilinear(flow, p - 0.5)
        p_next = p + moved
        returned = sample_bilinear(back, p_next - 0.5)
        error = np.linalg.norm(moved + returned, axis=1)
        tolerance = self.fb_threshold + self.fb_relative * (np.linalg.norm(moved, axis=1)
                                                            + np.linalg.norm(returned, axis=1))
        finite = np.isfinite(p_next).all(axis=1)
        p_next[~finite] = p[~finite]  # a broken flow value: hold the point (occluded below)
        inside = (p_next[:, 0] >= 0) & (p_next[:, 0] < width) & (p_next[:, 1] >= 0) & (p_next[:, 1] < height)
        current[rows] = p_next
        xy[rows, target] = p_next
        visible[rows, target] = finite & (error <= tolerance) & inside
        if self.sticky_occlusion:
            visible[rows, target] &= visible[rows, source]


class DISFlowTracker(FlowChainTracker):
    """Flow chaining with OpenCV's DIS optical flow (Kroeger et al., 2016).

    Args:
        preset: 'ultrafast', 'fast' or 'medium' (OpenCV's presets; slower is more accurate).
        finest_scale, patch_size, patch_stride, gradient_descent_iterations,
        variational_refinement_iterations: override the preset's value (null: the preset's).
        fb_threshold, fb_relative, sticky_occlusion, max_cache_mb: see `FlowChainTracker`.
    """

    def __init__(self, preset: str = "medium", finest_scale: int | None = None, patch_size: int | None = None,
                 patch_stride: int | None = None, gradient_descent_iterations: int | None = None,
                 variational_refinement_iterations: int | None = None, fb_threshold: float = 1.0,
                 fb_relative: float = 0.0, sticky_occlusion: bool = False, max_cache_mb: float = 1024.0):
        super().__init__(fb_threshold, fb_relative, sticky_occlusion, max_cache_mb)
        if preset not in DIS_PRESETS:
            raise ValueError(f"DISFlowTracker: 'preset' must be one of {sorted(DIS_PRESETS)}; got {preset!r}")
        self.preset = preset
        self.dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
        overrides = (
            ("finest_scale", finest_scale, 0, self.dis.setFinestScale),
            ("patch_size", patch_size, 1, self.dis.setPatchSize),
            ("patch_stride", patch_stride, 1, self.dis.setPatchStride),
            ("gradient_descent_iterations", gradient_descent_iterations, 1, self.dis.setGradientDescentIterations),
            ("variational_refinement_iterations", variational_refinement_iterations, 0,
             self.dis.setVariationalRefinementIterations),
        )
        for key, value, minimum, setter in overrides:
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
                raise ValueError(f"DISFlowTracker: '{key}' must be null or an integer >= {minimum}; got {value!r}")
            setter(int(value))

    def flow(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        return self.dis.calc(first, second, None)


class FarnebackFlowTracker(FlowChainTracker):
    """Flow chaining with OpenCV's Farnebäck polynomial-expansion flow (Farnebäck, 2003).

    Args:
        pyr_scale, levels, winsize, iterations, poly_n, poly_sigma: `cv2.calcOpticalFlowFarneback`'s.
        gaussian: weight the window with a Gaussian (`OPTFLOW_FARNEBACK_GAUSSIAN`) instead of a box.
        fb_threshold, fb_relative, sticky_occlusion, max_cache_mb: see `FlowChainTracker`.
    """

    def __init__(self, pyr_scale: float = 0.5, levels: int = 4, winsize: int = 15, iterations: int = 3,
                 poly_n: int = 5, poly_sigma: float = 1.1, gaussian: bool = True, fb_threshold: float = 1.0,
                 fb_relative: float = 0.0, sticky_occlusion: bool = False, max_cache_mb: float = 1024.0):
        super().__init__(fb_threshold, fb_relative, sticky_occlusion, max_cache_mb)
        o = "FarnebackFlowTracker"
        if not 0 < float(pyr_scale) < 1:
            raise ValueError(f"{o}: 'pyr_scale' must be in (0, 1); got {pyr_scale!r}")
        for key, value, minimum in (("levels", levels, 1), ("winsize", winsize, 1), ("iterations", iterations, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
                raise ValueError(f"{o}: '{key}' must be an integer >= {minimum}; got {value!r}")
        if poly_n not in (5, 7):
            raise ValueError(f"{o}: 'poly_n' must be 5 or 7 (OpenCV's); got {poly_n!r}")
        if not float(poly_sigma) > 0:
            raise ValueError(f"{o}: 'poly_sigma' must be > 0; got {poly_sigma!r}")
        self.params = dict(pyr_scale=float(pyr_scale), levels=int(levels), winsize=int(winsize),
                           iterations=int(iterations), poly_n=int(poly_n), poly_sigma=float(poly_sigma),
                           flags=cv2.OPTFLOW_FARNEBACK_GAUSSIAN if gaussian else 0)

    def flow(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        return cv2.calcOpticalFlowFarneback(first, second, None, **self.params)
