"""Statistics over videos (bootstrap intervals, paired tests) and the leaderboard columns built on them."""

import itertools
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from pointbench.leaderboard import CI_COLUMNS, PAIRWISE_COLUMNS, leaderboard, pairwise
from pointbench.leaderboard import main as leaderboard_main
from pointbench.metrics.stats import EXACT_MAX_N, bootstrap_ci, paired_test
from pointbench.metrics.tables import METRIC_NAMES, video_table


def brute_force_p(diff_decimals: list[str]) -> float:
    """Two-sided sign-flip p-value by exact rational arithmetic over all sign patterns."""
    diff = [Fraction(d) for d in diff_decimals]
    observed = abs(sum(diff))
    patterns = list(itertools.product((1, -1), repeat=len(diff)))
    return sum(abs(sum(s * d for s, d in zip(signs, diff))) >= observed for signs in patterns) / len(patterns)


# --- bootstrap_ci --------------------------------------------------------------------------------------------


def test_interval_contains_the_mean_and_narrows_as_videos_are_added():
    rng = np.random.default_rng(7)
    for n in (3, 5, 10, 40):
        for _ in range(20):
            values = rng.beta(2, 5, n)
            low, high = bootstrap_ci(values, n_resamples=2000, seed=int(rng.integers(1000)))
            assert low <= values.mean() <= high
    values = rng.normal(0.5, 0.1, 320)
    widths = [np.subtract(*bootstrap_ci(values[:n])[::-1]) for n in (5, 20, 80, 320)]
    assert all(a > b for a, b in zip(widths, widths[1:])), widths
    # With many videos the percentile interval is the normal one: mean ± 1.96 s / √n.
    normal_width = 2 * 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert widths[-1] == pytest.approx(normal_width, rel=0.08)


def test_interval_is_deterministic_and_degenerate_cases_are_exact():
    values = [0.2, 0.5, 0.4, 0.9, 0.3]
    spread = np.random.default_rng(0).random(12)
    assert bootstrap_ci(spread, seed=3) == bootstrap_ci(spread, seed=3)
    assert bootstrap_ci(spread, seed=3) != bootstrap_ci(spread, seed=4)
    assert bootstrap_ci([0.1] * 7) == (0.1, 0.1)
    assert bootstrap_ci([0.42]) == (0.42, 0.42)
    # A wider confidence gives a wider interval; every bound is a mean of some resample: within the data.
    low90, high90 = bootstrap_ci(values, confidence=0.9)
    low99, high99 = bootstrap_ci(values, confidence=0.99)
    assert 0.2 <= low99 < low90 and high90 < high99 <= 0.9


def test_large_sets_are_resampled_in_blocks_with_the_same_answer_shape():
    values = np.random.default_rng(0).random(5000)  # 10000 × 5000 cells: several blocks
    low, high = bootstrap_ci(values)
    normal_half = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
    assert low == pytest.approx(values.mean() - normal_half, abs=0.1 * normal_half)
    assert high == pytest.approx(values.mean() + normal_half, abs=0.1 * normal_half)


@pytest.mark.parametrize("values, message", [
    ([], r"values must be a non-empty 1-D array.*shape \(0,\)"),
    ([[0.1, 0.2]], r"values must be a non-empty 1-D array.*shape \(1, 2\)"),
    ([0.1, np.nan, 0.3], r"values must be finite; got nan at index 1"),
])
def test_bad_values_are_named(values, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_ci(values)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="n_resamples must be a positive integer; got 0"):
        bootstrap_ci([0.1, 0.2], n_resamples=0)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\); got 95"):
        bootstrap_ci([0.1, 0.2], confidence=95)


# --- paired_test ---------------------------------------------------------------------------------------------


def test_identical_trackers_are_never_different():
    a = np.random.default_rng(1).random(30)
    for n in (1, 5, 16, 30):
        result = paired_test(a[:n], a[:n].copy())
        assert result == {"mean_diff": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0}


def test_better_on_every_video_by_a_clear_margin_is_significant_with_20_videos():
    rng = np.random.default_rng(2)
    b = rng.uniform(0.3, 0.6, 20)
    a = b + rng.uniform(0.03, 0.07, 20)
    result = paired_test(a, b)
    assert result["mean_diff"] == pytest.approx(np.mean(a - b))
    assert 0.03 <= result["ci_low"] < result["mean_diff"] < result["ci_high"] <= 0.07
    # Monte Carlo (20 > EXACT_MAX_N): only all-plus or all-minus signs reach the observed sum, so almost
    # surely no draw does; the observed statistic counts once: 1 / (1 + 10000).
    assert result["p_value"] == pytest.approx(1 / 10001)
    assert paired_test(b, a)["p_value"] == result["p_value"]  # two-sided
    assert paired_test(b, a)["mean_diff"] == pytest.approx(-result["mean_diff"])


@pytest.mark.parametrize("diff", [
    ["2", "-1", "1"],                      # by hand: 6 of the 8 sign patterns reach |sum| >= 2
    ["0.3", "-0.1", "-0.2", "0.6"],        # ties that floating point sums in another order
    ["0.1", "0.2", "0.3"],
    ["0.05", "-0.02", "0.01", "0.03", "-0.04", "0.02", "0.06", "-0.01", "0.02", "0.03"],
    ["0.1", "-0.1", "0.2", "-0.2"],        # observed mean 0: every pattern reaches it
])
def test_exact_sign_flip_p_value_matches_rational_enumeration(diff):
    a = np.array([float(d) for d in diff]) + 0.5
    result = paired_test(a, np.full(len(diff), 0.5))
    assert result["p_value"] == pytest.approx(brute_force_p(diff), abs=1e-12)


def test_hand_computed_exact_case():
    assert paired_test([2, -1, 1], [0, 0, 0])["p_value"] == 0.75
    # With n videos all in favour of one tracker, the smallest exact p-value is 2 / 2**n.
    assert paired_test([0.6] * 5, [0.5] * 5)["p_value"] == pytest.approx(2 / 32)


def test_monte_carlo_p_value_approximates_the_exact_one_and_is_never_zero():
    rng = np.random.default_rng(4)
    n = EXACT_MAX_N + 2
    diff = rng.normal(0.01, 0.03, n)
    signs = 1 - 2 * (np.arange(2**n)[:, None] >> np.arange(n) & 1)
    exact = np.mean(np.abs(signs @ diff) >= abs(diff.sum()) - 1e-12)
    result = paired_test(diff + 0.5, np.full(n, 0.5), n_resamples=20000, seed=5)
    assert result["p_value"] == pytest.approx(exact, abs=0.01)
    small = paired_test(diff + 0.5, np.full(n, 0.5), n_resamples=50)
    assert small["p_value"] > 0 and (small["p_value"] * 51) == pytest.approx(round(small["p_value"] * 51))


def test_paired_inputs_are_checked():
    with pytest.raises(ValueError, match="one value per shared video; got 3 and 2"):
        paired_test([0.1, 0.2, 0.3], [0.1, 0.2])
    with pytest.raises(ValueError, match="b must be finite; got nan at index 0"):
        paired_test([0.1], [np.nan])


# --- leaderboard columns and pairwise tables -----------------------------------------------------------------


def per_video_table(scores: dict[str, list[float]], dataset="synthetic", status=None) -> pd.DataFrame:
    """A per-video table where every metric of tracker t on video i is scores[t][i] (NaN: not scored)."""
    rows = []
    for tracker, values in scores.items():
        for i, value in enumerate(values):
            ok = np.isfinite(value) and (status or {}).get((tracker, i), "ok") == "ok"
            rows.append({"tracker": tracker, "dataset": dataset, "video": f"video_{i:02d}", "n_frames": 10,
                         "n_queries": 5, **{m: value if ok else np.nan for m in METRIC_NAMES},
                         "seconds": 0.1, "fps": 100.0, "peak_mem_mb": 1.0,
                         "status": "ok" if ok else (status or {}).get((tracker, i), "unscored")})
    return video_table(rows)


def test_leaderboard_has_intervals_over_the_scored_videos():
    rng = np.random.default_rng(0)
    scores = {"good": list(rng.uniform(0.6, 0.8, 12)), "bad": list(rng.uniform(0.1, 0.3, 12))}
    scores["bad"][3] = np.nan
    table = leaderboard(per_video_table(scores, status={("bad", 3): "error"}), n_resamples=500).set_index("tracker")
    assert list(table.columns[-len(CI_COLUMNS):]) == list(CI_COLUMNS)
    for tracker, values in scores.items():
        values = [v for v in values if np.isfinite(v)]
        assert (table.loc[tracker, "AJ_ci_low"], table.loc[tracker, "AJ_ci_high"]) == bootstrap_ci(values, 500)
        for metric in ("AJ", "delta_avg", "OA"):
            assert table.loc[tracker, f"{metric}_ci_low"] <= table.loc[tracker, metric] <= \
                table.loc[tracker, f"{metric}_ci_high"]


def test_pairwise_identical_trackers_are_not_significant():
    values = list(np.random.default_rng(1).random(20))
    per_video = per_video_table({"a": values, "b": values})
    pairs = pairwise(per_video, leaderboard(per_video, 200), 200)
    assert list(pairs.columns) == list(PAIRWISE_COLUMNS)
    assert list(pairs["metric"]) == ["AJ", "delta_avg", "OA"]
    assert (pairs["p_value"] == 1).all() and not pairs["significant"].any()
    assert (pairs[["mean_diff", "ci_low", "ci_high"]] == 0).all().all()


def test_pairwise_on_the_videos_both_scored_and_ranked_pairs():
    rng = np.random.default_rng(3)
    base = rng.uniform(0.3, 0.6, 21)
    scores = {"worse": list(base), "best": list(base + 0.1), "middle": list(base + rng.normal(0, 0.02, 21))}
    scores["best"][0] = np.nan  # unscored: left out of every pair with "best"
    per_video = per_video_table(scores, status={("middle", 5): "error"})
    pairs = pairwise(per_video, leaderboard(per_video, 1000), 1000).set_index(["tracker_a", "tracker_b", "metric"])
    assert [k[:2] for k in pairs.index[::3]] == [("best", "middle"), ("best", "worse"), ("middle", "worse")]
    assert pairs.loc[("best", "worse", "AJ"), "n_videos"] == 20
    assert pairs.loc[("best", "middle", "AJ"), "n_videos"] == 19
    assert pairs.loc[("middle", "worse", "AJ"), "n_videos"] == 20
    clear = pairs.loc[("best", "worse", "AJ")]
    assert clear["significant"] and clear["mean_diff"] == pytest.approx(0.1) and clear["p_value"] < 0.001
    noise = pairs.loc[("middle", "worse", "AJ")]
    assert noise["ci_low"] < noise["mean_diff"] < noise["ci_high"]
    assert noise["significant"] == (noise["p_value"] < 0.05)


def test_command_writes_intervals_and_pairwise_with_the_resamples_asked(tmp_path, capsys):
    rng = np.random.default_rng(5)
    scores = {"a": list(rng.uniform(0.5, 0.7, 8)), "b": list(rng.uniform(0.2, 0.4, 8))}
    for tracker in scores:
        run = tmp_path / "runs" / tracker
        run.mkdir(parents=True)
        table = per_video_table({tracker: scores[tracker]})
        if tracker == "b":  # a table from before a column existed still merges
            table = table.drop(columns=["peak_gpu_mem_mb"])
        table.to_csv(run / "metrics_per_video.csv", index=False)
    leaderboard_main([str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--resamples", "300"])
    board = pd.read_csv(tmp_path / "out" / "leaderboard.csv").set_index("tracker")
    for tracker, values in scores.items():
        low, high = bootstrap_ci(values, n_resamples=300)
        assert board.loc[tracker, "OA_ci_low"] == pytest.approx(low, abs=1e-15)
        assert board.loc[tracker, "OA_ci_high"] == pytest.approx(high, abs=1e-15)
    pairs = pd.read_csv(tmp_path / "out" / "pairwise.csv")
    assert list(pairs.columns) == list(PAIRWISE_COLUMNS) and len(pairs) == 3
    expected = paired_test(scores["a"], scores["b"], n_resamples=300)
    row = pairs[pairs["metric"] == "AJ"].iloc[0]
    assert (row["tracker_a"], row["tracker_b"], row["n_videos"]) == ("a", "b", 8)
    assert row["p_value"] == pytest.approx(expected["p_value"]) == 2 / 2**8
    assert row["ci_low"] == pytest.approx(expected["ci_low"]) and bool(row["significant"])
    assert "AJ 95% CI" in (tmp_path / "out" / "leaderboard.md").read_text()
    assert "pairwise.csv" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        leaderboard_main([str(tmp_path / "runs"), "--resamples", "0"])
