"""Know a tracker's limits: time and peak memory over a grid of points × frames × resolution.

    pointbench-profile tracker=lk --points 256,1024,4096 --frames 24,48,96 --resolution 256x256,480x640
    pointbench-profile tracker=cotracker3_online tracker.checkpoint=random --points 256,1024 --frames 16,64

Each cell of the grid tracks `num_points` queries through `num_frames` synthetic frames of `height × width`
(a smooth random texture under a known, smooth translation: cheap and deterministic in `--seed`) and records

- `seconds`, `fps_model`: the `track()` call alone (median over `--repeats`);
- `fps_end_to_end`: making and validating the inputs, `track()` and checking its output;
- `latency_ms_per_frame`: online trackers that expose per-frame stepping (`online_steps`, below); else empty (N/A);
- `peak_mem_mb`: peak resident memory of the process during `track()`; `base_mem_mb`: its resident memory just
  before (inputs made, tracker built); `track_mem_mb`: the difference, what tracking adds; `peak_gpu_mem_mb`:
  CUDA's peak allocation during `track()` where the tracker uses torch with CUDA;
- `status`: `ok`, `oom` (MemoryError, CUDA out of memory, an allocation failure, or the process killed by
  SIGKILL as the kernel's OOM killer does), `timeout` (`--timeout-per-cell`), `error`, or `skipped`
  (`--skip-larger`: at least as large on every axis as a cell that ran out of memory); `error` says why.

Memory per cell. A process's peak RSS never goes down, so by default (`--isolate`) every cell runs in a fresh
subprocess: an OOM or a crash ends only that cell, and no cell inherits another's heap. Within the cell the kernel's
high-water mark (VmHWM) is reset just before `track()` (Linux: /proc/self/clear_refs) and read right after it, so
the peak is exact rather than sampled; elsewhere `pointbench.profiling.measure` samples the resident size.
`--no-isolate` runs every cell in this process (the tracker is built once): quicker, but freed memory that the
allocator keeps can be reused by a later cell without showing as growth, so `track_mem_mb` may read low.

Online trackers (config `online: true`, or a tracker attribute `online`) get a per-frame latency when the tracker
has a method `online_steps(frames, queries)`: an iterator that yields, after each step, how many frames it has
consumed so far (1, 2, 3, … for a causal tracker; a window's worth for a windowed one). The latency is the median
over steps of the step's seconds per new frame. Trackers without it get N/A (an empty value), and a log line says so.

Writes `profile.csv` (one row per cell; rewritten after every cell, so an interrupted profile keeps what ran) and,
with matplotlib installed, `profile.png`: time and memory against points × frames (log-log), one line per
resolution, the cells that ran out of memory and the frontier (the smallest points × frames that did) marked.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import logging
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger("pointbench.limits")

CONF_DIR = Path(__file__).resolve().parent / "conf"
STATUS_OK, STATUS_OOM, STATUS_TIMEOUT, STATUS_ERROR, STATUS_SKIPPED = "ok", "oom", "timeout", "error", "skipped"
COLUMNS = ("tracker", "num_points", "num_frames", "height", "width", "seconds", "fps_model", "fps_end_to_end",
           "latency_ms_per_frame", "peak_mem_mb", "peak_gpu_mem_mb", "status", "error",
           "seconds_end_to_end", "base_mem_mb", "track_mem_mb", "repeats", "tracker_config")
_NUMERIC = ("seconds", "fps_model", "fps_end_to_end", "latency_ms_per_frame", "peak_mem_mb", "peak_gpu_mem_mb",
            "seconds_end_to_end", "base_mem_mb", "track_mem_mb")
DEFAULT_POINTS, DEFAULT_FRAMES, DEFAULT_RESOLUTION = "256,1024,4096", "24,48,96", "256x256"


# --- The grid -----------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, order=True)
class Cell:
    """One size of the grid."""

    num_points: int
    num_frames: int
    height: int
    width: int

    def label(self) -> str:
        return f"N={self.num_points} T={self.num_frames} {self.height}x{self.width}"

    def dominates(self, other: Cell) -> bool:
        """At least as large as `other` on every axis."""
        return (self.num_points >= other.num_points and self.num_frames >= other.num_frames
                and self.height >= other.height and self.width >= other.width)


def grid(points: list[int], frames: list[int], resolutions: list[tuple[int, int]]) -> list[Cell]:
    """Every combination, smallest first: resolution (by pixels), then frames, then points."""
    return [Cell(n, t, h, w) for h, w in sorted(set(resolutions), key=lambda r: (r[0] * r[1], r))
            for t in sorted(set(frames)) for n in sorted(set(points))]


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 64,256,1024; got {text!r}")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 64,256,1024; got {text!r}")
    return values


def _resolutions(text: str) -> list[tuple[int, int]]:
    values = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        match = re.fullmatch(r"(\d+)[xX×](\d+)", part)
        if not match or min(int(match[1]), int(match[2])) < 8:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated HEIGHTxWIDTH sizes of at least 8 pixels like 256x256,480x640; got {part!r}")
        values.append((int(match[1]), int(match[2])))
    if not values:
        raise argparse.ArgumentTypeError(f"expected sizes like 256x256,480x640; got {text!r}")
    return values


# --- Synthetic inputs ---------------------------------------------------------------------------------------

def synthetic_motion(num_frames: int, height: int, width: int) -> np.ndarray:
    """The translation (dx, dy) float32 `(T, 2)` of the synthetic frames' content: smooth and bounded."""
    t = np.arange(num_frames, dtype=np.float64)
    amplitude = 0.08 * min(height, width)
    return np.stack([amplitude * np.sin(2 * np.pi * t / 48), 0.5 * amplitude * np.sin(2 * np.pi * t / 32)],
                    axis=1).astype(np.float32)


def synthetic_frames(num_frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """uint8 RGB frames `(T, H, W, 3)`: one smooth random texture (three octaves) shifted by `synthetic_motion`.

    The content at raster position p in frame s is at p + motion[s] - motion[t] in frame t.

    >>> synthetic_frames(3, 16, 20).shape
    (3, 16, 20, 3)
    """
    import cv2

    rng = np.random.default_rng(seed)
    motion = synthetic_motion(num_frames, height, width)
    margin = int(np.ceil(np.abs(motion).max(initial=0))) + 2
    canvas_h, canvas_w = height + 2 * margin, width + 2 * margin
    texture = np.zeros((canvas_h, canvas_w, 3), np.float32)
    for cell, weight in ((32, 0.5), (8, 0.3), (2, 0.2)):
        coarse = rng.random((canvas_h // cell + 2, canvas_w // cell + 2, 3), dtype=np.float32)
        texture += weight * cv2.resize(coarse, (canvas_w, canvas_h), interpolation=cv2.INTER_CUBIC)
    low, high = np.percentile(texture, [1, 99])
    texture = np.clip((texture - low) / max(high - low, 1e-6) * 255, 0, 255).astype(np.uint8)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for t, (dx, dy) in enumerate(motion):
        # dst(x, y) = texture(x + margin + dx, y + margin + dy): the content moves by -motion[t]
        shift = np.array([[1, 0, margin + dx], [0, 1, margin + dy]], np.float64)
        frames[t] = cv2.warpAffine(texture, shift, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_REFLECT)
    return frames


def synthetic_queries(num_points: int, num_frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """float32 `(N, 3)` queries `(t, x, y)`: frames uniform over the video, positions uniform inside the image."""
    rng = np.random.default_rng([seed, 1])
    t = rng.integers(0, num_frames, num_points)
    x = rng.uniform(0.5, width - 0.5, num_points)
    y = rng.uniform(0.5, height - 0.5, num_points)
    return np.stack([t, x, y], axis=1).astype(np.float32)


# --- Memory -------------------------------------------------------------------------------------------------

def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process to its current RSS (Linux ≥ 4.0); False where impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _release_free_memory() -> None:
    """Give the pages of freed heap memory back to the system (glibc's malloc_trim), so that memory the allocator
    keeps from before (the inputs' temporaries, a previous call) cannot be reused by the measured call unseen."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None


def _peak_rss_mb() -> float:
    """The kernel's peak-RSS mark of this process (VmHWM) in MiB; NaN where unavailable."""
    try:
        with open("/proc/self/status") as f:
            match = re.search(r"^VmHWM:\s+(\d+)\s+kB", f.read(), re.MULTILINE)
        return int(match[1]) / 1024 if match else float("nan")
    except OSError:
        return float("nan")


def is_out_of_memory(error: BaseException) -> bool:
    """MemoryError (numpy's too), torch's CUDA OutOfMemoryError (torch is not imported for this), or an error whose
    message says it ran out of memory (RuntimeError from torch, cv2.error from OpenCV's allocator)."""
    if isinstance(error, MemoryError):
        return True
    torch = sys.modules.get("torch")
    for owner, name in ((torch, "OutOfMemoryError"), (getattr(torch, "cuda", None), "OutOfMemoryError")):
        cls = getattr(owner, name, None) if owner is not None else None
        if isinstance(cls, type) and isinstance(error, cls):
            return True
    message = str(error).lower()
    return isinstance(error, Exception) and any(
        s in message for s in ("out of memory", "insufficient memory", "failed to allocate", "cannot allocate memory"))


def _free_memory() -> None:
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


# --- One cell -----------------------------------------------------------------------------------------------

class _CellTimeout(Exception):
    pass


@contextlib.contextmanager
def _alarm(seconds: float | None):
    """Raise `_CellTimeout` in the body after `seconds` (SIGALRM; main thread on Unix only, else no limit). A
    long call into C code is interrupted only when it returns to Python: `--isolate` enforces the limit exactly."""
    usable = seconds and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise _CellTimeout(f"ran longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def is_online(tracker, params: dict) -> bool:
    return bool(params.get("online", False)) or bool(getattr(tracker, "online", False))


def _latency_ms(tracker, frames: np.ndarray, queries: np.ndarray) -> float:
    """Median seconds per new frame over the steps of `tracker.online_steps` (ms); NaN without that method."""
    steps = getattr(tracker, "online_steps", None)
    if not callable(steps):
        return float("nan")
    per_frame, consumed = [], 0
    last = time.perf_counter()
    for processed in steps(frames, queries):
        now, new = time.perf_counter(), int(processed) - consumed
        if new > 0:
            per_frame.append((now - last) / new)
            consumed = int(processed)
        last = now
    return 1000 * statistics.median(per_frame) if per_frame else float("nan")


def _row(name: str, cell: Cell, config: dict, repeats: int, **values) -> dict:
    row = {c: float("nan") for c in _NUMERIC}
    row.update(tracker=name, num_points=cell.num_points, num_frames=cell.num_frames, height=cell.height,
               width=cell.width, status=STATUS_OK, error="", repeats=repeats,
               tracker_config=json.dumps(config, sort_keys=True, default=str))
    row.update(values)
    return row


def _one_line(error: BaseException | str, limit: int = 300) -> str:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def profile_cell(tracker, name: str, params: dict, cell: Cell, repeats: int = 1, seed: int = 0,
                 timeout: float | None = None) -> dict:
    """Measure one cell in this process: a row of `COLUMNS` (status `oom` / `timeout` / `error` on failure)."""
    from pointbench.profiling import measure
    from pointbench.runner import check_prediction
    from pointbench.types import validate_frames, validate_queries

    n, t, h, w = cell.num_points, cell.num_frames, cell.height, cell.width
    model, end_to_end, peaks, bases, added, gpu = [], [], [], [], [], []
    latency = float("nan")
    frames = queries = pred = None
    try:
        with _alarm(timeout):
            # A tiny call first: lazy imports, kernel compilation and CUDA start-up are not the cell's cost.
            warm = min(8, t)
            tracker.track(synthetic_frames(warm, h, w, seed), synthetic_queries(min(8, n), warm, h, w, seed))
            for _ in range(repeats):
                start = time.perf_counter()
                frames = validate_frames(synthetic_frames(t, h, w, seed), "synthetic frames")
                queries = validate_queries(synthetic_queries(n, t, h, w, seed), t, "synthetic queries")
                inputs_seconds = time.perf_counter() - start
                # Not part of either time: collect garbage, return freed pages, reset the peak mark.
                gc.collect()
                _release_free_memory()
                exact_peak = _reset_peak_rss()
                start = time.perf_counter()
                with measure() as cost:
                    base = cost.peak_mem_mb  # resident size at entry
                    pred = tracker.track(frames, queries)
                peak = max(cost.peak_mem_mb, _peak_rss_mb()) if exact_peak else cost.peak_mem_mb
                check_prediction(pred, n, t, "synthetic", name)
                end_to_end.append(inputs_seconds + time.perf_counter() - start)
                model.append(cost.seconds)
                peaks.append(peak)
                bases.append(base)
                added.append(peak - base)
                gpu.append(cost.peak_gpu_mem_mb)
                frames = queries = pred = None
            if is_online(tracker, params):
                latency = _latency_ms(tracker, synthetic_frames(t, h, w, seed), synthetic_queries(n, t, h, w, seed))
    except _CellTimeout as error:
        frames = queries = pred = None
        _free_memory()
        return _row(name, cell, params, repeats, status=STATUS_TIMEOUT, error=_one_line(str(error)))
    except Exception as error:  # noqa: BLE001 - a cell's failure is its row; the profile goes on
        frames = queries = pred = None
        status = STATUS_OOM if is_out_of_memory(error) else STATUS_ERROR
        _free_memory()
        return _row(name, cell, params, repeats, status=status, error=_one_line(error))
    seconds, seconds_e2e = statistics.median(model), statistics.median(end_to_end)
    finite_gpu = [g for g in gpu if math.isfinite(g)]
    return _row(name, cell, params, repeats,
                seconds=seconds, fps_model=t / seconds if seconds > 0 else float("nan"),
                fps_end_to_end=t / seconds_e2e if seconds_e2e > 0 else float("nan"),
                latency_ms_per_frame=latency, peak_mem_mb=max(peaks), peak_gpu_mem_mb=max(finite_gpu, default=float("nan")),
                seconds_end_to_end=seconds_e2e, base_mem_mb=bases[0], track_mem_mb=max(added))


def _build(params: dict):
    from omegaconf import OmegaConf

    from pointbench.runner import build

    return build(OmegaConf.create(params), "tracker")


_CHILD = "import sys; from pointbench.limits import _cell_main; _cell_main(sys.argv[1], sys.argv[2])"


def _cell_main(spec_path: str, result_path: str) -> None:
    """Entry point of an isolated cell: build the tracker, measure the cell, write its row as JSON."""
    spec = json.loads(Path(spec_path).read_text())
    cell = Cell(**spec["cell"])
    params = spec["tracker"]
    try:
        name, tracker = _build(params)
    except Exception as error:  # noqa: BLE001
        status = STATUS_OOM if is_out_of_memory(error) else STATUS_ERROR
        row = _row(params.get("name", "?"), cell, params, spec["repeats"], status=status,
                   error=_one_line(f"building the tracker: {type(error).__name__}: {error}"))
    else:
        row = profile_cell(tracker, name, params, cell, spec["repeats"], spec["seed"])
    Path(result_path).write_text(json.dumps(row, allow_nan=True))


def _child_env() -> dict[str, str]:
    """This process's environment, with its import path, so a child resolves every `_target_` as this process does."""
    paths = [os.getcwd() if p == "" else p for p in sys.path if isinstance(p, str)]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(dict.fromkeys(paths)))


def profile_cell_isolated(params: dict, cell: Cell, repeats: int = 1, seed: int = 0,
                          timeout: float | None = None, workdir: Path | None = None) -> dict:
    """Measure one cell in a fresh subprocess (the tracker built there): a crash or an OOM kill ends that cell only."""
    name = params.get("name", "?")
    with tempfile.TemporaryDirectory(prefix="pointbench-profile-", dir=workdir) as tmp:
        spec, result = Path(tmp) / "spec.json", Path(tmp) / "row.json"
        spec.write_text(json.dumps({"tracker": params, "cell": dataclasses.asdict(cell), "repeats": repeats,
                                    "seed": seed}))
        try:
            proc = subprocess.run([sys.executable, "-c", _CHILD, str(spec), str(result)], env=_child_env(),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return _row(name, cell, params, repeats, status=STATUS_TIMEOUT, error=f"ran longer than {timeout:g} s")
        if result.exists():
            row = json.loads(result.read_text())
            return {c: row.get(c) for c in COLUMNS}
        tail = [line for line in proc.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        detail = f": {tail[-1].strip()}" if tail else ""
        if proc.returncode < 0:
            signame = signal.Signals(-proc.returncode).name
            if -proc.returncode == signal.SIGKILL:
                return _row(name, cell, params, repeats, status=STATUS_OOM,
                            error=_one_line(f"process killed by SIGKILL (as the kernel's OOM killer does){detail}"))
            return _row(name, cell, params, repeats, status=STATUS_ERROR,
                        error=_one_line(f"process crashed with {signame}{detail}"))
        return _row(name, cell, params, repeats, status=STATUS_ERROR,
                    error=_one_line(f"process exited {proc.returncode} without a result{detail}"))


# --- The profile --------------------------------------------------------------------------------------------

def compose_tracker(overrides: list[str]) -> dict:
    """The resolved `tracker` node of the pointbench config under Hydra-style `overrides` (compose API)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import pointbench.runner  # noqa: F401 - installed tracker plugins become config choices

    for override in overrides:
        key = override.lstrip("+~").split("=", 1)[0]
        if key.split("@", 1)[0].split(".", 1)[0].split("/", 1)[0] != "tracker":
            raise ValueError(f"override {override!r}: pointbench-profile takes only tracker overrides "
                             f"(tracker=NAME, tracker.KEY=VALUE); the grid options set the sizes")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    return OmegaConf.to_container(cfg.tracker, resolve=True)


def profile(params: dict, cells: list[Cell], repeats: int = 1, seed: int = 0, isolate: bool = True,
            timeout: float | None = None, skip_larger: bool = False, csv_path: Path | None = None) -> pd.DataFrame:
    """Measure every cell (see the module docstring); with `csv_path`, the table is rewritten after each cell."""
    name = params.get("name", "?")
    rows: list[dict] = []
    oom_cells: list[Cell] = []
    tracker = build_failure = None
    if not isolate:
        try:
            name, tracker = _build(params)
        except Exception as error:  # noqa: BLE001 - every cell says why, as isolated cells do
            build_failure = (STATUS_OOM if is_out_of_memory(error) else STATUS_ERROR,
                             _one_line(f"building the tracker: {type(error).__name__}: {error}"))
    for i, cell in enumerate(cells, 1):
        blocker = next((c for c in oom_cells if cell.dominates(c)), None) if skip_larger else None
        if build_failure is not None:
            row = _row(name, cell, params, repeats, status=build_failure[0], error=build_failure[1])
        elif blocker is not None:
            row = _row(name, cell, params, repeats, status=STATUS_SKIPPED,
                       error=f"at least as large as {blocker.label()}, which ran out of memory")
        elif isolate:
            row = profile_cell_isolated(params, cell, repeats, seed, timeout)
        else:
            row = profile_cell(tracker, name, params, cell, repeats, seed, timeout)
        if row["status"] == STATUS_OOM:
            oom_cells.append(cell)
        rows.append(row)
        log.info("[%d/%d] %s: %s", i, len(cells), cell.label(), _progress(row))
        if csv_path is not None:
            from pointbench.io import write_csv

            write_csv(_table(rows), csv_path)
    return _table(rows)


def _progress(row: dict) -> str:
    if row["status"] != STATUS_OK:
        return f"{row['status']} ({row['error']})"
    text = f"ok {row['seconds']:.3f} s, {row['fps_model']:.1f} fps, +{row['track_mem_mb']:.1f} MB"
    if math.isfinite(row["peak_gpu_mem_mb"]):
        text += f", GPU peak {row['peak_gpu_mem_mb']:.1f} MB"
    return text


def _table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in _NUMERIC:
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    return table


def format_table(table: pd.DataFrame) -> str:
    """The profile for the terminal (latency N/A where not measured)."""
    shown = pd.DataFrame({
        "points": table["num_points"], "frames": table["num_frames"],
        "size": table["height"].astype(str) + "x" + table["width"].astype(str),
        "seconds": table["seconds"].map(_fmt(3)), "fps_model": table["fps_model"].map(_fmt(1)),
        "fps_e2e": table["fps_end_to_end"].map(_fmt(1)),
        "latency_ms": table["latency_ms_per_frame"].map(_fmt(2, "N/A")),
        "peak_mb": table["peak_mem_mb"].map(_fmt(1)), "track_mb": table["track_mem_mb"].map(_fmt(1)),
        "gpu_peak_mb": table["peak_gpu_mem_mb"].map(_fmt(1)), "status": table["status"],
    })
    if not table["peak_gpu_mem_mb"].notna().any():
        shown = shown.drop(columns="gpu_peak_mb")
    return shown.to_string(index=False)


def _fmt(digits: int, missing: str = "–"):
    return lambda v: f"{v:.{digits}f}" if pd.notna(v) else missing


# --- The plot -----------------------------------------------------------------------------------------------

def plot(table: pd.DataFrame, path: Path) -> bool:
    """profile.png: seconds and memory against points × frames (log-log), a line per resolution, OOM marked.
    False (and a log line) without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        log.info("no profile.png: plotting needs matplotlib (pip install 'pointbench[report]')")
        return False
    fig = Figure(figsize=(11, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax_time, ax_mem = fig.subplots(1, 2)
    table = table.assign(nt=table["num_points"] * table["num_frames"])
    sizes = sorted({(int(h), int(w)) for h, w in zip(table["height"], table["width"])}, key=lambda s: s[0] * s[1])
    colours = [f"C{i % 10}" for i in range(len(sizes))]
    has_gpu = table["peak_gpu_mem_mb"].notna().any()
    markers = dict(zip(sorted(set(table["num_frames"])), "o^sDvP*Xh<>"))
    for i, ((h, w), colour) in enumerate(zip(sizes, colours)):
        part = table[(table["height"] == h) & (table["width"] == w)].sort_values(["nt", "num_frames"])
        ok = part[part["status"] == STATUS_OK]
        # One line per resolution (its colour): a segment per frame count (its marker) joins its point counts.
        for k, (frames, line) in enumerate(ok.groupby("num_frames")):
            style = dict(color=colour, marker=markers.get(frames, "o"), ms=5)
            label = f"{h}x{w}" if k == 0 else None
            ax_time.plot(line["nt"], line["seconds"], "-", label=label, **style)
            mem = line[line["track_mem_mb"] > 0]
            ax_mem.plot(mem["nt"], mem["track_mem_mb"], "-", label=label and f"{label} RSS", **style)
            if has_gpu:
                gpu = line[line["peak_gpu_mem_mb"] > 0]
                ax_mem.plot(gpu["nt"], gpu["peak_gpu_mem_mb"], "--", mfc="none",
                            label=label and f"{label} GPU peak", **style)
        oom = part[part["status"] == STATUS_OOM]
        if len(oom):
            frontier = oom["nt"].min()
            for ax in (ax_time, ax_mem):
                ax.axvline(frontier, color=colour, ls=":", lw=1.5)
                ax.plot(oom["nt"], np.ones(len(oom)), "x", color=colour, ms=9, mew=2,
                        transform=ax.get_xaxis_transform(), clip_on=False)
                ax.annotate(f"{h}x{w}: OOM ≥ {frontier:,}", (frontier, 0.02 + 0.3 * (i % 3)),
                            xycoords=ax.get_xaxis_transform(),
                            rotation=90, fontsize=7, color=colour, xytext=(3, 0), textcoords="offset points")
    ran = table[table["status"] == STATUS_OK]
    for ax, values in ((ax_time, ran["seconds"]), (ax_mem, pd.concat([ran["track_mem_mb"], ran["peak_gpu_mem_mb"]]))):
        if not (values > 0).any():
            ax.set_ylim(0, 1)  # nothing measured to show on a log scale (every cell failed, or used no memory)
            ax.set_yscale("linear")
        else:
            ax.set_yscale("log")
    for ax, ylabel, title in (
            (ax_time, "seconds (track() call, median)", "time"),
            (ax_mem, "MB added by tracking (peak RSS − RSS before)" + (" / GPU peak" if has_gpu else ""), "memory")):
        ax.set_xscale("log")
        ax.set_xlabel("points × frames")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{table['tracker'].iloc[0] if len(table) else ''} {title}; × = out of memory, ⋮ = frontier",
                     fontsize=10)
        ax.grid(alpha=0.3, which="both")
        handles, labels = ax.get_legend_handles_labels()
        for frames, marker in markers.items():
            handles.append(ax.plot([], [], marker, color="grey", ls="none")[0])
            labels.append(f"{frames} frames")
        if handles:
            ax.legend(handles, labels, fontsize=7)
    fig.savefig(path, format="png", dpi=100, metadata={"Software": None})
    return True


# --- Command line -------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pointbench-profile",
        description="Measure a tracker's time and peak memory over a grid of points × frames × resolution on "
                    "synthetic frames; record where it runs out of memory. Writes profile.csv and profile.png.",
        epilog="example: pointbench-profile tracker=lk tracker.win_size=21 --points 64,256,1024 "
               "--frames 24,48,96 --resolution 256x256,480x640")
    parser.add_argument("overrides", nargs="*", help="tracker overrides, Hydra style: tracker=lk tracker.win_size=21")
    parser.add_argument("--points", type=_int_list, default=_int_list(DEFAULT_POINTS),
                        help=f"numbers of query points (default {DEFAULT_POINTS})")
    parser.add_argument("--frames", type=_int_list, default=_int_list(DEFAULT_FRAMES),
                        help=f"numbers of frames (default {DEFAULT_FRAMES})")
    parser.add_argument("--resolution", type=_resolutions, default=_resolutions(DEFAULT_RESOLUTION),
                        help=f"frame sizes HEIGHTxWIDTH (default {DEFAULT_RESOLUTION})")
    parser.add_argument("--repeats", type=int, default=1, help="timed calls per cell; seconds are their median (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic frames and queries (default 0)")
    parser.add_argument("--out", type=Path, help="output dir (default outputs/profile/<date>/<time>_<tracker>)")
    parser.add_argument("--timeout-per-cell", type=float, default=None, metavar="SECONDS",
                        help="a cell running longer gets status=timeout (default: no limit); with --isolate the "
                             "limit includes starting the subprocess and building the tracker there")
    parser.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=True,
                        help="each cell in a fresh subprocess (default): an OOM or crash ends only that cell, and its "
                             "peak memory is its own; --no-isolate: all cells in this process, the tracker built once")
    parser.add_argument("--skip-larger", action="store_true",
                        help="skip (status=skipped) cells at least as large on every axis as one that ran out of memory")
    parser.add_argument("--no-plot", action="store_true", help="do not write profile.png")
    args = parser.parse_intermixed_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.timeout_per_cell is not None and args.timeout_per_cell <= 0:
        parser.error("--timeout-per-cell must be positive")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.setLevel(logging.INFO)

    try:
        params = compose_tracker(args.overrides)
    except Exception as error:  # noqa: BLE001 - a bad override or tracker name: say so and stop
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    name = params.get("name", "tracker")
    out = args.out or Path("outputs", "profile", datetime.now().strftime("%Y-%m-%d"),
                           f"{datetime.now():%H-%M-%S}_{name}")
    out.mkdir(parents=True, exist_ok=True)
    cells = grid(args.points, args.frames, args.resolution)
    log.info("profiling %s over %d cells (%s), %s", name, len(cells),
             "each in its own process" if args.isolate else "in this process", "repeats %d" % args.repeats)
    table = profile(params, cells, args.repeats, args.seed, args.isolate, args.timeout_per_cell, args.skip_larger,
                    csv_path=out / "profile.csv")
    ran = table[table["status"] == STATUS_OK]
    if bool(params.get("online", False)) and len(ran) and ran["latency_ms_per_frame"].isna().all():
        log.info("latency_ms_per_frame: N/A: %s is online but has no per-frame stepping (online_steps)", name)
    print(format_table(table))
    if not args.no_plot and plot(table, out / "profile.png"):
        print(f"plot: {out / 'profile.png'}")
    print(f"profile: {out / 'profile.csv'}")
    counts = table["status"].value_counts()
    frontier = table[table["status"] == STATUS_OOM]
    if len(frontier):
        print("out of memory from: " + "; ".join(
            f"{h}x{w}: points × frames ≥ {int((g['num_points'] * g['num_frames']).min()):,}"
            for (h, w), g in frontier.groupby(["height", "width"])))
    return 1 if counts.get(STATUS_ERROR, 0) else 0


if __name__ == "__main__":
    sys.exit(main())
