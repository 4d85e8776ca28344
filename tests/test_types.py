"""Contracts: Tracks and Sample validation, subsetting and merging, query validation."""

from __future__ import annotations

import numpy as np
import pytest

from pointbench.types import Sample, Tracks, validate_frames, validate_queries

N, T, H, W = 4, 5, 12, 16


def _tracks(**kw) -> Tracks:
    rng = np.random.default_rng(0)
    args = dict(xy=rng.uniform(0, 10, (N, T, 2)).astype(np.float32), visible=rng.random((N, T)) < 0.7)
    args.update(kw)
    return Tracks(**args)


# --------------------------------------------------------------------------- Tracks validation


@pytest.mark.parametrize("kw, key", [
    (dict(xy=np.zeros((N, T, 2), np.float64)), "xy"),
    (dict(xy=np.zeros((N, T, 3), np.float32)), "xy"),
    (dict(xy=np.zeros((N, T, 2), np.float32).tolist()), "xy"),
    (dict(visible=np.ones((N, T + 1), bool)), "visible"),
    (dict(visible=np.ones((N - 1, T), bool)), "visible"),
    (dict(visible=np.ones((N, T), np.uint8)), "visible"),
    (dict(confidence=np.ones((N, T), np.float64)), "confidence"),
    (dict(confidence=np.full((N, T), 1.5, np.float32)), "confidence"),
    (dict(confidence=np.full((N, T), -0.1, np.float32)), "confidence"),
    (dict(confidence=np.full((N, T), np.nan, np.float32)), "confidence"),
    (dict(xyz=np.zeros((N, T, 3), np.float32)), "xyz_frame"),
    (dict(xyz=np.zeros((N, T, 3), np.float32), xyz_frame="cam"), "xyz_frame"),
    (dict(xyz=np.zeros((N, T, 2), np.float32), xyz_frame="camera"), "xyz"),
])
def test_tracks_rejects_bad_arrays_naming_owner_and_key(kw, key):
    with pytest.raises(ValueError, match=rf"^my tracker: '{key}'"):
        _tracks(owner="my tracker", **kw)


def test_tracks_nan_only_allowed_where_occluded():
    xy = np.zeros((N, T, 2), np.float32)
    visible = np.ones((N, T), bool)
    xy[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"pred: 'xy'"):
        Tracks(xy=xy, visible=visible, owner="pred")
    xy[2, 3] = [np.inf, 0]
    with pytest.raises(ValueError, match=r"pred: 'xy'"):
        Tracks(xy=xy, visible=visible, owner="pred")
    visible[2, 3] = False
    Tracks(xy=xy, visible=visible, owner="pred")  # occluded: anything goes
    xy[2, 3] = np.nan
    Tracks(xy=xy, visible=visible, owner="pred")


def test_tracks_accepts_valid_optional_fields():
    t = _tracks(confidence=np.linspace(0, 1, N * T, dtype=np.float32).reshape(N, T),
                xyz=np.zeros((N, T, 3), np.float32), xyz_frame="world")
    assert set(t.arrays()) == {"xy", "visible", "confidence", "xyz"}


# --------------------------------------------------------------------------- indexing and merge


def test_tracks_len_indexing_and_merge():
    a = _tracks(confidence=np.random.default_rng(1).random((N, T)).astype(np.float32))
    assert len(a) == N and a.n_frames == T

    sub = a[[0, 2]]
    assert len(sub) == 2 and sub.n_frames == T
    np.testing.assert_array_equal(sub.xy, a.xy[[0, 2]])
    np.testing.assert_array_equal(sub.visible, a.visible[[0, 2]])
    np.testing.assert_array_equal(sub.confidence, a.confidence[[0, 2]])

    one = a[3]
    assert len(one) == 1
    np.testing.assert_array_equal(one.xy[0], a.xy[3])
    mask = np.array([True, False, False, True])
    np.testing.assert_array_equal(a[mask].xy, a.xy[[0, 3]])

    merged = Tracks.merge([a[:2], a[2:]])
    assert len(merged) == N
    for key in ("xy", "visible", "confidence"):
        np.testing.assert_array_equal(getattr(merged, key), getattr(a, key))
    _assert_same(merged, a)

    empty = Tracks.empty(T)
    assert len(empty) == 0 and empty.n_frames == T
    plain = _tracks()
    _assert_same(Tracks.merge([empty, plain, empty]), plain)


def _assert_same(x: Tracks, y: Tracks) -> None:
    for key in ("xy", "visible", "confidence", "xyz", "xyz_frame"):
        vx, vy = getattr(x, key), getattr(y, key)
        assert (vx is None) == (vy is None), key
        if vx is not None:
            np.testing.assert_array_equal(vx, vy)


def test_tracks_equality_returns_a_bool():
    a = _tracks()
    assert (Tracks.merge([a[:2], a[2:]]) == a) is True
    assert (a[[0, 1]] == a) is False


def test_tracks_merge_rejects_mixed_parts():
    a = _tracks()
    with_conf = _tracks(confidence=np.ones((N, T), np.float32))
    with pytest.raises(ValueError, match="confidence"):
        Tracks.merge([a, with_conf])
    with pytest.raises(ValueError):
        Tracks.merge([])
    with pytest.raises(ValueError):
        Tracks.merge([a, Tracks.empty(T + 1)])  # different frame counts


# --------------------------------------------------------------------------- Sample validation


def _sample(**kw) -> Sample:
    args = dict(
        name="clip_7",
        frames=np.zeros((T, H, W, 3), np.uint8),
        queries=np.array([[0, 1.5, 2.5], [T - 1, 3.0, 4.0]], np.float32),
        gt=Tracks(xy=np.zeros((2, T, 2), np.float32), visible=np.ones((2, T), bool)),
    )
    args.update(kw)
    return Sample(**args)


def test_valid_sample():
    s = _sample()
    assert s.n_frames == T and s.image_size == (H, W)


@pytest.mark.parametrize("kw, key", [
    (dict(queries=np.array([[T, 1.0, 1.0]], np.float32)), "queries"),
    (dict(queries=np.array([[-1, 1.0, 1.0]], np.float32)), "queries"),
    (dict(queries=np.array([[1.5, 1.0, 1.0]], np.float32)), "queries"),
    (dict(queries=np.array([[1, 1.0, 1.0]], np.float64)), "queries"),
    (dict(queries=np.array([[1, np.nan, 1.0]], np.float32)), "queries"),
    (dict(queries=np.zeros((2, 2), np.float32)), "queries"),
    (dict(frames=np.zeros((T, H, W, 3), np.float32)), "frames"),
    (dict(frames=np.zeros((T, H, W, 4), np.uint8)), "frames"),
    (dict(frames=np.zeros((T, H, W), np.uint8)), "frames"),
    (dict(gt=Tracks(xy=np.zeros((3, T, 2), np.float32), visible=np.ones((3, T), bool))), "gt"),
    (dict(gt=Tracks(xy=np.zeros((2, T + 1, 2), np.float32), visible=np.ones((2, T + 1), bool))), "gt"),
    (dict(gt=np.zeros((2, T, 2), np.float32)), "gt"),
    (dict(fps=0.0), "fps"),
    (dict(depth=np.zeros((T, H, W), np.float64)), "depth"),
    (dict(intrinsics=np.zeros((T, 3, 4), np.float32)), "intrinsics"),
])
def test_sample_rejects_bad_input_naming_video_and_key(kw, key):
    if "queries" in kw and "gt" not in kw:
        kw["gt"] = None  # so that only the queries are wrong
    with pytest.raises(ValueError, match=rf"clip_7.*'{key}'"):
        _sample(**kw)


def test_sample_queries_t_must_fit_the_frames():
    _sample(queries=np.array([[T - 1, 0, 0]], np.float32), gt=None)
    with pytest.raises(ValueError, match=r"clip_7.*'queries'"):
        _sample(queries=np.array([[T, 0, 0]], np.float32), gt=None)


# --------------------------------------------------------------------------- free functions


def test_validate_queries_edge_cases():
    empty = np.zeros((0, 3), np.float32)
    assert validate_queries(empty) is empty
    assert validate_queries(empty, n_frames=1) is empty
    q = np.array([[2, 0.5, 0.5]], np.float32)
    assert validate_queries(q, n_frames=3) is q
    with pytest.raises(ValueError, match="'queries'"):
        validate_queries(q, n_frames=2)
    with pytest.raises(ValueError, match="'queries'"):
        validate_queries(q[0])  # 1-D


def test_validate_frames():
    f = np.zeros((2, 4, 4, 3), np.uint8)
    assert validate_frames(f) is f
    with pytest.raises(ValueError, match=r"vid: 'frames'"):
        validate_frames(np.zeros((2, 4, 4, 1), np.uint8), owner="vid")
