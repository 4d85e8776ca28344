"""Shared helpers of the benchmark scripts: temp dirs, interleaved median timing, configs, result lines.

Every script measures both sides in one run (interleaved repeats, median) and prints the values,
the ratio and PASS/FAIL against its target. The scripts are reports: they always exit 0.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF_DIR = REPO / "pointbench" / "conf"
PYTHON = sys.executable


def header(title: str) -> None:
    """Print the benchmark's name and the machine it runs on."""
    import cv2
    import numpy as np

    print(f"== {title}")
    print(f"   machine: {os.cpu_count()} cores (os.cpu_count()), Python {platform.python_version()}, "
          f"numpy {np.__version__}, OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads)")
    print(f"   {_load()} at start (other processes' load makes timings noisy)")


def _load() -> str:
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "load average unknown"


@contextlib.contextmanager
def temp_dir(prefix: str = "pointbench-bench-") -> Iterator[Path]:
    """A temporary directory, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


_counter = 0


def fresh_dir(root: Path, name: str) -> Path:
    """A new, empty, uniquely named directory under `root` (e.g. a fresh cache or run dir)."""
    global _counter
    _counter += 1
    path = root / f"{name}-{_counter:03d}"
    path.mkdir(parents=True)
    return path


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def report_samples(samples: dict[str, list[float]], unit: str = "s") -> dict[str, float]:
    """Print every sample of each side and return the medians."""
    for name, values in samples.items():
        print(f"   {name}: " + ", ".join(f"{v:.3f}" for v in values) + f" {unit}")
    return {name: statistics.median(values) for name, values in samples.items()}


class Medians(dict):
    """Median seconds per side; `.samples[side]`: every sample; `.parts[side][label]`: median seconds per
    profiled part."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.parts: dict[str, dict[str, float]] = defaultdict(dict)
        self.samples: dict[str, list[float]] = {}


def interleaved_medians(sides: dict[str, Callable[[], object]], repeats: int = 3, warmup: bool = True,
                        parts: dict[str, tuple[object, str]] | None = None) -> Medians:
    """Median seconds of each side over `repeats` rounds, the sides alternating within every round
    (and their order alternating between rounds). A side may return its own measured seconds (a
    float, to time only part of what it does); if it returns anything else the whole call is timed.
    With `warmup`, one untimed round runs first (imports, caches of the OS and libraries).

    With `parts` (label -> (owner, function name)), every timed call runs under a `Profile` of
    those functions and the median seconds per part and side are printed as a breakdown (and kept
    in the result's `.parts[side][label]`).
    """
    names = list(sides)
    if warmup:
        for name in names:
            sides[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    part_samples: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            with Profile(parts or {}) as profile:
                start = time.perf_counter()
                measured = sides[name]()
                wall = time.perf_counter() - start
            samples[name].append(float(measured) if isinstance(measured, (int, float)) else wall)
            part_samples[name].append(dict(profile.seconds))
    medians = Medians(report_samples(samples))
    medians.samples = samples
    if parts:
        print(f"   breakdown (median seconds per part over the {repeats} timed repeats; share of the side's median):")
        for name in names:
            print(f"     {name} (median {medians[name]:.3f} s):")
            accounted = 0.0
            for label in parts:
                values = [p.get(label, 0.0) for p in part_samples[name]]
                if not any(values):
                    continue
                seconds = statistics.median(values)
                medians.parts[name][label] = seconds
                accounted += seconds
                print(f"       {label:<40} {seconds:7.3f} s {100 * seconds / medians[name]:5.1f} %")
            rest = medians[name] - accounted
            print(f"       {'rest (not in the parts above)':<40} {rest:7.3f} s {100 * rest / medians[name]:5.1f} %")
    return medians


def compose(overrides: list[str]):
    """The pointbench config composed as the command line would (Hydra's compose API)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=overrides)


def run_in_process(overrides: list[str], out_dir: Path):
    """`pointbench.runner.run` on the composed config (what `pointbench <overrides>` does, without Hydra's app)."""
    from pointbench.runner import run

    result = run(compose(overrides), out_dir)
    if len(result.failures):
        raise RuntimeError(f"{len(result.failures)} video(s) failed: {result.failures['error'].tolist()}")
    return result


def bench_env(cache_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment for a `pointbench` subprocess: a private cache, no stray Hydra/TTY output."""
    env = dict(os.environ, HYDRA_FULL_ERROR="1", **extra)
    if cache_dir is not None:
        env["POINTBENCH_CACHE"] = str(cache_dir)
    return env


@dataclass
class Completed:
    """A finished `pointbench` subprocess: wall-clock seconds and its output lines, each with the
    seconds since the start at which it arrived."""

    seconds: float
    lines: list[tuple[float, str]]
    cpu_seconds: float = float("nan")  # user + system CPU of the process and the children it waited for

    def last_arrival(self, prefix: str) -> float | None:
        """Arrival time of the last output line starting with `prefix` (None if there is none)."""
        times = [t for t, line in self.lines if line.startswith(prefix)]
        return times[-1] if times else None


def run_pointbench(args: list[str], env: dict[str, str], cwd: Path) -> Completed:
    """Run `python -m pointbench <args>` to completion, timestamping its output lines as they
    arrive (PYTHONUNBUFFERED). Raises on a non-zero exit status."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    lines = []
    with subprocess.Popen([PYTHON, "-m", "pointbench", *args], env=dict(env, PYTHONUNBUFFERED="1"), cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            lines.append((time.perf_counter() - start, line.rstrip("\n")))
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(line for _, line in lines[-40:])
        raise RuntimeError(f"pointbench {' '.join(args)} exited {proc.returncode}:\n{tail}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return Completed(seconds, lines, cpu)


_MAX_RSS_WRAPPER = """
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:]).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)  # KiB on Linux
sys.exit(rc)
"""


def max_rss_mib(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    """Peak resident memory (MiB) of `cmd`, run in a fresh wrapper process so the maximum is this
    command's alone (RUSAGE_CHILDREN of the wrapper: its only child, and that child's children)."""
    proc = subprocess.run([PYTHON, "-c", _MAX_RSS_WRAPPER, *cmd], env=env, cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    kib = int(proc.stderr.strip().splitlines()[-1])
    return kib / 1024 if sys.platform != "darwin" else kib / 2**20


def verdict(label: str, ratio: float, target: float, higher_is_better: bool) -> bool:
    """Print `label: ratio (target) PASS|FAIL` and return whether it passed."""
    ok = ratio >= target if higher_is_better else ratio <= target
    sign = ">=" if higher_is_better else "<="
    print(f"   RESULT {label}: {ratio:.3f}x (target {sign} {target:g}x) {'PASS' if ok else 'FAIL'}")
    return ok


class Profile:
    """Accumulate wall-clock seconds spent in chosen functions by wrapping them (in this process
    only, restored on exit): `with Profile({"render": (module, "load")}) as p: ...; p.seconds`."""

    def __init__(self, targets: dict[str, tuple[object, str]]):
        self.targets = targets
        self.seconds: dict[str, float] = defaultdict(float)
        self._saved: list[tuple[object, str, object]] = []

    def __enter__(self) -> Profile:
        for label, (owner, attr) in self.targets.items():
            original = getattr(owner, attr)
            self._saved.append((owner, attr, original))

            def wrapper(*args, _original=original, _label=label, **kwargs):
                start = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    self.seconds[_label] += time.perf_counter() - start

            setattr(owner, attr, functools.wraps(original)(wrapper))
        return self

    def __exit__(self, *exc) -> None:
        for owner, attr, original in reversed(self._saved):
            setattr(owner, attr, original)


def exit_report() -> None:
    """Reports, not tests: always exit 0."""
    print(f"   {_load()} at end")
    sys.exit(0)


__all__ = [
    "REPO", "CONF_DIR", "PYTHON", "header", "temp_dir", "fresh_dir", "timed", "report_samples", "interleaved_medians", "compose",
    "run_in_process", "bench_env", "Completed", "run_pointbench", "max_rss_mib", "verdict", "Profile", "exit_report",
]
