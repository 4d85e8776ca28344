"""RunRecording: write a small recording, read the .rrd back with `rerun.chunk.RrdReader`, check values."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np
import pytest

from pointbench.identity import video_key
from rerun.chunk import RrdReader

from pointbench.types import Tracks
from pointbench.viz import RunRecording, track_colors
from rrd_reading import annotation_colors, read_blueprint_views, read_rrd as _read, visible_time_range_overrides

N, T, H, W = 4, 6, 24, 32
# One solid colour per frame, so decoded JPEGs can be checked (and RGB/BGR swaps caught).
FRAME_RGB = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255]], np.uint8)


def _frames() -> np.ndarray:
    return np.broadcast_to(FRAME_RGB[:, None, None, :], (T, H, W, 3)).copy()


def _tracks(offset: float, visible: list[str]) -> Tracks:
    """Track i at frame t is at (10 i + t + offset, 3 i + 0.5 t + 0.25); `visible` rows as '1'/'0' strings."""
    i, t = np.meshgrid(np.arange(N), np.arange(T), indexing="ij")
    xy = np.stack([10 * i + t + offset, 3 * i + 0.5 * t + 0.25], axis=-1).astype(np.float32)
    return Tracks(xy=xy, visible=np.array([[c == "1" for c in row] for row in visible]))


COWS = video_key("cows two")  # a name with a space: entity paths use its injective key
GT = _tracks(0.0, ["111111", "111111", "001111", "110011"])
PRED = _tracks(0.5, ["111111", "111011", "001111", "000000"])


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "tracks.rrd"
    with RunRecording(path, trail_length=3) as rec:
        rec.log_video("bear", _frames(), GT, {"lk": PRED})
        short = Tracks(xy=PRED.xy[:, :4].copy(), visible=PRED.visible[:, :4].copy())
        rec.log_video("cows two", _frames()[:4], None, {"lk": short})
        assert not path.exists() and len(list(path.parent.glob(".tracks.rrd.*.tmp"))) == 1
    return path, *_read(path)


def test_file_is_renamed_into_place(recording):
    path = recording[0]
    assert sorted(p.name for p in path.parent.iterdir()) == ["tracks.rrd"]
    assert len(RrdReader(path).store()) > 0  # the footer (chunk manifest) was written


def test_entity_paths(recording):
    _, temporal, static = recording
    for part in ("frames", "gt/points", "gt/trails", "lk/points", "lk/trails"):
        assert f"/videos/bear/{part}" in temporal
    assert f"/videos/{COWS}/lk/points" in temporal
    assert not any(e.startswith(f"/videos/{COWS}/gt") for e in temporal)
    assert "ViewCoordinates:xyz" in static["/videos"]


def test_frames_logged_once_as_rgb_jpeg(recording):
    _, temporal, _ = recording
    frames = temporal["/videos/bear/frames"]
    assert sorted(frames) == list(range(T))
    assert len(temporal[f"/videos/{COWS}/frames"]) == 4
    for t, row in frames.items():
        assert row["EncodedImage:media_type"] == ["image/jpeg"]
        (blob,) = row["EncodedImage:blob"]
        bgr = cv2.imdecode(np.frombuffer(bytes(blob), np.uint8), cv2.IMREAD_COLOR)
        assert bgr.shape == (H, W, 3)
        assert np.abs(bgr[..., ::-1].astype(int) - FRAME_RGB[t]).max() <= 8


def test_points_are_exactly_the_visible_predictions(recording):
    _, temporal, _ = recording
    lk = temporal["/videos/bear/lk/points"]
    assert sorted(lk) == list(range(T))
    # PRED at frame 3: tracks 0 and 2 visible (1 occluded, 3 never visible); x = 10 i + 3.5, y = 3 i + 1.75.
    np.testing.assert_array_equal(np.array(lk[3]["Points2D:positions"], np.float32), [[3.5, 1.75], [23.5, 7.75]])
    for t in range(T):
        expected = PRED.xy[PRED.visible[:, t], t]
        got = np.array(lk[t]["Points2D:positions"], np.float32).reshape(-1, 2)
        assert got.dtype == np.float32 and np.array_equal(got, expected)
    assert [len(lk[t]["Points2D:positions"]) for t in range(T)] == [2, 2, 3, 2, 3, 3]
    gt = temporal["/videos/bear/gt/points"]
    assert [len(gt[t]["Points2D:positions"]) for t in range(T)] == [3, 3, 3, 3, 4, 4]


def test_colours_follow_the_track_in_gt_and_prediction(recording):
    _, temporal, static = recording
    # Each point's class id is its track; the video's annotation context colours class i as track i.
    palette = annotation_colors(static["/videos/bear"])
    assert sorted(palette) == list(range(N))
    np.testing.assert_array_equal(np.stack([palette[i] for i in range(N)]), track_colors(N))
    # At frame 5 the visible tracks are 0, 1, 2 (prediction) and 0, 1, 2, 3 (ground truth).
    assert temporal["/videos/bear/lk/points"][5]["Points2D:class_ids"] == [0, 1, 2]
    assert temporal["/videos/bear/gt/points"][5]["Points2D:class_ids"] == [0, 1, 2, 3]
    # Predictions are drawn larger than the ground truth and below it.
    pred_style, gt_style = static["/videos/bear/lk/points"], static["/videos/bear/gt/points"]
    assert abs(pred_style["Points2D:radii"][0]) > abs(gt_style["Points2D:radii"][0])
    assert pred_style["Points2D:draw_order"][0] < gt_style["Points2D:draw_order"][0]


def test_trails_are_segments_between_visible_frames(recording):
    _, temporal, _ = recording
    lk = temporal["/videos/bear/lk/trails"]

    def strips(t):
        return [np.array(s, np.float32) for s in lk[t]["LineStrips2D:strips"]] if t in lk else []

    def x(i, t):  # PRED's position of track i at frame t
        return [10 * i + t + 0.5, 3 * i + 0.5 * t + 0.25]

    assert strips(0) == []  # no previous frame
    # Frame 4: track 1 reappears after its occlusion at 3, so only tracks 0 and 2 have a segment.
    got = strips(4)
    assert len(got) == 2
    np.testing.assert_array_equal(got[0], [x(0, 3), x(0, 4)])
    np.testing.assert_array_equal(got[1], [x(2, 3), x(2, 4)])
    assert lk[4]["LineStrips2D:class_ids"] == [0, 2]
    # Frame 5: track 1 has its segment from frame 4.
    np.testing.assert_array_equal(strips(5)[1], [x(1, 4), x(1, 5)])
    assert [len(strips(t)) for t in range(T)] == [0, 2, 2, 2, 2, 3]


def test_trail_length_is_the_visible_time_range_of_the_trails(recording):
    ranges = visible_time_range_overrides(recording[0])
    expected = [{"timeline": "frame", "range": {"start": -2, "end": 0}}]  # trail_length=3: frames t-2..t
    assert ranges == {"videos/bear/gt/trails": expected, "videos/bear/lk/trails": expected,
                      f"videos/{COWS}/lk/trails": expected}


def test_blueprint_has_one_2d_view_per_video(recording):
    path = recording[0]
    views = {name: (kind, origin) for name, kind, origin in read_blueprint_views(path)}
    assert views == {"bear": ("2D", "videos/bear"), "cows two": ("2D", f"videos/{COWS}")}


def test_exception_leaves_no_file(tmp_path):
    path = tmp_path / "tracks.rrd"
    with pytest.raises(RuntimeError, match="boom"):
        with RunRecording(path) as rec:
            rec.log_video("bear", _frames(), GT, {"lk": PRED})
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_no_trails_when_trail_length_is_one(tmp_path):
    path = tmp_path / "tracks.rrd"
    with RunRecording(path, trail_length=1) as rec:
        rec.log_video("bear", _frames(), GT, {"lk": PRED})
    temporal, _ = _read(path)
    assert "/videos/bear/lk/points" in temporal
    assert not any(e.endswith("/trails") for e in temporal)


def test_bad_input_is_rejected(tmp_path):
    with RunRecording(tmp_path / "tracks.rrd") as rec:
        with pytest.raises(ValueError, match="'lk' tracks have 6 frames, video has 4"):
            rec.log_video("bear", _frames()[:4], None, {"lk": PRED})
        with pytest.raises(ValueError, match="reserved"):
            rec.log_video("bear", _frames(), None, {"gt": PRED})


def test_track_colors():
    colors = track_colors(50)
    assert colors.dtype == np.uint8 and colors.shape == (50, 3)
    hsv = [colorsys.hsv_to_rgb(i * 0.618033988749895 % 1, 0.85, 0.95) for i in range(50)]
    np.testing.assert_array_equal(colors, np.round(np.array(hsv) * 255))
    assert len({tuple(c) for c in colors}) == 50
    assert track_colors(0).shape == (0, 3)


@pytest.mark.parametrize("codec", ["av1", "h264"])
def test_frames_as_encoded_video(tmp_path, codec):
    av = pytest.importorskip("av")
    path = tmp_path / "video.rrd"
    frames = np.broadcast_to(FRAME_RGB[:, None, None, :], (T, 25, 33, 3)).copy()  # odd size: padded to even
    with RunRecording(path, frame_format=codec) as rec:
        rec.log_video("bear", frames, GT, {"lk": PRED}, fps=10.0)
    temporal, static = _read(path)
    assert static["/videos/bear/frames"]["AssetVideo:media_type"] == ["video/mp4"]
    references = temporal["/videos/bear/frames"]
    assert sorted(references) == list(range(T))
    stamps = [references[t]["VideoFrameReference:timestamp"][0] for t in range(T)]
    np.testing.assert_array_equal(stamps, np.arange(T) * 100_000_000)  # 10 fps
    blob = bytes(np.asarray(static["/videos/bear/frames"]["AssetVideo:blob"][0], np.uint8))
    import io
    with av.open(io.BytesIO(blob)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == T and decoded[0].shape == (26, 34, 3)
    for frame, colour in zip(decoded, FRAME_RGB):
        assert np.abs(frame[4:20, 4:28].reshape(-1, 3).mean(0) - colour).max() < 20
