"""Trackers: Lucas–Kanade accuracy on known translations, occlusion at the border, and the tracker contract."""

from __future__ import annotations

import numpy as np
import pytest

from pointbench.datasets.synthetic import Layer, make_texture, render_frames, track_layer_points
from pointbench.trackers.lk import LucasKanadeTracker
from pointbench.trackers.static import StaticTracker
from pointbench.types import Tracks


def _translation_video(n_frames, velocity, size=128, texture_size=192, offset=-32.0, seed=0):
    """A textured background translating by `velocity` px per frame; returns (frames, layers)."""
    rng = np.random.default_rng(seed)
    h = np.tile(np.eye(3), (n_frames, 1, 1))
    t = np.arange(n_frames)
    h[:, 0, 2] = offset + velocity[0] * t
    h[:, 1, 2] = offset + velocity[1] * t
    layers = [Layer(make_texture(rng, texture_size, texture_size), h)]
    return render_frames(layers, size, size), layers


def _grid_points(lo, hi, n=6, shift=(0.37, 0.61)) -> np.ndarray:
    g = np.linspace(lo, hi, n)
    x, y = np.meshgrid(g + shift[0], g + shift[1])
    return np.stack([x.ravel(), y.ravel()], 1)


def _gt(layers, image_xy_at_0, size=128) -> Tracks:
    """Ground truth for points given by their image position at frame 0 on the background layer."""
    h0 = layers[0].homographies[0]
    texture_xy = image_xy_at_0 - h0[:2, 2]  # pure translation
    return track_layer_points(layers, np.zeros(len(texture_xy), int), texture_xy, size, size)


def _queries(gt: Tracks, t: int) -> np.ndarray:
    return np.concatenate([np.full((len(gt), 1), t), gt.xy[:, t]], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def slow_translation():
    frames, layers = _translation_video(20, (0.3, 0.0))
    gt = _gt(layers, _grid_points(24, 104))
    assert gt.visible.all()
    return frames, gt


def test_lk_subpixel_translation_forward(slow_translation):
    frames, gt = slow_translation
    pred = LucasKanadeTracker().track(frames, _queries(gt, 0))
    error = np.linalg.norm(pred.xy[:, 1:] - gt.xy[:, 1:], axis=-1)
    assert np.median(error) < 0.1
    assert pred.visible.all()


def test_lk_fills_frames_before_the_query(slow_translation):
    frames, gt = slow_translation
    mid = 10
    pred = LucasKanadeTracker().track(frames, _queries(gt, mid))
    error = np.linalg.norm(pred.xy[:, :mid] - gt.xy[:, :mid], axis=-1)
    assert np.median(error) < 0.1
    assert pred.visible[:, :mid].all()
    # Frames after the query are tracked too.
    assert np.median(np.linalg.norm(pred.xy[:, mid + 1:] - gt.xy[:, mid + 1:], axis=-1)) < 0.1


def test_lk_two_frames_query_on_last_frame():
    frames, layers = _translation_video(2, (0.5, -0.25), size=64, texture_size=128)
    query = np.array([[1, 30.25, 33.75]], np.float32)
    pred = LucasKanadeTracker().track(frames, query)
    assert pred.xy.shape == (1, 2, 2) and pred.visible.shape == (1, 2)
    assert pred.xy.dtype == np.float32 and pred.visible.dtype == np.bool_
    np.testing.assert_array_equal(pred.xy[0, 1], query[0, 1:])
    assert pred.visible[0, 1]
    # Backward one frame: (0.5, -0.25) less.
    np.testing.assert_allclose(pred.xy[0, 0], [29.75, 34.0], atol=0.15)


def test_lk_point_leaving_the_frame_is_not_visible():
    size = 128
    frames, layers = _translation_video(16, (4.0, 0.0), size=size, texture_size=256, offset=-70.0, seed=1)
    start = np.array([[100.4, 40.3], [104.7, 64.2], [110.1, 90.6], [96.5, 20.5]])
    gt = _gt(layers, start, size)
    pred = LucasKanadeTracker().track(frames, _queries(gt, 0))
    far_out = gt.xy[..., 0] >= size + 8  # well past the right border
    assert far_out.any() and (~far_out[:, :5]).all()
    assert not pred.visible[far_out].any()
    # While the points are well inside, they are tracked and visible.
    well_inside = gt.xy[..., 0] < size - 16
    assert pred.visible[well_inside].all()
    np.testing.assert_allclose(pred.xy[well_inside], gt.xy[well_inside], atol=0.3)


def test_static_tracker_keeps_queries():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (5, 20, 30, 3), dtype=np.uint8)
    queries = np.array([[0, 1.5, 2.25], [4, 29.9, 0.0], [2, 10.0, 19.5]], np.float32)
    pred = StaticTracker().track(frames, queries)
    assert pred.xy.shape == (3, 5, 2) and pred.xy.dtype == np.float32
    assert pred.visible.shape == (3, 5) and pred.visible.dtype == np.bool_
    np.testing.assert_array_equal(pred.xy, np.broadcast_to(queries[:, None, 1:], (3, 5, 2)))
    assert pred.visible.all()


TRACKERS = {
    "static": StaticTracker,
    "lk": LucasKanadeTracker,
    "lk_ncc": lambda: LucasKanadeTracker(ncc_threshold=0.5),
}


@pytest.mark.parametrize("name", list(TRACKERS))
@pytest.mark.parametrize("seed", [0, 1])
def test_tracker_contract_on_random_videos(name, seed):
    rng = np.random.default_rng(seed)
    n_frames, height, width = int(rng.integers(2, 7)), int(rng.integers(24, 48)), int(rng.integers(24, 48))
    n = int(rng.integers(1, 9))
    frames = rng.integers(0, 256, (n_frames, height, width, 3), dtype=np.uint8)
    queries = np.stack([rng.integers(0, n_frames, n), rng.uniform(0, width, n), rng.uniform(0, height, n)],
                       1).astype(np.float32)
    frames_before, queries_before = frames.copy(), queries.copy()

    pred = TRACKERS[name]().track(frames, queries)

    assert isinstance(pred, Tracks)
    assert pred.xy.shape == (n, n_frames, 2) and pred.xy.dtype == np.float32
    assert pred.visible.shape == (n, n_frames) and pred.visible.dtype == np.bool_
    t = queries[:, 0].astype(int)
    np.testing.assert_array_equal(pred.xy[np.arange(n), t], queries[:, 1:])
    assert pred.visible[np.arange(n), t].all()
    assert np.isfinite(pred.xy[pred.visible]).all()
    np.testing.assert_array_equal(frames, frames_before)
    np.testing.assert_array_equal(queries, queries_before)


@pytest.mark.parametrize("name", list(TRACKERS))
def test_tracker_with_no_queries(name):
    frames = np.zeros((3, 16, 16, 3), np.uint8)
    pred = TRACKERS[name]().track(frames, np.zeros((0, 3), np.float32))
    assert pred.xy.shape == (0, 3, 2) and pred.visible.shape == (0, 3)
