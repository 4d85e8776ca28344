"""Building trackers and datasets from their config nodes, and what a job's config says about them.

`build` instantiates a config group node; the dataset's shard keys select videos (`sharded`), a
plugin's metadata (`license`) is not passed to it, and a worker may set the tracker's device
(`worker_device`). Errors name the config group and list the valid keys.
"""

from __future__ import annotations

import inspect

from hydra.errors import InstantiationException
from hydra.utils import get_class, get_object, instantiate
from omegaconf import DictConfig, OmegaConf

from pointbench.datasets.base import ShardView
from pointbench.identity import METADATA_KEYS, SHARD_KEYS


def valid_keys(target: str) -> list[str]:
    """The keyword parameters of the class `target` names (what its config may set)."""
    try:
        signature = inspect.signature(get_class(target).__init__)
    except Exception:  # not importable: the instantiation error says why
        return []
    return [name for name, p in signature.parameters.items()
            if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def build(node: DictConfig, kind: str, **overrides):
    """Instantiate a `tracker` or `dataset` config group node: returns (name, object).

    A dataset's shard keys (`shard`, `num_shards`) select videos (see `sharded`), so they are not
    passed to its class; `overrides` replace parameters the node has (e.g. a worker's `device`).
    """
    params = OmegaConf.to_container(node, resolve=True)
    if "name" not in params or "_target_" not in params:
        raise ValueError(f"{kind} config must have 'name' and '_target_' keys; got {sorted(params)}")
    name = params.pop("name")
    for key in METADATA_KEYS:
        params.pop(key, None)
    if kind == "dataset":
        for key in (*SHARD_KEYS, "perturb"):  # applied around the dataset (see `sharded`, `perturbed`)
            params.pop(key, None)
    params.update({k: v for k, v in overrides.items() if k in params})
    try:
        try:
            return name, _construct(params)
        except InstantiationException as error:
            if error.__cause__ is None:
                raise
            raise error.__cause__ from None  # the tracker's or dataset's own error, as it said it
    except TypeError as error:
        if "unexpected keyword argument" not in str(error):
            raise
        keys = valid_keys(params["_target_"])
        raise ValueError(f"{kind} '{name}': {error}. Valid keys of {kind} '{name}': "
                         f"{', '.join(keys) or '(none)'}") from None


def _construct(params: dict):
    """`instantiate(params, _convert_="all")`; a flat node (no other `_` key, no nested `_target_`:
    every built-in one) is built by calling its target directly, without Hydra's ~1 ms per node."""
    if any(key.startswith("_") and key != "_target_" for key in params) or _has_target(
            [v for k, v in params.items() if k != "_target_"]):
        return instantiate(params, _convert_="all")
    target = get_object(params["_target_"])
    return target(**{k: v for k, v in params.items() if k != "_target_"})


def _has_target(value) -> bool:
    if isinstance(value, dict):
        return "_target_" in value or any(_has_target(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_target(v) for v in value)
    return False


def license_text(node: DictConfig) -> str | None:
    """A plugin config's `license: {code, weights}` as one line (`code Apache-2.0; weights CC-BY-4.0`), or None."""
    value = node.get("license")
    if value is None:
        return None
    if isinstance(value, str):
        return value
    parts = {k: v for k, v in OmegaConf.to_container(value, resolve=True).items() if v}
    return "; ".join(f"{k} {v}" for k, v in parts.items()) or None


def shard_of(cfg: DictConfig) -> tuple[int, int]:
    """(shard, num_shards) of the run's dataset config (defaults: the one shard)."""
    return int(cfg.dataset.get("shard", 0)), int(cfg.dataset.get("num_shards", 1))


def sharded(dataset, shard: int, num_shards: int):
    """The videos of shard `shard` of `num_shards` (through the base class, or a view of any dataset)."""
    if num_shards == 1 and shard == 0:
        return dataset
    return dataset.shard(shard, num_shards) if hasattr(dataset, "shard") else ShardView(dataset, shard, num_shards)


def perturbed(dataset, node: DictConfig):
    """The dataset under the node's `perturb` config (`kind: null`, or no `perturb`: unchanged)."""
    from pointbench.perturb import Perturbation, PerturbedView

    value = node.get("perturb")
    spec = Perturbation.from_config(None if value is None else OmegaConf.to_container(value, resolve=True))
    return dataset if spec is None else PerturbedView(dataset, spec)


def worker_device(cfg: DictConfig) -> dict:
    """`{"device": "cuda:k"}` for a worker of a node with `gpus` GPUs (k = shard mod gpus), else nothing.

    The device is a property of the worker, not of the run: it is not part of the run identity,
    so shards on different GPUs merge.
    """
    gpus = cfg.get("gpus")
    if gpus is None:
        return {}
    if not isinstance(gpus, int) or isinstance(gpus, bool) or gpus < 1:
        raise ValueError(f"gpus must be null or a positive integer (GPUs on this node); got {gpus!r}")
    return {"device": f"cuda:{shard_of(cfg)[0] % gpus}"}


