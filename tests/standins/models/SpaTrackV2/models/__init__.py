"""Stand-in for SpaTrackerV2's `models.SpaTrackV2.models` package (tests only; see tests/standins/README.md)."""
