"""Cost of a call: wall-clock seconds, peak resident memory and (with CUDA) peak GPU memory while it runs."""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from dataclasses import dataclass

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_mb() -> float:
    """Current resident set size of this process in MiB (Linux), else the peak so far."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE / 2**20
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


@dataclass
class Cost:
    seconds: float = 0.0
    peak_mem_mb: float = 0.0
    peak_gpu_mem_mb: float = float("nan")  # NaN unless torch is in use with CUDA


def _cuda():
    """torch.cuda when a tracker has imported torch and CUDA is available, else None (never imports torch)."""
    torch = sys.modules.get("torch")
    return torch.cuda if torch is not None and torch.cuda.is_available() else None


class measure:
    """Context manager: `Cost` of its body, peak RSS sampled every `interval` seconds by a thread.

    >>> with measure() as cost:
    ...     _ = sum(range(1000))
    >>> cost.seconds > 0 and cost.peak_mem_mb > 0
    True
    """

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.cost = Cost()
        self._done = threading.Event()

    def _sample(self) -> None:
        while not self._done.wait(self.interval):
            self.cost.peak_mem_mb = max(self.cost.peak_mem_mb, resident_mb())

    def __enter__(self) -> Cost:
        if (cuda := _cuda()) is not None:
            cuda.reset_peak_memory_stats()
        self.cost.peak_mem_mb = resident_mb()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self._start = time.perf_counter()
        return self.cost

    def __exit__(self, *exc) -> None:
        if (cuda := _cuda()) is not None:
            cuda.synchronize()  # count queued GPU work as tracking time
        self.cost.seconds = time.perf_counter() - self._start
        self._done.set()
        self._thread.join()
        self.cost.peak_mem_mb = max(self.cost.peak_mem_mb, resident_mb())
        if (cuda := _cuda()) is not None:
            self.cost.peak_gpu_mem_mb = cuda.max_memory_allocated() / 2**20
