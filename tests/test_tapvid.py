"""TAP-Vid / RoboTAP loaders and safe unpickling, on small files written from synthetic videos."""

import collections
import gc
import os
import pathlib
import pickle
import re
import subprocess
import sys
import weakref
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

import pointbench
from pointbench.datasets import tapvid
from pointbench.datasets.safe_pickle import UnsafePickleError, safe_load
from pointbench.datasets.synthetic import SyntheticDataset
from pointbench.datasets.tapvid import RoboTap, TapVidDavis, TapVidKinetics, TapVidRgbStacking
from pointbench.runner import run

CONF = str(Path(pointbench.__file__).parent / "conf")
T, H, W = 10, 48, 64
NAMES = ["bear", "camel", "dog"]


# ----------------------------------------------------------------------------- data

def _synthetic_tracks():
    """Frames, pixel positions (float64, NaN allowed at occluded frames) and visibility of 3 videos."""
    dataset = SyntheticDataset(num_videos=3, num_frames=T, height=H, width=W, num_tracks=24, num_layers=2)
    videos = []
    for i in range(3):
        sample = dataset.load(i)  # "first" mode: one gt row per track that is ever visible
        xy = sample.gt.xy.astype(np.float64)
        visible = sample.gt.visible.copy()
        # Occluded positions are arbitrary in TAP-Vid: far outside the frame, or NaN.
        far, nan = np.flatnonzero((~visible).any(axis=1))[:2]
        xy[far][~visible[far]] = (7 * W, -2 * H)
        xy[nan][~visible[nan]] = np.nan
        # A track that is never visible (dropped by both query modes).
        xy = np.concatenate([xy, np.full((1, T, 2), -3.0 * W)])
        visible = np.concatenate([visible, np.zeros((1, T), bool)])
        videos.append((sample.frames, xy, visible))
    return videos


VIDEOS = _synthetic_tracks()


def _example(frames, xy, visible, dtype=np.float32, jpeg=None):
    points = (xy / [W, H]).astype(dtype)
    video = frames if jpeg is None else jpeg([cv2.imencode(".jpg", f[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])[1]
                                              .tobytes() for f in frames])
    return {"video": video, "points": points, "occluded": ~visible}


def _dump(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(content, f)
    return path


def write_davis(root, examples=None):
    examples = examples or [_example(*v) for v in VIDEOS]
    return _dump(root / "tapvid_davis.pkl", dict(zip(NAMES, examples)))


def write_rgb_stacking(root):
    return _dump(root / "tapvid_rgb_stacking.pkl", [_example(*v) for v in VIDEOS])


def write_robotap(root):
    examples = [_example(*v) for v in VIDEOS]
    _dump(root / "robotap" / "robotap_split0.pkl", dict(zip(NAMES[:2], examples[:2])))
    _dump(root / "robotap" / "robotap_split1.pkl", {NAMES[2]: examples[2]})
    return root / "robotap"


def write_kinetics(root):
    """Two shards as generate_tapvid.py writes them (float64 points); the first with a numpy bytes array
    of frames, the second with a list; plus a file the shard pattern must skip."""
    folder = root / "kinetics"
    shard0 = [_example(*v, dtype=np.float64, jpeg=np.array) for v in VIDEOS[:2]]
    _dump(folder / "0000_of_0010.pkl", shard0)
    _dump(folder / "0001_of_0010.pkl", [_example(*VIDEOS[2], dtype=np.float64, jpeg=list)])
    (folder / "notes.pkl").write_bytes(b"not a shard")
    return folder


FORMATS = {
    "davis": (TapVidDavis, write_davis, NAMES),
    "rgb_stacking": (TapVidRgbStacking, write_rgb_stacking, ["0", "1", "2"]),
    "robotap": (RoboTap, write_robotap, NAMES),
    "kinetics": (TapVidKinetics, write_kinetics, ["0000_of_0010/0", "0000_of_0010/1", "0001_of_0010/0"]),
}


def expected_queries(xy, visible, mode, stride=5):
    """The TAP-Vid queries, by a plain loop: rows (t, x, y) and the track of each."""
    rows, tracks = [], []
    if mode == "first":
        for n in range(len(visible)):
            for t in range(visible.shape[1]):
                if visible[n, t]:
                    rows.append((t, *xy[n, t]))
                    tracks.append(n)
                    break
    else:
        for t in range(0, visible.shape[1], stride):
            for n in range(len(visible)):
                if visible[n, t]:
                    rows.append((t, *xy[n, t]))
                    tracks.append(n)
    return np.array(rows), np.array(tracks)


def decode(data):
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]


# ----------------------------------------------------------------------------- loaders

@pytest.mark.parametrize("mode", ["first", "strided"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_gives_positions_flags_and_protocol_queries(tmp_path, fmt, mode):
    cls, write, names = FORMATS[fmt]
    dataset = cls(path=str(write(tmp_path)), query_mode=mode)
    assert dataset.names == names and len(dataset) == 3
    for i, (frames, xy, visible) in enumerate(VIDEOS):
        sample = dataset.load(i)
        assert sample.name == names[i] and sample.fps == 25.0
        if fmt == "kinetics":
            assert sample.frames.shape == frames.shape and np.abs(sample.frames.astype(int) - frames).mean() < 8  # JPEG, RGB order kept
        else:
            np.testing.assert_array_equal(sample.frames, frames)
        rows, tracks = expected_queries(xy, visible, mode)
        assert len(rows) > 0 and len(sample.queries) == len(rows)
        np.testing.assert_array_equal(sample.queries[:, 0], rows[:, 0])
        np.testing.assert_allclose(sample.queries[:, 1:], rows[:, 1:], atol=1e-4, rtol=0)
        np.testing.assert_array_equal(sample.gt.visible, visible[tracks])
        # Every position comes back, occluded ones (far outside, or NaN) included.
        np.testing.assert_allclose(sample.gt.xy, xy[tracks], atol=1e-4, rtol=0, equal_nan=True)
        # Re-scoring needs the same annotations without the frames.
        ann = dataset.load_annotations(i)
        assert (ann.name, ann.n_frames, ann.image_size, ann.fps) == (names[i], T, (H, W), 25.0)
        np.testing.assert_array_equal(ann.queries, sample.queries)
        assert ann.gt == sample.gt


def test_kinetics_frames_are_the_decoded_jpegs(tmp_path):
    folder = write_kinetics(tmp_path)
    dataset = TapVidKinetics(path=str(folder))
    shard = pickle.loads((folder / "0000_of_0010.pkl").read_bytes())
    np.testing.assert_array_equal(dataset.load(1).frames, np.stack([decode(f) for f in shard[1]["video"]]))


@pytest.mark.parametrize("fmt", ["davis", "kinetics"])
def test_resize_scales_positions_exactly(tmp_path, fmt):
    cls, write, _ = FORMATS[fmt]
    path = write(tmp_path)
    native = cls(path=str(path))
    for size, (h, w) in ((256, (256, 256)), ([100, 160], (100, 160))):
        dataset = cls(path=str(path), resize=size, query_mode="strided")
        sample, ann = dataset.load(0), dataset.load_annotations(0)
        assert sample.frames.shape == (T, h, w, 3) and ann.image_size == (h, w)
        _, xy, visible = VIDEOS[0]
        points = (xy / [W, H]).astype(np.float32 if fmt == "davis" else np.float64)
        _, tracks = expected_queries(xy, visible, "strided")
        expected = (points[tracks].astype(np.float64) * [w, h]).astype(np.float32)
        np.testing.assert_array_equal(sample.gt.xy, expected)
        np.testing.assert_array_equal(ann.gt.xy, expected)
        if size == 256 and fmt == "davis":
            # x = px * 256 exactly: a power of two scales float32 without rounding.
            np.testing.assert_array_equal(sample.gt.xy, points[tracks] * np.float32(256))
            np.testing.assert_array_equal(sample.frames,
                                          np.stack([cv2.resize(f, (256, 256), interpolation=cv2.INTER_AREA)
                                                    for f in native.load(0).frames]))


def test_kinetics_holds_one_shard_and_decodes_only_the_loaded_video(tmp_path, monkeypatch):
    class Content(list):  # a list that can be weakly referenced, to see when a shard is dropped
        pass

    loads, decodes, contents, alive_before_load = [], [], [], []
    real_decode = cv2.imdecode

    def counting_load(path, **options):
        gc.collect()
        alive_before_load.append(sum(ref() is not None for ref in contents))
        loads.append(Path(path).name)
        content = Content(safe_load(path, **options))
        contents.append(weakref.ref(content))
        return content

    def counting_decode(*args):
        decodes.append(1)
        return real_decode(*args)

    monkeypatch.setattr(tapvid, "safe_load", counting_load)
    monkeypatch.setattr(tapvid.cv2, "imdecode", counting_decode)
    dataset = TapVidKinetics(path=str(write_kinetics(tmp_path)))
    assert len(dataset.names) == 3
    assert loads == ["0001_of_0010.pkl", "0000_of_0010.pkl"] and not decodes  # last to first: shard 0 stays
    shard0 = weakref.ref(dataset._held[1])
    dataset.load_annotations(0)
    assert len(decodes) == 1, "annotations decode only the first frame (for its size)"
    dataset.load(1)
    assert len(decodes) == 1 + T and len(loads) == 2
    dataset.load(2)  # another shard: the first is dropped before the second is read
    gc.collect()
    assert shard0() is None and loads[-1] == "0001_of_0010.pkl" and len(loads) == 3
    assert alive_before_load == [0, 0, 0], "a shard is dropped before the next one is read"


def test_single_file_is_read_once(tmp_path, monkeypatch):
    loads = []
    monkeypatch.setattr(tapvid, "safe_load", lambda path, **options: loads.append(path) or safe_load(path, **options))
    dataset = TapVidDavis(path=str(write_davis(tmp_path)))
    for i in range(len(dataset)):
        dataset.load(i), dataset.load_annotations(i)
    assert len(loads) == 1


def _bad(mutate):
    def build():
        examples = [_example(*v) for v in VIDEOS]
        examples[1] = mutate(examples[1])
        return examples
    return build


def _set(key, value_of):
    def mutate(example):
        example = dict(example)
        example[key] = value_of(example[key])
        return example
    return mutate


def _visible_point(value):
    def change(points):
        points = points.copy()
        n, t = np.argwhere(~_example(*VIDEOS[1])["occluded"])[0]
        points[n, t, 0] = value
        return points
    return change


MALFORMED = {
    "missing key": (lambda e: {k: v for k, v in e.items() if k != "occluded"}, "occluded", "missing key 'occluded'"),
    "not a dict": (lambda e: list(e.values()), "example", "an example must be a dict"),
    "points shape": (_set("points", lambda p: p[..., :1]), "points", r"float array of shape \(N, T, 2\)"),
    "points dtype": (_set("points", lambda p: np.zeros(p.shape, np.int32)), "points", "float array"),
    "occluded dtype": (_set("occluded", lambda o: o.astype(np.uint8)), "occluded", "bool array"),
    "occluded shape": (_set("occluded", lambda o: o[:, :-1]), "occluded", r"shape \(N=\d+, T=10\)"),
    "video dtype": (_set("video", lambda v: v.astype(np.float32)), "video", r"uint8 array \(T, H, W, 3\)"),
    "video length": (_set("video", lambda v: v[:-1]), "video", "T=10 frames"),
    "outside [0, 1]": (_set("points", _visible_point(1.5)), "points", r"within \[0, 1\]"),
    "NaN visible": (_set("points", _visible_point(np.nan)), "points", "finite wherever 'occluded' is false"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_example_names_file_video_and_key(tmp_path, case):
    mutate, key, message = MALFORMED[case]
    path = write_davis(tmp_path, _bad(mutate)())
    dataset = TapVidDavis(path=str(path))
    assert dataset.names == NAMES  # listing never fails on one bad video
    for load in (dataset.load, dataset.load_annotations):
        with pytest.raises(ValueError, match=re.escape(f"{path}: video 'camel'") + f".*{message}") as error:
            load(1)
        assert f"'{key}'" in str(error.value) or key == "example"
        load(0), load(2)


def test_visible_points_may_be_up_to_one_pixel_outside(tmp_path):
    # generate_tapvid.py shifts Kinetics points by half a pixel: a point on the edge ends just outside.
    ok = TapVidDavis(path=str(write_davis(tmp_path / "a", _bad(_set("points", _visible_point(-0.5 / W)))())))
    assert ok.load(1).gt is not None
    bad = TapVidDavis(path=str(write_davis(tmp_path / "b", _bad(_set("points", _visible_point(-2 / W)))())))
    with pytest.raises(ValueError, match=r"'points' must be within \[0, 1\] \(up to one pixel of a 64x48 frame\)"):
        bad.load(1)


def make_cfg(*overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


@pytest.mark.parametrize("rerun", [False, True])
def test_runner_isolates_the_malformed_video(tmp_path, rerun):
    path = write_davis(tmp_path, _bad(MALFORMED["NaN visible"][0])())
    cfg = make_cfg("dataset=tapvid_davis", f"dataset.path={path}", "tracker=lk", f"output.rerun={rerun}")
    rows = run(cfg, tmp_path / "run").per_video.set_index("video")
    assert list(rows.index) == NAMES
    assert rows.loc["camel", "status"] == "error"
    assert "video 'camel'" in rows.loc["camel", "error"] and "'points'" in rows.loc["camel", "error"]
    assert (rows.loc[["bear", "dog"], "status"] == "ok").all()


def test_command_line_runs_tapvid_davis_end_to_end(tmp_path):
    path = write_davis(tmp_path)
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "pointbench", "tracker=lk", "dataset=tapvid_davis",
                           f"dataset.path={path}", "dataset.query_mode=strided", f"hydra.run.dir={out}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = pd.read_csv(out / "metrics_per_video.csv")
    assert list(rows["video"]) == NAMES and (rows["status"] == "ok").all()
    assert list(rows["n_queries"]) == [len(expected_queries(xy, vis, "strided")[0]) for _, xy, vis in VIDEOS]
    assert (rows["AJ"] > 0.2).all(), "LK tracks these slow synthetic videos"
    for name in NAMES:
        assert (out / "predictions" / f"{name}.npz").exists()


@pytest.mark.parametrize("cls, url", [
    (TapVidDavis, "https://storage.googleapis.com/dm-tapnet/tapvid_davis.zip"),
    (TapVidRgbStacking, "https://storage.googleapis.com/dm-tapnet/tapvid_rgb_stacking.zip"),
    (RoboTap, "https://storage.googleapis.com/dm-tapnet/robotap/robotap.zip"),
    (TapVidKinetics, "https://storage.googleapis.com/dm-tapnet/tapvid_kinetics.zip"),
])
def test_missing_data_names_the_path_and_the_download(tmp_path, cls, url):
    missing = tmp_path / "nowhere" / "data.pkl"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing)) + ".*" + re.escape(url)):
        cls(path=str(missing))
    with pytest.raises(FileNotFoundError, match=re.escape(url)):
        cls(path=None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "empty")) + ".*" + re.escape(url)):
        cls(path=str(tmp_path / "empty"))


@pytest.mark.parametrize("name", ["tapvid_davis", "tapvid_rgb_stacking", "robotap", "tapvid_kinetics"])
def test_config_missing_path_points_to_the_download(name):
    cfg = make_cfg(f"dataset={name}")
    assert cfg.dataset.name == name and cfg.dataset.path is None
    with pytest.raises(Exception, match="dataset.path is not set.*https://storage.googleapis.com/dm-tapnet/"):
        run(cfg, Path("unused"))  # Hydra wraps the FileNotFoundError, keeping its message


def test_bad_options_are_refused(tmp_path):
    path = str(write_davis(tmp_path))
    for kwargs, message in (({"query_mode": "last"}, "query_mode"), ({"query_stride": 0}, "query_stride"),
                            ({"resize": 0}, "resize"), ({"resize": [256]}, "resize"),
                            ({"interpolation": "nearest-ish"}, "interpolation"), ({"fps": 0}, "fps")):
        with pytest.raises(ValueError, match=message):
            TapVidDavis(path=path, **kwargs)


def test_duplicate_names_across_files_cost_only_the_duplicate(tmp_path):
    example = _example(*VIDEOS[0])
    _dump(tmp_path / "r" / "a.pkl", {"bear": example})
    _dump(tmp_path / "r" / "b.pkl", {"bear": example, "dog": example})
    dataset = RoboTap(path=str(tmp_path / "r"))
    assert dataset.names == ["bear", "bear (b.pkl, duplicate)", "dog"]
    with pytest.raises(ValueError, match=r"b\.pkl: video name 'bear' also appears in .*a\.pkl"):
        dataset.load(1)
    assert dataset.load(0).name == "bear" and dataset.load(2).name == "dog"


# ----------------------------------------------------------------------------- safe unpickling

class RunsShell:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return os.system, (f"touch {self.target}",)


class WritesFile:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return pathlib.Path.write_text, (pathlib.Path(self.target), "pwned")


class SavesWithNumpy:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return np.save, (str(self.target), np.zeros(1))


@pytest.mark.parametrize("payload, refused", [
    (RunsShell, f"{os.system.__module__}.system"),
    (WritesFile, "pathlib.Path.write_text"),
    (SavesWithNumpy, "numpy.save"),
])
def test_a_malicious_pickle_is_refused_before_it_runs(tmp_path, payload, refused):
    target = tmp_path / "pwned.npy"
    path = _dump(tmp_path / "evil.pkl", {"video": np.zeros((1, 2, 2, 3), np.uint8), "evil": payload(target)})
    with pytest.raises(UnsafePickleError, match=re.escape(f"{path}: refusing to load global '{refused}'")):
        safe_load(path)
    assert not target.exists()
    dataset = TapVidDavis(path=str(path))  # through a dataset: the value is refused, the file still lists
    assert dataset.names == ["video", "evil"]
    with pytest.raises(UnsafePickleError, match=re.escape(f"{path}: video 'evil': 'example': refusing to load "
                                                          f"global '{refused}'")):
        dataset.load(1)
    with pytest.raises(ValueError, match="an example must be a dict"):
        dataset.load(0)
    assert not target.exists()
    pickle.loads(path.read_bytes())  # the payload is live: plain pickle runs it
    assert target.exists()


def _same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.flags.f_contiguous == b.flags.f_contiguous
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert a == b


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_real_shaped_data_loads_back_identically(tmp_path, protocol):
    frames, xy, visible = VIDEOS[0]
    data = {
        "bear": _example(frames, xy, visible),
        "kinetics": [_example(frames, xy, visible, np.float64, jpeg=np.array),
                     _example(frames, xy, visible, np.float64, jpeg=list)],
        "misc": (b"\xff\xd8raw", bytearray(b"ab"), "text", 3, 2.5, None, True, 1 + 2j, {1, 2}, frozenset({3}),
                 collections.OrderedDict(a=1), np.float64(0.5), np.int64(7), np.bytes_(b"jpg"),
                 np.asfortranarray(np.arange(12.0).reshape(3, 4)), np.arange(12.0).reshape(3, 4)[:, ::2]),
    }
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    _same(safe_load(path), data)


def test_a_broken_pickle_names_the_file(tmp_path):
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps({"video": np.zeros((2, 4, 4, 3), np.uint8)})[:40])
    with pytest.raises(pickle.UnpicklingError, match=re.escape(str(path))):
        safe_load(path)


def test_a_file_that_is_neither_dict_nor_list_is_named(tmp_path):
    path = _dump(tmp_path / "odd.pkl", "a string")
    dataset = TapVidDavis(path=str(path))
    assert dataset.names == ["odd.pkl (unreadable)"]
    for load in (dataset.load, dataset.load_annotations):
        with pytest.raises(ValueError, match=re.escape(f"{path}: expected a dict (video name -> example) or a list")):
            load(0)


def test_pickles_written_by_numpy_1_load(tmp_path):
    # numpy 1.x names its reconstructors numpy.core.* (the official TAP-Vid files predate numpy 2).
    example = _example(*VIDEOS[0])
    text = pickle.dumps({"bear": example, "s": np.float32(2)}, protocol=2)
    assert b"numpy._core.multiarray\n" in text
    path = tmp_path / "old.pkl"
    path.write_bytes(text.replace(b"numpy._core.", b"numpy.core."))
    _same(safe_load(path), {"bear": example, "s": np.float32(2)})
