"""Side-by-side comparison of runs in one Rerun recording: a tab per video, a view per tracker.

Written into the sweep dir at the end of every multirun (`comparison.rrd`), and as a command for
run dirs that exist:

    pointbench-compare multirun/2026-11-24/10-00-00 [more dirs...] [--out comparison.rrd]

Frames come from each run's dataset config (`.hydra/config.yaml`), predictions from its
`predictions/` folder; frames are logged once per video, whatever the number of trackers.
"""

from __future__ import annotations

import argparse
import logging
from collections import defaultdict
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from pointbench.cache import config_hash
from pointbench.io import load_predictions, safe_filename
from pointbench.leaderboard import default_out_dir, find_run_dirs
from pointbench.metrics import tapvid_metrics_per_frame
from pointbench.runner import build
from pointbench.viz import RunRecording

log = logging.getLogger("pointbench")

#: Per-frame scores plotted under each video: fraction of visible points within 4 px (at 256×256), and OA.
SCORES = {"within_4px": "pts_within_4", "OA": "OA"}


def _runs_by_dataset(run_dirs: list[Path]) -> dict[str, list[tuple[str, Path, DictConfig]]]:
    """Runs grouped by dataset config: {dataset label: [(tracker label, run dir, run config)]}."""
    groups: dict[tuple, list] = defaultdict(list)
    for run_dir in run_dirs:
        config_file = run_dir / ".hydra" / "config.yaml"
        if not config_file.exists():
            raise FileNotFoundError(f"compare: {config_file} is missing: not a pointbench run dir")
        cfg = OmegaConf.load(config_file)
        key = (cfg.dataset.name, config_hash(OmegaConf.to_container(cfg.dataset, resolve=True)))
        groups[key].append((cfg.tracker.name, run_dir, cfg))
    labelled = {}
    for (dataset, digest), runs in groups.items():
        label = dataset if sum(k[0] == dataset for k in groups) == 1 else f"{dataset}-{digest[:6]}"
        names = [tracker for tracker, _, _ in runs]
        labelled[label] = [(tracker if names.count(tracker) == 1 else f"{tracker} ({run_dir.name})", run_dir, cfg)
                           for tracker, run_dir, cfg in runs]
    return labelled


def build_comparison(run_dirs: list[Path], out: Path, *, jpeg_quality: int = 85, trail_length: int = 8,
                     max_points: int | None = 200, show_occluded: bool = False, error_lines: bool = False,
                     frame_format: str = "jpeg") -> Path:
    """Write the comparison recording of `run_dirs` to `out`; returns `out`."""
    groups = _runs_by_dataset(run_dirs)
    with RunRecording(out, jpeg_quality=jpeg_quality, trail_length=trail_length, layout="trackers",
                      max_points=max_points, show_occluded=show_occluded, error_lines=error_lines,
                      frame_format=frame_format) as rec:
        for label, runs in groups.items():
            _, dataset = build(runs[0][2].dataset, "dataset")
            for index, video in enumerate(dataset.names):
                files = {tracker: run_dir / "predictions" / f"{safe_filename(video)}.npz"
                         for tracker, run_dir, _ in runs}
                predictions = {tracker: load_predictions(path) for tracker, path in files.items() if path.exists()}
                if not predictions:
                    continue
                try:
                    sample = dataset.load(index)
                except Exception as error:  # a video that no longer loads is left out, not the whole file
                    log.warning("compare: video '%s' left out: %s", video, error)
                    continue
                tracks, scores = {}, {}
                for tracker, (pred, queries, _) in predictions.items():
                    if queries.shape != sample.queries.shape or (queries != sample.queries).any():
                        log.warning("compare: %s predictions for '%s' answer other queries; left out", tracker, video)
                        continue
                    tracks[tracker] = pred
                    if sample.gt is not None:
                        per_frame = tapvid_metrics_per_frame(
                            sample.gt.xy, sample.gt.visible, pred.xy, pred.visible, sample.queries[:, 0],
                            dataset.query_mode, sample.image_size)
                        scores[tracker] = {name: per_frame[key] for name, key in SCORES.items()}
                name = video if len(groups) == 1 else f"{label}/{video}"
                rec.log_video(name, sample.frames, sample.gt, tracks, fps=sample.fps, scores=scores,
                              skeleton=sample.skeleton)
    return Path(out)


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pointbench-compare", description=(
        "Build a side-by-side Rerun recording (a tab per video, a view per tracker) from run dirs."))
    parser.add_argument("dirs", nargs="+", type=Path, help="run dirs or sweep dirs (searched recursively)")
    parser.add_argument("--out", type=Path, help="output .rrd (default: comparison.rrd in the one sweep dir "
                                                  "given, else in the current directory)")
    parser.add_argument("--max-points", type=int, default=200, help="tracks drawn per video (0: all)")
    parser.add_argument("--jpeg-quality", type=int, default=85)
    parser.add_argument("--frame-format", choices=("jpeg", "av1", "h264"), default="jpeg",
                        help="frames as JPEG images or as one encoded video (needs pointbench[video])")
    parser.add_argument("--trail-length", type=int, default=8)
    parser.add_argument("--show-occluded", action="store_true", help="draw predicted-occluded points in grey")
    parser.add_argument("--error-lines", action="store_true", help="draw prediction-to-ground-truth segments")
    args = parser.parse_args(argv)
    out = args.out or default_out_dir(args.dirs) / "comparison.rrd"
    build_comparison(find_run_dirs(args.dirs), out, jpeg_quality=args.jpeg_quality, trail_length=args.trail_length,
                     max_points=args.max_points or None, show_occluded=args.show_occluded,
                     error_lines=args.error_lines, frame_format=args.frame_format)
    print(f"comparison: {out}  (open with: rerun {out})")


if __name__ == "__main__":
    main()
