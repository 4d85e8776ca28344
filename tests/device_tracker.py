"""A stand-in tracker that shows the device it was given: every position is shifted by 100 × the device index."""

import numpy as np

from pointbench.trackers.base import Tracker
from pointbench.types import Tracks


class DeviceTracker(Tracker):
    def __init__(self, device: str = "auto"):
        self.device = device

    def track(self, frames, queries):
        index = int(self.device.split(":")[1]) if self.device.startswith("cuda:") else -1
        xy = np.broadcast_to(queries[:, None, 1:], (len(queries), len(frames), 2)) + 100.0 * index
        return Tracks(xy=np.ascontiguousarray(xy, np.float32), visible=np.ones((len(queries), len(frames)), bool))
