"""A tracker for tests that takes its time, so a run can be killed while it works."""

import time

from pointbench.trackers.static import StaticTracker


class SlowTracker(StaticTracker):
    def __init__(self, seconds: float = 0.3):
        self.seconds = seconds

    def track(self, frames, queries):
        time.sleep(self.seconds)
        return super().track(frames, queries)
