"""Dense-flow chaining (DIS, Farnebäck): exact translations tracked, frames before the query filled, points leaving
the frame or covered by another layer occluded, the flow of each frame pair computed once, configs and knobs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

import pointbench
from pointbench.datasets.synthetic import Layer, make_texture, render_frames, track_layer_points
from pointbench.trackers.flow import DISFlowTracker, FarnebackFlowTracker, FlowChainTracker, sample_bilinear
from pointbench.types import Tracks

CONF = str(Path(pointbench.__file__).parent / "conf")
TRACKERS = {
    "dis": DISFlowTracker,
    "dis_fast": lambda **kw: DISFlowTracker(preset="fast", **kw),
    "dis_ultrafast": lambda **kw: DISFlowTracker(preset="ultrafast", **kw),
    "farneback": FarnebackFlowTracker,
}


def _translation(n_frames, velocity, size=128, texture_size=224, offset=-48.0, seed=0):
    """A textured background translating by `velocity` px per frame: (frames, layers)."""
    rng = np.random.default_rng(seed)
    h = np.tile(np.eye(3), (n_frames, 1, 1))
    t = np.arange(n_frames)
    h[:, 0, 2] = offset + velocity[0] * t
    h[:, 1, 2] = offset + velocity[1] * t
    layers = [Layer(make_texture(rng, texture_size, texture_size), h)]
    return render_frames(layers, size, size), layers


def _gt(layers, image_xy_at_0, size=128) -> Tracks:
    texture_xy = image_xy_at_0 - layers[0].homographies[0][:2, 2]
    return track_layer_points(layers, np.zeros(len(texture_xy), int), texture_xy, size, size)


def _queries(gt: Tracks, frames_of) -> np.ndarray:
    frames_of = np.asarray(frames_of)
    return np.concatenate([frames_of[:, None], gt.xy[np.arange(len(gt)), frames_of]], 1).astype(np.float32)


def _grid(lo, hi, n=6):
    g = np.linspace(lo, hi, n)
    x, y = np.meshgrid(g + 0.37, g + 0.61)
    return np.stack([x.ravel(), y.ravel()], 1)


@pytest.fixture(scope="module")
def translation():
    frames, layers = _translation(16, (0.7, -0.45))
    gt = _gt(layers, _grid(28, 92))
    assert gt.visible.all()
    return frames, gt


@pytest.mark.parametrize("kind", list(TRACKERS))
def test_known_translation_forward_and_before_the_query(kind, translation):
    frames, gt = translation
    n = len(gt)
    frames_of = np.array([0, 8, 15])[np.arange(n) % 3]  # queries at the first, a middle and the last frame
    pred = TRACKERS[kind]().track(frames, _queries(gt, frames_of))
    assert pred.xy.shape == (n, 16, 2) and pred.xy.dtype == np.float32 and pred.visible.dtype == bool
    error = np.linalg.norm(pred.xy - gt.xy, axis=-1)
    before = np.arange(16)[None, :] < frames_of[:, None]
    after = np.arange(16)[None, :] > frames_of[:, None]
    tolerance = 0.25 if kind in ("dis", "farneback") else 0.6
    assert np.median(error[after]) < tolerance
    assert np.median(error[before]) < tolerance, "frames before the query are tracked backward"
    assert pred.visible[before].mean() > 0.9 and pred.visible[after].mean() > 0.9
    # at its own frame a track is its query, exactly
    np.testing.assert_array_equal(pred.xy[np.arange(n), frames_of], gt.xy[np.arange(n), frames_of])


@pytest.mark.parametrize("kind", list(TRACKERS))
def test_signed_error_has_no_half_pixel_bias(kind, translation):
    """Over the first frames (before chaining drift adds up) the median signed error is far below half a pixel."""
    frames, gt = translation
    pred = TRACKERS[kind]().track(frames, _queries(gt, np.zeros(len(gt), int)))
    bias = np.median(pred.xy[:, 1:4] - gt.xy[:, 1:4], axis=(0, 1))
    assert np.abs(bias).max() < 0.1


@pytest.mark.parametrize("kind", list(TRACKERS))
def test_point_leaving_the_frame_is_occluded(kind):
    frames, layers = _translation(10, (4.0, 0.0), size=96, texture_size=192)
    # positions at frame 0; moving 4 px per frame the first two leave on the right, the others stay inside
    start = np.array([[80.3, 30.6], [88.7, 60.2], [20.4, 40.5], [30.5, 70.5]])
    gt = _gt(layers, start, size=96)
    pred = TRACKERS[kind]().track(frames, _queries(gt, [0, 0, 0, 0]))
    outside = pred.xy[..., 0] >= 96
    gone = gt.xy[..., 0] >= 97  # one pixel beyond the border
    assert gone[:2].any(axis=1).all() and not gone[2:].any()
    assert not pred.visible[gone].any(), "a point outside the frame is occluded"
    assert (outside | ~gone)[gone].all(), "its position follows it out"
    assert pred.visible[2:].all(), "points that stay inside stay visible"
    # backward in time: queried at the last frame near the left border, they leave on the left going back
    back = _gt(layers, np.array([[-29.7, 30.6], [-21.3, 60.2], [20.4, 40.5], [30.5, 70.5]]), size=96)
    pred = TRACKERS[kind]().track(frames, _queries(back, [9, 9, 9, 9]))
    gone = back.xy[..., 0] < -1
    assert back.visible[:, 9].all() and gone[:2].any(axis=1).all() and not gone[2:].any()
    assert not pred.visible[gone].any()
    assert pred.visible[2:].all()


@pytest.mark.parametrize("kind", ["dis", "farneback"])
def test_point_covered_by_a_moving_layer_is_occluded(kind):
    """A foreground square slides over background points: the forward–backward check fails where it arrives.
    A chained point then rides on the square, so per step it may look visible again; with `sticky_occlusion` it
    stays occluded."""
    rng = np.random.default_rng(3)
    n_frames, size = 14, 128
    still = np.tile(np.eye(3), (n_frames, 1, 1))
    still[:, :2, 2] = -32
    sliding = np.tile(np.eye(3), (n_frames, 1, 1))
    sliding[:, 0, 2] = -40 + 8.0 * np.arange(n_frames)
    sliding[:, 1, 2] = 40
    layers = [Layer(make_texture(rng, 192, 192), still), Layer(make_texture(rng, 40, 40), sliding)]
    frames = render_frames(layers, size, size)
    points = np.stack(np.meshgrid(np.linspace(20, 108, 7) + 0.4, np.linspace(48, 72, 3) + 0.6), -1).reshape(-1, 2)
    gt = track_layer_points(layers, np.zeros(len(points), int), points + 32, size, size)
    covered = ~gt.visible
    hit = np.flatnonzero(covered.any(1))
    onset = covered.argmax(1)
    assert len(hit) >= 15
    never_covered_yet = gt.visible & (np.cumsum(covered, axis=1) == 0)
    queries = _queries(gt, np.zeros(len(gt), int))
    pred = TRACKERS[kind]().track(frames, queries)
    detected = [(~pred.visible[i, onset[i]:onset[i] + 2]).any() for i in hit]
    assert np.mean(detected) > 0.7, "occluded within a frame of being covered"
    assert pred.visible[never_covered_yet].mean() > 0.85
    sticky = TRACKERS[kind](sticky_occlusion=True).track(frames, queries)
    assert (~sticky.visible[covered]).mean() > 0.85 > (~pred.visible[covered]).mean()
    assert np.array_equal(sticky.xy, pred.xy), "only visibility changes"
    assert not (sticky.visible & ~pred.visible).any()


class _CountingDIS(DISFlowTracker):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.calls = []

    def flow(self, first, second):
        self.calls.append((first.tobytes()[:64], second.tobytes()[:64]))
        return super().flow(first, second)


def test_each_pair_flow_computed_once_in_each_direction(translation):
    frames, gt = translation
    n_frames = len(frames)
    queries = _queries(gt, np.array([0, 8, 15])[np.arange(len(gt)) % 3])
    tracker = _CountingDIS()
    cached = tracker.track(frames, queries)
    assert len(tracker.calls) == 2 * (n_frames - 1) and len(set(tracker.calls)) == len(tracker.calls)
    # with no cache, the pairs both sweeps use are computed again, and the tracks are the same
    recompute = _CountingDIS(max_cache_mb=0)
    again = recompute.track(frames, queries)
    assert len(recompute.calls) == 2 * (n_frames - 1) + 2 * 15
    assert again == cached
    # queries on one frame only: no pair is needed twice
    one = _CountingDIS()
    one.track(frames, (queries[:3] * [0, 1, 1] + [8, 0, 0]).astype(np.float32))
    assert len(one.calls) == 2 * (n_frames - 1)


def test_edge_cases():
    frames, _ = _translation(2, (0.5, 0.25), size=48, texture_size=96)
    tracker = DISFlowTracker()
    q = np.array([[1, 20.5, 21.5]], np.float32)
    pred = tracker.track(frames, q)
    assert pred.xy.shape == (1, 2, 2) and pred.visible[0, 1]
    np.testing.assert_array_equal(pred.xy[0, 1], q[0, 1:])
    np.testing.assert_allclose(pred.xy[0, 0], [20.0, 21.25], atol=0.2)
    assert tracker.track(frames, np.zeros((0, 3), np.float32)).xy.shape == (0, 2, 2)
    one_frame = tracker.track(frames[:1], np.array([[0, 3.0, 4.0]], np.float32))
    assert one_frame.xy.tolist() == [[[3.0, 4.0]]] and one_frame.visible.all()
    with pytest.raises(ValueError, match="queries"):
        tracker.track(frames, np.array([[2, 1.0, 1.0]], np.float32))
    with pytest.raises(ValueError, match="frames"):
        tracker.track(frames.astype(np.float32), q)


def test_deterministic(translation):
    frames, gt = translation
    q = _queries(gt, np.zeros(len(gt), int))
    for kind in ("dis", "farneback"):
        assert TRACKERS[kind]().track(frames, q) == TRACKERS[kind]().track(frames, q)


def test_sample_bilinear_matches_the_pixel_centre_convention():
    field = np.arange(12, dtype=np.float32).reshape(3, 4, 1)  # value = 4 i + j at pixel (i, j)
    xy = np.array([[0, 0], [1.5, 0.5], [3, 2], [-5, 1], [10, 10], [2.25, 1.75]])
    np.testing.assert_allclose(sample_bilinear(field, xy)[:, 0], [0, 3.5, 11, 4, 11, 2.25 + 4 * 1.75])


@pytest.mark.parametrize("name, cls", [("dis", DISFlowTracker), ("farneback", FarnebackFlowTracker)])
def test_configs_build_and_are_registered(name, cls):
    from importlib.metadata import entry_points

    from pointbench.runner import build

    assert name in {e.name for e in entry_points(group="pointbench.trackers")}
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"tracker={name}"])
    built_name, tracker = build(cfg.tracker, "tracker")
    assert built_name == name and type(tracker) is cls and isinstance(tracker, FlowChainTracker)


@pytest.mark.parametrize("bad", [dict(preset="slow"), dict(fb_threshold=-1), dict(patch_size=0), dict(sticky_occlusion=1),
                                 dict(finest_scale=1.5), dict(max_cache_mb="lots")])
def test_dis_rejects_bad_knobs(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        DISFlowTracker(**bad)


@pytest.mark.parametrize("bad", [dict(pyr_scale=1.0), dict(levels=0), dict(poly_n=6), dict(poly_sigma=0),
                                 dict(fb_relative=-0.1)])
def test_farneback_rejects_bad_knobs(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        FarnebackFlowTracker(**bad)


def test_dis_overrides_reach_opencv():
    tracker = DISFlowTracker(preset="ultrafast", patch_size=12, variational_refinement_iterations=3)
    assert tracker.dis.getPatchSize() == 12 and tracker.dis.getVariationalRefinementIterations() == 3
