"""Run identity: what a run's numbers belong to, and the names derived from it.

A run is identified by its tracker (name + resolved config), its dataset (name + resolved config,
shard keys aside: shards of one run share its identity), the scoring options that change numbers,
and the pointbench version. `run_id` is a short hash of that identity. Everything that aggregates
runs groups by `run_id` and labels rows with `variant_labels`, so two configurations are never
merged into one row.

File and entity names derived from video names go through `video_key`, which is injective and
bounded in length.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence

from pointbench import __version__

#: Dataset keys that select a part of the videos, not what the videos are (see the scaling section of DESIGN.md).
SHARD_KEYS = ("shard", "num_shards")
#: Config keys that describe a plugin rather than configure it (not passed to it, not part of the identity).
METADATA_KEYS = ("license",)
#: Top-level options that change scores (not predictions): part of the identity.
SCORING_KEYS = ("scaling3d", "cycle_metrics")

_PLAIN = re.compile(r"[a-z0-9_-][a-z0-9._-]{0,99}")
_ODD = re.compile(r"[^A-Za-z0-9._-]+")


def stable_hash(value, length: int = 16) -> str:
    """A short sha256 of `value` as canonical JSON (sorted keys; non-JSON values by `str`)."""
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:length]


def _params(config: Mapping, drop: Sequence[str] = ()) -> dict:
    return {k: v for k, v in dict(config).items() if k != "name" and k not in drop and k not in METADATA_KEYS}


def run_identity(tracker_name: str, tracker_config: Mapping, dataset_name: str, dataset_config: Mapping,
                 scoring: Mapping | None = None, version: str = __version__) -> dict:
    """The identity of a run as plain data: {tracker, dataset, scoring, pointbench}.

    `tracker_config` and `dataset_config` are the resolved config nodes (with or without `name`).
    """
    return {
        "tracker": {"name": str(tracker_name), "config": _params(tracker_config)},
        "dataset": {"name": str(dataset_name), "config": _canonical_perturb(_params(dataset_config, SHARD_KEYS))},
        "scoring": {k: v for k, v in dict(scoring or {}).items() if k in SCORING_KEYS},
        "pointbench": str(version),
    }


def _canonical_perturb(config: dict) -> dict:
    """A dataset config whose `perturb` is off (`kind: null`) says only that: its severity and seed change nothing."""
    perturb = config.get("perturb")
    if isinstance(perturb, Mapping) and perturb.get("kind") is None:
        config = {**config, "perturb": {"kind": None}}
    return config


def run_id(identity: Mapping) -> str:
    """The 12-hex-digit id of a `run_identity`."""
    return stable_hash(identity, 12)


def dataset_id(identity: Mapping) -> str:
    """The id of the dataset part of an identity: runs with the same one scored the same videos."""
    return stable_hash(identity["dataset"], 12)


def video_key(name: str) -> str:
    """The file and entity name of video `name`: injective and at most 120 characters.

    Names that are already safe on every file system and in Rerun entity paths (lower-case ASCII
    letters, digits, `_`, `-`, `.` not leading, no `--`, at most 100 characters) are kept as they
    are; every other name becomes a readable prefix, `--` (which no kept name contains) and 16 hex
    digits of the sha256 of the exact name (lone surrogates included), so names differing only in
    case, in non-ASCII characters, in dots or past the prefix stay apart, on case-insensitive file
    systems too.
    """
    name = str(name)
    if _PLAIN.fullmatch(name) and not name.endswith(".") and "--" not in name:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    prefix = re.sub("-{2,}", "-", _ODD.sub("_", name.encode("ascii", "replace").decode("ascii")))
    prefix = prefix.strip("._-")[:60].rstrip("-") or "_"
    return f"{prefix}--{digest}"


def video_manifest(names) -> dict:
    """The video set a run was drawn from: {"hash": 16 hex digits over the sorted exact names, "count"}.

    Two runs with the same hash scored (or drew their shards from) the same videos.
    """
    ordered = sorted(str(n).encode("utf-8", "surrogatepass") for n in names)
    digest = hashlib.sha256(b"\0".join(ordered) + b"\0" + str(len(ordered)).encode()).hexdigest()[:16]
    return {"hash": digest, "count": len(ordered)}


def printable(name: str) -> str:
    """`name` as text that encodes to UTF-8 (lone surrogates as `\\udcXX` escapes): for tables and logs."""
    return str(name).encode("utf-8", "backslashreplace").decode("utf-8")


# --- Labels --------------------------------------------------------------------------------------------------

def _flatten(value, prefix: str = "") -> dict[str, str]:
    if isinstance(value, Mapping) and value:
        out = {}
        for key in sorted(value, key=str):
            out.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return {prefix: text}


def _differing(configs: list[dict[str, str]]) -> list[str]:
    """Keys whose values differ among the configs that set them."""
    keys = sorted({k for c in configs for k in c})
    return [k for k in keys if len({c[k] for c in configs if k in c}) > 1]


def _label(name: str, flat: dict[str, str], keys: list[str]) -> str:
    return " ".join([name, *(f"{k}={flat[k]}" for k in keys if k in flat)])


def variant_labels(identities: Mapping[str, Mapping]) -> dict[str, tuple[str, str]]:
    """{run_id: (variant, dataset_variant)}: readable, unique labels for the runs merged together.

    `variant` is the tracker's name plus the tracker parameters that differ among the merged runs
    of that tracker (`lk win_size=21`), and the scoring options or versions that differ;
    `dataset_variant` the dataset's name plus the dataset parameters that differ among the merged
    runs of that dataset (`synthetic seed=1`); two dataset identities that would still share a label
    (their configs differ only in a key one of them does not set) get their dataset ids appended.
    Two runs that would still get the same pair of labels get their run ids appended.
    """
    labels: dict[str, list[str]] = {rid: ["", ""] for rid in identities}
    for slot, part in ((0, "tracker"), (1, "dataset")):
        by_name: dict[str, list[str]] = {}
        for rid, identity in identities.items():
            by_name.setdefault(identity[part]["name"], []).append(rid)
        for name, rids in by_name.items():
            flats = {rid: _flatten(identities[rid][part]["config"]) for rid in rids}
            keys = _differing(list(flats.values()))
            for rid in rids:
                labels[rid][slot] = _label(name, flats[rid], keys)
    # A dataset label names one dataset identity: configs that differ only in a key one of them does not
    # set would otherwise share it, and the leaderboard ranks and pairs runs by it.
    datasets: dict[str, set[str]] = {}
    for rid, identity in identities.items():
        datasets.setdefault(labels[rid][1], set()).add(dataset_id(identity))
    for rid, identity in identities.items():
        if len(datasets[labels[rid][1]]) > 1:
            labels[rid][1] += f" [{dataset_id(identity)[:6]}]"
    extras = {rid: _flatten({"scoring": identities[rid].get("scoring", {}),
                             "pointbench": identities[rid].get("pointbench")}) for rid in identities}
    keys = _differing(list(extras.values()))
    for rid in identities:
        labels[rid][0] = _label(labels[rid][0], extras[rid], keys)
    seen: dict[tuple[str, str], list[str]] = {}
    for rid, pair in labels.items():
        seen.setdefault(tuple(pair), []).append(rid)
    for rids in seen.values():
        if len(rids) > 1:
            for rid in rids:
                labels[rid][0] += f" [{rid[:6]}]"
    return {rid: (pair[0], pair[1]) for rid, pair in labels.items()}


# --- Run dir names -------------------------------------------------------------------------------------------

#: Longest override part of a run dir name; longer ones are cut and end in a hash of the whole.
MAX_DIRNAME = 120


def overrides_dirname(overrides) -> str:
    """A job's overrides (Hydra's `hydra.overrides.task` list, or one string) as part of a dir name.

    '' when there are none; else '_' and the overrides joined by ',', tracker parameters first,
    then dataset parameters, then the rest (the choices `tracker=` and `dataset=` are left out:
    the dir names them already); odd characters become '_', and a name cut to `MAX_DIRNAME`
    characters ends in a short hash of the whole, so cut names stay apart.
    """
    items = [overrides] if isinstance(overrides, str) else [str(o) for o in overrides]
    items = [o for o in items if o and o.split("=", 1)[0].lstrip("+~") not in ("tracker", "dataset")]
    if not items:
        return ""
    order = {"tracker": 0, "dataset": 1}
    items.sort(key=lambda o: (order.get(o.lstrip("+~").split(".", 1)[0], 2), o))
    whole = ",".join(items)
    text = re.sub(r"[^A-Za-z0-9._=,+-]+", "_", whole.encode("ascii", "replace").decode("ascii"))
    if len(text) > MAX_DIRNAME or text != whole:
        digest = hashlib.sha256(whole.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        text = f"{text[:MAX_DIRNAME - 9]}-{digest}"
    return f"_{text}"


def unique_dir(path: str) -> str:
    """Create the folder `path` (or `path-2`, `path-3`, … when taken) and return its name: two runs
    started in the same second never share a run dir (`mkdir` is atomic, on shared file systems too)."""
    from pathlib import Path

    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return str(candidate)
    raise FileExistsError(f"no free run dir name beside {base}")
