"""Prediction cache: one file per (tracker config, dataset config, video), outside the run dirs.

Keys are hashes of the resolved configs and the pointbench version, so a changed parameter or a
new release never reuses old predictions. Files are written atomically, so a run killed at any
moment leaves only whole files, and the next run picks up where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from pointbench import __version__
from pointbench.io import load_predictions, safe_filename, save_predictions
from pointbench.profiling import Cost
from pointbench.types import Tracks

_COST_KEYS = ("seconds", "peak_mem_mb", "peak_gpu_mem_mb")


def default_cache_dir() -> Path:
    """`$POINTBENCH_CACHE`, else `$XDG_CACHE_HOME/pointbench`, else `~/.cache/pointbench`."""
    if os.environ.get("POINTBENCH_CACHE"):
        return Path(os.environ["POINTBENCH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pointbench"


def config_hash(config: dict) -> str:
    """A short, stable hash of a resolved config and the pointbench version."""
    text = json.dumps({"config": config, "pointbench": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class PredictionCache:
    """Predictions of one tracker config on one dataset config, one `.npz` per video."""

    def __init__(self, root: Path, tracker: str, tracker_config: dict, dataset: str, dataset_config: dict):
        self.dir = (Path(root).expanduser() / f"{safe_filename(tracker)}-{config_hash(tracker_config)}"
                    / f"{safe_filename(dataset)}-{config_hash(dataset_config)}")

    def path(self, video: str) -> Path:
        return self.dir / f"{safe_filename(video)}.npz"

    def load(self, video: str, queries: np.ndarray) -> tuple[Tracks, Cost] | None:
        """The cached tracks and tracking cost of `video`, or None if absent or made for other queries."""
        path = self.path(video)
        if not path.exists():
            return None
        tracks, cached_queries, scalars = load_predictions(path)
        if not np.array_equal(cached_queries, queries):
            return None
        return tracks, Cost(**{k: scalars.get(k, float("nan")) for k in _COST_KEYS})

    def store(self, video: str, tracks: Tracks, queries: np.ndarray, cost: Cost) -> None:
        save_predictions(self.path(video), tracks, queries, **{k: getattr(cost, k) for k in _COST_KEYS})
