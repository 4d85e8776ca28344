"""Harness overhead: `pointbench tracker=lk` (in-process `run()`) against a bare script making the
same OpenCV calls on the same frames and queries. Both sides generate the frames.

    python benchmarks/harness_overhead.py [--repeats 5]

Target: harness / bare <= 1.15. Reported for (a) the default outputs (recording on) and (b)
`output.rerun=false output.save_predictions=false`; then where the harness's time goes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import exit_report, fresh_dir, header, interleaved_medians, run_in_process, temp_dir, verdict

TARGET = 1.15
GT_TWICE = "dataset.load_annotations (gt only)"
LEAN = ["output.rerun=false", "output.save_predictions=false"]


def bare() -> None:
    """The same OpenCV calls with no harness: generate each video, track its queries."""
    from pointbench.datasets.synthetic import SyntheticDataset
    from pointbench.trackers.lk import LucasKanadeTracker

    dataset, tracker = SyntheticDataset(), LucasKanadeTracker()
    for i in range(dataset.num_videos):
        sample = dataset.load(i)
        tracker.track(sample.frames, sample.queries)


def parts() -> dict[str, tuple[object, str]]:
    """The functions whose time the breakdown shows (wrapped in this process only)."""
    import pointbench.runner as runner
    from pointbench.cache import PredictionCache
    from pointbench.datasets.synthetic import SyntheticDataset
    from pointbench.trackers.lk import LucasKanadeTracker
    from pointbench.viz import RunRecording

    return {
        "dataset.load (render frames + gt)": (SyntheticDataset, "load"),
        GT_TWICE: (SyntheticDataset, "load_annotations"),
        "tracker.track (OpenCV LK)": (LucasKanadeTracker, "track"),
        "score (TAP-Vid metrics)": (runner, "score"),
        "save_predictions (predictions/*.npz)": (runner, "save_predictions"),
        "cache.store (cache *.npz)": (PredictionCache, "store"),
        "recording.__init__ (open .rrd)": (RunRecording, "__init__"),
        "recording.log_video (JPEG + points)": (RunRecording, "log_video"),
        "recording.close (blueprint, flush)": (RunRecording, "close"),
        "write_csv (tables)": (runner, "write_csv"),
    }


def _overrides(root: Path, extra: list[str]) -> list[str]:
    # A fresh, empty cache and force=true: every run really tracks.
    return ["tracker=lk", f"cache_dir={fresh_dir(root, 'cache')}", "force=true", *extra]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    header("harness overhead: pointbench tracker=lk (run()) vs bare OpenCV LK, default synthetic set (8 videos)")
    with temp_dir() as root:
        sides = {
            "bare": bare,
            "harness (a) default outputs": lambda: run_in_process(_overrides(root, []), fresh_dir(root, "run")),
            "harness (b) " + " ".join(LEAN): lambda: run_in_process(_overrides(root, LEAN), fresh_dir(root, "run")),
        }
        med = interleaved_medians(sides, repeats=args.repeats, parts=parts())
        bare_s, (a_name, b_name) = med["bare"], list(sides)[1:]
        print(f"   median: bare {bare_s:.3f} s, (a) {med[a_name]:.3f} s, (b) {med[b_name]:.3f} s "
              f"({args.repeats} interleaved repeats)")
        verdict("(a) harness default / bare", med[a_name] / bare_s, TARGET, higher_is_better=False)
        verdict("(b) harness rerun=false save_predictions=false / bare", med[b_name] / bare_s, TARGET,
                higher_is_better=False)
        twice = med.parts[b_name].get(GT_TWICE, 0.0)
        print(f"   note: (b) computes each video's ground truth twice (load_annotations, then load for the frames): "
              f"{twice:.3f} s; without it (b) / bare would be {(med[b_name] - twice) / bare_s:.3f}x")
        rec = sum(v for k, v in med.parts[a_name].items() if k.startswith("recording."))
        print(f"   note: the recording costs (a) {rec:.3f} s ({100 * rec / bare_s:.1f} % of bare); "
              f"(a) loads each video once (the frames serve tracking and recording)")
    exit_report()


if __name__ == "__main__":
    main()
