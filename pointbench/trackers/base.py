"""The tracker interface: frames and queries in, `Tracks` for every query at every frame out."""

from __future__ import annotations

import abc

import numpy as np

from pointbench.types import Tracks, validate_frames, validate_queries


def validate_track_inputs(frames: np.ndarray, queries: np.ndarray, owner: str) -> bool:
    """Check a `track` call's uint8 `(T, H, W, 3)` frames and `(N, 3)` queries (errors name `owner`);
    whether there is a query to track (without one, a tracker returns `Tracks.empty(len(frames))`)."""
    validate_frames(frames, owner)
    validate_queries(queries, len(frames), owner)
    return len(queries) > 0


class Tracker(abc.ABC):
    """A point tracker. Knows nothing of datasets or metrics.

    `track` must return a position and a visibility for every query at every frame, including
    frames before the query's own frame (the strided protocol scores them).
    """

    #: True for trackers whose `track` also takes `depth`, `intrinsics` and `extrinsics` keyword
    #: arguments: the runner passes those of the video where the dataset has them.
    accepts_geometry: bool = False
    #: Top-level Python packages (upstream model code) whose version and source decide this
    #: tracker's predictions: they enter the prediction cache key (see pointbench.provenance).
    upstream_packages: tuple[str, ...] = ()
    #: False for trackers that never move a point (pointbench-check skips the motion checks for them).
    follows_motion: bool = True
    #: Set by the runner: `progress(steps_done, steps_total)`, called by trackers that report progress
    #: within a video (frame pairs, windows) through `report_progress`.
    progress = None

    def report_progress(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, total)

    @abc.abstractmethod
    def track(self, frames: np.ndarray, queries: np.ndarray) -> Tracks:
        """Track `queries` float32 `(N, 3)` rows `(t, x, y)` through uint8 RGB `frames` `(T, H, W, 3)`."""
