"""Leaderboard: merge the per-video tables of finished runs into one ranking.

Runs at the end of every multirun (a Hydra callback, in the sweep dir) and as a command for
existing run dirs:

    pointbench-leaderboard multirun/2026-11-23/10-00-00 [more dirs...] [--out DIR]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import pandas as pd
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from pointbench.io import atomic_path, write_csv
from pointbench.metrics.tables import STATUS_ERROR, format_summary, summarize

log = logging.getLogger("pointbench")

PER_VIDEO = "metrics_per_video.csv"
_MD_COLUMNS = ("tracker", "dataset", "videos_scored", "AJ", "delta_avg", "OA", "pts_within_1", "pts_within_4",
               "seconds", "fps")


def find_run_dirs(paths: list[Path]) -> list[Path]:
    """Run dirs at or below `paths`: those holding a `metrics_per_video.csv` that is not itself a
    merged table (merged tables sit beside a `leaderboard.csv`)."""
    found = []
    for path in map(Path, paths):
        if not path.is_dir():
            raise FileNotFoundError(f"leaderboard: no such directory: {path}")
        found += sorted(p.parent for p in path.rglob(PER_VIDEO) if not (p.parent / "leaderboard.csv").exists())
    return found


def merge_runs(run_dirs: list[Path]) -> pd.DataFrame:
    """Concatenate the per-video tables; a (tracker, dataset, video) seen twice keeps its last row."""
    tables = [pd.read_csv(d / PER_VIDEO) for d in run_dirs]
    if not tables:
        raise FileNotFoundError(f"leaderboard: no {PER_VIDEO} found in {[str(d) for d in run_dirs]}")
    merged = pd.concat(tables, ignore_index=True)
    return merged.drop_duplicates(["tracker", "dataset", "video"], keep="last").reset_index(drop=True)


def leaderboard(per_video: pd.DataFrame) -> pd.DataFrame:
    """One row per (tracker, dataset): means over scored videos, ranked by AJ within each dataset."""
    table = summarize(per_video)
    return table.sort_values(["dataset", "AJ"], ascending=[True, False], na_position="last").reset_index(drop=True)


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub Markdown table of the leaderboard, metrics ×100."""
    shown = table[list(_MD_COLUMNS)].copy()
    for column in ("AJ", "delta_avg", "OA", "pts_within_1", "pts_within_4"):
        shown[column] = (100 * shown[column]).map("{:.1f}".format)
    shown["seconds"] = shown["seconds"].map("{:.1f}".format)
    shown["fps"] = shown["fps"].map("{:.1f}".format)
    header = ["tracker", "dataset", "videos", "AJ", "δ_avg", "OA", "<1 px", "<4 px", "seconds", "fps"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_leaderboard(run_dirs: list[Path], out_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write `leaderboard.csv`, `leaderboard.md` and the merged `metrics_per_video.csv` into `out_dir`."""
    per_video = merge_runs(run_dirs)
    table = leaderboard(per_video)
    out_dir = Path(out_dir)
    write_csv(table, out_dir / "leaderboard.csv")
    with atomic_path(out_dir / "leaderboard.md") as tmp:
        tmp.write_text(to_markdown(table))
    write_csv(per_video, out_dir / PER_VIDEO)
    return per_video, table


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
        failed = per_video[per_video["status"] == STATUS_ERROR]
        if len(failed):
            log.error("%d video(s) failed: %s", len(failed),
                      ", ".join(f"{r.tracker}/{r.dataset}/{r.video}" for r in failed.itertuples()))
            sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pointbench-leaderboard", description=(
        "Merge the metrics_per_video.csv of run dirs (found recursively) into leaderboard.csv, "
        "leaderboard.md and metrics_per_video.csv."))
    parser.add_argument("dirs", nargs="+", type=Path, help="run dirs or sweep dirs")
    parser.add_argument("--out", type=Path, help="where to write (default: the one sweep dir given, else here)")
    args = parser.parse_args(argv)
    run_dirs = find_run_dirs(args.dirs)
    sweep_dir = len(args.dirs) == 1 and not (args.dirs[0] / PER_VIDEO).exists() or (args.dirs[0] / "leaderboard.csv").exists()
    out = args.out or (args.dirs[0] if sweep_dir else Path.cwd())
    _, table = write_leaderboard(run_dirs, out)
    print(format_summary(table))
    print(f"leaderboard: {out / 'leaderboard.csv'} ({len(run_dirs)} runs)")


if __name__ == "__main__":
    main()
