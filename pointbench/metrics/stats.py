"""Statistics over videos: is a mean, or a difference between two trackers, more than noise?

Pure numpy functions. The unit of resampling is the video (the TAP-Vid dataset score is a mean
over videos), and every random draw comes from a seeded generator, so the same inputs always give
the same numbers.

>>> low, high = bootstrap_ci([0.4, 0.5, 0.6, 0.5], n_resamples=2000)
>>> bool(low <= 0.5 <= high)
True
>>> paired_test([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])["p_value"]
1.0
"""

from __future__ import annotations

import numpy as np

__all__ = ["EXACT_MAX_N", "bootstrap_ci", "paired_test"]

#: Up to this many videos the sign-flip test enumerates all 2**n sign patterns (exact p-value).
EXACT_MAX_N = 16
# Resamples are drawn in blocks of at most this many cells (resamples × videos), to bound memory.
_BLOCK_CELLS = 1 << 20


def _values(values, name: str) -> np.ndarray:
    """`values` as a finite, non-empty 1-D float64 array, or a ValueError naming `name`."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of per-video values; got shape {array.shape}")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ValueError(f"{name} must be finite; got {array[bad[0]]} at index {bad[0]} (drop unscored videos first)")
    return array


def _check_resamples(n_resamples: int) -> int:
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer; got {n_resamples!r}")
    return int(n_resamples)


def _blocks(n_resamples: int, n: int):
    """(start, stop) row ranges of at most `_BLOCK_CELLS` cells: one block unless n is large."""
    rows = max(1, _BLOCK_CELLS // n)
    return ((start, min(start + rows, n_resamples)) for start in range(0, n_resamples, rows))


def _bootstrap_means(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of `n_resamples` resamples of `values` with replacement, drawn as index matrices."""
    means = np.empty(n_resamples)
    for start, stop in _blocks(n_resamples, values.size):
        means[start:stop] = values[rng.integers(0, values.size, size=(stop - start, values.size))].mean(axis=1)
    return means


def bootstrap_ci(values, n_resamples: int = 10000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of `values` (one value per video).

    Resamples the videos with replacement `n_resamples` times and returns the
    `(1 - confidence) / 2` and `(1 + confidence) / 2` quantiles of the resampled means. With one
    video, or all values equal, the interval is that value.
    """
    values = _values(values, "values")
    n_resamples = _check_resamples(n_resamples)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    means = _bootstrap_means(values, n_resamples, np.random.default_rng(seed))
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def _sign_flip_p_value(diff: np.ndarray, n_resamples: int, seed: int) -> float:
    """Two-sided p-value of the sign-flip permutation test of mean(diff) = 0.

    Under the null hypothesis each per-video difference is as likely to have either sign. Exact
    (all 2**n sign patterns, the observed one included) for n <= EXACT_MAX_N; otherwise Monte Carlo
    with the observed statistic counted once: (1 + hits) / (1 + n_resamples), never 0.
    """
    n = diff.size
    observed = abs(diff.sum())
    # Sums of the same numbers in another order differ by rounding: ties within this are ties.
    tolerance = 1e-10 * np.abs(diff).sum()
    if n <= EXACT_MAX_N:
        patterns = np.arange(2**n)[:, None] >> np.arange(n) & 1
        sums = (1 - 2 * patterns).astype(np.float64) @ diff
        return float(np.mean(np.abs(sums) >= observed - tolerance))
    rng = np.random.default_rng(seed)
    hits = 0
    for start, stop in _blocks(n_resamples, n):
        signs = 1 - 2 * rng.integers(0, 2, size=(stop - start, n), dtype=np.int8)
        hits += int(np.count_nonzero(np.abs(signs.astype(np.float64) @ diff) >= observed - tolerance))
    return (1 + hits) / (1 + n_resamples)


def paired_test(a, b, n_resamples: int = 10000, seed: int = 0, confidence: float = 0.95) -> dict[str, float]:
    """Compare two trackers scored on the same videos (`a[i]`, `b[i]`: the same video i).

    Returns `mean_diff` (mean of a - b), `ci_low`, `ci_high` (paired bootstrap: the videos are
    resampled, each keeping both its scores) and `p_value` (two-sided sign-flip permutation test,
    see `_sign_flip_p_value`). Identical inputs give mean_diff 0, CI (0, 0) and p_value 1.
    """
    a, b = _values(a, "a"), _values(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must hold one value per shared video; got {a.size} and {b.size} values")
    n_resamples = _check_resamples(n_resamples)
    diff = a - b
    if not np.any(diff):
        return {"mean_diff": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0}
    low, high = bootstrap_ci(diff, n_resamples=n_resamples, confidence=confidence, seed=seed)
    return {"mean_diff": float(diff.mean()), "ci_low": low, "ci_high": high,
            "p_value": _sign_flip_p_value(diff, n_resamples, seed)}
