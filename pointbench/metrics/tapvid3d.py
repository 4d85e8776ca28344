"""TAPVid-3D metrics (Koppula et al., 2024): 3D Jaccard (AJ3D), APD3D and occlusion accuracy (OA3D).

Pure functions on arrays, following the published protocol and its reference evaluation
(`tapnet/tapvid3d/evaluation`): tracks are in the camera frame; the prediction is rescaled to the
ground truth's scale (`median` by default); a point is within δ when its 3D error is below
δ · z_gt / √(fx·fy), with fx, fy rescaled by 256 / min(H, W) (the video resized so that its short
side is 256); every frame is scored, the query frame included.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["THRESHOLDS_3D", "METRIC_NAMES_3D", "SCALINGS", "SHORT_SIDE", "tapvid3d_metrics",
           "scale_factor", "threshold_multiplier"]

THRESHOLDS_3D = (1, 2, 4, 8, 16)
SHORT_SIDE = 256
SCALINGS = ("median", "per_trajectory", "none")
METRIC_NAMES_3D = (
    ("AJ3D", "APD3D", "OA3D")
    + tuple(f"jaccard3d_{d}" for d in THRESHOLDS_3D)
    + tuple(f"pts_within3d_{d}" for d in THRESHOLDS_3D)
)
_EPS = 1e-12  # floor of norms and depths, as in the reference

Scaling = Literal["median", "per_trajectory", "none"]


def threshold_multiplier(gt_z: np.ndarray, fx_fy_cx_cy, image_size: tuple[int, int]) -> np.ndarray:
    """Metres per "pixel" at each ground-truth point `(N, T)`: `z_gt / √(fx·fy)` at short side 256.

    `fx_fy_cx_cy` is `(4,)` for the whole video or `(T, 4)` per frame.
    """
    height, width = image_size
    f = np.asarray(fx_fy_cx_cy, np.float64)[..., :2] * (SHORT_SIDE / min(height, width))
    return np.asarray(gt_z, np.float64) / np.sqrt(f[..., 0] * f[..., 1])


def scale_factor(gt_xyz, gt_visible, pred_xyz, pred_visible, query_frames, scaling: Scaling) -> np.ndarray:
    """The factor the prediction is multiplied by, broadcastable to `(N, T, 1)`.

    `median`: median ‖gt‖ / median ‖pred‖ over the points visible in both, ignoring NaN ones
    (NaN when there are none, so no prediction is within any threshold). `per_trajectory`: for
    each track, gt depth / predicted depth at its query frame, whatever the visibility. `none`: 1.
    Norms and depths are floored at 1e-12 first, as in the reference.
    """
    if scaling == "none":
        return np.ones((1, 1, 1))
    if scaling == "median":
        both = gt_visible & pred_visible
        if not both.any():
            return np.full((1, 1, 1), np.nan)
        gt_norm = np.sqrt(np.maximum(_EPS, np.sum(np.square(gt_xyz[both]), axis=-1)))
        pred_norm = np.sqrt(np.maximum(_EPS, np.sum(np.square(pred_xyz[both]), axis=-1)))
        if np.isnan(gt_norm).all() or np.isnan(pred_norm).all():
            return np.full((1, 1, 1), np.nan)
        return np.full((1, 1, 1), np.nanmedian(gt_norm) / np.nanmedian(pred_norm))  # NaN points ignored
    if scaling == "per_trajectory":
        rows = np.arange(gt_xyz.shape[0])
        q = np.round(np.asarray(query_frames, np.float64)).astype(np.intp)
        if len(q) and (q.min() < 0 or q.max() >= gt_xyz.shape[1]):
            raise ValueError(f"tapvid3d_metrics: query frames must lie in [0, {gt_xyz.shape[1]}); "
                             f"got range [{q.min()}, {q.max()}]")
        gt_z = np.maximum(gt_xyz[rows, q, 2], _EPS)
        pred_z = np.maximum(pred_xyz[rows, q, 2], _EPS)
        return (gt_z / pred_z)[:, None, None]
    raise ValueError(f"tapvid3d_metrics: scaling must be one of {SCALINGS}; got {scaling!r}")


def tapvid3d_metrics(
    gt_xyz: np.ndarray,
    gt_visible: np.ndarray,
    pred_xyz: np.ndarray,
    pred_visible: np.ndarray,
    intrinsics_fx_fy_cx_cy,
    image_size: tuple[int, int],
    query_frames: np.ndarray,
    scaling: Scaling = "median",
    thresholds: tuple[float, ...] = THRESHOLDS_3D,
) -> dict[str, float]:
    """TAPVid-3D metrics of one video, pooled over all its tracks and frames.

    Args:
        gt_xyz, pred_xyz: `(N, T, 3)` positions in the camera frame (metres for gt; the
            prediction may be up to scale, see `scaling`).
        gt_visible, pred_visible: bool `(N, T)`.
        intrinsics_fx_fy_cx_cy: `(fx, fy, cx, cy)` at the resolution `image_size` = (H, W); `(T, 4)`
            for intrinsics that change per frame.
        query_frames: `(N,)` frame of each query (used by `per_trajectory` scaling only: every
            frame is scored, the query frame included).
        scaling: `"median"`, `"per_trajectory"` or `"none"` (see `scale_factor`).
        thresholds: δ values; δ "pixels" at short side 256, back-projected at the gt depth.

    Returns:
        `AJ3D` (mean 3D Jaccard), `APD3D` (mean fraction of gt-visible points within δ,
        whatever the predicted visibility), `OA3D` (occlusion accuracy), and `jaccard3d_δ`,
        `pts_within3d_δ` per δ; fractions in [0, 1]. Distances are strict (`<`); a prediction
        that is NaN is never within. `pts_within3d_δ` and `APD3D` are NaN when no gt point is
        visible (Jaccard then is 0, or NaN when nothing is predicted visible either).

    >>> xyz = np.ones((1, 2, 3)); vis = np.ones((1, 2), bool)
    >>> tapvid3d_metrics(xyz, vis, 2 * xyz, vis, (500, 500, 128, 128), (256, 256), np.zeros(1))["AJ3D"]
    1.0
    """
    gt_xyz, pred_xyz = np.asarray(gt_xyz, np.float64), np.asarray(pred_xyz, np.float64)
    gt_visible, pred_visible = np.asarray(gt_visible), np.asarray(pred_visible)
    if gt_xyz.ndim != 3 or gt_xyz.shape[-1] != 3:
        raise ValueError(f"tapvid3d_metrics: 'gt_xyz' must have shape (N, T, 3); got {gt_xyz.shape}")
    n, t = gt_xyz.shape[:2]
    for name, arr, shape in (("pred_xyz", pred_xyz, (n, t, 3)), ("gt_visible", gt_visible, (n, t)),
                             ("pred_visible", pred_visible, (n, t)),
                             ("query_frames", np.asarray(query_frames), (n,))):
        if arr.shape != shape:
            raise ValueError(f"tapvid3d_metrics: '{name}' must have shape {shape}; got {arr.shape}")
    if np.shape(intrinsics_fx_fy_cx_cy) not in ((4,), (t, 4)):
        raise ValueError(f"tapvid3d_metrics: 'intrinsics_fx_fy_cx_cy' must have shape (4,) or (T={t}, 4); "
                         f"got {np.shape(intrinsics_fx_fy_cx_cy)}")
    gt_visible, pred_visible = gt_visible.astype(bool), pred_visible.astype(bool)

    scaled = pred_xyz * scale_factor(gt_xyz, gt_visible, pred_xyz, pred_visible, query_frames, scaling)
    sq_dist = np.sum(np.square(scaled - gt_xyz), axis=-1)
    multiplier = threshold_multiplier(gt_xyz[..., 2], intrinsics_fx_fy_cx_cy, image_size)

    n_visible = gt_visible.sum()
    jaccard, within_frac = {}, {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for d in thresholds:
            within = sq_dist < np.square(d * multiplier)  # NaN compares False
            tp = np.sum(within & gt_visible & pred_visible)
            fp = np.sum(pred_visible & ~(gt_visible & within))  # occluded in gt, or too far
            within_frac[d] = float(np.sum(within & gt_visible) / n_visible)
            jaccard[d] = float(tp / (n_visible + fp))
        oa = float(np.mean(gt_visible == pred_visible)) if gt_visible.size else float("nan")
    return {
        "AJ3D": float(np.mean(list(jaccard.values()))),
        "APD3D": float(np.mean(list(within_frac.values()))),
        "OA3D": oa,
        **{f"jaccard3d_{d}": v for d, v in jaccard.items()},
        **{f"pts_within3d_{d}": v for d, v in within_frac.items()},
    }
