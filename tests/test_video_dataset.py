"""Plain videos: video files, frame folders and globs; grid, points-file and mask queries; errors; a run."""

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

import pointbench
from pointbench.datasets.synthetic import SyntheticDataset
from pointbench.datasets.video import VideoDataset, mask_queries
from pointbench.io import load_predictions
from pointbench.runner import run

CONF = str(Path(pointbench.__file__).parent / "conf")
H, W, T = 64, 96, 12


@pytest.fixture(scope="module")
def frames():
    return SyntheticDataset(num_videos=1, num_frames=T, height=H, width=W).load(0).frames


def write_mp4(path: Path, frames: np.ndarray, fps: float = 10.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frames.shape[2], frames.shape[1]))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_folder(path: Path, frames: np.ndarray) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):  # unpadded numbers: natural order, not "1, 10, 11, 2"
        assert cv2.imwrite(str(path / f"frame_{t}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture(scope="module")
def mp4(tmp_path_factory, frames):
    return write_mp4(tmp_path_factory.mktemp("mp4") / "clip.mp4", frames)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, frames):
    return write_folder(tmp_path_factory.mktemp("png") / "shot", frames)


# -- frames ------------------------------------------------------------------------------------------------

def test_mp4_frames_come_back_approximately_in_order_and_rgb(mp4, frames):
    ds = VideoDataset(str(mp4))
    sample = ds.load(0)
    assert ds.names == ["clip"] and sample.gt is None and sample.fps == pytest.approx(10.0)
    assert sample.frames.shape == (T, H, W, 3) and sample.frames.dtype == np.uint8
    error = np.abs(sample.frames.astype(float)[:, None] - frames.astype(float)[None]).mean(axis=(2, 3, 4))
    assert (np.diag(error) < 12).all(), np.diag(error)  # mp4v is lossy
    assert (error.argmin(axis=1) == np.arange(T)).all(), "each frame is closest to its own original"
    swapped = np.abs(sample.frames.astype(float) - frames[..., ::-1].astype(float)).mean(axis=(1, 2, 3))
    assert (np.diag(error) < swapped).all(), "channels are RGB, not BGR"


def test_frame_folder_is_exact_and_in_natural_order(folder, frames):
    ds = VideoDataset(str(folder), fps=25.0)
    sample = ds.load(0)
    assert ds.names == ["shot"] and sample.fps == 25.0
    np.testing.assert_array_equal(sample.frames, frames)


def test_stride_and_max_frames(folder, mp4, frames):
    sample = VideoDataset(str(folder), stride=3, max_frames=3, fps=24.0).load(0)
    np.testing.assert_array_equal(sample.frames, frames[[0, 3, 6]])
    assert sample.fps == 8.0
    video = VideoDataset(str(mp4), stride=5).load(0)  # original frames 0, 5, 10
    assert video.fps == pytest.approx(2.0) and len(video.frames) == 3
    error = np.abs(video.frames.astype(float) - frames[[0, 5, 10]].astype(float)).mean()
    assert error < 12


@pytest.mark.parametrize("resize, size", [(32, (32, 48)), (128, (128, 192)), ([40, 50], (40, 50))])
def test_resize_short_side_or_exact(folder, frames, resize, size):
    sample = VideoDataset(str(folder), resize=resize, interpolation="linear").load(0)
    expected = np.stack([cv2.resize(f, (size[1], size[0]), interpolation=cv2.INTER_LINEAR) for f in frames])
    np.testing.assert_array_equal(sample.frames, expected)


def test_annotations_match_the_sample_without_decoding_every_frame(mp4, folder, monkeypatch):
    reads = []
    real = cv2.VideoCapture

    class CountingCapture:  # a wrapper: subclassing OpenCV's class crashes on destruction
        def __init__(self, *args):
            self.capture = real(*args)

        def read(self, *args):
            reads.append(1)
            return self.capture.read(*args)

        def __getattr__(self, name):
            return getattr(self.capture, name)

    monkeypatch.setattr(cv2, "VideoCapture", CountingCapture)
    ds = VideoDataset(str(mp4), resize=32, stride=2, queries={"grid_size": 3, "query_frame": 4})
    annotations = ds.load_annotations(0)
    assert len(reads) == 1, "load_annotations decodes only the first frame"
    sample = ds.load(0)
    assert (annotations.n_frames, annotations.image_size, annotations.fps, annotations.gt) == (
        sample.n_frames, sample.image_size, sample.fps, None)
    np.testing.assert_array_equal(annotations.queries, sample.queries)
    monkeypatch.undo()

    images = []
    real_imdecode = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda *a, **k: images.append(1) or real_imdecode(*a, **k))
    annotations = VideoDataset(str(folder)).load_annotations(0)
    assert len(images) == 1 and annotations.n_frames == T and annotations.image_size == (H, W)


def test_a_file_without_a_frame_count_is_counted_by_reading_it(mp4, frames, monkeypatch):
    real = cv2.VideoCapture

    class NoCount:  # a container that states no frame count (OpenCV then reports 0 or -1)
        def __init__(self, *args):
            self.capture = real(*args)

        def get(self, prop):
            return -1.0 if prop == cv2.CAP_PROP_FRAME_COUNT else self.capture.get(prop)

        def __getattr__(self, name):
            return getattr(self.capture, name)

    monkeypatch.setattr(cv2, "VideoCapture", NoCount)
    ds = VideoDataset(str(mp4), stride=5)
    assert ds.load_annotations(0).n_frames == 3 and len(ds.load(0).frames) == 3


# -- globs and names ----------------------------------------------------------------------------------------

def test_glob_of_videos_and_of_folders_with_unique_names(tmp_path, frames):
    write_mp4(tmp_path / "a" / "clip.mp4", frames[:4])
    write_mp4(tmp_path / "b" / "clip.mp4", frames[4:10])
    write_mp4(tmp_path / "b" / "other.mp4", frames[:5])
    (tmp_path / "b" / "notes.txt").write_text("not a video")
    ds = VideoDataset(str(tmp_path / "*" / "*"))
    assert ds.names == ["a/clip.mp4", "b/clip.mp4", "other"]
    assert [ds.load_annotations(i).n_frames for i in range(3)] == [4, 6, 5]

    write_folder(tmp_path / "shots" / "s1", frames[:3])
    write_folder(tmp_path / "shots" / "s2", frames[3:5])
    ds = VideoDataset(str(tmp_path / "shots" / "*"))
    assert ds.names == ["s1", "s2"]
    np.testing.assert_array_equal(ds.load(1).frames, frames[3:5])


# -- queries ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("resize", [None, [32, 24]])
def test_grid_queries_are_cell_centres(folder, resize):
    ds = VideoDataset(str(folder), resize=resize, queries={"source": "grid", "grid_size": 4, "query_frame": 2})
    sample = ds.load(0)
    h, w = sample.image_size
    expected = [(2, (j + 0.5) * w / 4, (i + 0.5) * h / 4) for i in range(4) for j in range(4)]
    np.testing.assert_allclose(sample.queries, np.array(expected, np.float32), rtol=0, atol=1e-5)
    assert sample.queries[1, 1] == pytest.approx(1.5 * w / 4) and sample.queries[4, 2] == pytest.approx(1.5 * h / 4)


POINTS = np.array([[0, 0.0, 0.0], [4, 95.5, 63.25], [10, 48.0, 12.5]])


@pytest.mark.parametrize("kind", ["csv", "npy"])
def test_points_file_round_trip_through_stride_and_resize(tmp_path, folder, kind):
    if kind == "csv":
        path = tmp_path / "points.csv"
        pd.DataFrame({"x": POINTS[:, 1], "id": [7, 8, 9], "t": POINTS[:, 0].astype(int), "y": POINTS[:, 2]}).to_csv(
            path, index=False)  # columns found by header name, extra columns ignored
    else:
        path = tmp_path / "points.npy"
        np.save(path, POINTS)
    plain = VideoDataset(str(folder), queries={"source": "points", "points_file": str(path)}).load(0)
    np.testing.assert_array_equal(plain.queries, POINTS.astype(np.float32))
    scaled = VideoDataset(str(folder), stride=2, resize=[32, 24],
                          queries={"source": "points", "points_file": str(path)}).load_annotations(0)
    expected = np.column_stack([POINTS[:, 0] / 2, POINTS[:, 1] * 24 / 96, POINTS[:, 2] * 32 / 64])
    np.testing.assert_allclose(scaled.queries, expected.astype(np.float32), rtol=0, atol=1e-6)


@pytest.mark.parametrize("rows, stride, match", [
    ("t,x,y\n0,10,10\n2,97,10\n", 1, r"points\.csv: line 3 .*\(x, y\) = \(97, 10\) must lie in the 96x64 frame"),
    ("t,x,y\n1.5,10,10\n", 1, r"points\.csv: line 2 .*integer; got 1\.5"),
    ("t,x,y\n3,10,10\n", 2, r"points\.csv: line 2 .*t=3 is skipped by stride=2"),
    ("t,x,y\n12,10,10\n", 1, r"points\.csv: line 2 .*t=12 is past the last loaded frame"),
    ("t,x,y\n0,ten,10\n", 1, r"points\.csv: line 2: expected numbers"),
    ("frame,x,y\n0,1,1\n", 1, r"points\.csv: the CSV header must name the columns t, x, y"),
    ("t,x,y\n", 1, r"points\.csv: no points"),
])
def test_points_file_errors_name_the_file_and_row(tmp_path, folder, rows, stride, match):
    path = tmp_path / "points.csv"
    path.write_text(rows)
    ds = VideoDataset(str(folder), stride=stride, queries={"source": "points", "points_file": str(path)})
    with pytest.raises(ValueError, match=match):
        ds.load_annotations(0)


def test_npy_points_errors(tmp_path, folder):
    path = tmp_path / "p.npy"
    np.save(path, np.array([[0, 1, 1], [0, -1, 5]], float))
    ds = VideoDataset(str(folder), queries={"source": "points", "points_file": str(path)})
    with pytest.raises(ValueError, match=r"p\.npy: row 1 .*\(x, y\) = \(-1, 5\)"):
        ds.load(0)
    np.save(path, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"p\.npy: expected a numeric array of shape \(M, 3\)"):
        ds.load_annotations(0)


def _nearest(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return np.sqrt(((targets[:, None] - points[None]) ** 2).sum(-1)).min(axis=1)


def test_mask_queries_lie_in_the_mask_and_cover_it_evenly():
    mask = np.zeros((H, W), bool)
    mask[8:40, 10:70] = True  # a 32 x 60 rectangle
    cv2.circle(mask.view(np.uint8), (80, 50), 10, 1, -1)  # and a disk
    for max_points in (10, 50, 200):
        xy = mask_queries(mask, max_points)
        assert 0.25 * max_points <= len(xy) <= max_points
        col, row = np.floor(xy).astype(int).T
        assert mask[row, col].all(), "every query is on a mask pixel"
        np.testing.assert_array_equal(xy % 1, 0.5)  # pixel centres
        rows, cols = np.nonzero(mask)
        spacing = np.sqrt(mask.sum() / max_points)  # the spacing of max_points evenly spread points
        gap = _nearest(xy, np.column_stack([cols + 0.5, rows + 0.5])).max()
        assert gap <= 1.25 * spacing, (max_points, gap, spacing)  # a random subset fails this
        assert len(np.unique(xy, axis=0)) == len(xy)
    # A one-pixel line is covered along its whole length, not missed by a lattice.
    line = np.zeros((H, W), bool)
    line[1, :] = True
    xy = mask_queries(line, 8)
    assert len(xy) == 8 and (xy[:, 1] == 1.5).all() and np.ptp(xy[:, 0]) > 0.75 * W


def test_a_small_mask_gives_every_pixel_centre(tmp_path, folder):
    mask = np.zeros((H, W), np.uint8)
    mask[5, 7] = mask[6, 7] = mask[30, 90] = 255
    path = tmp_path / "mask.png"
    cv2.imwrite(str(path), mask)
    ds = VideoDataset(str(folder), queries={"source": "mask", "mask_file": str(path), "query_frame": 3})
    np.testing.assert_array_equal(ds.load(0).queries, np.array([[3, 7.5, 5.5], [3, 7.5, 6.5], [3, 90.5, 30.5]],
                                                               np.float32))
    resized = VideoDataset(str(folder), resize=[32, 48], queries={"source": "mask", "mask_file": str(path)})
    np.testing.assert_allclose(resized.load_annotations(0).queries,
                               [[0, 3.75, 2.75], [0, 3.75, 3.25], [0, 45.25, 15.25]], atol=1e-6)


def test_mask_errors(tmp_path, folder):
    path = tmp_path / "mask.png"
    cv2.imwrite(str(path), np.zeros((H, W), np.uint8))
    ds = VideoDataset(str(folder), queries={"source": "mask", "mask_file": str(path)})
    with pytest.raises(ValueError, match=r"mask\.png: the mask has no pixel > 0"):
        ds.load_annotations(0)
    cv2.imwrite(str(path), np.ones((H, W + 1), np.uint8))
    with pytest.raises(ValueError, match=r"mask\.png: the mask is 64x97; video 'shot' is 64x96"):
        ds.load_annotations(0)


# -- errors ---------------------------------------------------------------------------------------------------

def test_errors_name_the_path(tmp_path, mp4):
    with pytest.raises(FileNotFoundError, match="no file or folder at '.*missing.mp4'"):
        VideoDataset(str(tmp_path / "missing.mp4"))
    with pytest.raises(FileNotFoundError, match="dataset.path is not set"):
        VideoDataset(None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no frames in folder '.*empty'"):
        VideoDataset(str(tmp_path / "empty"))
    (tmp_path / "vids").mkdir()
    (tmp_path / "vids" / "x.mp4").write_bytes(mp4.read_bytes())
    with pytest.raises(FileNotFoundError, match=r"holds videos: use a pattern such as '.*vids/\*\.mp4'"):
        VideoDataset(str(tmp_path / "vids"))
    with pytest.raises(FileNotFoundError, match="the pattern '.*nothing/\\*.mp4' matches no video"):
        VideoDataset(str(tmp_path / "nothing" / "*.mp4"))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 100)
    ds = VideoDataset(str(broken))
    with pytest.raises(ValueError, match="broken.mp4"):
        ds.load(0)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "0.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot read image '.*bad/0.png'"):
        VideoDataset(str(tmp_path / "bad")).load(0)


def test_frames_of_different_sizes_are_refused(tmp_path, frames):
    folder = write_folder(tmp_path / "mixed", frames[:3])
    cv2.imwrite(str(folder / "frame_2.png"), frames[2, :32])
    with pytest.raises(ValueError, match=r"frame '.*frame_2.png' is 32x96; the first frame .* is 64x96"):
        VideoDataset(str(folder)).load(0)


@pytest.mark.parametrize("kwargs, match", [
    ({"stride": 0}, "stride must be a positive integer"),
    ({"max_frames": 0}, "max_frames must be null or a positive integer"),
    ({"resize": [32]}, r"resize must be null, a positive integer \(short side\) or \[height, width\]"),
    ({"queries": {"source": "dots"}}, "queries.source must be one of"),
    ({"queries": {"grid": 3}}, r"unknown key\(s\) \['grid'\] in queries"),
    ({"queries": {"source": "points"}}, "queries.source=points needs queries.points_file"),
    ({"queries": {"query_frame": 12}}, r"query_frame: frame t=12 is past the last loaded frame"),
    ({"stride": 2, "queries": {"query_frame": 1}}, "t=1 is skipped by stride=2"),
])
def test_bad_configuration_is_named(folder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        VideoDataset(str(folder), **kwargs).load_annotations(0)


# -- end to end ------------------------------------------------------------------------------------------------

def test_runner_on_an_mp4_writes_unscored_rows_and_a_recording(tmp_path, mp4):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "dataset=video", f"dataset.path={mp4}", "dataset.queries.grid_size=4", "tracker=lk"])
    result = run(cfg, tmp_path)
    row = pd.read_csv(tmp_path / "metrics_per_video.csv").iloc[0]
    assert (row["video"], row["status"], row["n_frames"], row["n_queries"]) == ("clip", "unscored", T, 16)
    assert row["note"].startswith("no ground truth") and pd.isna(row["error"]) and result.failures.empty
    assert (tmp_path / "tracks.rrd").stat().st_size > 0
    tracks, queries, extra = load_predictions(tmp_path / "predictions" / "clip.npz")
    assert tracks.xy.shape == (16, T, 2) and "gt_xy" not in extra
    np.testing.assert_array_equal(queries, VideoDataset(str(mp4), queries={"grid_size": 4}).load_annotations(0).queries)
