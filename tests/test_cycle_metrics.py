"""Ground-truth-free metrics: cycle consistency and track survival, on hand-computed cases."""

import numpy as np
import pytest

from pointbench.metrics.cycle import (
    CYCLE_COLUMNS, cycle_consistency, cycle_queries, survival_curve, track_survival,
)
from pointbench.trackers.static import StaticTracker

T = 6


def forward_case():
    """4 queries; tracks 0 and 2 are visible at the last frame, 1 is occluded there, 3 is queried on it."""
    queries = np.array([[0, 10, 20], [1, 30, 40], [2, 50, 60], [T - 1, 70, 80]], np.float32)
    xy = np.zeros((4, T, 2), np.float32)
    xy[:] = queries[:, None, 1:]
    xy[:, T - 1] += [5, -3]  # every track moves at the end
    visible = np.ones((4, T), bool)
    visible[1, T - 1] = False
    return queries, xy, visible


def backward_tracks(queries, index, offsets, visible_at_query=None):
    """Backward tracks that land on the original query plus `offsets` (M, 2) at its frame."""
    m = len(index)
    xy = np.full((m, T, 2), 999.0, np.float32)
    visible = np.zeros((m, T), bool)
    for k, i in enumerate(index):
        t = int(queries[i, 0])
        xy[k, t] = queries[i, 1:] + offsets[k]
        visible[k, t] = True if visible_at_query is None else visible_at_query[k]
    return xy, visible


def test_cycle_queries_send_back_the_last_visible_positions_and_count_the_rest():
    queries, xy, visible = forward_case()
    back, index = cycle_queries(xy, visible, queries)
    np.testing.assert_array_equal(index, [0, 2])  # 1: occluded at T-1; 3: queried on T-1 itself
    np.testing.assert_array_equal(back, [[T - 1, 15, 17], [T - 1, 55, 57]])
    assert back.dtype == np.float32 and index.dtype == np.int64
    # A position outside the frame is not sent back when the frame size is known.
    back, index = cycle_queries(xy, visible, queries, image_size=(56, 100))  # y = 57 is below
    np.testing.assert_array_equal(index, [0])


def test_a_perfect_cycle_scores_zero_error_and_everything_within():
    queries, xy, visible = forward_case()
    _, index = cycle_queries(xy, visible, queries)
    bxy, bvis = backward_tracks(queries, index, np.zeros((2, 2)))
    m = cycle_consistency(queries, bxy, bvis, index, image_size=(100, 100))
    assert set(m) == set(CYCLE_COLUMNS) - {"survival"}
    assert m["cycle_median_px"] == 0.0 and m["cycle_n"] == 2
    assert all(m[f"cycle_within_{d}"] == 1.0 for d in (1, 2, 4, 8, 16))
    assert m["cycle_returned"] == 2 / 4  # 2 of the 4 queries were sent back and came back visible


@pytest.mark.parametrize("scale", [1, 2])
def test_a_3px_return_error_at_256_is_within_4_not_2_at_any_image_size(scale):
    # 256 wide x 128 high: x counts 1:1 at 256x256, y twice. Offsets of 3 px in x and 1.5 px in y are both 3 px.
    height, width = 128 * scale, 256 * scale
    queries = np.array([[0, 100, 50], [0, 120, 60], [1, 10, 10]], np.float32) * [1, scale, scale]
    index = np.array([0, 1, 2])
    offsets = np.array([[3.0, 0.0], [0.0, 1.5], [1.8, 1.2]]) * scale  # the last: (1.8, 2.4) -> 3 px
    bxy, bvis = backward_tracks(queries, index, offsets)
    m = cycle_consistency(queries, bxy, bvis, index, image_size=(height, width))
    assert m["cycle_median_px"] == pytest.approx(3.0, abs=1e-5)
    assert (m["cycle_within_1"], m["cycle_within_2"], m["cycle_within_4"], m["cycle_within_16"]) == (0, 0, 1, 1)


def test_within_is_strict_and_returned_needs_predicted_visibility():
    queries = np.array([[0, 10, 10], [1, 10, 10], [2, 10, 10], [0, 5, 5]], np.float32)
    index = np.array([0, 1, 2])
    offsets = np.array([[2.0, 0.0], [1.0, 0.0], [0.0, 8.0]])
    bxy, bvis = backward_tracks(queries, index, offsets, visible_at_query=[True, False, True])
    m = cycle_consistency(queries, bxy, bvis, index, image_size=(256, 256))
    assert m["cycle_within_2"] == pytest.approx(1 / 3)  # 2 px is not < 2
    assert m["cycle_within_4"] == pytest.approx(2 / 3) and m["cycle_within_16"] == 1.0
    assert m["cycle_median_px"] == pytest.approx(2.0)
    assert m["cycle_returned"] == pytest.approx(2 / 4)  # query 1 came back occluded, query 3 was never sent


def test_a_position_that_never_comes_back_counts_as_infinitely_far():
    queries = np.array([[0, 10, 10], [0, 20, 20], [0, 30, 30]], np.float32)
    index = np.arange(3)
    bxy, bvis = backward_tracks(queries, index, np.zeros((3, 2)), visible_at_query=[True, True, False])
    bxy[2, 0] = np.nan
    m = cycle_consistency(queries, bxy, bvis, index, image_size=(64, 64))
    assert m["cycle_within_16"] == pytest.approx(2 / 3) and m["cycle_median_px"] == 0.0


def test_nothing_sent_back_gives_nan_and_zero():
    queries = np.array([[0, 1, 1]], np.float32)
    m = cycle_consistency(queries, np.zeros((0, T, 2), np.float32), np.zeros((0, T), bool), np.zeros(0, int), (8, 8))
    assert m["cycle_n"] == 0 and m["cycle_returned"] == 0.0
    assert np.isnan(m["cycle_median_px"]) and np.isnan(m["cycle_within_4"])


def test_bad_inputs_are_named():
    queries, xy, visible = forward_case()
    with pytest.raises(ValueError, match="'forward_visible' must be bool"):
        cycle_queries(xy, visible.astype(int), queries)
    with pytest.raises(ValueError, match=r"'index' must hold 1 integer indices into the 4 queries"):
        cycle_consistency(queries, xy[:1], visible[:1], np.array([7]), (64, 64))
    with pytest.raises(ValueError, match=r"integer frames t in \[0, 6\)"):
        track_survival(visible, queries + [[0.5, 0, 0]])


def test_the_static_tracker_cycles_perfectly_when_nothing_moves():
    frames = np.zeros((T, 32, 48, 3), np.uint8)
    queries = np.array([[0, 4.5, 7.25], [3, 40, 30], [T - 1, 1, 1]], np.float32)
    tracker = StaticTracker()
    forward = tracker.track(frames, queries)
    back_queries, index = cycle_queries(forward.xy, forward.visible, queries, image_size=(32, 48))
    backward = tracker.track(frames, back_queries)
    m = cycle_consistency(queries, backward.xy, backward.visible, index, (32, 48))
    assert (m["cycle_n"], m["cycle_median_px"], m["cycle_within_1"], m["cycle_returned"]) == (2, 0.0, 1.0, 2 / 3)


def test_track_survival_and_curve_on_a_hand_made_matrix():
    visible = np.array([[1, 1, 0, 0, 1],
                        [0, 1, 1, 1, 0],
                        [0, 0, 0, 0, 1]], bool)
    queries = np.array([[0, 0, 0], [1, 0, 0], [4, 0, 0]], np.float32)
    # track 0: frames 0..4 -> 3/5; track 1: frames 1..4 -> 3/4; track 2: frame 4 -> 1/1
    assert track_survival(visible, queries) == pytest.approx((3 / 5 + 3 / 4 + 1) / 3)
    # lag 0: all 3 visible; lag 1: t0@1 yes, t1@2 yes; lag 2: t0@2 no, t1@3 yes;
    # lag 3: t0@3 no, t1@4 no; lag 4: only t0 reaches it, t0@4 yes
    np.testing.assert_allclose(survival_curve(visible, queries), [1.0, 1.0, 0.5, 0.0, 1.0])
    assert np.isnan(track_survival(np.zeros((0, 5), bool), np.zeros((0, 3), np.float32)))
    curve = survival_curve(np.ones((1, 3), bool), np.array([[1, 0, 0]], np.float32))
    np.testing.assert_array_equal(curve[:2], [1.0, 1.0])
    assert np.isnan(curve[2])  # no query has a frame 2 frames after it


def test_column_names():
    assert CYCLE_COLUMNS == ("cycle_median_px", "cycle_within_1", "cycle_within_2", "cycle_within_4",
                             "cycle_within_8", "cycle_within_16", "cycle_returned", "cycle_n", "survival")
