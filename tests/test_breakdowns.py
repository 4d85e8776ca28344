"""Accuracy breakdowns (re-detection, out of view, survival, occluded points, speed, query distance)
against hand-computed answers (the arithmetic is in the comments)."""

import math

import numpy as np
import pytest

from pointbench.metrics.breakdowns import (
    BREAKDOWN_COLUMNS, BREAKDOWN_COUNT_COLUMNS, OCCLUDED_COLUMNS, OUT_OF_VIEW_COLUMNS, aggregate_breakdowns,
    breakdown_metrics, events_mask, occluded_metrics, out_of_view_metrics, query_distance_metrics,
    redetection_events, redetection_metrics, speed_metrics, track_speed, trajectory_metrics,
)
from pointbench.metrics.tapvid import tapvid_metrics

SIZE = (256, 256)


def vis_rows(*rows: str) -> np.ndarray:
    """'11001' -> [True, True, False, False, True], one string per track."""
    return np.array([[c == "1" for c in row] for row in rows])


def still(n, t, x=100.0, y=100.0):
    xy = np.zeros((n, t, 2), np.float32)
    xy[..., 0], xy[..., 1] = x, y
    return xy


# --- Re-detection ------------------------------------------------------------------------------------------


def redetect_case():
    """Two tracks over 12 frames, queried at frame 0 ("first").

    track 0: 1 1 0 0 1 1 1 1 0 1 1 1  -> gap of 2 (frames 2-3), re-appears at 4, window 4, 5, 6;
                                         gap of 1 (frame 8), re-appears at 9, window 9, 10, 11.
    track 1: 1 0 0 0 0 0 0 1 1 0 0 0  -> gap of 6 (frames 1-6), re-appears at 7, window 7, 8 (cut
                                         short by the occlusion at 9); the last gap never ends: no event.
    Predictions equal the ground truth (position and visibility) except:
      track 0 frame 5: visible, 3 px off  (within 4, 8, 16 only);
      track 0 frame 6: predicted occluded (a miss at every δ);
      track 1 frame 7: visible, 20 px off (never within).
    """
    gt_vis = vis_rows("110011110111", "100000011000")
    gt_xy = still(2, 12)
    pred_xy, pred_vis = gt_xy.copy(), gt_vis.copy()
    pred_xy[0, 5, 0] += 3
    pred_vis[0, 6] = False
    pred_xy[1, 7, 1] += 20
    return gt_xy, gt_vis, pred_xy, pred_vis, np.array([0, 0])


def test_redetection_events_are_the_gaps_bounded_by_visible_frames():
    gt_xy, gt_vis, pred_xy, pred_vis, q = redetect_case()
    ev = redetection_events(gt_vis, q, "first", window=3)
    np.testing.assert_array_equal(ev["query"], [0, 0, 1])
    np.testing.assert_array_equal(ev["frame"], [4, 9, 7])
    np.testing.assert_array_equal(ev["gap"], [2, 1, 6])
    np.testing.assert_array_equal(ev["gap_from"], [2, 8, 1])
    np.testing.assert_array_equal(ev["gap_to"], [3, 8, 6])
    np.testing.assert_array_equal(ev["window_from"], [4, 9, 7])
    np.testing.assert_array_equal(ev["window_to"], [6, 11, 8])
    np.testing.assert_array_equal(ev["direction"], [1, 1, 1])
    mask = events_mask(ev, gt_vis.shape)
    np.testing.assert_array_equal(mask, vis_rows("000011100111", "000000011000"))


def test_redetection_scores_by_gap_length_are_the_hand_computed_jaccards():
    m = redetection_metrics(*redetect_case(), "first", SIZE, window=3)
    # Bin 1-4 (track 0's two events): 6 window cells, all gt-visible.
    #   δ = 1, 2: TP = 4 (frames 4, 9, 10, 11), FP = 1 (frame 5, visible but 3 px off) -> 4 / (6 + 1)
    #   δ = 4, 8, 16: TP = 5 (frame 5 now within), FP = 0 (frame 6 is only a miss) -> 5 / 6
    #   mean over δ = (2·4/7 + 3·5/6) / 5 = 51/70
    assert m["redetect_jaccard_1-4"] == pytest.approx(51 / 70)
    assert m["redetect_events_1-4"] == 2
    # Bin 5-16 (track 1's gap of 6): cells 7 (visible, 20 px off: FP at every δ) and 8 (TP) -> 1 / (2 + 1).
    assert m["redetect_jaccard_5-16"] == pytest.approx(1 / 3)
    assert m["redetect_events_5-16"] == 1
    # Every gap length: 8 cells; δ = 1, 2: TP 5, FP 2 -> 5/10; δ = 4, 8, 16: TP 6, FP 1 -> 6/9.
    #   mean = (2·0.5 + 3·2/3) / 5 = 0.6
    assert m["redetect_jaccard"] == pytest.approx(0.6)
    assert m["redetect_events"] == 3
    # No event in the longer bins: NaN score, zero count.
    for b in ("17-64", "65+"):
        assert math.isnan(m[f"redetect_jaccard_{b}"]) and m[f"redetect_events_{b}"] == 0


def test_gap_lengths_fall_in_inclusive_bins():
    # One track per gap length k: visible at 0, occluded at 1..k, visible at k+1 .. end.
    gaps = [4, 5, 16, 17, 64, 65]
    t = 70
    gt_vis = np.ones((len(gaps), t), bool)
    for i, k in enumerate(gaps):
        gt_vis[i, 1:k + 1] = False
    gt_xy = still(len(gaps), t)
    m = redetection_metrics(gt_xy, gt_vis, gt_xy, gt_vis, np.zeros(len(gaps), int), "first", SIZE)
    # 4 -> 1-4; 5, 16 -> 5-16; 17, 64 -> 17-64; 65 -> 65+.
    assert [m[f"redetect_events_{b}"] for b in ("1-4", "5-16", "17-64", "65+")] == [1, 2, 2, 1]
    assert m["redetect_events"] == 6
    # A perfect tracker re-detects everything.
    assert all(m[f"redetect_jaccard{b}"] == 1.0 for b in ("", "_1-4", "_5-16", "_17-64", "_65+"))


def test_strided_events_run_backwards_before_the_query():
    # Query at frame 6 of:  1 1 0 0 0 1 1 1 1 1
    # Backwards from 6: 6, 5 visible; 4, 3, 2 occluded (a gap of 3); visible again at 1, window 1, 0.
    gt_vis = vis_rows("1100011111")
    ev = redetection_events(gt_vis, np.array([6]), "strided", window=3)
    assert ev["frame"].tolist() == [1] and ev["gap"].tolist() == [3] and ev["direction"].tolist() == [-1]
    assert (ev["gap_from"][0], ev["gap_to"][0]) == (2, 4)
    assert (ev["window_from"][0], ev["window_to"][0]) == (0, 1)
    # "first" scores nothing before the query: no event. Queried at 0 instead, the event runs forwards.
    assert len(redetection_events(gt_vis, np.array([6]), "first")["query"]) == 0
    ev = redetection_events(gt_vis, np.array([0]), "first", window=3)
    assert ev["frame"].tolist() == [5] and (ev["window_from"][0], ev["window_to"][0]) == (5, 7)
    # In strided mode the gap counts from the side of the query it lies on: queried at 0, forwards.
    ev = redetection_events(gt_vis, np.array([0]), "strided", window=3)
    assert ev["frame"].tolist() == [5] and ev["direction"].tolist() == [1]


def reference_first_mode_windows(gt_vis, k):
    """Frame-by-frame reference for queries at the first visible frame: the first k visible frames after
    every occlusion of a point seen before it (each occlusion restarts the count)."""
    mask = np.zeros_like(gt_vis)
    for i, row in enumerate(gt_vis):
        seen, left = False, 0
        for t, v in enumerate(row):
            if v and t and not row[t - 1] and seen:
                left = k
            if v and left:
                mask[i, t], left = True, left - 1
            if not v:
                left = 0
            seen |= bool(v)
    return mask


def test_first_mode_windows_match_a_frame_by_frame_reference():
    rng = np.random.default_rng(3)
    gt_vis = rng.random((60, 40)) < 0.6
    gt_vis[:, 0] = True  # queried at the first visible frame: 0
    for k in (1, 3, 5):
        ev = redetection_events(gt_vis, np.zeros(60, int), "first", window=k)
        np.testing.assert_array_equal(events_mask(ev, gt_vis.shape), reference_first_mode_windows(gt_vis, k))


# --- Out of view -------------------------------------------------------------------------------------------


def test_out_of_view_events_are_gaps_spent_entirely_outside_the_image():
    height, width = 50, 100
    t = 10
    # Every track: visible 0-2, occluded 3-5 (a gap of 3), visible 6-9; queried at 0.
    gt_vis = np.tile(vis_rows("1110001111"), (6, 1))
    gt_xy = still(6, t, x=50, y=25)
    gt_xy[0, 3:6] = [[-5, 25], [-10, 25], [-5, 25]]  # left through the left edge: out of view
    # track 1: hidden behind something, in view                                        -> not
    gt_xy[2, 3] = [-5, 25]  # out for one frame, then hidden in view at 4 and 5        -> not
    gt_xy[3, 3:6] = np.nan  # position unknown                                         -> not
    gt_xy[4, 3:6] = [width, 10]  # x = W is outside [0, W)                             -> out of view
    gt_xy[5, 3:6] = [width - 0.5, height - 0.1]  # just inside                         -> not
    pred_xy, pred_vis = gt_xy.copy(), gt_vis.copy()
    pred_vis[0, 8] = False  # track 0's window is 6, 7, 8: a miss at 8
    q = np.zeros(6, int)
    m = out_of_view_metrics(gt_xy, gt_vis, pred_xy, pred_vis, q, "first", (height, width))
    assert m["out_of_view_events"] == 2 and m["out_of_view_events_1-4"] == 2
    # 6 window cells (tracks 0 and 4), every δ: TP = 5, FP = 0 -> 5/6.
    assert m["out_of_view_jaccard"] == pytest.approx(5 / 6)
    assert m["out_of_view_jaccard_1-4"] == pytest.approx(5 / 6)
    assert math.isnan(m["out_of_view_jaccard_5-16"]) and m["out_of_view_events_5-16"] == 0
    # All six are re-detection events; their 18 cells hold one miss: 17/18.
    r = redetection_metrics(gt_xy, gt_vis, pred_xy, pred_vis, q, "first", (height, width))
    assert r["redetect_events"] == 6 and r["redetect_jaccard"] == pytest.approx(17 / 18)
    # Without positions under occlusion the columns are not measured.
    row = breakdown_metrics(gt_xy, gt_vis, pred_xy, pred_vis, q, "first", (height, width))
    assert all(math.isnan(row[c]) for c in OUT_OF_VIEW_COLUMNS + OCCLUDED_COLUMNS)
    row = breakdown_metrics(gt_xy, gt_vis, pred_xy, pred_vis, q, "first", (height, width), occluded_positions=True)
    assert row["out_of_view_events"] == 2 and row["redetect_events"] == 6


# --- Survival and trajectory error -------------------------------------------------------------------------


def test_survival_counts_visible_frames_until_the_first_error_of_50px():
    t = 6
    gt_xy, gt_vis = still(4, t), np.ones((4, t), bool)
    pred_xy = gt_xy.copy()
    pred_xy[0, 1:, 0] += [0, 10, 60, 0, 0]  # track 0: fails at frame 3 -> 2 of 5 frames survive: 0.4
    gt_vis[1, 2] = False
    pred_xy[1, 2, 0] += 200  # track 1: the huge error is at an occluded frame: skipped -> 4 of 4: 1.0
    pred_xy[2, 1, 0] += 50  # track 2: exactly 50 px is not < 50: fails at once -> 0 of 5: 0.0
    gt_vis[3, 1:] = False  # track 3: nothing visible after its query: not counted
    m = trajectory_metrics(gt_xy, gt_vis, pred_xy, gt_vis, np.zeros(4, int), "first", SIZE)
    assert m["survival_50px"] == pytest.approx((0.4 + 1.0 + 0.0) / 3)
    m = trajectory_metrics(gt_xy, gt_vis, pred_xy, gt_vis, np.zeros(4, int), "first", SIZE, survival_px=70)
    assert m["survival_70px"] == pytest.approx(1.0)  # nothing reaches 70 (track 1's 200 is occluded)


def test_survival_ignores_frames_before_the_query_and_nan_fails():
    t = 6
    gt_xy, gt_vis = still(1, t), np.ones((1, t), bool)
    pred_xy = gt_xy.copy()
    pred_xy[0, :3] = 999  # before the strided query at 3: scored by TAP-Vid, not by survival
    pred_xy[0, 5] = np.nan  # frames 4, 5 after the query: 4 survives, 5 fails -> 1/2
    m = trajectory_metrics(gt_xy, gt_vis, pred_xy, gt_vis, np.array([3]), "strided", SIZE)
    assert m["survival_50px"] == pytest.approx(0.5)


def test_median_trajectory_error_is_the_median_distance_at_256():
    # 512×256 video (H = 256, W = 512): x errors shrink by 2 at 256×256.
    gt_xy, gt_vis = still(2, 3), np.ones((2, 3), bool)
    pred_xy = gt_xy.copy()
    pred_xy[0, 1:, 0] += [2, 4]  # 1 px and 2 px at 256
    pred_xy[1, 1:, 1] += [3, 10]  # y unchanged: 3 px and 10 px
    gt_vis[1, 2] = False  # ... but 10 px is at an occluded frame: not counted
    m = trajectory_metrics(gt_xy, gt_vis, pred_xy, gt_vis, np.zeros(2, int), "first", (256, 512))
    assert m["median_traj_err_px"] == pytest.approx(2.0)  # median of {1, 2, 3}
    gt_vis[1, 2] = True
    m = trajectory_metrics(gt_xy, gt_vis, pred_xy, gt_vis, np.zeros(2, int), "first", (256, 512))
    assert m["median_traj_err_px"] == pytest.approx(2.5)  # median of {1, 2, 3, 10}: of distances, not squares
    gt_vis[:, 1:] = False
    m = trajectory_metrics(gt_xy, gt_vis, pred_xy, gt_vis, np.zeros(2, int), "first", (256, 512))
    assert math.isnan(m["median_traj_err_px"]) and math.isnan(m["survival_50px"])


# --- Occluded points ---------------------------------------------------------------------------------------


def test_occluded_accuracy_on_a_hand_case():
    gt_xy = still(1, 6)
    gt_vis = vis_rows("100001")  # occluded at frames 1-4
    pred_xy = gt_xy.copy()
    pred_xy[0, 1:5, 0] += [0.5, 1.5, 5, 30]  # errors 0.5, 1.5, 5, 30 px; fractions within, per δ:
    # δ = 1: 1/4; δ = 2: 2/4; δ = 4: 2/4; δ = 8: 3/4; δ = 16: 3/4; avg = (1 + 2 + 2 + 3 + 3) / 20 = 0.55
    pred_xy[0, 5, 0] += 100  # a visible frame: not counted here
    m = occluded_metrics(gt_xy, gt_vis, pred_xy, np.zeros_like(gt_vis), np.array([0]), "first", SIZE)
    assert [m[f"occluded_pts_within_{d}"] for d in (1, 2, 4, 8, 16)] == [0.25, 0.5, 0.5, 0.75, 0.75]
    assert m["occluded_pts_within_avg"] == pytest.approx(0.55) and m["occluded_points"] == 4


def test_occluded_accuracy_equals_a_direct_count():
    rng = np.random.default_rng(0)
    n, t, (h, w) = 30, 20, (120, 200)
    gt_xy = rng.uniform(-20, 220, (n, t, 2)).astype(np.float32)
    gt_vis = rng.random((n, t)) < 0.5
    gt_xy[rng.random((n, t)) < 0.1] = np.nan  # some unknown positions (never counted)
    pred_xy = (gt_xy + rng.normal(0, 6, (n, t, 2))).astype(np.float32)
    q = rng.integers(0, t, n)
    for mode in ("first", "strided"):
        m = occluded_metrics(gt_xy, gt_vis, pred_xy, rng.random((n, t)) < 0.5, q, mode, (h, w))
        hits, cells = {d: 0 for d in (1, 2, 4, 8, 16)}, 0
        for i in range(n):
            for f in range(t):
                scored = f > q[i] if mode == "first" else f != q[i]
                if not scored or gt_vis[i, f] or not np.isfinite(gt_xy[i, f]).all():
                    continue
                cells += 1
                dx = (float(pred_xy[i, f, 0]) - float(gt_xy[i, f, 0])) * 256 / w
                dy = (float(pred_xy[i, f, 1]) - float(gt_xy[i, f, 1])) * 256 / h
                for d in hits:
                    hits[d] += dx * dx + dy * dy < d * d
        assert m["occluded_points"] == cells > 0
        for d in hits:
            assert m[f"occluded_pts_within_{d}"] == pytest.approx(hits[d] / cells)


# --- Motion magnitude and distance from the query ----------------------------------------------------------


def test_speed_bins_hold_the_tracks_by_their_speed_at_256():
    # 256 high, 512 wide: x speeds halve at 256×256. Speeds (px/frame at 256): 0.5, 1 (edge: in 1-2), 3, 10.
    t = 5
    gt_xy = still(4, t)
    for i, raw_dx in enumerate([1.0, 2.0, 6.0, 20.0]):
        gt_xy[i, :, 0] += raw_dx * np.arange(t)
    gt_vis = np.ones((4, t), bool)
    np.testing.assert_allclose(track_speed(gt_xy, gt_vis, (256, 512)), [0.5, 1, 3, 10])
    pred_xy = gt_xy.copy()
    pred_xy[3, 1:, 1] += 3  # the fast track is 3 px off: within 4, 8, 16 -> delta_avg 0.6
    m = speed_metrics(gt_xy, gt_vis, pred_xy, gt_vis, np.zeros(4, int), "first", (256, 512))
    assert [m[f"speed_{b}_queries"] for b in ("0-1", "1-2", "2-4", "4-8", "8+")] == [1, 1, 1, 0, 1]
    assert m["speed_0-1_delta_avg"] == m["speed_1-2_delta_avg"] == m["speed_2-4_delta_avg"] == 1.0
    assert math.isnan(m["speed_4-8_delta_avg"])
    assert m["speed_8+_delta_avg"] == pytest.approx(0.6)
    # Equal to tapvid_metrics' delta_avg on the rows of the bin.
    rows = [3]
    assert m["speed_8+_delta_avg"] == pytest.approx(tapvid_metrics(
        gt_xy[rows], gt_vis[rows], pred_xy[rows], gt_vis[rows], np.zeros(1, int), "first", (256, 512))["delta_avg"])


def test_speed_uses_only_consecutive_visible_pairs():
    gt_xy = still(2, 5)
    gt_xy[0, :, 0] += [0, 1, 50, 53, 55]  # pairs (0,1) and (3,4) visible: (1 + 2) / 2 = 1.5
    gt_vis = vis_rows("11011", "10101")  # track 1: no consecutive visible pair -> NaN, in no bin
    speed = track_speed(gt_xy, gt_vis, SIZE)
    assert speed[0] == pytest.approx(1.5) and math.isnan(speed[1])
    m = speed_metrics(gt_xy, gt_vis, gt_xy, gt_vis, np.zeros(2, int), "first", SIZE)
    assert sum(m[f"speed_{b}_queries"] for b in ("0-1", "1-2", "2-4", "4-8", "8+")) == 1


def test_query_distance_bins_first_and_strided():
    t = 70
    gt_xy, gt_vis = still(1, t), np.ones((1, t), bool)
    pred_xy = gt_xy.copy()
    pred_xy[0, 5:17, 0] += 3  # 5-16 frames away: 3 px off -> 0.6
    pred_xy[0, 17:65, 0] += 20  # 17-64 frames away: 20 px off -> 0
    m = query_distance_metrics(gt_xy, gt_vis, pred_xy, gt_vis, np.array([0]), "first", SIZE)
    assert (m["qdist_1-4_delta_avg"], m["qdist_1-4_points"]) == (1.0, 4)
    assert m["qdist_5-16_delta_avg"] == pytest.approx(0.6) and m["qdist_5-16_points"] == 12
    assert (m["qdist_17-64_delta_avg"], m["qdist_17-64_points"]) == (0.0, 48)
    assert (m["qdist_65+_delta_avg"], m["qdist_65+_points"]) == (1.0, 5)  # frames 65-69
    # Strided, 20 frames, query at 10: distances 1-4 at frames 6-9 and 11-14 (8 cells); 5-16 at 0-5 and 15-19
    # (11 cells), one of them (frame 0) occluded: 10.
    gt_vis = np.ones((1, 20), bool)
    gt_vis[0, 0] = False
    m = query_distance_metrics(still(1, 20), gt_vis, still(1, 20), gt_vis, np.array([10]), "strided", SIZE)
    assert m["qdist_1-4_points"] == 8 and m["qdist_5-16_points"] == 10 and m["qdist_17-64_points"] == 0
    assert math.isnan(m["qdist_17-64_delta_avg"])


# --- All breakdowns, aggregation, bad input ----------------------------------------------------------------


def test_breakdown_metrics_has_the_stable_schema_and_a_perfect_tracker_scores_one():
    gt_xy, gt_vis, _, _, q = redetect_case()
    row = breakdown_metrics(gt_xy, gt_vis, gt_xy, gt_vis, q, "first", SIZE, occluded_positions=True)
    assert tuple(row) == BREAKDOWN_COLUMNS
    assert set(BREAKDOWN_COUNT_COLUMNS) <= set(BREAKDOWN_COLUMNS)
    scores = {c: v for c, v in row.items() if c not in BREAKDOWN_COUNT_COLUMNS and not math.isnan(v)}
    assert scores.pop("median_traj_err_px") == 0.0
    assert scores and all(v == 1.0 for v in scores.values()), scores
    assert row["redetect_events"] == 3 and row["occluded_points"] == 3 + 9  # gt-occluded cells


def test_aggregation_is_the_mean_over_videos_that_define_a_score_and_the_sum_of_counts():
    a = {c: float("nan") for c in BREAKDOWN_COLUMNS}
    b = dict(a)
    a.update({"redetect_jaccard_1-4": 0.2, "redetect_events_1-4": 3, "survival_50px": 0.5})
    b.update({"redetect_jaccard_1-4": 0.6, "redetect_events_1-4": 1, "redetect_jaccard_5-16": 0.9,
              "redetect_events_5-16": 2})
    a["redetect_events_5-16"] = 0  # video a had no such event: its score is NaN, not 0
    out = aggregate_breakdowns([a, b])
    assert out["redetect_jaccard_1-4"] == pytest.approx(0.4) and out["redetect_events_1-4"] == 4
    assert out["redetect_jaccard_5-16"] == pytest.approx(0.9) and out["redetect_events_5-16"] == 2
    assert out["survival_50px"] == 0.5  # only video a defines it
    assert math.isnan(out["redetect_jaccard_65+"]) and math.isnan(out["redetect_events_65+"])
    pd = pytest.importorskip("pandas")
    assert aggregate_breakdowns(pd.DataFrame([a, b]))["redetect_jaccard_1-4"] == pytest.approx(0.4)


def test_bad_shapes_are_named():
    gt_xy, gt_vis, pred_xy, pred_vis, q = redetect_case()
    with pytest.raises(ValueError, match="pred_xy"):
        breakdown_metrics(gt_xy, gt_vis, pred_xy[:, :5], pred_vis, q, "first", SIZE)
    with pytest.raises(ValueError, match="query_frames"):
        breakdown_metrics(gt_xy, gt_vis, pred_xy, pred_vis, np.array([0, 12]), "first", SIZE)
    with pytest.raises(ValueError, match="pred_visible"):
        breakdown_metrics(gt_xy, gt_vis, pred_xy, pred_vis.astype(np.float32), q, "first", SIZE)
    with pytest.raises(ValueError, match="query_mode"):
        breakdown_metrics(gt_xy, gt_vis, pred_xy, pred_vis, q, "last", SIZE)
