"""Finished runs: finding run dirs, reading their identity and tables, and merging them.

The one module that the leaderboard, the report and the comparison read runs through (the
arrows run one way: runs -> aggregation -> presentation). A run dir holds `run.json` (its
identity, see `pointbench.identity`) and `metrics_per_video.csv`, whose rows carry the same
identity as columns. Everything read here is data: JSON and CSV are parsed, never executed; a
dataset is rebuilt only through a registered plugin (`rebuild_dataset`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pointbench.identity import dataset_id, printable, run_id, variant_labels, video_key
from pointbench.io import atomic_path
from pointbench.metrics.tables import VIDEO_COLUMNS

log = logging.getLogger("pointbench")

PER_VIDEO = "metrics_per_video.csv"
RUN_FILE = "run.json"
#: Columns of a merged table that label and identify each row's run.
LABEL_COLUMNS = ("variant", "dataset_variant", "dataset_id")
_CONFIG_COLUMNS = {"tracker_config": "tracker", "dataset_config": "dataset"}


class RunDirError(ValueError):
    """A run dir (or what it stores) is not what pointbench writes."""


def identity_columns(identity: dict) -> dict:
    """The per-video table columns that carry `identity` (a `run_identity`)."""
    as_json = lambda value: json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))  # noqa: E731
    return {"run_id": run_id(identity), "tracker_config": as_json(identity["tracker"]["config"]),
            "dataset_config": as_json(identity["dataset"]["config"]), "scoring_config": as_json(identity["scoring"]),
            "pointbench_version": identity["pointbench"]}


def write_run_file(run_dir: Path, identity: dict, shard: int = 0, num_shards: int = 1,
                   manifest: dict | None = None, videos: list[str] | None = None) -> Path:
    """Write `run.json` (run id, identity, shard, the dataset's video manifest and this run's videos)
    into `run_dir`, atomically."""
    path = Path(run_dir) / RUN_FILE
    record = {"run_id": run_id(identity), "identity": identity, "shard": shard, "num_shards": num_shards,
              "manifest": manifest, "videos": None if videos is None else [str(v) for v in videos]}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return path


def _checked_identity(value, source) -> dict:
    """`value` if it has the shape of a `run_identity`, else RunDirError naming `source`."""
    ok = isinstance(value, dict) and all(
        isinstance(value.get(part), dict) and isinstance(value[part].get("name"), str)
        and isinstance(value[part].get("config"), dict) for part in ("tracker", "dataset"))
    if not ok:
        raise RunDirError(f"{source}: not a pointbench run identity (expected 'tracker' and 'dataset', each with "
                          "'name' and 'config')")
    for part in ("tracker", "dataset"):
        config = value[part]["config"]
        if not isinstance(config.get("_target_", ""), str):
            raise RunDirError(f"{source}: {part}._target_ must be a string; refusing it")
        _refuse_hydra_keys({k: v for k, v in config.items() if k != "_target_"}, source, part)
    return {"tracker": value["tracker"], "dataset": value["dataset"], "scoring": value.get("scoring") or {},
            "pointbench": str(value.get("pointbench", "?"))}


def read_identity(run_dir: Path) -> dict:
    """The identity of a run dir: its `run.json`, else (runs of older versions) its `.hydra/config.yaml`
    read as plain YAML data, else one identity of that dir alone (it never merges with another)."""
    run_dir = Path(run_dir)
    path = run_dir / RUN_FILE
    if path.exists():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RunDirError(f"{path}: unreadable run identity ({type(error).__name__}: {error})") from error
        return _checked_identity(stored.get("identity") if isinstance(stored, dict) else None, path)
    config_file = run_dir / ".hydra" / "config.yaml"
    if config_file.exists():
        import yaml  # a dependency of Hydra; safe_load builds plain data only

        try:
            config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise RunDirError(f"{config_file}: unreadable config ({type(error).__name__}: {error})") from error
        if not isinstance(config, dict):
            raise RunDirError(f"{config_file}: not a pointbench run config")
        parts = {}
        for part in ("tracker", "dataset"):
            node = config.get(part)
            if not isinstance(node, dict) or not isinstance(node.get("name"), str):
                raise RunDirError(f"{config_file}: '{part}' has no name: not a pointbench run config")
            parts[part] = {"name": node["name"], "config": {k: v for k, v in node.items() if k != "name"}}
        return _checked_identity({**parts, "scoring": {}, "pointbench": "?"}, config_file)
    return {"tracker": {"name": "?", "config": {}}, "dataset": {"name": "?", "config": {}},
            "scoring": {"run_dir": str(run_dir.resolve())}, "pointbench": "?"}


def find_run_dirs(paths: list[Path]) -> list[Path]:
    """Run dirs at or below `paths`: those holding a `metrics_per_video.csv` that is not itself a
    merged table (merged tables sit beside a `leaderboard.csv`)."""
    found = []
    for path in map(Path, paths):
        if not path.is_dir():
            raise FileNotFoundError(f"no such directory: {path}")
        found += sorted(p.parent for p in path.rglob(PER_VIDEO) if not (p.parent / "leaderboard.csv").exists())
    return found


@dataclass
class FinishedRun:
    """One run dir: its identity and per-video table (rows carry `run_id` and `video_key`)."""

    dir: Path
    identity: dict
    table: pd.DataFrame

    @property
    def run_id(self) -> str:
        return run_id(self.identity)


def _identity_of_row(row, fallback: dict) -> dict:
    """The identity a per-video row states in its columns (tables of this version), else `fallback`."""
    try:
        configs = {part: json.loads(row[column]) for column, part in _CONFIG_COLUMNS.items()}
        scoring = json.loads(row["scoring_config"]) if isinstance(row.get("scoring_config"), str) else {}
    except (TypeError, ValueError, KeyError):
        return fallback
    return _checked_identity({"tracker": {"name": str(row["tracker"]), "config": configs["tracker"]},
                              "dataset": {"name": str(row["dataset"]), "config": configs["dataset"]},
                              "scoring": scoring, "pointbench": str(row.get("pointbench_version", "?"))}, "row")


def read_run(run_dir: Path) -> tuple[FinishedRun, dict[str, dict]]:
    """The run in `run_dir` and the identities its rows state ({run_id: identity})."""
    run_dir = Path(run_dir)
    path = run_dir / PER_VIDEO
    try:
        table = pd.read_csv(path, dtype={"video": str, "video_key": str}, keep_default_na=False,
                            na_values=[""], encoding="utf-8", encoding_errors="replace")
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise RunDirError(f"{path}: unreadable table ({type(error).__name__}: {error})") from error
    for column in ("tracker", "dataset", "video", "status"):
        if column not in table:
            raise RunDirError(f"{path}: no '{column}' column: not a pointbench per-video table")
    identity = read_identity(run_dir)
    identities = {run_id(identity): identity}
    if "run_id" in table and all(c in table for c in _CONFIG_COLUMNS):
        ids = []
        for _, row in table.iterrows():
            stated = _identity_of_row(row, identity)
            identities.setdefault(run_id(stated), stated)
            ids.append(run_id(stated))
        table["run_id"] = ids  # recomputed from the stated identity: a hand-edited id cannot merge two configs
    else:
        table["run_id"] = run_id(identity)
    if "video_key" not in table or table["video_key"].isna().any():
        table["video_key"] = [video_key(v) for v in table["video"].astype(str)]
    return FinishedRun(run_dir, identity, table), identities


def merge_runs(run_dirs: list[Path], with_source: bool = False) -> pd.DataFrame:
    """The per-video rows of `run_dirs`, one per (run identity, video), labelled with `LABEL_COLUMNS`.

    Runs of the same identity merge (a resumed run, a re-run, shards); a video seen twice for one
    identity keeps the row of the newest table and says so in the log. Runs of different
    identities are never merged: each keeps its rows under its own `variant` label.
    `with_source` adds a `run_dir` column: the dir each row was read from (where its predictions are).
    """
    runs, identities = [], {}
    for run_dir in run_dirs:
        run, stated = read_run(run_dir)
        runs.append((_mtime(Path(run_dir) / PER_VIDEO), run))
        identities.update(stated)
    if not runs:
        raise FileNotFoundError(f"no {PER_VIDEO} found in {[str(d) for d in run_dirs]}")
    runs.sort(key=lambda item: item[0])  # oldest first: the last row of a (run, video) is the newest
    tables = [run.table.assign(run_dir=str(run.dir)) for _, run in runs]
    merged = pd.concat(tables, ignore_index=True)
    # Tables written before a column existed get it empty, so that old and new runs merge.
    merged = merged.reindex(columns=[*VIDEO_COLUMNS, *(c for c in merged.columns if c not in VIDEO_COLUMNS)])
    duplicated = merged.duplicated(["run_id", "video_key"], keep="last")
    for (rid, old_dir), rows in merged[duplicated].groupby(["run_id", "run_dir"], sort=False):
        newest = merged[(merged["run_id"] == rid) & ~duplicated]["run_dir"].iloc[-1]
        videos = ", ".join(printable(v) for v in rows["video"].head(3)) + (", …" if len(rows) > 3 else "")
        log.info("run %s: %d video(s) (%s) also in a newer run dir of the same identity; keeping the newest "
                 "rows (%s), not those of %s", rid, len(rows), videos, newest, old_dir)
    merged = merged[~duplicated].reset_index(drop=True)
    return label(merged, identities, with_source)


def label(per_video: pd.DataFrame, identities: dict[str, dict], with_source: bool = True) -> pd.DataFrame:
    """`per_video` with the `variant`, `dataset_variant` and `dataset_id` of each row's run."""
    present = {rid: identities[rid] for rid in dict.fromkeys(per_video["run_id"])}
    labels = variant_labels(present)
    per_video = per_video.copy()
    per_video["variant"] = per_video["run_id"].map(lambda rid: labels[rid][0])
    per_video["dataset_variant"] = per_video["run_id"].map(lambda rid: labels[rid][1])
    per_video["dataset_id"] = per_video["run_id"].map(lambda rid: dataset_id(present[rid]))
    if not with_source:
        per_video = per_video.drop(columns=["run_dir"])
    return per_video


BREAKDOWN = "breakdown.csv"


def merge_breakdowns(per_video: pd.DataFrame) -> pd.DataFrame:
    """The `breakdown.csv` rows of the runs in a merged `per_video` (with `run_dir`), for the videos it
    kept, labelled like it (`variant`, `dataset_variant`); empty when no run wrote one."""
    keep = per_video[["run_id", "video_key", "run_dir", *LABEL_COLUMNS]]
    tables = []
    for run_dir in dict.fromkeys(per_video["run_dir"]):
        path = Path(run_dir) / BREAKDOWN
        if not path.exists():
            continue
        try:
            table = pd.read_csv(path, dtype={"video": str, "video_key": str})
        except (OSError, ValueError, pd.errors.ParserError) as error:
            log.warning("%s left out: unreadable (%s: %s)", path, type(error).__name__, error)
            continue
        tables.append(table.assign(run_dir=str(run_dir)))
    if not tables:
        return pd.DataFrame()
    merged = pd.concat(tables, ignore_index=True).drop(columns=[c for c in LABEL_COLUMNS if c in tables[0]])
    return merged.merge(keep, on=["run_id", "video_key", "run_dir"], how="inner")


def load_runs(run_dirs: list[Path]) -> list[FinishedRun]:
    """The runs of `run_dirs`, each with its identity (for the comparison: predictions live per run dir)."""
    return [read_run(d)[0] for d in run_dirs]


def run_labels(runs: list[FinishedRun]) -> dict[str, tuple[str, str]]:
    """{run_id: (variant, dataset_variant)} of `runs` (see `pointbench.identity.variant_labels`)."""
    return variant_labels({run.run_id: run.identity for run in runs})


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def rebuild_dataset(identity: dict, source: Path):
    """The dataset of a finished run, built only through its registered plugin.

    The stored dataset config is data: its `_target_` must be the one the registered plugin of
    that name declares, and its values must be plain (no nested `_target_` or other Hydra keys);
    anything else is refused with RunDirError naming `source`. The class is the registry's, the
    keyword arguments the stored values.
    """
    from pointbench.registry import registered_config  # the registry knows which code a name may run

    name = identity["dataset"]["name"]
    stored = dict(identity["dataset"]["config"])
    try:
        trusted = registered_config("dataset", name)
    except KeyError as error:
        raise RunDirError(f"{source}: dataset '{name}' is not an installed dataset plugin; refusing to rebuild "
                          "it") from error
    target = stored.pop("_target_", None)
    if target != trusted["_target_"]:
        raise RunDirError(f"{source}: dataset '{name}' names _target_ {target!r}, but the installed plugin of "
                          f"that name is {trusted['_target_']!r}; refusing to run code a run dir names")
    _refuse_hydra_keys(stored, source, "dataset")
    from hydra.utils import get_class

    from pointbench.perturb import Perturbation, PerturbedView

    spec = Perturbation.from_config(stored.pop("perturb", None))  # the frames the run saw
    dataset = get_class(trusted["_target_"])(**stored)
    return dataset if spec is None else PerturbedView(dataset, spec)


def _refuse_hydra_keys(value, source, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.startswith("_") and key.endswith("_"):
                raise RunDirError(f"{source}: {where}.{key}: run dirs may hold plain values only; refusing it")
            _refuse_hydra_keys(item, source, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_hydra_keys(item, source, f"{where}[{i}]")


__all__ = ["PER_VIDEO", "RUN_FILE", "LABEL_COLUMNS", "RunDirError", "FinishedRun", "identity_columns",
           "write_run_file", "read_identity", "find_run_dirs", "read_run", "merge_runs", "label", "load_runs",
           "run_labels", "rebuild_dataset"]
