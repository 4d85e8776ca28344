"""Checks shared by the dataset readers: camera matrices, and standing in for files that cannot be read.

A dataset lists its videos before any runs. A file that cannot be read must not fail that listing
(the other files' videos still run): it is listed under a placeholder name (`unreadable_name`) whose
`load` raises a copy (`fresh`) of the stored error (`detached`), which the runner records as that
video's error row.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from pointbench.types import invalid

__all__ = ["unreadable_name", "unique_name", "detached", "fresh", "check_intrinsics", "check_rigid"]


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name #2`, `name #3`, … : the first not in `taken` (which it joins)."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name} #{n}"
    taken.add(candidate)
    return candidate


def unreadable_name(path: Path, taken: set[str]) -> str:
    """The placeholder video name of a file that cannot be read: `<file name> (unreadable)`."""
    return unique_name(f"{Path(path).name} (unreadable)", taken)


def detached(error: BaseException) -> BaseException:
    """`error` without its traceback and chained causes, so keeping it keeps no half-read file alive."""
    error.__traceback__ = error.__cause__ = error.__context__ = None
    return error


def fresh(error: BaseException) -> BaseException:
    """A copy of a kept error to raise (raising the kept one would attach, and keep, each raiser's frames)."""
    return copy.copy(error)


def _index(flat: int, shape: tuple) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape))


def check_intrinsics(k: np.ndarray, owner, key: str) -> np.ndarray:
    """`k` `(..., 3, 3)` if every matrix is a finite pinhole matrix `[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`
    with fx, fy > 0 (so it can be inverted); else an error naming `owner`, `key` and the first bad one."""
    k = np.asarray(k, np.float64)
    flat = k.reshape(-1, 3, 3)
    good = (np.isfinite(flat).all(axis=(1, 2)) & (flat[:, 0, 0] > 0) & (flat[:, 1, 1] > 0) & (flat[:, 1, 0] == 0)
            & (flat[:, 2] == [0, 0, 1]).all(axis=1))
    if not good.all():
        first = int(np.argmin(good))
        where = f" at index {_index(first, k.shape[:-2])}" if k.ndim > 2 else ""
        raise invalid(owner, key, "finite intrinsics [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0",
                      f"{flat[first].tolist()}{where}")
    return k


def check_rigid(m: np.ndarray, owner, key: str, atol: float = 1e-3) -> np.ndarray:
    """`m` `(..., 3, 4)` or `(..., 4, 4)` if every matrix is a finite rigid transform `[R | t]` (R a
    rotation, up to `atol`; a 4×4 with last row 0 0 0 1); else an error naming `owner` and `key`."""
    m = np.asarray(m, np.float64)
    flat = m.reshape(-1, *m.shape[-2:])
    finite = np.isfinite(flat).all(axis=(1, 2))
    r = np.where(finite[:, None, None], flat[:, :3, :3], np.eye(3))
    orthonormal = np.abs(r @ r.transpose(0, 2, 1) - np.eye(3)).max(axis=(1, 2)) <= atol
    last = np.ones(len(flat), bool) if m.shape[-2] == 3 else np.isclose(flat[:, 3], [0, 0, 0, 1]).all(axis=1)
    good = finite & orthonormal & last
    if not good.all():
        first = int(np.argmin(good))
        where = f" at index {_index(first, m.shape[:-2])}" if m.ndim > 2 else ""
        raise invalid(owner, key, "finite rigid transforms [R | t] (R orthonormal; a 4×4's last row 0 0 0 1)",
                      f"{np.round(flat[first], 6).tolist()}{where}")
    return m
