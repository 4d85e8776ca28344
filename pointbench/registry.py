"""Plugin registry: trackers and datasets named on the command line, built-in or from other packages.

A plugin is a config (YAML with `name` and `_target_`) registered under a name in the Hydra
config group `tracker` or `dataset`. Packages register theirs through the Python entry-point
groups `pointbench.trackers` and `pointbench.datasets`: the entry's name is the plugin's name and
its value the Python package that holds `<name>.yaml`:

    [project.entry-points."pointbench.trackers"]
    mytracker = "mytracker_pkg.configs"     # reads mytracker_pkg/configs/mytracker.yaml

After `pip install` of that package, `pointbench tracker=mytracker` works. pointbench's own
trackers and datasets are registered the same way (see its pyproject.toml). Configs are only
read here; the tracker's code (and its heavy imports) loads when the tracker is built.
"""

from __future__ import annotations

import importlib.resources
import logging
from importlib.metadata import entry_points

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

log = logging.getLogger("pointbench")

GROUPS = {"tracker": "pointbench.trackers", "dataset": "pointbench.datasets"}
BUILT_IN = "pointbench.conf"  # the package of the primary config


def register(kind: str, name: str, config: dict) -> None:
    """Make `config` selectable as `<kind>=<name>` (kind: "tracker" or "dataset")."""
    if kind not in GROUPS:
        raise ValueError(f"plugin kind must be one of {sorted(GROUPS)}; got {kind!r}")
    missing = {"name", "_target_"} - set(config)
    if missing:
        raise ValueError(f"{kind} plugin '{name}': its config lacks {sorted(missing)}")
    if kind == "dataset":  # every dataset can be sharded (pointbench.datasets.base.shard_indices)
        config = {"shard": 0, "num_shards": 1, "perturb": {"kind": None, "severity": 3, "seed": 0}, **config}
    ConfigStore.instance().store(group=kind, name=name, node=OmegaConf.create(config), provider="pointbench-plugin")


def load_config(package: str, name: str, distribution=None) -> dict:
    """Read `<name>.yaml` from the Python package `package` (an entry point's value).

    The file is read from the installed `distribution` where it is found there, so the plugin's
    package (and what it imports) is not imported just to list it; otherwise (e.g. an editable
    install) through importlib.resources.
    """
    relative = f"{package.replace('.', '/')}/{name}.yaml"
    located = distribution.locate_file(relative) if distribution is not None else None
    if located is not None and located.is_file():
        text = located.read_text()
    else:
        text = importlib.resources.files(package).joinpath(f"{name}.yaml").read_text()
    return OmegaConf.to_container(OmegaConf.create(text))


def discover() -> dict[str, dict[str, str]]:
    """Register every installed plugin; returns {kind: {name: entry point value}}.

    A plugin whose config cannot be read is skipped with a warning naming its package, so one
    broken package never hides the others.
    """
    found: dict[str, dict[str, str]] = {kind: {} for kind in GROUPS}
    for kind, group in GROUPS.items():
        for entry in entry_points(group=group):
            if entry.value == f"{BUILT_IN}.{kind}":
                # pointbench's own configs: already on Hydra's primary search path (storing them a
                # second time would make Hydra treat each as a schema for itself).
                found[kind][entry.name] = entry.value
                continue
            try:
                register(kind, entry.name, load_config(entry.value, entry.name, entry.dist))
            except Exception as error:
                log.warning("skipping %s plugin '%s' (%s): %s", kind, entry.name, entry.value, error)
                continue
            found[kind][entry.name] = entry.value
    return found


def registered_config(kind: str, name: str) -> dict:
    """The config of the installed `kind` plugin `name` (pointbench's own or a package's), as plain data.

    Raises KeyError when no installed plugin has that name. This is what decides which code a
    stored run config may rebuild: never the `_target_` written in a run dir.
    """
    if kind not in GROUPS:
        raise ValueError(f"plugin kind must be one of {sorted(GROUPS)}; got {kind!r}")
    for entry in entry_points(group=GROUPS[kind]):
        if entry.name == name:
            config = load_config(entry.value, entry.name, entry.dist)
            if "_target_" not in config:
                raise KeyError(f"{kind} plugin '{name}' declares no _target_")
            return config
    raise KeyError(f"no installed {kind} plugin named '{name}'")
