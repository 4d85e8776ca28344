"""The `pointbench` command: checks on the command line that say what to do, then the Hydra app.

Before Hydra composes anything, the overrides are checked for what Hydra's own messages explain
badly: a launcher whose extra is not installed (names the extra and the install command) and a
tracker or dataset key that does not exist (lists the valid keys). Such mistakes exit with status
2 and one line.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

#: Hydra launchers (`hydra/launcher=<name>`) and the extra that installs each.
LAUNCHER_EXTRAS = {
    "joblib": ("hydra_plugins.hydra_joblib_launcher", "parallel"),
    "submitit_local": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
    "submitit_slurm": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
    "slurm": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
}
CONF = str(Path(__file__).parent / "conf")


class UsageError(ValueError):
    """A command-line mistake, with the fix in its message."""


def _parse(argv: list[str]):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    args = [a for a in argv if not a.startswith("-") and "=" in a]
    try:
        return OverridesParser.create().parse_overrides(args)
    except Exception:  # Hydra reports grammar errors itself
        return []


def check_launcher(overrides) -> None:
    """UsageError when `hydra/launcher=NAME` names a launcher whose extra is not installed."""
    for override in overrides:
        if override.key_or_group != "hydra/launcher" or override.is_sweep_override():
            continue
        name = str(override.value())
        module, extra = LAUNCHER_EXTRAS.get(name, (None, None))
        if module is not None and not _importable(module):
            raise UsageError(f"hydra/launcher={name} needs the '{extra}' extra: pip install \"pointbench[{extra}]\" "
                             f"(from a clone: pip install -e \".[{extra}]\")")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # its parent package is missing
        return False


def _choices(overrides, group: str) -> list[str | None]:
    for override in overrides:
        if override.key_or_group == group and not override.is_delete():
            return list(override.sweep_string_iterator()) if override.is_sweep_override() else [str(override.value())]
    return [None]


def check_keys(overrides) -> None:
    """UsageError when an override sets a `tracker.` or `dataset.` key the chosen config does not have
    (with `+` it is added on purpose; the tracker's constructor then decides)."""
    wanted = {}
    for override in overrides:
        key = override.key_or_group
        group, _, rest = key.partition(".")
        if group in ("tracker", "dataset") and rest and not override.is_add() and not override.is_delete() \
                and override.package is None:
            wanted.setdefault(group, []).append(rest)
    if not wanted:
        return
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import pointbench.runner  # noqa: F401  (registers installed plugins and the run dir resolvers)

    for group, keys in wanted.items():
        for choice in _choices(overrides, group):
            with initialize_config_dir(config_dir=CONF, version_base="1.3"):
                try:
                    node = compose(config_name="config", overrides=[] if choice is None else [f"{group}={choice}"])
                except Exception:  # an unknown choice: Hydra lists the available ones
                    return
            config = OmegaConf.to_container(node[group], resolve=False)
            for key in keys:
                head = key.split(".")[0]
                if head not in config:
                    valid = ", ".join(k for k in config if k not in ("name", "_target_"))
                    raise UsageError(f"{group} '{config.get('name', choice)}' has no key '{key}'; valid keys: "
                                     f"{valid}")


def main() -> None:
    """`pointbench [overrides]`: check the overrides, then run the Hydra app."""
    overrides = _parse(sys.argv[1:])
    try:
        check_launcher(overrides)
        check_keys(overrides)
    except UsageError as error:
        sys.stderr.write(f"pointbench: error: {error}\n")
        sys.exit(2)
    from pointbench.runner import main as run_main

    run_main()
