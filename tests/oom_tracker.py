"""Stand-in trackers for tests/test_limits.py (addressed as `tracker._target_=oom_tracker.<Class>`).

Each behaves like `StaticTracker` except where a test needs it to run out of memory, crash, take its
time, allocate a known amount or step frame by frame.
"""

import os
import signal
import time

import numpy as np

from pointbench.trackers.static import StaticTracker


class OomTracker(StaticTracker):
    """Fails the way a tracker out of memory does when points × frames exceeds `max_points_frames`.

    `kind`: `memory` (MemoryError), `cuda` (torch's RuntimeError message), `opencv` (OpenCV's allocator message),
    `sigkill` (the process is killed, as by the kernel's OOM killer), `segv` (the process crashes),
    `value` (an ordinary bug: ValueError).
    """

    def __init__(self, max_points_frames: int = 100, kind: str = "memory"):
        self.max_points_frames = max_points_frames
        self.kind = kind

    def track(self, frames, queries):
        if len(queries) * len(frames) > self.max_points_frames:
            if self.kind == "memory":
                raise MemoryError(f"stand-in: {len(queries)} points × {len(frames)} frames is too many")
            if self.kind == "cuda":
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (stand-in)")
            if self.kind == "opencv":
                raise RuntimeError("OpenCV(4.8) alloc.cpp:73: error: (-4:Insufficient memory) Failed to allocate "
                                   "123456789 bytes in function 'OutOfMemoryError'")
            if self.kind == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            if self.kind == "segv":
                os.kill(os.getpid(), signal.SIGSEGV)
            raise ValueError("stand-in: an ordinary bug")
        return super().track(frames, queries)


class AllocTracker(StaticTracker):
    """Allocates (and touches) `bytes_per_point_frame` × points × frames bytes, then frees them before returning."""

    def __init__(self, bytes_per_point_frame: int = 1000):
        self.bytes_per_point_frame = bytes_per_point_frame

    def track(self, frames, queries):
        block = np.ones(len(queries) * len(frames) * self.bytes_per_point_frame, np.uint8)
        assert block.sum() == block.size  # touched: every page is resident
        del block
        return super().track(frames, queries)


class SleepyTracker(StaticTracker):
    def __init__(self, seconds: float = 5.0):
        self.seconds = seconds

    def track(self, frames, queries):
        time.sleep(self.seconds)
        return super().track(frames, queries)


class SteppingTracker(StaticTracker):
    """An online tracker with per-frame stepping: `online_steps` yields the frames consumed after each step."""

    online = True

    def __init__(self, seconds_per_frame: float = 0.004, frames_per_step: int = 1):
        self.seconds_per_frame = seconds_per_frame
        self.frames_per_step = frames_per_step

    def online_steps(self, frames, queries):
        for end in range(self.frames_per_step, len(frames) + self.frames_per_step, self.frames_per_step):
            time.sleep(self.seconds_per_frame * self.frames_per_step)
            yield min(end, len(frames))


class OnlineTracker(StaticTracker):
    """Online by its config (`online: true`, as cotracker3_online and bootstapir_online), without per-frame stepping."""

    def __init__(self, online: bool = True):
        self.online = online
