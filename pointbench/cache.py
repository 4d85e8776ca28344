"""Prediction cache: one file per (tracker, dataset, inputs, video), outside the run dirs.

An entry is valid only for the exact inputs that made it. The cache folder is keyed by the run's
tracker and dataset identity (resolved configs, pointbench version) and by its provenance (the
fingerprints of every file the configs name and of the tracker's and dataset's code: see
`pointbench.provenance`); each entry also records the exact video name, its frame count and its
queries, and is a miss unless all three match. An unreadable entry is a miss with a warning; a
cache that cannot be written is a warning. Files are written atomically, so a run killed at any
moment leaves only whole files, and the next run picks up where it stopped.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from pointbench.identity import printable, stable_hash, video_key
from pointbench.io import decode_name, encode_name, load_predictions, save_predictions
from pointbench.profiling import Cost
from pointbench.types import Tracks

log = logging.getLogger("pointbench")

_COST_KEYS = ("seconds", "peak_mem_mb", "peak_gpu_mem_mb")
#: Kinds of entry: the predictions of the video's queries, and those of the backward (cycle) run.
KINDS = ("tracks", "cycle")


def _entry_cost(extra: dict) -> Cost:
    """The tracking cost an entry records: its `cost` array (`_COST_KEYS` in order; one array, as each
    member of an entry costs a read), or the separate keys entries were written with before."""
    cost = np.asarray(extra.get("cost", []), np.float64).ravel()
    if cost.shape == (len(_COST_KEYS),):
        return Cost(**dict(zip(_COST_KEYS, map(float, cost))))
    return Cost(**{k: float(extra.get(k, float("nan"))) for k in _COST_KEYS})


def default_cache_dir() -> Path:
    """`$POINTBENCH_CACHE`, else `$XDG_CACHE_HOME/pointbench`, else `~/.cache/pointbench`."""
    if os.environ.get("POINTBENCH_CACHE"):
        return Path(os.environ["POINTBENCH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pointbench"


def cache_key(identity: dict, provenance: dict) -> str:
    """The hash naming a cache folder: tracker and dataset identity, version and provenance (not scoring)."""
    return stable_hash({"tracker": identity["tracker"], "dataset": identity["dataset"],
                        "pointbench": identity["pointbench"], "provenance": provenance}, 20)


class PredictionCache:
    """Cached predictions of one tracker on one dataset with the given inputs, one `.npz` per video."""

    def __init__(self, root: Path, identity: dict, provenance: dict):
        name = f"{video_key(identity['tracker']['name'])}-{video_key(identity['dataset']['name'])}"
        self.dir = Path(root).expanduser() / f"{name}-{cache_key(identity, provenance)}"

    def path(self, video: str, kind: str = "tracks") -> Path:
        if kind not in KINDS:
            raise ValueError(f"cache entry kind must be one of {KINDS}; got {kind!r}")
        folder = self.dir if kind == "tracks" else self.dir / kind
        return folder / f"{video_key(video)}.npz"

    def has(self, video: str, kind: str = "tracks") -> bool:
        """Whether an entry of `kind` exists for `video` (`load` still checks that it matches)."""
        return self.path(video, kind).exists()

    def holds(self, kind: str) -> bool:
        """Whether any entry of `kind` was ever written here."""
        return self.path("", kind).parent.is_dir()

    def load(self, video: str, queries: np.ndarray, n_frames: int,
             kind: str = "tracks") -> tuple[Tracks, Cost, Path] | None:
        """The cached tracks, tracking cost and entry path of `video`, or None (a miss) unless the
        entry exists, reads, and was made for this video name, frame count and these queries."""
        path = self.path(video, kind)
        if not path.exists():
            return None
        try:
            tracks, cached_queries, extra = load_predictions(path)
            name = decode_name(extra["video_name"]) if "video_name" in extra else None
            frames = int(extra.get("n_frames", -1))
            cost = _entry_cost(extra)
        except Exception as error:  # a torn, truncated or foreign file: track again
            log.warning("cache entry %s is unreadable (%s: %s); tracking '%s' again", path, type(error).__name__,
                        error, printable(video))
            return None
        if name != video or frames != n_frames or not np.array_equal(cached_queries, queries) \
                or tracks.xy.shape != (len(queries), n_frames, 2):
            log.info("cache entry %s was made for other inputs (video, frame count or queries); tracking '%s' "
                     "again", path, printable(video))
            return None
        return tracks, cost, path

    def store(self, video: str, tracks: Tracks, queries: np.ndarray, n_frames: int, cost: Cost,
              kind: str = "tracks") -> None:
        """Write the entry; a cache that cannot be written costs a warning, never the video's scores."""
        path = self.path(video, kind)
        try:
            save_predictions(path, tracks, queries, video_name=encode_name(video), n_frames=np.int64(n_frames),
                             cost=np.array([getattr(cost, k) for k in _COST_KEYS], np.float64))
        except OSError as error:
            log.warning("could not write cache entry %s (%s: %s); the scores of '%s' stand", path,
                        type(error).__name__, error, printable(video))
