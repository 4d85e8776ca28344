"""The floor any tracker must beat: every query stays where it was, always visible."""

from __future__ import annotations

import numpy as np

from pointbench.trackers.base import Tracker
from pointbench.types import Tracks


class StaticTracker(Tracker):
    """Predicts each query's position at every frame, always visible."""

    follows_motion = False  # pointbench-check: exempt from the checks that need motion followed

    def track(self, frames: np.ndarray, queries: np.ndarray) -> Tracks:
        n_frames = frames.shape[0]
        xy = np.repeat(queries[:, None, 1:3], n_frames, axis=1).astype(np.float32)
        return Tracks(xy=xy, visible=np.ones(xy.shape[:2], bool))
