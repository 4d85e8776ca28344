"""TAP-Vid metrics against hand-computed cases."""

import numpy as np
import pytest

from pointbench.metrics import (
    THRESHOLDS, eval_mask, tapvid_metrics, tapvid_metrics_per_frame, tapvid_metrics_per_track,
)

SIZE = (256, 256)


def _still(n=2, t=5, x=100.0, y=50.0):
    xy = np.zeros((n, t, 2), np.float32)
    xy[..., 0], xy[..., 1] = x, y
    return xy, np.ones((n, t), bool), np.zeros(n, np.int64)


def test_perfect_prediction_scores_one():
    xy, vis, qt = _still()
    m = tapvid_metrics(xy, vis, xy, vis, qt, "first", SIZE)
    for name in ("AJ", "delta_avg", "OA") + tuple(f"jaccard_{d}" for d in THRESHOLDS):
        assert m[name] == 1.0, name


def test_exactly_one_pixel_off_is_not_within_one():
    xy, vis, qt = _still(n=1, t=2)
    pred = xy.copy()
    pred[:, 1, 0] += 1.0  # exactly 1 px at 256x256: thresholds are strict
    m = tapvid_metrics(xy, vis, pred, vis, qt, "first", SIZE)
    assert m["pts_within_1"] == 0.0
    assert m["pts_within_2"] == 1.0
    # delta_avg over {1,2,4,8,16}: 4 of 5 thresholds hit.
    assert m["delta_avg"] == pytest.approx(0.8)


def test_first_mode_scores_only_after_query_and_strided_scores_before():
    t = 6
    gt = np.zeros((1, t, 2), np.float32)
    vis = np.ones((1, t), bool)
    qt = np.array([3])
    pred = gt.copy()
    pred[0, :3, 0] = 50.0  # wrong only before the query frame
    first = tapvid_metrics(gt, vis, pred, vis, qt, "first", SIZE)
    strided = tapvid_metrics(gt, vis, pred, vis, qt, "strided", SIZE)
    assert first["pts_within_16"] == 1.0  # frames 4, 5 only
    # strided scores frames 0,1,2,4,5: 2 of 5 correct.
    assert strided["pts_within_16"] == pytest.approx(2 / 5)
    np.testing.assert_array_equal(eval_mask(qt, t, "first")[0], [0, 0, 0, 0, 1, 1])
    np.testing.assert_array_equal(eval_mask(qt, t, "strided")[0], [1, 1, 1, 0, 1, 1])


def test_far_visible_prediction_counts_against_jaccard_twice():
    # One track, query at 0, scored frames 1..4, all visible in gt.
    gt = np.zeros((1, 5, 2), np.float32)
    vis = np.ones((1, 5), bool)
    qt = np.array([0])
    pred = gt.copy()
    pred[0, 4, 0] = 100.0  # frame 4 far off, predicted visible
    m = tapvid_metrics(gt, vis, pred, vis, qt, "first", SIZE)
    # TP = 3, gt visible = 4, FP = 1 (the far point): 3 / (4 + 1).
    assert m["jaccard_1"] == pytest.approx(3 / 5)
    # Predicting that far point occluded instead costs it only once: 3 / 4.
    pred_vis = vis.copy()
    pred_vis[0, 4] = False
    m2 = tapvid_metrics(gt, vis, pred, pred_vis, qt, "first", SIZE)
    assert m2["jaccard_1"] == pytest.approx(3 / 4)
    # Position accuracy ignores predicted visibility.
    assert m["pts_within_1"] == m2["pts_within_1"] == pytest.approx(3 / 4)


def test_hand_computed_mixed_case():
    # 2 tracks x 4 frames, query frames 0 and 1, mode first.
    gt = np.zeros((2, 4, 2), np.float32)
    gt_vis = np.array([[1, 1, 0, 1], [1, 1, 1, 1]], bool)
    pred = gt.copy()
    pred[0, 3] = (3.0, 0.0)  # 3 px off: within 4, 8, 16
    pred[1, 2] = (0.0, 1.5)  # 1.5 px off: within 2..16
    pred_vis = np.array([[1, 1, 1, 1], [1, 1, 0, 1]], bool)
    qt = np.array([0, 1])
    m = tapvid_metrics(gt, gt_vis, pred, pred_vis, qt, "first", SIZE)
    # Scored cells: track 0 frames 1,2,3; track 1 frames 2,3 -> 5 cells.
    # OA: t0f1 ok, t0f2 (gt occ, pred vis) wrong, t0f3 ok, t1f2 (gt vis, pred occ) wrong, t1f3 ok -> 3/5.
    assert m["OA"] == pytest.approx(3 / 5)
    # gt-visible scored cells: t0f1, t0f3, t1f2, t1f3 -> 4.
    assert m["pts_within_1"] == pytest.approx(2 / 4)
    assert m["pts_within_2"] == pytest.approx(3 / 4)
    assert m["pts_within_4"] == pytest.approx(4 / 4)
    # jaccard_1: TP = t0f1, t1f3 = 2; FP = t0f2 (gt occ) + t0f3 (too far) = 2 -> 2 / (4 + 2).
    assert m["jaccard_1"] == pytest.approx(2 / 6)
    # jaccard_2: TP = 2 (t1f2 predicted occluded); FP = t0f2, t0f3 -> 2 / 6.
    assert m["jaccard_2"] == pytest.approx(2 / 6)
    # jaccard_4: TP = t0f1, t0f3, t1f3 = 3; FP = t0f2 -> 3 / 5.
    assert m["jaccard_4"] == pytest.approx(3 / 5)
    assert m["AJ"] == pytest.approx(np.mean([2 / 6, 2 / 6, 3 / 5, 3 / 5, 3 / 5]))
    assert m["n_scored_points"] == 4


def test_scores_at_256_whatever_the_resolution():
    # 0.9 px off at 512x512 is 0.45 px at 256: within 1. At 128x128 it is 1.8 px: not within 1.
    gt = np.zeros((1, 2, 2), np.float32)
    vis = np.ones((1, 2), bool)
    pred = gt.copy()
    pred[0, 1, 0] = 0.9
    qt = np.array([0])
    assert tapvid_metrics(gt, vis, pred, vis, qt, "first", (512, 512))["pts_within_1"] == 1.0
    assert tapvid_metrics(gt, vis, pred, vis, qt, "first", (128, 128))["pts_within_1"] == 0.0
    # Non-square: x scaled by 256/W, y by 256/H.
    pred[0, 1] = (0.0, 1.5)
    assert tapvid_metrics(gt, vis, pred, vis, qt, "first", (512, 100))["pts_within_1"] == 1.0


@pytest.mark.parametrize("factor", [0.5, 1.7, 3.0])
def test_scaling_video_and_tracks_leaves_metrics_unchanged(factor):
    rng = np.random.default_rng(0)
    n, t, h, w = 30, 12, 120, 200
    gt = rng.uniform(0, 1, (n, t, 2)) * [w, h]
    pred = gt + rng.normal(0, 3, gt.shape)
    gt_vis = rng.random((n, t)) > 0.2
    pred_vis = rng.random((n, t)) > 0.2
    qt = rng.integers(0, t, n)
    for mode in ("first", "strided"):
        base = tapvid_metrics(gt, gt_vis, pred, pred_vis, qt, mode, (h, w))
        scaled = tapvid_metrics(gt * factor, gt_vis, pred * factor, pred_vis, qt, mode, (h * factor, w * factor))
        for key in base:
            assert scaled[key] == pytest.approx(base[key], abs=1e-12), (mode, key)


def test_video_with_no_scorable_point_is_nan_and_counted():
    gt = np.zeros((1, 3, 2), np.float32)
    vis = np.array([[1, 0, 0]], bool)  # visible only at its query frame
    m = tapvid_metrics(gt, vis, gt, vis, np.array([0]), "first", SIZE)
    assert m["n_scored_points"] == 0
    assert np.isnan(m["AJ"]) and np.isnan(m["delta_avg"])
    assert m["OA"] == 1.0  # occlusion is still scored


def test_per_track_pools_to_video_metric_for_equal_counts():
    rng = np.random.default_rng(1)
    n, t = 5, 8
    gt = rng.uniform(0, 256, (n, t, 2))
    pred = gt + rng.normal(0, 2, gt.shape)
    vis = np.ones((n, t), bool)
    qt = np.zeros(n, np.int64)
    per_track = tapvid_metrics_per_track(gt, vis, pred, vis, qt, "first", SIZE)
    video = tapvid_metrics(gt, vis, pred, vis, qt, "first", SIZE)
    assert per_track["AJ"].shape == (n,)
    # Every track has the same number of scored cells, so pooled == mean of per-track.
    assert np.mean(per_track["delta_avg"]) == pytest.approx(video["delta_avg"])
    dist = np.linalg.norm(pred - gt, axis=-1)[:, 1:]
    np.testing.assert_allclose(per_track["pts_within_2"], (dist < 2).mean(1))


def test_nan_prediction_counts_as_miss_and_bad_shapes_are_named():
    gt = np.zeros((1, 3, 2), np.float32)
    vis = np.ones((1, 3), bool)
    pred = gt.copy()
    pred[0, 2] = np.nan
    m = tapvid_metrics(gt, vis, pred, vis, np.array([0]), "first", SIZE)
    assert m["pts_within_16"] == 0.5
    with pytest.raises(ValueError, match="pred_xy"):
        tapvid_metrics(gt, vis, pred[:, :2], vis, np.array([0]), "first", SIZE)
    with pytest.raises(ValueError, match="query_mode"):
        tapvid_metrics(gt, vis, gt, vis, np.array([0]), "last", SIZE)


def test_per_frame_counts_each_frame_separately():
    # Two tracks, query frame 0, mode first: frames 1 and 2 scored.
    gt = np.zeros((2, 3, 2), np.float32)
    vis = np.ones((2, 3), bool)
    pred = gt.copy()
    pred[0, 2, 0] = 3.0  # track 0 at frame 2 is 3 px off
    pred_vis = vis.copy()
    pred_vis[1, 1] = False  # track 1 predicted occluded at frame 1
    per_frame = tapvid_metrics_per_frame(gt, vis, pred, pred_vis, np.array([0, 0]), "first", SIZE)
    assert np.isnan(per_frame["OA"][0])  # the query frame is not scored
    np.testing.assert_allclose(per_frame["OA"][1:], [0.5, 1.0])
    np.testing.assert_allclose(per_frame["pts_within_2"][1:], [1.0, 0.5])
    np.testing.assert_allclose(per_frame["pts_within_4"][1:], [1.0, 1.0])


def test_threshold_levels_count_the_thresholds_a_squared_distance_is_strictly_within():
    from pointbench.metrics.tapvid import LEVEL_OF, threshold_levels

    sq = np.array([0.0, 0.99, 1.0, 3.9, 4.0, 255.0, 256.0, np.inf, np.nan])
    np.testing.assert_array_equal(threshold_levels(sq), [5, 5, 4, 4, 3, 1, 0, 0, 0])
    for j, d in enumerate((1, 2, 4, 8, 16)):  # within δ exactly where `sq < δ²` (NaN: never)
        np.testing.assert_array_equal(threshold_levels(sq) >= LEVEL_OF[j], sq < d * d)
