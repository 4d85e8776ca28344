"""Pyramidal Lucas–Kanade (OpenCV) with a forward–backward check: the classic baseline."""

from __future__ import annotations

import cv2
import numpy as np

from pointbench.trackers.base import Tracker
from pointbench.types import Tracks


class LucasKanadeTracker(Tracker):
    """Tracks each query frame to frame, forward from its own frame and backward to frame 0.

    At every step a point is also tracked back to the frame it came from; it is marked occluded at
    the new frame when that forward–backward error exceeds `fb_threshold` pixels, when OpenCV's
    status says the flow was not found, or when it lies outside the frame. Its position keeps
    following the flow (or holds where the flow failed).

    Args:
        win_size: side of the square LK window in pixels.
        pyramid_levels: levels above the full-resolution image (OpenCV's `maxLevel`).
        fb_threshold: forward–backward error in pixels above which a point is occluded.
        max_iterations, epsilon: stopping criteria of each LK solve.
        ncc_threshold: if set, a point once marked occluded becomes visible again only where its
            patch (side `2 * patch_radius + 1`) correlates with its patch at the query frame at least
            this much. Raises AJ (lost points stop counting as false positives) and lowers OA.
    """

    def __init__(self, win_size: int = 15, pyramid_levels: int = 3, fb_threshold: float = 2.0,
                 max_iterations: int = 30, epsilon: float = 0.01, ncc_threshold: float | None = None,
                 patch_radius: int = 4):
        self.lk_params = dict(
            winSize=(int(win_size), int(win_size)),
            maxLevel=int(pyramid_levels),
            criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, int(max_iterations), float(epsilon)),
        )
        self.fb_threshold = float(fb_threshold)
        self.ncc_threshold = ncc_threshold
        offsets = np.arange(-patch_radius, patch_radius + 1, dtype=np.float32)
        self.patch_offsets = np.stack(np.meshgrid(offsets, offsets), -1).reshape(-1, 2)

    def track(self, frames: np.ndarray, queries: np.ndarray) -> Tracks:
        gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
        n_frames, (height, width) = len(gray), gray[0].shape
        query_frame = queries[:, 0].astype(np.int64)
        xy = np.repeat(queries[:, None, 1:3], n_frames, axis=1).astype(np.float32)
        visible = np.zeros((len(queries), n_frames), bool)
        visible[np.arange(len(queries)), query_frame] = True
        template = None if self.ncc_threshold is None else self._templates(gray, queries, query_frame)
        for step in (1, -1):
            self._sweep(gray, queries, query_frame, step, xy, visible, (width, height), template)
        return Tracks(xy=xy, visible=visible)

    def _patches(self, image: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """Bilinear patches `(N, P)` around raster positions `xy` `(N, 2)`."""
        grid = (xy[:, None, :] - 0.5 + self.patch_offsets[None]).astype(np.float32)
        return cv2.remap(image, grid[..., 0], grid[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)

    def _templates(self, gray, queries, query_frame) -> np.ndarray:
        """Normalised patches `(N, P)` around each query at its own frame."""
        template = np.empty((len(queries), len(self.patch_offsets)), np.float32)
        for t in np.unique(query_frame):
            rows = np.flatnonzero(query_frame == t)
            template[rows] = self._patches(gray[t], queries[rows, 1:3])
        return _normalise(template)

    def _sweep(self, gray, queries, query_frame, step, xy, visible, size, template) -> None:
        """Track every query away from its own frame in one direction, filling `xy` and `visible` in place."""
        n_frames = len(gray)
        current = queries[:, 1:3].astype(np.float32).copy()
        order = range(n_frames) if step == 1 else range(n_frames - 1, -1, -1)
        for i, a in enumerate(list(order)[:-1]):
            b = a + step
            self.report_progress(i + (0 if step == 1 else n_frames - 1), 2 * (n_frames - 1))
            idx = np.flatnonzero(query_frame <= a if step == 1 else query_frame >= a)
            if idx.size == 0:
                continue
            # OpenCV works in pixel-centre coordinates: raster x - 0.5.
            p0 = (current[idx] - 0.5).reshape(-1, 1, 2)
            p1, status, _ = cv2.calcOpticalFlowPyrLK(gray[a], gray[b], p0, None, **self.lk_params)
            back, status_back, _ = cv2.calcOpticalFlowPyrLK(gray[b], gray[a], p1, None, **self.lk_params)
            p1, back = p1.reshape(-1, 2) + 0.5, back.reshape(-1, 2) + 0.5
            found = status.ravel().astype(bool) & np.isfinite(p1).all(axis=1)
            fb_error = np.linalg.norm(back - current[idx], axis=1)
            inside = (p1[:, 0] >= 0) & (p1[:, 0] < size[0]) & (p1[:, 1] >= 0) & (p1[:, 1] < size[1])
            current[idx[found]] = p1[found]
            xy[idx, b] = current[idx]
            consistent = found & status_back.ravel().astype(bool) & (fb_error <= self.fb_threshold) & inside
            if self.ncc_threshold is not None:
                # A point once lost is seen again only where it looks like its query again.
                ncc = np.sum(_normalise(self._patches(gray[b], current[idx])) * template[idx], -1)
                consistent &= visible[idx, a] | (ncc >= self.ncc_threshold)
            visible[idx, b] = consistent


def _normalise(patches: np.ndarray) -> np.ndarray:
    """Zero-mean, unit-norm rows (for normalised cross-correlation)."""
    centred = patches - patches.mean(-1, keepdims=True)
    return centred / (np.linalg.norm(centred, axis=-1, keepdims=True) + 1e-3)
