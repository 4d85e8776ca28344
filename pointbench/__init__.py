"""pointbench: a benchmark harness for point trackers (TAP-Vid metrics, pandas tables, Rerun recordings)."""

from pointbench.types import Sample, Tracks

__version__ = "0.1.0"
__all__ = ["Sample", "Tracks", "__version__"]
