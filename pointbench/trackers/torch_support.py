"""Shared helpers of the torch-based trackers: lazy imports with install hints, device and precision,
checkpoints (local file, official download, or random weights) and isolation of torch's global RNG.

Nothing here imports torch at module level: `import pointbench` and the classic trackers never need it.
Every function that needs torch imports it itself (`import_torch`).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

TORCH_INSTALL = "pip install torch  (a CUDA or CPU build: see https://pytorch.org/get-started/locally/)"
PRECISIONS = {"fp32": None, "fp16": "float16", "bf16": "bfloat16"}
RANDOM = "random"


def import_upstream(module: str, owner: str, install: str):
    """Import `module`, or raise ImportError saying which tracker needs it and the command that installs it."""
    try:
        return importlib.import_module(module)
    except Exception as error:  # ImportError, or e.g. a torchvision built for another torch (RuntimeError, OSError)
        raise ImportError(f"{owner} needs the Python module '{module}', which cannot be imported ({error}). "
                          f"Install it with:\n    {install}") from error


def require(owner: str, modules: dict[str, str], only_if_missing: str | None = None) -> None:
    """ImportError naming every one of `modules` ({module: install command}) that cannot be found, with
    the commands that install them, before anything is imported (one message, not one per attempt).

    `only_if_missing`: check only when that module is missing (e.g. torch, before the device checks).
    """
    if only_if_missing is not None and _found(only_if_missing):
        return
    missing = {}
    for module, install in modules.items():
        if not _found(module):
            missing[module] = install
    if missing:
        commands = "\n".join(f"    {command}" for command in dict.fromkeys(missing.values()))
        raise ImportError(f"{owner} needs the Python module(s) {', '.join(repr(m) for m in missing)}, which are not "
                          f"installed. Install them with:\n{commands}")


def _found(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # its parent package is missing
        return False


def start(owner: str, needs: dict[str, str], device: str, precision: str):
    """What every learned adapter does before building its model: check that the modules it `needs`
    ({module: install command}) are installed (all named at once when torch itself is missing),
    import torch, and resolve and check `device` and `precision` (so a bad combination fails now,
    not at the first video). Returns (torch, device)."""
    require(owner, needs, only_if_missing="torch")
    torch = import_torch(owner)
    resolved = resolve_device(torch, device, owner)
    autocast(torch, resolved, precision, owner)
    require(owner, needs)
    return torch, resolved


@contextlib.contextmanager
def inference(torch, device, precision: str, owner: str):
    """The context a learned adapter's model runs in: no gradients, the precision's autocast, and
    torch's global random state left as it was."""
    with torch.no_grad(), autocast(torch, device, precision, owner), preserved_rng(torch):
        yield


def import_torch(owner: str):
    return import_upstream("torch", owner, TORCH_INSTALL)


@contextlib.contextmanager
def preserved_rng(torch):
    """Restore torch's global CPU (and CUDA) RNG state on exit: what runs inside (upstream modules that call
    `torch.manual_seed` on import, weight initialisation, `torch.randperm`) leaves the caller's random
    stream as it was."""
    cpu = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def resolve_device(torch, device: str, owner: str):
    """`auto` -> CUDA when available, else CPU; otherwise any torch device string ('cpu', 'cuda', 'cuda:1')."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"{owner}: 'device' must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{owner}: 'device' is {device!r} but CUDA is not available here; use device=auto or cpu")
    return resolved


def check_precision(precision: str, owner: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"{owner}: 'precision' must be one of {sorted(PRECISIONS)}; got {precision!r}")
    return precision


def autocast(torch, device, precision: str, owner: str):
    """The context the model runs in: plain fp32, or CUDA autocast to float16 / bfloat16."""
    if PRECISIONS[check_precision(precision, owner)] is None:
        return contextlib.nullcontext()
    if device.type != "cuda":
        raise ValueError(f"{owner}: precision={precision!r} needs a CUDA device, but the tracker runs on "
                         f"{device}; use precision=fp32")
    return torch.autocast(device_type="cuda", dtype=getattr(torch, PRECISIONS[precision]))


def check_checkpoint(checkpoint, url: str | None, owner: str) -> None:
    """Validate the `checkpoint` knob at build time: null (download `url`), 'random' or a path."""
    if checkpoint is None and not url:
        raise ValueError(f"{owner}: 'checkpoint' is null (download the official weights) but no 'checkpoint_url' "
                         "is set; give a URL, a local path, or checkpoint=random")
    if checkpoint is not None and not isinstance(checkpoint, (str, Path)):
        raise ValueError(f"{owner}: 'checkpoint' must be null, 'random' or a file path; got {checkpoint!r}")


def load_state_dict(torch, checkpoint, url: str | None, owner: str):
    """The weights named by the `checkpoint` knob, or None for 'random'.

    null: the official file `url`, downloaded once into torch's hub cache (`torch.hub.get_dir()/checkpoints`);
    a path: that local file. Both are read with `weights_only=True`. A `{"model": state_dict}` wrapper (as
    training checkpoints have) is unwrapped. Failures name the command that fixes them.
    """
    check_checkpoint(checkpoint, url, owner)
    if checkpoint == RANDOM:
        return None
    if checkpoint is None:
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name
        try:
            state = torch.hub.load_state_dict_from_url(url, map_location="cpu", weights_only=True, progress=False)
        except Exception as error:  # no network, HTTP error, truncated or corrupt download
            raise RuntimeError(
                f"{owner}: could not get the official checkpoint {url} into torch's hub cache ({error}). "
                f"Download it by hand:\n    curl -L --create-dirs -o {cached} {url}\n"
                f"or pass a local copy with tracker.checkpoint=/path/to/{cached.name}") from error
    else:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            fetch = f"curl -L --create-dirs -o {path} {url}" if url else "copy the checkpoint file there"
            raise FileNotFoundError(f"{owner}: checkpoint file {path} does not exist. Get it with:\n    {fetch}\n"
                                    "or set tracker.checkpoint=null to download the official weights")
        state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    return state


def build_model(torch, model_class, kwargs: dict, checkpoint, url: str | None, owner: str, seed: int = 0,
                prepare_state=None):
    """Build `model_class(**kwargs)` and load the `checkpoint` knob's weights.

    A keyword the class does not take is reported as a config error naming the class.
    Everything runs under `preserved_rng`: the caller's random stream is untouched. With
    checkpoint='random' the weights are torch's default initialisation under `torch.manual_seed(seed)`,
    so they are the same on every build (reproducible smoke tests and cached predictions).
    `prepare_state`, if given, maps the loaded file's content to the state dict (e.g. unwrapping a
    Lightning checkpoint's `state_dict` and its key prefix).
    """
    with preserved_rng(torch):
        torch.manual_seed(seed)
        try:
            model = model_class(**kwargs)
        except TypeError as error:
            raise ValueError(f"{owner}: 'model' has a key {model_class.__name__}(...) does not take: {error}") from error
        state = load_state_dict(torch, checkpoint, url, owner)
        if state is not None and prepare_state is not None:
            state = prepare_state(state)
    if state is not None:
        try:
            model.load_state_dict(state)
        except RuntimeError as error:
            source = url if checkpoint is None else checkpoint
            raise ValueError(f"{owner}: checkpoint {source} does not fit the model this config builds "
                             f"(check the model settings against the checkpoint): {error}") from error
    return model.eval()


def query_chunks(n: int, size: int | None) -> list[slice]:
    """Slices covering `range(n)` in runs of at most `size` (all at once when `size` is None)."""
    step = n if size is None else size
    return [slice(start, min(start + step, n)) for start in range(0, n, max(step, 1))]


def check_chunk_size(size, owner: str):
    if size is not None and (not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1):
        raise ValueError(f"{owner}: 'max_queries_per_pass' must be a positive integer or null; got {size!r}")
    return None if size is None else int(size)


def check_size(value, owner: str, key: str, multiple: int, minimum: int) -> tuple[int, int]:
    """A `(height, width)` pair of integers, each a multiple of `multiple` and at least `minimum`."""
    try:
        height, width = (int(v) for v in value)
        ok = [height, width] == list(value)
    except (TypeError, ValueError):
        ok = False
    if not ok or min(height, width) < minimum or height % multiple or width % multiple:
        raise ValueError(f"{owner}: '{key}' must be [height, width], integers that are multiples of {multiple} "
                         f"and at least {minimum}; got {value!r}")
    return height, width


def checkpoint_file(torch, checkpoint, url: str | None, owner: str) -> Path | None:
    """The local file the `checkpoint` knob names, for checkpoints that are not a torch state dict (e.g.
    TAPNext's JAX `.npz`): None for 'random'; a path: that file; null: `url`, downloaded once into
    torch's hub cache (`torch.hub.get_dir()/checkpoints`, as `load_state_dict`). Failures name the fix."""
    check_checkpoint(checkpoint, url, owner)
    if checkpoint == RANDOM:
        return None
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            fetch = f"curl -L --create-dirs -o {path} {url}" if url else "copy the checkpoint file there"
            raise FileNotFoundError(f"{owner}: checkpoint file {path} does not exist. Get it with:\n    {fetch}\n"
                                    "or set tracker.checkpoint=null to download the official weights")
        return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name
    if not cached.is_file():
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(url, str(cached), progress=False)
        except Exception as error:  # no network, HTTP error, truncated download
            raise RuntimeError(
                f"{owner}: could not get the official checkpoint {url} into torch's hub cache ({error}). "
                f"Download it by hand:\n    curl -L --create-dirs -o {cached} {url}\n"
                f"or pass a local copy with tracker.checkpoint=/path/to/{cached.name}") from error
    return cached


def unwrap_state(state, key: str, prefix: str = ""):
    """`state[key]` where the file wraps its state dict so (a Lightning checkpoint's 'state_dict'), with
    `prefix` removed from the front of every key that has it."""
    if isinstance(state, dict) and isinstance(state.get(key), dict):
        state = state[key]
    return {k.removeprefix(prefix): v for k, v in state.items()} if prefix else state


_REPO_LOCK = threading.Lock()
_REPO_MODULES: dict[tuple[str, str], object] = {}


def import_from_repo(repo, module: str, packages: tuple[str, ...], owner: str, install: str):
    """Import `module` from the source folder `repo` (a clone of a repository that is not an installable
    package and imports itself through generic top-level names such as `models`, `nets`, `utils`).

    repo None: a plain import (the code is already on sys.path). Otherwise the import runs with `repo`
    first on sys.path and the top-level `packages` of any other origin set aside, and afterwards those
    names are taken out of sys.modules again and what was there is put back: two trackers whose upstream
    code both calls itself `models` (SpaTrackerV2 and LocoTrack) then coexist in one process. The
    modules loaded keep their references to each other; the result is cached per (folder, module).
    """
    if repo is None:
        return import_upstream(module, owner, install)
    root = str(Path(str(repo)).expanduser().resolve())
    key = (root, module)
    with _REPO_LOCK:
        if key in _REPO_MODULES:
            return _REPO_MODULES[key]

        def ours(name):
            return any(name == p or name.startswith(p + ".") for p in packages)

        saved = {name: sys.modules.pop(name) for name in list(sys.modules) if ours(name)}
        sys.path.insert(0, root)
        try:
            loaded = import_upstream(module, owner, install)
        finally:
            sys.path.remove(root)
            for name in [n for n in sys.modules if ours(n)]:
                del sys.modules[name]
            sys.modules.update(saved)
        _REPO_MODULES[key] = loaded
        return loaded
