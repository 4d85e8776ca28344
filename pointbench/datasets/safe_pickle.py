"""Restricted unpickling for dataset files: numpy arrays, numpy scalars and plain containers only.

A pickle can name any importable callable and have it called while loading (`os.system`, `eval`,
...). Dataset pickles (TAP-Vid, RoboTAP) hold only dicts, lists, tuples, strings, bytes, numbers
and numpy arrays, so `safe_load` admits exactly the globals such data needs, as written by
`pickle.dump` with protocols 0-5 under numpy 1.x and 2.x (`pickletools.dis` shows them), and
refuses every other global before it is imported or called.
"""

from __future__ import annotations

import codecs
import collections
import functools
import importlib
import pickle
from pathlib import Path

import numpy as np

__all__ = ["safe_load", "RestrictedUnpickler", "UnsafePickleError", "ALLOWED_GLOBALS"]


def _numpy(submodule: str, name: str):
    """`numpy._core.<submodule>.<name>` (numpy 2; stub in 1.26), else `numpy.core.<submodule>.<name>`."""
    try:
        module = importlib.import_module(f"numpy._core.{submodule}")
    except ImportError:  # pragma: no cover - numpy < 1.26
        module = importlib.import_module(f"numpy.core.{submodule}")
    return getattr(module, name)


_NUMPY_CORE = (("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer"))
_BUILTINS = {"bytearray": bytearray, "set": set, "frozenset": frozenset, "complex": complex}

#: (module, name) -> a function returning the object it stands for. Nothing else can be loaded.
ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: codecs.encode,  # protocols 0-2 write bytes as _codecs.encode(str, 'latin1')
    ("collections", "OrderedDict"): lambda: collections.OrderedDict,
}
for _prefix in ("numpy.core", "numpy._core"):  # numpy 1.x writes numpy.core, numpy 2.x numpy._core
    for _sub, _name in _NUMPY_CORE:
        ALLOWED_GLOBALS[(f"{_prefix}.{_sub}", _name)] = functools.partial(_numpy, _sub, _name)
for _module in ("builtins", "__builtin__"):  # protocols 0-2 write builtins as __builtin__
    for _name, _value in _BUILTINS.items():
        ALLOWED_GLOBALS[(_module, _name)] = functools.partial(lambda value: value, _value)


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global outside `ALLOWED_GLOBALS`."""


class RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, path: Path):
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str):
        resolve = ALLOWED_GLOBALS.get((module, name))
        if resolve is None:
            raise UnsafePickleError(
                f"{self._path}: refusing to load global '{module}.{name}': this file may hold only numpy arrays, "
                "numpy scalars, dicts, lists, tuples, str, bytes and numbers (a pickle naming other globals can run "
                "arbitrary code)")
        return resolve()


def safe_load(path) -> object:
    """Unpickle `path`, admitting only numpy arrays/scalars and plain containers.

    Raises `UnsafePickleError` (a `pickle.UnpicklingError`) naming the file and the refused global
    (`module.name`), and `pickle.UnpicklingError` naming the file when it is not a readable pickle.

    >>> data = safe_load("tapvid_davis.pkl")  # doctest: +SKIP
    """
    path = Path(path)
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(f, path).load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as error:
            raise pickle.UnpicklingError(f"{path}: not a readable pickle ({type(error).__name__}: {error})") from error
