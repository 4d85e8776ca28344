"""Camera geometry: lift 2D tracks to 3D with depth maps, project 3D points, change frames.

Conventions (DESIGN.md): 2D positions are TAP-Vid raster coordinates, where pixel (i, j) covers
[j, j+1) × [i, i+1) and its centre is (j + 0.5, i + 0.5). Intrinsics follow OpenCV's pixel-centre
convention (pixel (i, j) has centre (j, i)), so the ±0.5 is applied here, at the boundary, and
nowhere else. `depth[t, i, j]` is the z-depth in metres at the centre of pixel (i, j); 0 (or any
non-positive or non-finite value) means invalid. Extrinsics map world to camera (OpenCV: x right,
y down, z forward): `X_cam = R @ X_world + t` with `[R | t] = extrinsics[t]`.

Per-frame arrays (`(T, 3, 3)` intrinsics, `(T, 3, 4)` extrinsics) broadcast against points
`(..., T, 3)`; a single `(3, 3)` / `(3, 4)` matrix applies to every frame. Pure numpy, no loops.
"""

from __future__ import annotations

import numpy as np

__all__ = ["lift", "project", "camera_to_world", "world_to_camera", "sample_depth", "RASTER_OFFSET"]

#: Raster coordinate minus OpenCV pixel-centre coordinate.
RASTER_OFFSET = 0.5


def _float(*arrays) -> np.dtype:
    return np.result_type(*(np.asarray(a).dtype for a in arrays), np.float32)


def _check_matrices(m, shape: tuple[int, int], name: str) -> np.ndarray:
    m = np.asarray(m)
    if m.shape[-2:] != shape or m.ndim not in (2, 3):
        raise ValueError(f"'{name}' must have shape (T, {shape[0]}, {shape[1]}) or {shape}; got {m.shape}")
    return m


def world_to_camera(xyz_world: np.ndarray, extrinsics: np.ndarray) -> np.ndarray:
    """Points `(..., T, 3)` from the world frame to each frame's camera: `R @ X + t`."""
    e = _check_matrices(extrinsics, (3, 4), "extrinsics")
    x = np.asarray(xyz_world)
    out = np.einsum("...ij,...j->...i", e[..., :3].astype(np.float64), x) + e[..., 3].astype(np.float64)
    return out.astype(_float(x, e))


def camera_to_world(xyz_camera: np.ndarray, extrinsics: np.ndarray) -> np.ndarray:
    """Points `(..., T, 3)` from each frame's camera to the world frame: `Rᵀ @ (X - t)`."""
    e = _check_matrices(extrinsics, (3, 4), "extrinsics")
    x = np.asarray(xyz_camera)
    r, t = e[..., :3].astype(np.float64), e[..., 3].astype(np.float64)
    out = np.einsum("...ji,...j->...i", r, x - t)
    return out.astype(_float(x, e))


def project(xyz: np.ndarray, intrinsics: np.ndarray, extrinsics: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Project points `(..., T, 3)` to raster pixels: `(xy (..., T, 2), z (..., T))`.

    `xyz` is in the camera frame, or in the world frame when `extrinsics` is given. `z` is the
    depth along the optical axis; `xy` is NaN where `z <= 0` (at or behind the camera).

    >>> K = np.array([[100., 0, 50], [0, 100, 40], [0, 0, 1]])
    >>> xy, z = project(np.array([[0., 0, 2]]), K)
    >>> xy.tolist(), z.tolist()  # the principal point is at OpenCV (50, 40): raster (50.5, 40.5)
    ([[50.5, 40.5]], [2.0])
    """
    k = _check_matrices(intrinsics, (3, 3), "intrinsics")
    x = np.asarray(xyz)
    cam = x.astype(np.float64) if extrinsics is None else world_to_camera(x.astype(np.float64), extrinsics)
    z = cam[..., 2]
    h = np.einsum("...ij,...j->...i", k.astype(np.float64), cam)
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = h[..., :2] / h[..., 2:] + RASTER_OFFSET
    xy[~(z > 0)] = np.nan
    dtype = _float(x, k) if extrinsics is None else _float(x, k, extrinsics)
    return xy.astype(dtype), z.astype(dtype)


def sample_depth(xy: np.ndarray, depth: np.ndarray, max_depth_ratio: float = 1.05) -> np.ndarray:
    """Depth `(N, T)` at raster positions `xy (N, T, 2)` in frames `depth (T, H, W)`; NaN where invalid.

    Bilinear between the four pixel centres around the point where all four are valid (> 0,
    finite) and agree (max / min < `max_depth_ratio`); otherwise the depth of the pixel that
    contains the point (the nearest centre), so a point on a depth edge takes one surface's depth
    and never a blend of foreground and background. At the frame's outer half-pixel the
    neighbours are clamped to the edge. Outside the frame, or where the chosen depth is invalid:
    NaN.
    """
    xy = np.asarray(xy, np.float64)
    depth = np.asarray(depth)
    if depth.ndim != 3 or xy.ndim != 3 or xy.shape[-1] != 2 or xy.shape[1] != depth.shape[0]:
        raise ValueError(f"sample_depth: need xy (N, T, 2) and depth (T, H, W); got {xy.shape} and {depth.shape}")
    n_frames, height, width = depth.shape
    x, y = xy[..., 0], xy[..., 1]
    with np.errstate(invalid="ignore"):
        inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)  # False for NaN
    x, y = np.where(inside, x, 0.0), np.where(inside, y, 0.0)
    t = np.broadcast_to(np.arange(n_frames), x.shape)

    nearest = depth[t, np.floor(y).astype(np.intp), np.floor(x).astype(np.intp)].astype(np.float64)

    u, v = x - RASTER_OFFSET, y - RASTER_OFFSET  # pixel-centre coordinates
    j0, i0 = np.floor(u), np.floor(v)
    fu, fv = u - j0, v - i0
    j0, i0 = j0.astype(np.intp), i0.astype(np.intp)
    j = np.clip(np.stack([j0, j0 + 1]), 0, width - 1)
    i = np.clip(np.stack([i0, i0 + 1]), 0, height - 1)
    # corners[a, b] = depth at (row i[a], column j[b]); shape (2, 2, N, T)
    corners = depth[t, i[:, None], j[None, :]].astype(np.float64)
    wv = np.stack([1 - fv, fv])[:, None]
    wu = np.stack([1 - fu, fu])[None, :]
    bilinear = (corners * wv * wu).sum(axis=(0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        valid = np.isfinite(corners).all(axis=(0, 1)) & (corners > 0).all(axis=(0, 1))
        agree = corners.max(axis=(0, 1)) < max_depth_ratio * corners.min(axis=(0, 1))
        out = np.where(valid & agree, bilinear, nearest)
        out[~(inside & np.isfinite(out) & (out > 0))] = np.nan
    return out


def lift(xy: np.ndarray, visible: np.ndarray, depth: np.ndarray, intrinsics: np.ndarray,
         extrinsics: np.ndarray | None = None, max_depth_ratio: float = 1.05
         ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Lift 2D tracks to 3D: `(xyz_camera (N, T, 3), xyz_world (N, T, 3) or None, lifted (N, T))`.

    Args:
        xy: `(N, T, 2)` raster positions; visible: bool `(N, T)`.
        depth: `(T, H, W)` metres, 0 = invalid (sampled as in `sample_depth`).
        intrinsics: `(T, 3, 3)` or `(3, 3)`, OpenCV pixel-centre convention.
        extrinsics: `(T, 3, 4)` or `(3, 4)` world-to-camera, or None (then `xyz_world` is None).
        max_depth_ratio: neighbours whose max/min depth reaches this are not interpolated.

    A point is lifted where it is visible, inside the frame and has a valid depth; elsewhere its
    xyz is NaN and `lifted` is False. Coordinates are float32.
    """
    xy = np.asarray(xy)
    visible = np.asarray(visible, bool)
    if visible.shape != xy.shape[:2]:
        raise ValueError(f"lift: 'visible' must have shape {xy.shape[:2]}; got {visible.shape}")
    k = _check_matrices(intrinsics, (3, 3), "intrinsics").astype(np.float64)
    z = sample_depth(xy, depth, max_depth_ratio)
    lifted = visible & np.isfinite(z)
    pix = np.concatenate([xy.astype(np.float64) - RASTER_OFFSET, np.ones(xy.shape[:2] + (1,))], axis=-1)
    rays = np.einsum("...ij,...j->...i", np.linalg.inv(k), pix)
    with np.errstate(invalid="ignore"):
        cam = rays / rays[..., 2:] * z[..., None]  # unit-z rays times depth (z-depth, not range)
    cam[~lifted] = np.nan
    world = None if extrinsics is None else camera_to_world(cam, extrinsics).astype(np.float32)
    return cam.astype(np.float32), world, lifted
