"""PCK on hand-computed cases: the box, which frames count, ≤ at the threshold, per joint, and the published pooling."""

import numpy as np
import pytest

from pointbench.metrics.pck import (
    PCK_ALPHAS, PCK_COLUMNS, combine_pck, pck, pck_box_size, pck_curve, pck_distances, pck_joint_rows,
    pck_per_joint, pck_scores,
)
from pointbench.types import Annotations, Skeleton, Tracks


def _still(points, n_frames):
    """Joints `points` (N, 2) standing still for `n_frames` frames: (N, T, 2)."""
    return np.repeat(np.asarray(points, np.float64)[:, None, :], n_frames, axis=1)


# Two joints 30 × 40 apart: the box diagonal is 50, the person's size 0.6 · 50 = 30 px.
GT = _still([[10.0, 20.0], [40.0, 60.0]], 3)


def test_box_is_six_tenths_of_the_joint_box_diagonal():
    np.testing.assert_allclose(pck_box_size(GT), [30.0, 30.0, 30.0])
    gt = GT.copy()
    gt[1, 2] = np.nan  # only one finite joint left at frame 2: a box of size 0
    gt[:, 1] = np.nan  # none at frame 1
    size = pck_box_size(gt)
    assert size[0] == 30.0 and np.isnan(size[1]) and size[2] == 0.0


def test_distances_are_normalised_and_the_query_frame_is_not_scored():
    pred = GT.copy()
    pred[0, 1, 0] += 3.0   # 3 / 30 = 0.1 exactly
    pred[1, 1, 1] += 3.3   # 0.11
    pred[0, 2, 1] += 6.0   # 6 / 30 = 0.2 exactly
    pred[1, 2, 0] -= 9.0   # 0.3
    pred[:, 0] += 100.0    # the query frame: never scored by default
    d = pck_distances(GT, pred, np.array([0, 0]))
    np.testing.assert_allclose(d[:, 1:], [[0.1, 0.2], [0.11, 0.3]])
    assert np.isnan(d[:, 0]).all()
    # <= is correct (as the published code): exactly 0.1 counts at α = 0.1 (1 of 4 pairs), 0.11 does not.
    assert pck(d, 0.1) == 0.25
    assert pck(d, 0.2) == 0.75 and pck(d, 0.15) == 0.5
    assert pck(d, 0.3) == 1.0
    with_query = pck_distances(GT, pred, np.array([0, 0]), score_query_frame=True)
    np.testing.assert_allclose(with_query[:, 0], np.hypot(100, 100) / 30)


def test_later_query_frames_and_missing_positions():
    pred = GT.copy()
    pred[0, 2] = np.nan  # a prediction without a position: scored, never correct
    gt = GT.copy()
    gt[1, 1] = (41.0, 61.0)  # the box changes with the joints: diagonal of 31 x 41
    d = pck_distances(gt, pred, np.array([0, 1]))
    assert np.isnan(d[1, :2]).all()  # joint 1 queried at frame 1: frames 0 and 1 not scored
    assert d[0, 2] == np.inf and pck(d, 0.5) == 2 / 3
    np.testing.assert_allclose(d[0, 1], 0.0)
    unannotated = GT.copy()
    unannotated[1, 2] = np.nan  # no ground truth there: not scored; the box of frame 2 is one joint: not scored
    d = pck_distances(unannotated, GT, np.array([0, 0]))
    assert np.isnan(d[:, 2]).all() and not np.isnan(d[:, 1]).any()


def test_predicted_visibility_plays_no_part_and_no_score_is_nan():
    gt = Tracks(xy=GT.astype(np.float32), visible=np.ones((2, 3), bool))
    queries = np.array([[0, 10, 20], [0, 40, 60]], np.float32)
    video = Annotations("v", queries, gt, 3, (100, 100))
    pred = Tracks(xy=GT.astype(np.float32), visible=np.zeros((2, 3), bool))
    scores = pck_scores(video, pred)
    assert list(scores) == list(PCK_COLUMNS) == ["pck_0.1", "pck_0.2", "pck_0.3", "pck_0.4", "pck_0.5", "pck_n"]
    assert scores["pck_0.1"] == 1.0 and scores["pck_n"] == 4
    assert pck_scores(Annotations("v", queries, None, 3, (100, 100)), pred) == {}
    one_frame = Annotations("v", queries, Tracks(xy=GT[:, :1].astype(np.float32), visible=np.ones((2, 1), bool)),
                            1, (100, 100))
    scores = pck_scores(one_frame, Tracks(xy=GT[:, :1].astype(np.float32), visible=np.ones((2, 1), bool)))
    assert np.isnan(scores["pck_0.2"]) and scores["pck_n"] == 0


def test_curve_is_non_decreasing_and_matches_pck():
    rng = np.random.default_rng(0)
    d = rng.uniform(0, 0.6, (5, 8))
    d[0, :3] = np.nan
    alphas = np.linspace(0, 0.5, 11)
    curve = pck_curve(d, alphas)
    assert (np.diff(curve) >= 0).all()
    np.testing.assert_allclose(curve, [np.mean(d[~np.isnan(d)] <= a) for a in alphas])


def test_per_joint_counts_and_the_published_pooling():
    # Video A: joints 0 and 1, 10 scored frames each; joint 0 right 9 times, joint 1 right 5 times (at 0.1).
    # Video B: joint 0 only (joint 1 was outside the image at frame 0), 2 scored frames, right once.
    d_a = np.full((2, 11), 0.05)
    d_a[:, 0] = np.nan
    d_a[0, 1] = 0.15
    d_a[1, 1:6] = 0.15
    counts = pck_per_joint(d_a, np.array([0, 1]), 3)
    np.testing.assert_array_equal(counts["n"], [10, 10, 0])
    np.testing.assert_array_equal(counts["correct"][:, :2], [[9, 10], [5, 10], [0, 0]])
    rows = []
    skeleton = Skeleton(["neck", "belly", "face"], [(0, 1), (0, 2)], np.array([0, 1]))
    for name, d, ids in (("A", d_a, [0, 1]), ("B", np.array([[np.nan, 0.05, 0.15]]), [0])):
        c = pck_per_joint(d, np.array(ids), 3)
        for k, joint in enumerate(skeleton.names):
            rows.append({"video": name, "joint": joint, "n": c["n"][k],
                         **{f"correct_{a:g}": c["correct"][k, i] for i, a in enumerate(PCK_ALPHAS)}})
    out = combine_pck(rows)
    # Joint 0 pooled: (9 + 1) / 12; joint 1: 5 / 10; face never scored (left out); mean over the two joints.
    assert out["pck_0.1"] == pytest.approx(((10 / 12) + 0.5) / 2)
    assert out["pck_0.2"] == 1.0 and out["pck_n"] == 22
    assert out["pck_per_joint"]["neck"][0.1] == pytest.approx(10 / 12) and "face" not in out["pck_per_joint"]
    # ... which is not the mean of the per-video numbers (A: 14/20, B: 1/2).
    assert out["pck_0.1"] != pytest.approx((14 / 20 + 1 / 2) / 2)


def test_joint_rows_name_every_joint_of_the_skeleton():
    gt = Tracks(xy=GT.astype(np.float32), visible=np.ones((2, 3), bool))
    video = Annotations("walk/a", np.array([[0, 10, 20], [0, 40, 60]], np.float32), gt, 3, (100, 100))
    pred = Tracks(xy=(GT + [[[4.0, 0.0]], [[0.0, 0.0]]]).astype(np.float32), visible=np.ones((2, 3), bool))
    skeleton = Skeleton(["neck", "belly", "face"], [(0, 1)], np.array([2, 0]))  # query 0 is the face
    rows = pck_joint_rows(video, pred, skeleton)
    assert [r["joint"] for r in rows] == ["neck", "belly", "face"]
    assert rows[2] == {"video": "walk/a", "joint": "face", "n": 2, "correct_0.1": 0, "correct_0.2": 2,
                       "correct_0.3": 2, "correct_0.4": 2, "correct_0.5": 2}
    assert rows[1]["n"] == 0 and rows[0]["correct_0.1"] == 2
    assert combine_pck(rows)["pck_0.1"] == 0.5


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="pred_xy"):
        pck_distances(GT, GT[:, :2], np.array([0, 0]))
    with pytest.raises(ValueError, match="query_frames"):
        pck_distances(GT, GT, np.array([0]))


def test_pooling_over_videos_weighs_by_scored_pairs():
    import pandas as pd
    from pointbench.metrics.pck import pool_pck
    table = pd.DataFrame([{"pck_0.1": 0.9, "pck_0.2": 1.0, "pck_n": 30},
                          {"pck_0.1": 0.5, "pck_0.2": 0.5, "pck_n": 10},
                          {"pck_0.1": np.nan, "pck_0.2": np.nan, "pck_n": 0},    # nothing scored
                          {"pck_0.1": np.nan, "pck_0.2": np.nan, "pck_n": np.nan}])  # not a keypoint video
    out = pool_pck(table, alphas=(0.1, 0.2))
    assert out == {"pck_0.1": pytest.approx((27 + 5) / 40), "pck_0.2": pytest.approx(35 / 40), "pck_n": 40}
    assert np.isnan(pool_pck([], alphas=(0.1,))["pck_0.1"])
