"""Lifting and projection: round trips on synthetic planes, the pixel convention, invalid depth, depth edges."""

import numpy as np
import pytest

from pointbench.geometry import camera_to_world, lift, project, sample_depth, world_to_camera

H, W, T = 48, 64, 3


def _intrinsics(t=T):
    """Different (OpenCV pixel-centre) intrinsics per frame."""
    k = np.zeros((t, 3, 3))
    k[:, 0, 0] = 70 + 5 * np.arange(t)
    k[:, 1, 1] = 65 + 3 * np.arange(t)
    k[:, 0, 2], k[:, 1, 2], k[:, 2, 2] = 31.5 + np.arange(t), 23.5 - np.arange(t), 1
    return k


def _rotation(rng):
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def _extrinsics(rng, t=T):
    return np.stack([np.concatenate([_rotation(rng), rng.normal(size=(3, 1))], 1) for _ in range(t)])


def _plane_depth(k, normal, offset):
    """z-depth at every pixel centre of the plane {X : normal · X = offset} seen with intrinsics k (T,3,3)."""
    jj, ii = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    pix = np.stack([jj, ii, np.ones_like(jj)], -1)  # OpenCV centre of pixel (i, j) is (j, i)
    rays = np.einsum("tij,hwj->thwi", np.linalg.inv(k), pix)  # unit-z rays
    return (offset / (rays @ normal)).astype(np.float32)


def _raster_points(rng, n):
    """Random raster positions (N, T, 2), kept half a pixel from the border."""
    return np.stack([rng.uniform(0.5, W - 0.5, (n, T)), rng.uniform(0.5, H - 0.5, (n, T))], -1)


def test_world_camera_round_trip_and_rigid_motion():
    rng = np.random.default_rng(0)
    e = _extrinsics(rng)
    x = rng.normal(size=(5, T, 3))
    cam = world_to_camera(x, e)
    np.testing.assert_allclose(camera_to_world(cam, e), x, atol=1e-12)
    np.testing.assert_allclose(cam[2, 1], e[1, :, :3] @ x[2, 1] + e[1, :, 3], atol=1e-12)
    # Distances between points are preserved by a rigid transform.
    np.testing.assert_allclose(np.linalg.norm(cam[0] - cam[1], axis=-1), np.linalg.norm(x[0] - x[1], axis=-1))


def test_project_principal_point_is_the_pixel_centre_convention():
    k = np.array([[100.0, 0, 20], [0, 80, 10], [0, 0, 1]])
    # The point on the optical axis lands on the principal point: OpenCV (20, 10) is raster (20.5, 10.5).
    xy, z = project(np.array([[[0.0, 0.0, 3.0]]]), k)
    np.testing.assert_allclose(xy[0, 0], [20.5, 10.5])
    assert z[0, 0] == 3.0
    # One metre right at 2 m: 100 * 1 / 2 = 50 px right of it; behind the camera: NaN.
    xy, z = project(np.array([[[1.0, 0.0, 2.0], [0.0, 0.0, -1.0]]]), k)
    np.testing.assert_allclose(xy[0, 0], [70.5, 10.5])
    assert np.isnan(xy[0, 1]).all() and z[0, 1] == -1.0


def test_depth_is_sampled_at_pixel_centres():
    # A linear ramp along x is reproduced exactly by bilinear interpolation between centres.
    depth = np.broadcast_to(1.0 + 0.01 * np.arange(W, dtype=np.float32), (1, H, W)).copy()
    xy = np.array([[[10.5, 7.0]], [[11.0, 7.0]], [[10.75, 3.2]], [[0.2, 5.0]], [[W - 0.1, 5.0]]])
    z = sample_depth(xy, depth)
    # x = 10.5 is pixel 10's centre; x = 11.0 is halfway between centres 10 and 11; the outer
    # half-pixel clamps to the edge pixel.
    np.testing.assert_allclose(z[:, 0], [1.10, 1.105, 1.1025, 1.0, 1.0 + 0.01 * (W - 1)], rtol=1e-6)


def test_fronto_parallel_plane_round_trips_exactly():
    rng = np.random.default_rng(1)
    k, e = _intrinsics(), _extrinsics(rng)
    depth = np.full((T, H, W), 3.7, np.float32)  # constant depth: bilinear is exact
    xy = _raster_points(rng, 40)
    visible = np.ones(xy.shape[:2], bool)
    cam, world, lifted = lift(xy, visible, depth, k, e)
    assert lifted.all() and cam.dtype == np.float32 and world.dtype == np.float32
    np.testing.assert_allclose(cam[..., 2], 3.7, rtol=1e-6)
    back, z = project(world.astype(np.float64), k, e)  # project(lift(x)) == x, through the world frame
    np.testing.assert_allclose(back, xy, atol=1e-4)
    np.testing.assert_allclose(z, 3.7, rtol=1e-5)

    # lift(project(X)) == X for points on the plane, given in the world frame.
    xyz_cam = np.concatenate([rng.uniform(-1.2, 1.2, (30, T, 2)), np.full((30, T, 1), 3.7)], -1)
    xyz_cam[..., 0] *= 0.7
    xyz_world = camera_to_world(xyz_cam, e)
    xy, _ = project(xyz_world, k, e)
    inside = (xy[..., 0] >= 0) & (xy[..., 0] < W) & (xy[..., 1] >= 0) & (xy[..., 1] < H)
    assert inside.mean() > 0.5
    cam, world, lifted = lift(xy, np.ones(xy.shape[:2], bool), depth, k, e)
    np.testing.assert_array_equal(lifted, inside)
    np.testing.assert_allclose(cam[inside], xyz_cam[inside], atol=1e-4)
    np.testing.assert_allclose(world[inside], xyz_world[inside], atol=1e-4)
    assert np.isnan(cam[~inside]).all() and np.isnan(world[~inside]).all()


def test_tilted_plane_round_trips_within_the_bilinear_bound():
    """Depth of a tilted plane is 1 / (a u + b v + c) in pixel coordinates: not bilinear.

    Bilinear interpolation between unit-spaced centres errs by at most (max|Z_uu| + max|Z_vv|) / 8
    (linear along u, then along v, each within max|f''| / 8), with Z_uu = 2a² / w³ and
    Z_vv = 2b² / w³ for w = a u + b v + c. The 3D error is that depth error times the length of
    the unit-z ray. Sampling half a pixel off would err by about |Z_u| / 2 = |a| / (2 w²), which
    for this plane is ~100 times larger than the bound.
    """
    rng = np.random.default_rng(2)
    k = _intrinsics()
    normal, offset = np.array([0.3, -0.2, 1.0]), 4.0
    depth = _plane_depth(k, normal, offset)
    xy = _raster_points(rng, 60)
    cam, _, lifted = lift(xy, np.ones(xy.shape[:2], bool), depth, k)
    assert lifted.all()
    np.testing.assert_allclose(project(cam.astype(np.float64), k)[0], xy, atol=1e-4)

    # Ground truth: intersect each pixel's ray with the plane.
    pix = np.concatenate([xy - 0.5, np.ones(xy.shape[:2] + (1,))], -1)
    rays = np.einsum("tij,ntj->nti", np.linalg.inv(k), pix)
    truth = rays * (offset / (rays @ normal))[..., None]
    # w = n · ray / offset is the inverse depth; in pixel units a = n·K⁻¹[:, 0] / offset, etc.
    kinv = np.linalg.inv(k)
    a, b = (kinv[:, :, 0] @ normal) / offset, (kinv[:, :, 1] @ normal) / offset
    w_min = (1 / depth.max(axis=(1, 2)))
    bound = (2 * a**2 + 2 * b**2) / w_min**3 / 8  # metres of depth, per frame
    err = np.linalg.norm(cam - truth, axis=-1)
    tol = bound[None, :] * np.linalg.norm(rays, axis=-1) + 1e-5  # + float32 rounding
    assert (err <= tol).all(), (err.max(), tol.min())
    half_pixel_error = np.abs(a) / (2 * w_min**2)
    assert (half_pixel_error > 50 * bound).all()  # the check can tell a half-pixel slip


def test_invalid_depth_occluded_and_outside_points_are_not_lifted():
    k = _intrinsics(1)
    depth = np.full((1, H, W), 2.0, np.float32)
    depth[0, 10, 20] = 0.0  # invalid
    depth[0, 30, 40] = np.nan
    xy = np.array([[[20.5, 10.5]], [[40.2, 30.9]], [[5.5, 5.5]], [[5.5, 5.5]], [[-0.1, 5.0]],
                   [[W + 0.0, 5.0]], [[np.nan, 5.0]], [[7.5, 8.5]]])
    visible = np.array([[True], [True], [False], [True], [True], [True], [True], [True]])
    cam, world, lifted = lift(xy, visible, depth, k)
    np.testing.assert_array_equal(lifted[:, 0], [False, False, False, True, False, False, False, True])
    assert np.isnan(cam[~lifted]).all() and np.isfinite(cam[lifted]).all()
    assert world is None
    np.testing.assert_allclose(cam[3, 0, 2], 2.0)


def test_depth_edges_fall_back_to_the_nearest_pixel():
    depth = np.full((1, H, W), 2.0, np.float32)
    depth[0, :, 10:] = 10.0  # columns 0-9 at 2 m, 10+ at 10 m: an occlusion edge at x = 10
    depth[0, 20, 30] = 0.0  # one invalid pixel
    xy = np.array([[[9.9, 5.5]], [[10.1, 5.5]], [[30.8, 20.9]], [[30.2, 21.2]], [[3.0, 3.0]]])
    z = sample_depth(xy, depth)
    # A blend would give 2·0.6 + 10·0.4 = 5.2 at x = 9.9: nearest gives one surface instead.
    # (30.8, 20.9) lies in the invalid pixel: NaN. (30.2, 21.2) lies in pixel (21, 30), a valid
    # one with the invalid pixel among its four neighbours: its own depth.
    np.testing.assert_allclose(z[:, 0], [2.0, 10.0, np.nan, 10.0, 2.0])
    # A looser agreement ratio interpolates across a mild step.
    mild = np.full((1, H, W), 2.0, np.float32)
    mild[0, :, 10:] = 2.5
    edge = np.array([[[10.0, 5.5]]])  # halfway between centres 9 and 10, inside pixel 10
    assert sample_depth(edge, mild)[0, 0] == 2.5  # 2.5 / 2 = 1.25 >= 1.05: nearest
    assert sample_depth(edge, mild, max_depth_ratio=1.5)[0, 0] == pytest.approx(2.25)
