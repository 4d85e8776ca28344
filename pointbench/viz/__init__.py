"""Rerun visualisation of runs."""

from pointbench.viz.rerun_log import RunRecording, track_colors

__all__ = ["RunRecording", "track_colors"]
