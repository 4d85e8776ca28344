"""Leaderboard: merge the per-video tables of finished runs into one ranking.

Runs at the end of every multirun (a Hydra callback, in the sweep dir) and as a command for
existing run dirs:

    pointbench-leaderboard multirun/2026-11-23/10-00-00 [more dirs...] [--out DIR] [--resamples N]

Besides the means, every (tracker, dataset) gets bootstrap confidence intervals over its videos,
and `pairwise.csv` says, for every two trackers on a dataset, whether their difference is more
than noise (see `pointbench.metrics.stats`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from pointbench.io import atomic_path, write_csv
from pointbench.metrics.stats import bootstrap_ci, paired_test
from pointbench.metrics.tables import STATUS_ERROR, STATUS_OK, VIDEO_COLUMNS, format_summary, summarize

log = logging.getLogger("pointbench")

PER_VIDEO = "metrics_per_video.csv"
_MD_COLUMNS = ("tracker", "dataset", "videos_scored", "AJ", "delta_avg", "OA", "pts_within_1", "pts_within_4",
               "seconds", "fps")

#: Metrics that get a confidence interval (`<metric>_ci_low`, `<metric>_ci_high`) and pairwise tests.
CI_METRICS = ("AJ", "delta_avg", "OA")
CI_COLUMNS = tuple(f"{m}_ci_{end}" for m in CI_METRICS for end in ("low", "high"))
PAIRWISE_COLUMNS = ("dataset", "tracker_a", "tracker_b", "metric", "n_videos", "mean_diff", "ci_low", "ci_high",
                    "p_value", "significant")
DEFAULT_RESAMPLES = 10000
ALPHA = 0.05  # significance level of the pairwise tests (95 % intervals)


def find_run_dirs(paths: list[Path]) -> list[Path]:
    """Run dirs at or below `paths`: those holding a `metrics_per_video.csv` that is not itself a
    merged table (merged tables sit beside a `leaderboard.csv`)."""
    found = []
    for path in map(Path, paths):
        if not path.is_dir():
            raise FileNotFoundError(f"leaderboard: no such directory: {path}")
        found += sorted(p.parent for p in path.rglob(PER_VIDEO) if not (p.parent / "leaderboard.csv").exists())
    return found


def merge_runs(run_dirs: list[Path], with_source: bool = False) -> pd.DataFrame:
    """Concatenate the per-video tables; a (tracker, dataset, video) seen twice keeps its last row.

    `with_source` adds a `run_dir` column: the dir each row was read from (where its predictions are).
    """
    tables = [pd.read_csv(d / PER_VIDEO).assign(run_dir=str(d)) if with_source else pd.read_csv(d / PER_VIDEO)
              for d in run_dirs]
    if not tables:
        raise FileNotFoundError(f"leaderboard: no {PER_VIDEO} found in {[str(d) for d in run_dirs]}")
    merged = pd.concat(tables, ignore_index=True)
    # Tables written before a column existed get it empty, so that old and new runs merge.
    merged = merged.reindex(columns=[*VIDEO_COLUMNS, *(c for c in merged.columns if c not in VIDEO_COLUMNS)])
    return merged.drop_duplicates(["tracker", "dataset", "video"], keep="last").reset_index(drop=True)


def _scored(per_video: pd.DataFrame) -> pd.DataFrame:
    return per_video[per_video["status"] == STATUS_OK]


def leaderboard(per_video: pd.DataFrame, n_resamples: int = DEFAULT_RESAMPLES) -> pd.DataFrame:
    """One row per (tracker, dataset): means over scored videos, ranked by AJ within each dataset,
    with 95 % bootstrap intervals of the AJ, delta_avg and OA means (`CI_COLUMNS`, last)."""
    table = summarize(per_video)
    groups = dict(list(_scored(per_video).groupby(["tracker", "dataset"], sort=False)))
    for metric in CI_METRICS:
        bounds = []
        for key in zip(table["tracker"], table["dataset"]):
            values = groups[key][metric].dropna() if key in groups else ()
            bounds.append(bootstrap_ci(values, n_resamples) if len(values) else (np.nan, np.nan))
        table[f"{metric}_ci_low"] = [low for low, _ in bounds]
        table[f"{metric}_ci_high"] = [high for _, high in bounds]
    return table.sort_values(["dataset", "AJ"], ascending=[True, False], na_position="last").reset_index(drop=True)


def pairwise(per_video: pd.DataFrame, table: pd.DataFrame, n_resamples: int = DEFAULT_RESAMPLES,
             alpha: float = ALPHA) -> pd.DataFrame:
    """For each dataset, every two trackers compared on the videos both scored (`PAIRWISE_COLUMNS`).

    `tracker_a` ranks above `tracker_b` in `table` (the leaderboard); `mean_diff` is a - b with its
    paired bootstrap interval and sign-flip p-value; `significant` is p_value < alpha.
    """
    scored = _scored(per_video)
    rows = []
    for dataset, board in table.groupby("dataset", sort=False):
        trackers = list(board["tracker"])
        videos = {t: scored[(scored["tracker"] == t) & (scored["dataset"] == dataset)].set_index("video")
                  for t in trackers}
        for i, a in enumerate(trackers):
            for b in trackers[i + 1:]:
                both = videos[a][list(CI_METRICS)].add_suffix("_a").join(
                    videos[b][list(CI_METRICS)].add_suffix("_b"), how="inner")
                for metric in CI_METRICS:
                    pair = both[[f"{metric}_a", f"{metric}_b"]].dropna()
                    test = (paired_test(pair.iloc[:, 0], pair.iloc[:, 1], n_resamples) if len(pair) else
                            dict.fromkeys(("mean_diff", "ci_low", "ci_high", "p_value"), np.nan))
                    rows.append({"dataset": dataset, "tracker_a": a, "tracker_b": b, "metric": metric,
                                 "n_videos": len(pair), **test, "significant": bool(test["p_value"] < alpha)})
    return pd.DataFrame(rows, columns=list(PAIRWISE_COLUMNS))


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub Markdown table of the leaderboard, metrics ×100, with the AJ interval when known."""
    shown = table[list(_MD_COLUMNS)].copy()
    for column in ("AJ", "delta_avg", "OA", "pts_within_1", "pts_within_4"):
        shown[column] = (100 * shown[column]).map("{:.1f}".format)
    shown["seconds"] = shown["seconds"].map("{:.1f}".format)
    shown["fps"] = shown["fps"].map("{:.1f}".format)
    header = ["tracker", "dataset", "videos", "AJ", "δ_avg", "OA", "<1 px", "<4 px", "seconds", "fps"]
    if "AJ_ci_low" in table:
        shown.insert(4, "AJ_ci", [f"{100 * lo:.1f}–{100 * hi:.1f}" if np.isfinite(lo) else ""
                                  for lo, hi in zip(table["AJ_ci_low"], table["AJ_ci_high"])])
        header.insert(4, "AJ 95% CI")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_leaderboard(run_dirs: list[Path], out_dir: Path,
                      n_resamples: int = DEFAULT_RESAMPLES) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write `leaderboard.csv`, `leaderboard.md`, `pairwise.csv` and the merged `metrics_per_video.csv`
    into `out_dir`."""
    per_video = merge_runs(run_dirs)
    table = leaderboard(per_video, n_resamples)
    out_dir = Path(out_dir)
    write_csv(table, out_dir / "leaderboard.csv")
    with atomic_path(out_dir / "leaderboard.md") as tmp:
        tmp.write_text(to_markdown(table))
    write_csv(pairwise(per_video, table, n_resamples), out_dir / "pairwise.csv")
    write_csv(per_video, out_dir / PER_VIDEO)
    return per_video, table


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


def _write_report(run_dirs: list[Path], out_dir: Path) -> None:
    """The HTML report, when its optional dependency is installed; one log line when it is not."""
    try:
        import matplotlib  # noqa: F401  (only to know whether the report can be drawn)
    except ImportError:
        log.info("no report.html: matplotlib is missing (pip install 'pointbench[report]')")
        return
    try:
        # Imported here: the report builds on this module (and is optional), not the other way round.
        from pointbench.report import write_report

        print(f"report: {write_report(run_dirs, out_dir)}")
    except Exception as error:  # the leaderboard is written; a failing figure must not hide it nor the exit status
        log.error("report failed: %s: %s", type(error).__name__, error)


class LeaderboardCallback(Callback):
    """At the end of a multirun, merge its jobs into the sweep dir; exit 1 if any video failed."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        run_dirs = find_run_dirs([sweep_dir])
        if not run_dirs:
            log.error("no finished job in %s: no leaderboard written", sweep_dir)
            sys.exit(1)
        per_video, table = write_leaderboard(run_dirs, sweep_dir)
        print(format_summary(table))
        print(f"leaderboard: {sweep_dir / 'leaderboard.csv'}")
        if config.get("report", {}).get("enabled", True):
            _write_report(run_dirs, sweep_dir)
        failed = per_video[per_video["status"] == STATUS_ERROR]
        if len(failed):
            log.error("%d video(s) failed: %s", len(failed),
                      ", ".join(f"{r.tracker}/{r.dataset}/{r.video}" for r in failed.itertuples()))
            sys.exit(1)


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
    run_dirs = find_run_dirs(args.dirs)
    out = args.out or default_out_dir(args.dirs)
    _, table = write_leaderboard(run_dirs, out, args.resamples)
    print(format_summary(table))
    print(f"leaderboard: {out / 'leaderboard.csv'} ({len(run_dirs)} runs), pairwise tests: {out / 'pairwise.csv'}")


if __name__ == "__main__":
    main()
