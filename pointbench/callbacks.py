"""End-of-sweep callbacks: the leaderboard, the report and the comparison recording of a multirun.

They sit above the modules they call (runs -> leaderboard -> report, compare), so that no
aggregation module imports a presentation one.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from pointbench.compare import build_comparison
from pointbench.leaderboard import coverage_notes, write_leaderboard
from pointbench.metrics.tables import STATUS_ERROR, format_summary
from pointbench.runs import find_run_dirs

log = logging.getLogger("pointbench")


def _write_report(per_video, table, pairs, run_dirs: list[Path], out_dir: Path) -> None:
    """The HTML report, when its optional dependency is installed; one log line when it is not."""
    try:
        import matplotlib  # noqa: F401  (only to know whether the report can be drawn)
    except ImportError:
        log.info("no report.html: matplotlib is missing (pip install 'pointbench[report]')")
        return
    try:
        from pointbench.report import write_report

        print(f"report: {write_report(run_dirs, out_dir, merged=(per_video, table, pairs))}")
    except Exception as error:  # the leaderboard is written; a failing figure must not hide it nor the exit status
        log.error("report failed: %s: %s", type(error).__name__, error)


class LeaderboardCallback(Callback):
    """At the end of a multirun, merge its jobs into the sweep dir (and the report); exit 1 if any video failed."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        run_dirs = find_run_dirs([sweep_dir])
        if not run_dirs:
            log.error("no finished job in %s: no leaderboard written", sweep_dir)
            sys.exit(1)
        per_video, table, pairs = write_leaderboard(run_dirs, sweep_dir)
        print(format_summary(table))
        for note in coverage_notes(table):
            log.warning("%s", note)
        print(f"leaderboard: {sweep_dir / 'leaderboard.csv'}")
        if config.get("report", {}).get("enabled", True):
            _write_report(per_video, table, pairs, run_dirs, sweep_dir)
        failed = per_video[per_video["status"] == STATUS_ERROR]
        if len(failed):
            log.error("%d video(s) failed: %s", len(failed),
                      ", ".join(f"{r.variant}/{r.dataset_variant}/{r.video}" for r in failed.itertuples()))
            sys.exit(1)


class ComparisonCallback(Callback):
    """At the end of a multirun, write `comparison.rrd` into the sweep dir (unless `comparison.enabled=false`)."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        options = config.comparison
        if not options.enabled:
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        run_dirs = find_run_dirs([sweep_dir])
        if not run_dirs:
            return
        try:
            out = build_comparison(run_dirs, sweep_dir / "comparison.rrd", jpeg_quality=config.output.jpeg_quality,
                                   trail_length=config.output.trail_length, max_points=options.max_points,
                                   show_occluded=options.show_occluded, error_lines=options.error_lines,
                                   frame_format=config.output.frame_format)
            print(f"comparison: {out}  (open with: rerun {out})")
        except Exception as error:  # the leaderboard still gets written
            log.error("comparison recording failed: %s: %s", type(error).__name__, error)
