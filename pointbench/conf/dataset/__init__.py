"""Dataset configs (registered as plugins through pointbench's entry points)."""
