"""Hydra configs: config.yaml and the groups tracker/ and dataset/."""
