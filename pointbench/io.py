"""Files: atomic writes (temporary file, then rename) for tables and predictions."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from pointbench.types import Tracks


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it to `path`, on error remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the permissions open() would
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def safe_filename(name: str) -> str:
    """A file name for a video name: path separators and odd characters become '_'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip(".") or "_"


def save_predictions(path: Path, tracks: Tracks, queries: np.ndarray, **extra) -> None:
    """Write `xy`, `visible`, `queries` (+ `confidence`, `xyz`, `xyz_frame` when set, + `extra` arrays) to .npz."""
    arrays = dict(tracks.arrays(), queries=queries, **{k: np.asarray(v) for k, v in extra.items()})
    if tracks.xyz_frame is not None:
        arrays["xyz_frame"] = np.array(tracks.xyz_frame)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def load_predictions(path: Path) -> tuple[Tracks, np.ndarray, dict]:
    """Read a file written by `save_predictions`: (tracks, queries, extra); 0-d extras come back as scalars."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    queries = arrays.pop("queries")
    xyz_frame = str(arrays.pop("xyz_frame")) if "xyz_frame" in arrays else None
    track_keys = ("xy", "visible", "confidence", "xyz")
    extra = {k: arrays.pop(k) for k in list(arrays) if k not in track_keys}
    extra = {k: v.item() if v.ndim == 0 else v for k, v in extra.items()}
    return Tracks(**arrays, xyz_frame=xyz_frame, owner=str(path)), queries, extra
