"""Provenance: fingerprints of what decides a run's predictions besides its configs.

The prediction cache keys on these, so that an input file edited in place, a checkpoint
overwritten with new weights, a plugin whose code changed or a relative path run from another
directory is a cache miss, never a stale hit.

- Files: every string value of the tracker and dataset configs that names an existing file,
  folder or glob match, resolved to an absolute path, with its size, modification time and (for
  the first `CONTENT_BUDGET` bytes read, in a fixed order) its content hash.
- Code: the source of the module that defines the tracker (and the dataset) class, the version
  of the distribution that ships it, and the versions and sources of the upstream packages a
  tracker declares in `upstream_packages`.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import importlib.metadata
import importlib.util
import inspect
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from pointbench.identity import stable_hash

#: Bytes of file content hashed per fingerprint; files beyond it are known by size and mtime only.
CONTENT_BUDGET = 64 * 2**20
#: At most this many files of one folder are fingerprinted (sorted order); a larger folder adds its count.
MAX_FILES = 200_000
_GLOB = set("*?[")


def _strings(value) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _paths(text: str) -> list[Path]:
    """The existing paths a config string names (itself, or its glob matches), absolute and resolved."""
    if not text or "\n" in text or len(text) > 4096 or "://" in text:
        return []
    expanded = os.path.expanduser(text)
    try:
        if _GLOB & set(expanded):
            return [Path(p).resolve() for p in sorted(glob.glob(expanded, recursive=True))]
        path = Path(expanded)
        return [path.resolve()] if path.exists() else []
    except (OSError, ValueError, RuntimeError):
        return []


def _files_under(path: Path) -> tuple[list[Path], int]:
    if not path.is_dir():
        return [path], 1
    found = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        found += [Path(root) / f for f in sorted(files)]
        if len(found) > MAX_FILES:
            break
    return found[:MAX_FILES], len(found)


class _Hasher:
    def __init__(self):
        self.budget = CONTENT_BUDGET

    def file(self, path: Path) -> list:
        try:
            stat = path.stat()
        except OSError as error:
            return [os.fsencode(path).hex(), f"unreadable: {type(error).__name__}"]
        entry = [os.fsencode(path).hex(), stat.st_size, stat.st_mtime_ns]
        if stat.st_size <= self.budget:
            digest = hashlib.sha256()
            try:
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(2**20), b""):
                        digest.update(block)
            except OSError as error:
                entry.append(f"unreadable: {type(error).__name__}")
            else:
                self.budget -= stat.st_size
                entry.append(digest.hexdigest())
        return entry


def file_fingerprint(*configs: Mapping) -> dict:
    """{config string: [[path, size, mtime_ns, sha256?], ...]} for every config string naming files."""
    hasher = _Hasher()
    out = {}
    for config in configs:
        for text in _strings(config):
            if text in out:
                continue
            entries = []
            for path in _paths(text):
                files, count = _files_under(path)
                entries.append([os.fsencode(path).hex(), count, [hasher.file(f) for f in files]])
            if entries:
                out[text] = entries
    return out


def _source_hash(module_name: str) -> str | None:
    module = sys.modules.get(module_name)
    try:
        source = inspect.getsourcefile(module) if module is not None else None
    except TypeError:
        source = None
    if source is None:
        return None
    try:
        return hashlib.sha256(Path(source).read_bytes()).hexdigest()
    except OSError:
        return None


@functools.lru_cache(maxsize=1)
def _distributions() -> dict:
    return importlib.metadata.packages_distributions()


@functools.lru_cache(maxsize=None)  # the version of the code this process imported: read once
def _distribution_version(top_level: str) -> str | None:
    names = _distributions().get(top_level, [])
    for name in names:
        try:
            return f"{name}=={importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _package_sources(top_level: str) -> str | None:
    """The sha256 over the `.py` files of an importable top-level package (None where it is not found)."""
    try:
        spec = importlib.util.find_spec(top_level)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    roots = list(spec.submodule_search_locations or []) or ([spec.origin] if spec.origin else [])
    digest = hashlib.sha256()
    for root in map(Path, roots):
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for file in files[:5000]:
            try:
                digest.update(str(file.relative_to(root.parent)).encode("utf-8", "surrogateescape"))
                digest.update(file.read_bytes())
            except (OSError, ValueError):
                continue
    return digest.hexdigest()


def code_fingerprint(obj) -> dict:
    """The module source and distribution version of `obj`'s class, the sources of the modules of
    the classes it derives from (a plugin subclassing another's loader runs that code too), and
    the versions and sources of its `upstream_packages`."""
    cls = type(obj)
    module = cls.__module__
    top = module.split(".")[0]
    out = {"class": f"{module}.{cls.__qualname__}", "module_source": _source_hash(module),
           "distribution": _distribution_version(top)}
    bases = dict.fromkeys(k.__module__ for k in cls.__mro__[1:] if k.__module__ not in (module, "builtins", "abc"))
    if bases:
        out["base_sources"] = {name: _source_hash(name) for name in bases}
    for package in getattr(obj, "upstream_packages", ()):
        out[f"upstream:{package}"] = [_distribution_version(package), _package_sources(package)]
    return out


def provenance(tracker, tracker_config: Mapping, dataset, dataset_config: Mapping, views: Iterable = ()) -> dict:
    """Everything besides the configs that decides the predictions of this tracker on this dataset:
    `dataset` is the dataset plugin itself, `views` any views over it that change what the tracker
    sees (a perturbation), each fingerprinted by its own code too."""
    out = {"files": file_fingerprint(tracker_config, dataset_config),
           "tracker_code": code_fingerprint(tracker), "dataset_code": code_fingerprint(dataset)}
    if views:
        out["view_code"] = [code_fingerprint(view) for view in views]
    return out


def provenance_hash(value: Mapping) -> str:
    return stable_hash(value, 16)
