"""Leaderboard: merge the per-video tables of finished runs into one ranking.

Runs at the end of every multirun (a Hydra callback, in the sweep dir) and as a command for
existing run dirs:

    pointbench-leaderboard multirun/2026-11-23/10-00-00 [more dirs...] [--out DIR] [--resamples N]

A row is one run identity (tracker and dataset configs, version: see `pointbench.identity`),
labelled by its `variant` (`lk win_size=21`) and `dataset_variant` (`synthetic seed=1`): two
configurations never share a row. Besides the means, every row gets bootstrap confidence
intervals over its videos, and `pairwise.csv` says, for every two rows on a dataset variant
(two trackers, or two variants of one), whether their difference is more than noise (see
`pointbench.metrics.stats`).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pointbench.identity import video_key
from pointbench.io import atomic_path, write_csv
from pointbench.metrics.stats import bootstrap_ci, paired_test
from pointbench.metrics.tables import STATUS_ERROR, STATUS_OK, format_summary, summarize
from pointbench.metrics.breakdowns import aggregate_breakdowns
from pointbench.runs import BREAKDOWN, PER_VIDEO, RunDirError, find_run_dirs, merge_breakdowns, merge_runs

log = logging.getLogger("pointbench")

_MD_COLUMNS = ("variant", "dataset_variant", "videos_scored", "AJ", "delta_avg", "OA", "pts_within_1", "pts_within_4",
               "seconds", "fps")

#: Metrics that get a confidence interval (`<metric>_ci_low`, `<metric>_ci_high`) and pairwise tests.
CI_METRICS = ("AJ", "delta_avg", "OA")
CI_COLUMNS = tuple(f"{m}_ci_{end}" for m in CI_METRICS for end in ("low", "high"))
#: Ground-truth-free scores that get an interval too (videos without ground truth; see metrics.cycle).
GT_FREE_CI_METRICS = ("cycle_median_px", "cycle_within_4", "survival")
GT_FREE_CAVEAT = ("Ground-truth-free scores measure consistency, not accuracy: a tracker that returns to where it "
                  "started (cycle) or keeps points visible (survival) can still be wrong in between.")
PAIRWISE_COLUMNS = ("dataset", "dataset_variant", "tracker_a", "tracker_b", "variant_a", "variant_b", "run_id_a",
                    "run_id_b", "metric", "n_videos", "mean_diff", "ci_low", "ci_high", "p_value", "significant")
DEFAULT_RESAMPLES = 10000
ALPHA = 0.05  # significance level of the pairwise tests (95 % intervals)


def _scored(per_video: pd.DataFrame) -> pd.DataFrame:
    return per_video[per_video["status"] == STATUS_OK]


def _keyed(per_video: pd.DataFrame) -> pd.DataFrame:
    """`per_video` with a `run_id` and `video_key` on every row: tables built by hand or by older
    versions get one run per (tracker, dataset) and the key of each video name."""
    fill = {}
    if "run_id" not in per_video or per_video["run_id"].isna().any():
        own = per_video["tracker"].astype(str) + "/" + per_video["dataset"].astype(str)
        fill["run_id"] = per_video["run_id"].astype(object).fillna(own) if "run_id" in per_video else own
    if "video_key" not in per_video or per_video["video_key"].isna().any():
        keys = per_video["video"].astype(str).map(video_key)
        fill["video_key"] = (per_video["video_key"].astype(object).fillna(keys) if "video_key" in per_video
                             else keys)
    return per_video.assign(**fill) if fill else per_video


def leaderboard(per_video: pd.DataFrame, n_resamples: int = DEFAULT_RESAMPLES) -> pd.DataFrame:
    """One row per run identity (`run_id`): means over scored videos, ranked by AJ within each
    dataset variant, with 95 % bootstrap intervals of the AJ, delta_avg and OA means (`CI_COLUMNS`, last)."""
    per_video = _keyed(per_video)
    table = _with_coverage(summarize(per_video), per_video)
    # Videos in the order of their keys: intervals do not depend on the order runs or shards finished.
    groups = {rid: rows.sort_values("video_key", kind="stable")
              for rid, rows in _scored(per_video).groupby("run_id", sort=False)}
    ran = {rid: rows.sort_values("video_key", kind="stable")
           for rid, rows in per_video[per_video["status"] != STATUS_ERROR].groupby("run_id", sort=False)}
    for metric in GT_FREE_CI_METRICS:  # over the videos that have the score (those that ran the cycle)
        _add_interval(table, metric, ran, n_resamples)
    for metric in CI_METRICS:
        _add_interval(table, metric, groups, n_resamples)
    return table.sort_values(["dataset_variant", "AJ"], ascending=[True, False],
                             na_position="last").reset_index(drop=True)


#: Columns saying which videos a leaderboard row holds (before the interval columns).
COVERAGE_COLUMNS = ("dataset_videos", "missing_videos", "missing_shards", "manifest_hash", "video_set")


def _with_coverage(table: pd.DataFrame, per_video: pd.DataFrame) -> pd.DataFrame:
    """`table` with `COVERAGE_COLUMNS`: how many videos the dataset has and how many the row lacks,
    the shards of its run identity that sent no table (`2/4` = shard 2 of 4), the hash of the
    dataset's video set, and `video_set` = `differs` where rows of one dataset name were drawn from
    different video sets (their means are not comparable as they stand), else `same`."""
    coverage = {column: [] for column in COVERAGE_COLUMNS[:4]}
    for rid, videos in zip(table["run_id"], table["videos"]):
        rows = per_video[per_video["run_id"] == rid]
        total = rows["dataset_videos"].max() if "dataset_videos" in rows else np.nan
        coverage["dataset_videos"].append(total)
        coverage["missing_videos"].append(total - rows["video_key"].nunique() if pd.notna(total) else np.nan)
        if "num_shards" in rows and rows["num_shards"].notna().any():
            n = int(rows["num_shards"].max())
            present = set(rows["shard"].dropna().astype(int))
            coverage["missing_shards"].append(",".join(f"{k}/{n}" for k in range(n) if k not in present))
        else:
            coverage["missing_shards"].append("")
        hashes = set(rows["manifest_hash"].dropna()) if "manifest_hash" in rows else set()
        coverage["manifest_hash"].append(hashes.pop() if len(hashes) == 1 else "mixed" if hashes else "")
    table = table.assign(**coverage)
    sets = table[table["manifest_hash"] != ""].groupby("dataset")["manifest_hash"].agg(lambda h: len(set(h)))
    table["video_set"] = ["differs" if sets.get(d, 1) > 1 or h == "mixed" else "same"
                          for d, h in zip(table["dataset"], table["manifest_hash"])]
    return table


def coverage_notes(table: pd.DataFrame) -> list[str]:
    """One line per leaderboard row that lacks shards or videos, or whose video set differs."""
    notes = []
    for row in table.itertuples():
        label = f"{row.variant} on {row.dataset_variant}"
        if row.missing_shards:
            notes.append(f"{label}: shard(s) {row.missing_shards} sent no results")
        if pd.notna(row.missing_videos) and row.missing_videos > 0:
            notes.append(f"{label}: holds {int(row.dataset_videos - row.missing_videos)} of the dataset's "
                         f"{int(row.dataset_videos)} videos")
        if row.video_set == "differs":
            notes.append(f"{label}: drawn from video set {row.manifest_hash}, other rows of '{row.dataset}' from "
                         "another: compare them on the videos both have (pairwise.csv)")
    return notes


def _add_interval(table: pd.DataFrame, metric: str, groups: dict, n_resamples: int) -> None:
    bounds = []
    for rid in table["run_id"]:
        values = groups[rid][metric].dropna() if rid in groups else ()
        bounds.append(bootstrap_ci(values, n_resamples) if len(values) else (np.nan, np.nan))
    table[f"{metric}_ci_low"] = [low for low, _ in bounds]
    table[f"{metric}_ci_high"] = [high for _, high in bounds]


def pairwise(per_video: pd.DataFrame, table: pd.DataFrame, n_resamples: int = DEFAULT_RESAMPLES,
             alpha: float = ALPHA) -> pd.DataFrame:
    """For each dataset variant, every two runs (trackers, or variants of one tracker) compared on
    the videos both scored (`PAIRWISE_COLUMNS`).

    `variant_a` ranks above `variant_b` in `table` (the leaderboard); `mean_diff` is a - b with its
    paired bootstrap interval and sign-flip p-value; `significant` is p_value < alpha.
    """
    scored = _scored(_keyed(per_video))
    rows = []
    for dataset_variant, board in table.groupby("dataset_variant", sort=False):
        runs = list(board.itertuples())
        videos = {r.run_id: scored[scored["run_id"] == r.run_id].set_index("video_key") for r in runs}
        for i, a in enumerate(runs):
            for b in runs[i + 1:]:
                both = videos[a.run_id][list(CI_METRICS)].add_suffix("_a").join(
                    videos[b.run_id][list(CI_METRICS)].add_suffix("_b"), how="inner").sort_index()
                for metric in CI_METRICS:
                    pair = both[[f"{metric}_a", f"{metric}_b"]].dropna()
                    test = (paired_test(pair.iloc[:, 0], pair.iloc[:, 1], n_resamples) if len(pair) else
                            dict.fromkeys(("mean_diff", "ci_low", "ci_high", "p_value"), np.nan))
                    rows.append({"dataset": a.dataset, "dataset_variant": dataset_variant, "tracker_a": a.tracker,
                                 "tracker_b": b.tracker, "variant_a": a.variant, "variant_b": b.variant,
                                 "run_id_a": a.run_id, "run_id_b": b.run_id, "metric": metric,
                                 "n_videos": len(pair), **test, "significant": bool(test["p_value"] < alpha)})
    return pd.DataFrame(rows, columns=list(PAIRWISE_COLUMNS))


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub Markdown table of the leaderboard, metrics ×100, with the AJ interval when known."""
    shown = table[list(_MD_COLUMNS)].copy()
    number = lambda v: f"{v:.1f}" if np.isfinite(v) else "–"  # noqa: E731
    for column in ("AJ", "delta_avg", "OA", "pts_within_1", "pts_within_4"):
        shown[column] = (100 * shown[column]).map(number)
    shown["seconds"] = shown["seconds"].map(number)
    shown["fps"] = shown["fps"].map(number)
    header = ["tracker", "dataset", "videos", "AJ", "δ_avg", "OA", "<1 px", "<4 px", "seconds", "fps"]
    if "AJ_ci_low" in table:
        shown.insert(4, "AJ_ci", [f"{100 * lo:.1f}–{100 * hi:.1f}" if np.isfinite(lo) else ""
                                  for lo, hi in zip(table["AJ_ci_low"], table["AJ_ci_high"])])
        header.insert(4, "AJ 95% CI")
    aligns = ["---"] * 2 + ["---:"] * (len(header) - 2)
    if "license" in table and table["license"].notna().any():
        shown["license"] = table["license"].fillna("").astype(str)
        header.append("licence")
        aligns.append("---")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in shown.itertuples(index=False)]
    if "cycle_median_px" in table and table["cycle_median_px"].notna().any():
        lines += ["", "Ground-truth-free scores (videos without ground truth; 95% bootstrap intervals):", "",
                  "| tracker | dataset | videos | cycle median px | cycle <4 px | survival |", "|---|---|---:|---:|---:|---:|"]
        for row in table[table["cycle_median_px"].notna() | table["survival"].notna()].itertuples():
            lines.append(f"| {row.variant} | {row.dataset_variant} | {row.videos_ran} | "
                         f"{_value_ci(row, 'cycle_median_px', 1)} | {_value_ci(row, 'cycle_within_4', 100)} | "
                         f"{_value_ci(row, 'survival', 100)} |")
        lines += ["", GT_FREE_CAVEAT]
    if "video_set" in table:
        lines += [""] + [f"- {note}" for note in coverage_notes(table)]
    return "\n".join(lines).rstrip() + "\n"


def _value_ci(row, metric: str, scale: float) -> str:
    value, low, high = (getattr(row, f"{metric}{end}", np.nan) for end in ("", "_ci_low", "_ci_high"))
    if not np.isfinite(value):
        return "–"
    interval = f" [{scale * low:.1f}, {scale * high:.1f}]" if np.isfinite(low) else ""
    return f"{scale * value:.1f}{interval}"


#: Breakdown scores that get a 95% interval in `breakdown_summary.csv` (besides every mean and count).
BREAKDOWN_CI = ("redetect_jaccard", "out_of_view_jaccard", "survival_50px", "median_traj_err_px",
                "occluded_pts_within_avg")


def breakdown_summary(breakdowns: pd.DataFrame, n_resamples: int = DEFAULT_RESAMPLES) -> pd.DataFrame:
    """One row per run identity of the merged breakdowns: `aggregate_breakdowns` (means over the videos
    that define each score, counts summed) and intervals of `BREAKDOWN_CI`."""
    rows = []
    for rid, group in breakdowns.groupby("run_id", sort=False):
        group = group.sort_values("video_key", kind="stable")
        first = group.iloc[0]
        row = {"tracker": first["tracker"], "dataset": first["dataset"], "variant": first["variant"],
               "dataset_variant": first["dataset_variant"], "run_id": rid, "videos": len(group),
               **aggregate_breakdowns(group)}
        for metric in BREAKDOWN_CI:
            values = group[metric].replace([np.inf, -np.inf], np.nan).dropna()
            row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = (
                bootstrap_ci(values, n_resamples) if len(values) else (np.nan, np.nan))
        rows.append(row)
    return pd.DataFrame(rows)


def write_leaderboard(run_dirs: list[Path], out_dir: Path,
                      n_resamples: int = DEFAULT_RESAMPLES) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Write `leaderboard.csv`, `leaderboard.md`, `pairwise.csv` and the merged `metrics_per_video.csv`
    into `out_dir`; returns (per_video with each row's `run_dir`, leaderboard, pairwise)."""
    per_video = merge_runs(run_dirs, with_source=True)
    table = leaderboard(per_video, n_resamples)
    pairs = pairwise(per_video, table, n_resamples)
    out_dir = Path(out_dir)
    write_csv(table, out_dir / "leaderboard.csv")
    with atomic_path(out_dir / "leaderboard.md") as tmp:
        tmp.write_text(to_markdown(table), encoding="utf-8", errors="backslashreplace")
    write_csv(pairs, out_dir / "pairwise.csv")
    write_csv(per_video.drop(columns=["run_dir"]), out_dir / PER_VIDEO)
    breakdowns = merge_breakdowns(per_video)
    if len(breakdowns):
        write_csv(breakdowns.drop(columns=["run_dir"]), out_dir / BREAKDOWN)
        write_csv(breakdown_summary(breakdowns, n_resamples), out_dir / "breakdown_summary.csv")
    return per_video, table, pairs


def default_out_dir(dirs: list[Path]) -> Path:
    """Where the commands write by default: the one sweep dir given (or a merged dir), else here."""
    first = Path(dirs[0])
    sweep_dir = len(dirs) == 1 and not (first / PER_VIDEO).exists() or (first / "leaderboard.csv").exists()
    return first if sweep_dir else Path.cwd()


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text}")
    return value


def finished_runs_or_exit(parser: argparse.ArgumentParser, dirs: list[Path]) -> list[Path]:
    """The run dirs below `dirs`; a missing dir or none found exits with status 2 and one line."""
    try:
        run_dirs = find_run_dirs(dirs)
    except FileNotFoundError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    if not run_dirs:
        parser.exit(2, f"{parser.prog}: error: no finished run (a dir with {PER_VIDEO}) in "
                       f"{', '.join(map(str, dirs))}\n")
    return run_dirs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pointbench-leaderboard", description=(
        "Merge the metrics_per_video.csv of run dirs (found recursively) into leaderboard.csv (with "
        "bootstrap confidence intervals), leaderboard.md, pairwise.csv (paired tests between trackers) "
        "and metrics_per_video.csv."))
    parser.add_argument("dirs", nargs="+", type=Path, help="run dirs or sweep dirs")
    parser.add_argument("--out", type=Path, help="where to write (default: the one sweep dir given, else here)")
    parser.add_argument("--resamples", type=positive_int, default=DEFAULT_RESAMPLES,
                        help=f"bootstrap and permutation resamples (default {DEFAULT_RESAMPLES})")
    args = parser.parse_args(argv)
    run_dirs = finished_runs_or_exit(parser, args.dirs)
    out = args.out or default_out_dir(args.dirs)
    try:
        _, table, _ = write_leaderboard(run_dirs, out, args.resamples)
    except RunDirError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    print(format_summary(table))
    for note in coverage_notes(table):
        print(f"note: {note}")
    print(f"leaderboard: {out / 'leaderboard.csv'} ({len(run_dirs)} runs), pairwise tests: {out / 'pairwise.csv'}")


if __name__ == "__main__":
    main()
