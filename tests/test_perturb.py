"""Robustness perturbations: photometric kinds leave geometry alone, temporal kinds keep frames, queries and
ground truth consistent, severity is monotone, seeds are reproducible."""

import numpy as np
import pytest

from pointbench.datasets.synthetic import SyntheticDataset
from pointbench.metrics.tapvid import tapvid_metrics
from pointbench.perturb import (
    KINDS, PHOTOMETRIC_KINDS, SEVERITIES, Perturbation, apply_perturbation, perturb_annotations, perturb_sample,
)
from pointbench.trackers.static import StaticTracker
from pointbench.types import Sample, Skeleton, Tracks


@pytest.fixture(scope="module")
def videos():
    """Two synthetic videos per query mode (occlusions, points leaving and re-entering the frame)."""
    out = {}
    for mode in ("first", "strided"):
        ds = SyntheticDataset(num_videos=2, num_frames=16, num_tracks=48, query_mode=mode, query_stride=5)
        out[mode] = [ds.load(0), ds.load(1)]
    return out


def score(sample: Sample, pred: Tracks, mode: str) -> dict:
    return tapvid_metrics(sample.gt.xy, sample.gt.visible, pred.xy, pred.visible, sample.queries[:, 0], mode,
                          sample.image_size)


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b).mean())


def assert_consistent(sample: Sample, mode: str):
    """Queries sit on ground-truth-visible frames at the ground-truth position; an oracle scores 1.0."""
    rows = np.arange(len(sample.queries))
    t = sample.queries[:, 0].astype(int)
    assert sample.gt.visible[rows, t].all()
    np.testing.assert_array_equal(sample.queries[:, 1:], sample.gt.xy[rows, t])
    m = score(sample, sample.gt, mode)  # a tracker that returns the ground truth
    assert m["n_scored_points"] > 0
    assert m["AJ"] == m["delta_avg"] == m["OA"] == 1.0


# --- The config ----------------------------------------------------------------------------------------------


def test_perturbation_config_normalises_and_validates():
    p = Perturbation(["frame_drop", "jpeg"], [2, 4], seed=3)
    assert p.steps == (("frame_drop", 2), ("jpeg", 4)) and p.temporal and hash(p) == hash(Perturbation(
        ("frame_drop", "jpeg"), (2, 4), 3))
    assert Perturbation(["jpeg", "contrast"], 5).steps == (("jpeg", 5), ("contrast", 5))
    assert not Perturbation("jpeg").temporal and Perturbation("jpeg").severity == 3
    assert p.label == "frame_drop@2+jpeg@4,seed=3"
    assert Perturbation.from_config({"kind": ["reverse", "brightness"], "severity": [1, 2]}).steps == (
        ("reverse", 1), ("brightness", 2))
    assert Perturbation.from_config(None) is None and Perturbation.from_config({"kind": None}) is None
    for bad in ({"kind": "fog"}, {"kind": "jpeg", "severity": 0}, {"kind": "jpeg", "severity": 6},
                {"kind": "jpeg", "severity": True}, {"kind": "jpeg", "seed": -1},
                {"kind": ["jpeg", "reverse"], "severity": [1]}, {"kind": []}, {"kind": "jpeg", "sev": 1}):
        with pytest.raises(ValueError, match="perturbation"):
            Perturbation.from_config(bad)
    assert set(KINDS) == set(SEVERITIES) and all(len(v) == 5 for v in SEVERITIES.values())


# --- Photometric kinds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", PHOTOMETRIC_KINDS)
def test_photometric_kinds_change_frames_only_and_static_scores_the_same(videos, kind):
    sample = videos["first"][0]
    frames_before, queries_before, gt_before = sample.frames.copy(), sample.queries.copy(), sample.gt.xy.copy()
    out = perturb_sample(sample, Perturbation(kind, 3, seed=1), "first")
    assert out.frames.shape == sample.frames.shape and out.frames.dtype == np.uint8
    assert mad(out.frames, sample.frames) > 0
    assert out.gt is sample.gt and out.queries is sample.queries and out.fps == sample.fps  # untouched
    static = StaticTracker()
    assert score(out, static.track(out.frames, out.queries), "first") == score(
        sample, static.track(sample.frames, sample.queries), "first")
    # The input sample was not modified in place.
    np.testing.assert_array_equal(sample.frames, frames_before)
    np.testing.assert_array_equal(sample.queries, queries_before)
    np.testing.assert_array_equal(sample.gt.xy, gt_before)


@pytest.mark.parametrize("kind", PHOTOMETRIC_KINDS)
def test_severity_is_monotone_in_the_mean_absolute_image_difference(videos, kind):
    sample = videos["first"][0]
    diffs = [mad(perturb_sample(sample, Perturbation(kind, s, seed=0), "first").frames, sample.frames)
             for s in range(1, 6)]
    assert all(a < b for a, b in zip(diffs, diffs[1:])), diffs


@pytest.mark.parametrize("kind", ["motion_blur", "defocus_blur", "downup"])
def test_blurs_and_resolution_loss_do_not_shift_the_image(kind):
    # A blob centred at raster (61.3, 40.7) on a 160×96 frame: its intensity centroid stays put (no
    # half-pixel shift from the kernels or the resizes), so the ground truth stays right.
    h, w = 96, 160
    yy, xx = np.mgrid[0:h, 0:w] + 0.5  # pixel centres, raster convention
    image = 40 + 180 * np.exp(-((xx - 61.3) ** 2 + (yy - 40.7) ** 2) / (2 * 4.0 ** 2))
    frames = np.repeat(np.rint(image)[None, ..., None], 3, axis=-1).astype(np.uint8)
    queries = np.array([[0, 61.3, 40.7]], np.float32)

    def centroid(frame):
        v = np.clip(frame[..., 0].astype(np.float64) - 40, 0, None)
        return np.array([(v * xx).sum(), (v * yy).sum()]) / v.sum()

    for severity in range(1, 6):
        out, q, _ = apply_perturbation(frames, queries, None, kind=kind, severity=severity, query_mode="first")
        assert q is queries
        np.testing.assert_allclose(centroid(out[0]), centroid(frames[0]), atol=0.1)


@pytest.mark.parametrize("kind", ["gaussian_noise", "motion_blur"])
def test_same_seed_same_frames_and_draws_are_per_video_not_per_order(videos, kind):
    a, b = videos["first"]
    spec = Perturbation(kind, 3, seed=5)
    first = perturb_sample(b, spec, "first").frames
    perturb_sample(a, spec, "first")  # another video perturbed in between changes nothing
    np.testing.assert_array_equal(perturb_sample(b, spec, "first").frames, first)
    assert not np.array_equal(perturb_sample(b, Perturbation(kind, 3, seed=6), "first").frames, first)
    # The draws follow the video name, not its position in the dataset.
    renamed = Sample(name=a.name, frames=b.frames, queries=b.queries, gt=b.gt, fps=b.fps)
    assert not np.array_equal(perturb_sample(renamed, spec, "first").frames, first)


def test_noise_draws_do_not_depend_on_severity(videos):
    # σ 4 at severity 1 and 8 at severity 2: away from clipping the change doubles, up to rounding.
    sample = videos["first"][0]
    base = sample.frames.astype(np.float64)
    d1 = perturb_sample(sample, Perturbation("gaussian_noise", 1), "first").frames - base
    d2 = perturb_sample(sample, Perturbation("gaussian_noise", 2), "first").frames - base
    middle = (base > 60) & (base < 195)
    assert np.abs(d2[middle] - 2 * d1[middle]).max() <= 1.0


# --- Frame drop ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["first", "strided"])
@pytest.mark.parametrize("severity", [1, 2, 5])
def test_frame_drop_keeps_frames_queries_and_ground_truth_consistent(videos, mode, severity):
    sample = videos[mode][0]
    stride = severity + 1
    out = perturb_sample(sample, Perturbation("frame_drop", severity), mode)
    kept = np.arange(0, sample.n_frames, stride)
    np.testing.assert_array_equal(out.frames, sample.frames[kept])
    assert out.fps == pytest.approx(sample.fps / stride)
    assert_consistent(out, mode)
    # Every remaining ground-truth row is an original row on the kept frames.
    originals = {(r.tobytes(), v.tobytes()) for r, v in zip(sample.gt.xy[:, kept], sample.gt.visible[:, kept])}
    assert all((r.tobytes(), v.tobytes()) in originals for r, v in zip(out.gt.xy, out.gt.visible))


def hand_video(n_frames=10):
    """One still frame set; 4 tracks with hand-chosen visibility, each at its own x."""
    frames = np.zeros((n_frames, 8, 8, 3), np.uint8)
    frames[:] = np.arange(n_frames, dtype=np.uint8)[:, None, None, None]  # frame t has value t
    xy = np.zeros((4, n_frames, 2), np.float32)
    xy[..., 0] = np.arange(n_frames)  # x = t: a moved query takes the position of its new frame
    xy[..., 1] = np.arange(4)[:, None]
    visible = np.ones((4, n_frames), bool)
    visible[1, 6] = False
    visible[2, [0, 3, 6, 9]] = False
    queries = np.array([[4, 4, 0], [5, 5, 1], [7, 7, 2], [6, 6, 3]], np.float32)
    return frames, queries, Tracks(xy=xy, visible=visible)


def test_frame_drop_moves_queries_to_the_nearest_visible_kept_frame_by_hand():
    frames, queries, gt = hand_video()
    # Severity 2: stride 3, kept frames 0, 3, 6, 9.
    f, q, g = apply_perturbation(frames, queries, gt, kind="frame_drop", severity=2, query_mode="strided")
    np.testing.assert_array_equal(f[:, 0, 0, 0], [0, 3, 6, 9])
    # query 0 at 4: nearest kept frame 3 -> new frame 1, x = 3.
    # query 1 at 5: 6 is nearer but occluded there -> 3: new frame 1, x = 3.
    # query 2 at 7: occluded at every kept frame -> dropped, with its ground-truth row.
    # query 3 at 6: a kept frame -> new frame 2, position unchanged.
    np.testing.assert_array_equal(q, [[1, 3, 0], [1, 3, 1], [2, 6, 3]])
    np.testing.assert_array_equal(g.xy, gt.xy[[0, 1, 3]][:, [0, 3, 6, 9]])
    np.testing.assert_array_equal(g.visible, gt.visible[[0, 1, 3]][:, [0, 3, 6, 9]])
    # "first": only kept frames after the query: query 0 -> 6, query 1 -> 9 (6 occluded).
    _, q, _ = apply_perturbation(frames, queries, gt, kind="frame_drop", severity=2, query_mode="first")
    np.testing.assert_array_equal(q, [[2, 6, 0], [3, 9, 1], [2, 6, 3]])
    # Severity 1: stride 2, kept 0, 2, 4, 6, 8. Track 0 queried at 5 is equally near 4 and 6: the earlier, 4.
    _, q, _ = apply_perturbation(frames, np.array([[5, 5, 0]], np.float32), gt[[0]], kind="frame_drop",
                                 severity=1, query_mode="strided")
    np.testing.assert_array_equal(q, [[2, 4, 0]])
    # Without ground truth a query's position on another frame is unknown: queries on dropped frames go.
    f, q, g = apply_perturbation(frames, queries, None, kind="frame_drop", severity=2, query_mode="strided")
    assert g is None and q.tolist() == [[2, 6, 3]]


# --- Reversed time -------------------------------------------------------------------------------------------


def test_reverse_by_hand():
    frames, queries, gt = hand_video()
    f, q, g = apply_perturbation(frames, queries, gt, kind="reverse", query_mode="strided")
    np.testing.assert_array_equal(f[:, 0, 0, 0], np.arange(10)[::-1])
    np.testing.assert_array_equal(g.xy, gt.xy[:, ::-1])
    np.testing.assert_array_equal(q, [[5, 4, 0], [4, 5, 1], [2, 7, 2], [3, 6, 3]])  # t -> 9 - t
    # "first": each query moves to its track's first visible frame of the reversed video, the last
    # visible one of the original: 9 for tracks 0, 1, 3 (new frame 0), 8 for track 2 (new frame 1).
    _, q, _ = apply_perturbation(frames, queries, gt, kind="reverse", query_mode="first")
    np.testing.assert_array_equal(q, [[0, 9, 0], [0, 9, 1], [1, 8, 2], [0, 9, 3]])


@pytest.mark.parametrize("mode", ["first", "strided"])
def test_reverse_keeps_the_oracle_at_one_and_twice_is_the_identity_when_strided(videos, mode):
    sample = videos[mode][0]
    out = perturb_sample(sample, Perturbation("reverse"), mode)
    np.testing.assert_array_equal(out.frames, sample.frames[::-1])
    assert_consistent(out, mode)
    if mode == "strided":
        back = perturb_sample(out, Perturbation("reverse"), mode)
        np.testing.assert_array_equal(back.frames, sample.frames)
        np.testing.assert_array_equal(back.queries, sample.queries)
        assert back.gt == sample.gt


# --- Composition, per-frame data, annotations ----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["first", "strided"])
def test_composed_perturbations_stay_consistent_and_reproducible(videos, mode):
    sample = videos[mode][1]
    spec = Perturbation(["frame_drop", "gaussian_noise", "reverse", "jpeg"], [1, 2, 1, 3], seed=2)
    out = perturb_sample(sample, spec, mode)
    assert out.n_frames == 8 and out.fps == pytest.approx(sample.fps / 2)
    assert_consistent(out, mode)
    np.testing.assert_array_equal(perturb_sample(sample, spec, mode).frames, out.frames)
    # The frames-free path gives the same queries and ground truth, for scoring from cached predictions.
    ann = perturb_annotations(sample.annotations(), spec, mode)
    np.testing.assert_array_equal(ann.queries, out.queries)
    assert ann.gt == out.gt and ann.n_frames == out.n_frames and ann.fps == out.fps
    _, q, g = apply_perturbation(None, sample.queries, sample.gt, kind=spec.kind, severity=spec.severity,
                                 seed=2, query_mode=mode, name=sample.name)
    np.testing.assert_array_equal(q, out.queries)
    assert g == out.gt


def test_per_frame_geometry_and_skeleton_follow_the_frames():
    frames, queries, gt = hand_video()
    t = len(frames)
    depth = np.broadcast_to(np.arange(t, dtype=np.float32)[:, None, None], (t, 8, 8)).copy()
    intrinsics = np.tile(np.eye(3, dtype=np.float32), (t, 1, 1))
    intrinsics[:, 0, 2] = np.arange(t)
    extrinsics = np.zeros((t, 3, 4), np.float32)
    extrinsics[:, 2, 3] = np.arange(t)
    skeleton = Skeleton(["a", "b", "c", "d"], [(0, 1)], np.array([0, 1, 2, 3]))
    sample = Sample("hand", frames, queries, gt, 30.0, depth, intrinsics, extrinsics, skeleton)
    out = perturb_sample(sample, {"kind": ["frame_drop", "reverse"], "severity": [2, 1]}, "strided")
    kept = [9, 6, 3, 0]  # stride 3, then reversed
    np.testing.assert_array_equal(out.depth[:, 0, 0], kept)
    np.testing.assert_array_equal(out.intrinsics[:, 0, 2], kept)
    np.testing.assert_array_equal(out.extrinsics[:, 2, 3], kept)
    np.testing.assert_array_equal(out.frames[:, 0, 0, 0], kept)
    np.testing.assert_array_equal(out.skeleton.keypoint_ids, [0, 1, 3])  # query 2 was dropped
    assert out.fps == pytest.approx(10.0)
    assert perturb_sample(sample, None, "strided") is sample


def test_bad_arguments_are_named():
    frames, queries, gt = hand_video()
    with pytest.raises(ValueError, match="query_mode"):
        apply_perturbation(frames, queries, gt, kind="reverse", query_mode=None)
    with pytest.raises(ValueError, match="n_frames"):
        apply_perturbation(None, queries, None, kind="reverse", query_mode="first")
    with pytest.raises(ValueError, match="frames"):
        apply_perturbation(frames.astype(np.float32), queries, gt, kind="jpeg", query_mode="first")
    with pytest.raises(ValueError, match="gt"):
        apply_perturbation(frames, queries, gt[[0, 1]], kind="jpeg", query_mode="first")
