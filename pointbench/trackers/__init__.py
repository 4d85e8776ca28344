"""Trackers: one module per tracker family, each a `Tracker` with `track(frames, queries) -> Tracks`."""

from pointbench.trackers.base import Tracker

__all__ = ["Tracker"]
