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


def temporary_prefix(path: Path) -> str:
    """The name prefix of temporary files beside `path`: hidden, and naming the writing process."""
    return f".{Path(path).name}.{os.getpid()}-"


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove temporary files in `folder` left by processes that no longer run (a killed run); returns them."""
    removed = []
    for tmp in Path(folder).glob(".*.tmp"):
        match = re.fullmatch(r"\..+\.(\d+)-[^.]*\.tmp", tmp.name)
        if match is None or _alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it to `path`, on error remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the permissions open() would
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` as UTF-8 CSV, atomically; text that is not valid Unicode (lone surrogates in a
    video name) is written as backslash escapes (the `video_key` column keeps the exact identity)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8", errors="backslashreplace")


def encode_name(name: str) -> np.ndarray:
    """A video name as a uint8 array (UTF-8, lone surrogates kept), for .npz files."""
    return np.frombuffer(str(name).encode("utf-8", "surrogatepass"), np.uint8)


def decode_name(array) -> str:
    """The inverse of `encode_name`."""
    return np.asarray(array, np.uint8).tobytes().decode("utf-8", "surrogatepass")


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
