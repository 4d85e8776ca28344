"""Datasets: one module per dataset family, each a `Dataset` that loads one `Sample` at a time."""

from pointbench.datasets.base import Dataset

__all__ = ["Dataset"]
