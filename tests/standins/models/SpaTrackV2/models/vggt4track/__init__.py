"""Stand-in for SpaTrackerV2's `vggt4track` package (tests only; see tests/standins/README.md)."""
