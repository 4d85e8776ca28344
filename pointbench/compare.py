"""Side-by-side comparison of runs in one Rerun recording: a tab per video, a view per tracker.

Written into the sweep dir at the end of every multirun (`comparison.rrd`), and as a command for
run dirs that exist:

    pointbench-compare multirun/2026-11-24/10-00-00 [more dirs...] [--out comparison.rrd]

Frames come from each run's dataset, rebuilt from its stored identity through the registered
plugin of that name (never from a `_target_` the run dir names), predictions from its
`predictions/` folder; frames are logged once per video, whatever the number of trackers (a view
per tracker variant, labelled as in the leaderboard).
"""

from __future__ import annotations

import argparse
import logging
from collections import defaultdict
from pathlib import Path

from pointbench.io import decode_name, load_predictions
from pointbench.leaderboard import default_out_dir, finished_runs_or_exit
from pointbench.metrics.scoring import frame_scores
from pointbench.identity import dataset_id, printable, video_key
from pointbench.runs import RunDirError, load_runs, rebuild_dataset, run_labels
from pointbench.viz import RunRecording

log = logging.getLogger("pointbench")



def _runs_by_dataset(run_dirs: list[Path]) -> dict[str, list[tuple[str, list[Path], dict]]]:
    """Runs grouped by dataset identity: {dataset label: [(tracker variant, run dirs, identity)]}.

    Labels are the runs' `variant` and `dataset_variant` (as in the leaderboard). The dirs of one
    identity (its shards, a resumed run) are searched newest first for each video's predictions.
    """
    runs = load_runs(run_dirs)
    labels = run_labels(runs)
    dirs: dict[str, list[Path]] = defaultdict(list)
    identities: dict[str, dict] = {}
    for run in sorted(runs, key=lambda r: (r.dir / "metrics_per_video.csv").stat().st_mtime_ns, reverse=True):
        dirs[run.run_id].append(run.dir)
        identities[run.run_id] = run.identity
    groups: dict[str, list] = defaultdict(list)
    names: dict[str, str] = {}
    for rid, identity in identities.items():
        key = dataset_id(identity)
        names[key] = labels[rid][1]
        groups[key].append((labels[rid][0], dirs[rid], identity))
    return {names[key]: runs for key, runs in groups.items()}


def _predictions(run_dirs: list[Path], video: str):
    """The predictions of `video` from the first of `run_dirs` that has them, or None.

    A file that holds another video's predictions (its `video_name` differs) is left out.
    """
    for run_dir in run_dirs:
        path = run_dir / "predictions" / f"{video_key(video)}.npz"
        if not path.exists():
            continue
        pred, queries, extra = load_predictions(path)
        if "video_name" in extra and decode_name(extra["video_name"]) != video:
            log.warning("compare: %s holds the predictions of another video; left out", path)
            continue
        return pred, queries
    return None


def build_comparison(run_dirs: list[Path], out: Path, *, jpeg_quality: int = 85, trail_length: int = 8,
                     max_points: int | None = 200, show_occluded: bool = False, error_lines: bool = False,
                     frame_format: str = "jpeg") -> Path:
    """Write the comparison recording of `run_dirs` to `out`; returns `out`.

    Each dataset is rebuilt from its stored config only through its registered plugin
    (`pointbench.runs.rebuild_dataset`); a run dir naming other code is refused (RunDirError).
    """
    groups = _runs_by_dataset(run_dirs)
    datasets = {label: rebuild_dataset(runs[0][2], runs[0][1][0]) for label, runs in groups.items()}
    with RunRecording(out, jpeg_quality=jpeg_quality, trail_length=trail_length, layout="trackers",
                      max_points=max_points, show_occluded=show_occluded, error_lines=error_lines,
                      frame_format=frame_format) as rec:
        for label, runs in groups.items():
            dataset = datasets[label]
            for index, video in enumerate(dataset.names):
                predictions = {}
                for tracker, dirs, _ in runs:
                    try:
                        found = _predictions(dirs, video)
                    except Exception as error:  # one unreadable file leaves out that prediction only
                        log.warning("compare: %s predictions for '%s' left out: %s", tracker, printable(video), error)
                        continue
                    if found is not None:
                        predictions[tracker] = found
                if not predictions:
                    continue
                try:
                    sample = dataset.load(index)
                except Exception as error:  # a video that no longer loads is left out, not the whole file
                    log.warning("compare: video '%s' left out: %s", printable(video), error)
                    continue
                tracks, scores = {}, {}
                for tracker, (pred, queries) in predictions.items():
                    if queries.shape != sample.queries.shape or (queries != sample.queries).any() \
                            or pred.n_frames != len(sample.frames):
                        log.warning("compare: %s predictions for '%s' answer other queries; left out", tracker,
                                    printable(video))
                        continue
                    tracks[tracker] = pred
                    scores.update(frame_scores(sample.annotations(), pred, dataset.query_mode, tracker))
                if not tracks:
                    continue
                name = video if len(groups) == 1 else f"{label}/{video}"
                rec.log_video(name, sample.frames, sample.gt, tracks, fps=sample.fps, scores=scores,
                              skeleton=sample.skeleton)
    return Path(out)


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
    run_dirs = finished_runs_or_exit(parser, args.dirs)
    out = args.out or default_out_dir(args.dirs) / "comparison.rrd"
    try:
        build_comparison(run_dirs, out, jpeg_quality=args.jpeg_quality, trail_length=args.trail_length,
                         max_points=args.max_points or None, show_occluded=args.show_occluded,
                         error_lines=args.error_lines, frame_format=args.frame_format)
    except RunDirError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    print(f"comparison: {out}  (open with: rerun {out})")


if __name__ == "__main__":
    main()
