"""Bounded readers for untrusted data files: `.npz`/`.npy` arrays, images, and paths OpenCV cannot take.

Every size a file declares is checked against what the file holds before anything is allocated:
an `.npy` header's shape × itemsize must equal the bytes of data that follow it; a stored zip
member must lie inside the archive; a deflated one may expand at most `MAX_DEFLATE_RATIO` times
(deflate's own limit: one 258-byte match per two bits, 1032:1). Only plain dtypes are read
(bool, integer, float, complex, bytes, str); object arrays are pickles and stay refused unless
`allow_pickle` is set (for files you trust), and even then go through pointbench's restricted
unpickler. Errors name the file, the key and what was expected, and never suggest `allow_pickle`
for a file that is merely broken.
"""

from __future__ import annotations

import ast
import contextlib
import math
import os
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pointbench.datasets.safe_pickle import MAX_NDIM, UnsafePickleError, plain_dtype, restricted_load

__all__ = ["NpzArrays", "BadArrayFile", "read_npy", "read_image", "opencv_path", "MAX_DEFLATE_RATIO"]

MAX_DEFLATE_RATIO = 1032
MAX_HEADER = 10_000  # bytes of an .npy header (numpy's own limit; a plain array's is under 200)
_NPY_MAGIC = b"\x93NUMPY"
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # zip local file header: signature ... name length, extra length
_HEADER_KEYS = {"descr", "fortran_order", "shape"}


class BadArrayFile(ValueError):
    """An `.npz`/`.npy` file that is not what it must be (truncated, forged sizes, unsupported dtype)."""


@dataclass(frozen=True)
class NpyHeader:
    """What an `.npy` header says, checked: `offset` is where the data starts."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    offset: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _read_exactly(f, n: int, owner: str, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise BadArrayFile(f"{owner}: truncated .npy {what} ({len(data)} of {n} bytes)")
    return data


def read_npy_header(f, owner: str, size: int) -> NpyHeader:
    """The checked header of an `.npy` stream of `size` bytes (its data: all the bytes after the header)."""
    magic = f.read(len(_NPY_MAGIC))
    if magic != _NPY_MAGIC:
        raise BadArrayFile(f"{owner}: not a .npy array (it starts with {magic[:8]!r}, not {_NPY_MAGIC!r})")
    major, minor = _read_exactly(f, 2, owner, "version")
    if (major, minor) not in ((1, 0), (2, 0), (3, 0)):
        raise BadArrayFile(f"{owner}: unsupported .npy format version {major}.{minor} (expected 1.0, 2.0 or 3.0)")
    width = 2 if major == 1 else 4
    length, = struct.unpack("<H" if width == 2 else "<I", _read_exactly(f, width, owner, "header length"))
    if length > MAX_HEADER:
        raise BadArrayFile(f"{owner}: a .npy header of {length} bytes (a plain array's header is at most "
                           f"{MAX_HEADER} bytes)")
    text = _read_exactly(f, length, owner, "header")
    try:
        header = ast.literal_eval(text.decode("utf-8" if major == 3 else "latin-1"))
    except Exception:  # noqa: BLE001 - any parse failure is the same bad header
        header = None
    if not (isinstance(header, dict) and set(header) == _HEADER_KEYS):
        raise BadArrayFile(f"{owner}: not a valid .npy header (expected a dict with keys descr, fortran_order, "
                           f"shape); got {text[:80]!r}")
    shape, fortran, dtype = header["shape"], header["fortran_order"], plain_dtype(header["descr"])
    if dtype is None:
        raise BadArrayFile(f"{owner}: unsupported dtype {str(header['descr'])[:80]!r} (expected bool, integer, float, "
                           "complex, bytes or str)")
    offset = len(_NPY_MAGIC) + 2 + width + length
    if not (isinstance(shape, tuple) and len(shape) <= MAX_NDIM and all(type(s) is int and s >= 0 for s in shape)):
        raise BadArrayFile(f"{owner}: the .npy header declares shape {str(shape)[:80]} (expected at most {MAX_NDIM} "
                           "non-negative sizes)")
    if not isinstance(fortran, bool):
        raise BadArrayFile(f"{owner}: the .npy header's fortran_order is {fortran!r} (expected True or False)")
    result = NpyHeader(shape, dtype, fortran, offset)
    if not dtype.hasobject and result.nbytes != size - offset:
        raise BadArrayFile(f"{owner}: the .npy header declares a {dtype} array of shape {shape}, {result.nbytes} "
                           f"bytes, but {size - offset} bytes of data follow it (truncated or forged)")
    if any(s > size for s in shape):  # an empty array with a huge side, or a pickle claiming one
        raise BadArrayFile(f"{owner}: the .npy header declares shape {shape}, a size larger than the {size} bytes "
                           "of the file")
    return result


def _checked_strings(array: np.ndarray, owner: str) -> np.ndarray:
    """`array`, unless it is a str array holding code points that are not characters."""
    if array.dtype.kind == "U" and array.size:
        codes = array.view(np.dtype(f"{array.dtype.str[0]}u4"))
        if not ((codes <= 0x10FFFF) & ((codes < 0xD800) | (codes > 0xDFFF))).all():
            raise BadArrayFile(f"{owner}: a str array holding invalid code points (not Unicode text)")
    return array


def _native(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array.astype(array.dtype.newbyteorder("="), copy=False))


def _unpickle(f, owner: str, size: int, allow_pickle: bool | None):
    if allow_pickle is None:
        raise BadArrayFile(f"{owner} is a pickled object array (pickles are not read: this format holds plain "
                           "arrays only)")
    if not allow_pickle:
        raise BadArrayFile(f"{owner} is a pickled object array; load it with dataset.allow_pickle=true only if you "
                           "trust the file (it is then read with pointbench's restricted unpickler)")
    value = restricted_load(f, owner, size)
    if not isinstance(value, np.ndarray):
        raise BadArrayFile(f"{owner}: the pickle holds a {type(value).__name__}, not an array")
    return value.item() if value.ndim == 0 else value


def read_npy(path, allow_pickle: bool | None = None) -> np.ndarray:
    """The array of an `.npy` file, its header checked against the file's size before reading.

    `allow_pickle`: None where the caller offers no such option (object arrays are refused
    outright), else the user's `allow_pickle` setting."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            header = read_npy_header(f, str(path), size)
            if header.dtype.hasobject:
                return _unpickle(f, str(path), size - header.offset, allow_pickle)
            buffer = bytearray(header.nbytes)
            if f.readinto(buffer) != len(buffer):
                raise BadArrayFile(f"{path}: truncated .npy data")
    except (BadArrayFile, UnsafePickleError, OSError):
        raise
    except MemoryError:
        raise MemoryError(f"{path}: out of memory reading it") from None
    array = np.frombuffer(buffer, header.dtype).reshape(header.shape, order="F" if header.fortran else "C")
    return _checked_strings(_native(array), str(path))


@dataclass(frozen=True)
class _Member:
    info: zipfile.ZipInfo
    header: NpyHeader

    @property
    def shape(self) -> tuple[int, ...]:
        return self.header.shape

    @property
    def dtype(self) -> np.dtype:
        return self.header.dtype


class NpzArrays:
    """The arrays of one `.npz` file, read lazily: shapes from the headers, data one slab at a time.

    Every member's header is checked when the file is opened (see the module doc). `read(key)`
    returns the whole array, `read(key, i)` only `array[i]` (a stored member is read at that
    slab's offset; a compressed one is decompressed up to that slab and no further). Object
    arrays (pickles) are refused unless `allow_pickle`, and then read with the restricted
    unpickler; `allow_pickle=None` (the default) is for formats that offer no such option.
    """

    def __init__(self, path, allow_pickle: bool | None = None):
        self.path, self.allow_pickle = Path(path), allow_pickle
        with self._errors("it"):
            with open(self.path, "rb") as f:
                self.size, start = os.fstat(f.fileno()).st_size, f.read(8)
            if start.startswith(_NPY_MAGIC):
                raise BadArrayFile(f"{self.path}: a single .npy array, not an .npz archive (of named .npy arrays)")
            if not start.startswith((b"PK\x03\x04", b"PK\x05\x06")):
                raise BadArrayFile(f"{self.path}: not an .npz file (a zip archive of .npy arrays); it starts with "
                                   f"{start!r}")
            self._members: dict[str, _Member] = {}
            with zipfile.ZipFile(self.path) as archive:
                for info in archive.infolist():
                    if info.filename.endswith(".npy"):
                        key = info.filename[:-4]
                        if key in self._members:
                            raise BadArrayFile(f"{self.path}: the archive holds '{key}' twice")
                        self._members[key] = _Member(info, self._header(archive, info, key))

    @contextlib.contextmanager
    def _errors(self, what: str):
        """Re-raise whatever reading `what` raises as an error naming the file (and key)."""
        try:
            yield
        except (BadArrayFile, UnsafePickleError):
            raise
        except MemoryError:
            raise MemoryError(f"{self.path}: out of memory reading {what}") from None
        except Exception as error:  # zipfile.BadZipFile, zlib.error, OSError, UnicodeDecodeError, ...
            raise BadArrayFile(f"{self.path}: cannot read {what} as an .npz file (a zip archive of .npy arrays): "
                               f"{type(error).__name__}: {str(error)[:200]}") from None

    def _header(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> NpyHeader:
        owner = f"{self.path}: '{key}'"
        if info.flag_bits & 0x1:
            raise BadArrayFile(f"{owner} is encrypted")
        if info.compress_type == zipfile.ZIP_STORED:
            if info.compress_size != info.file_size or info.header_offset + info.file_size > self.size:
                raise BadArrayFile(f"{owner}: the archive declares {info.file_size} bytes at offset "
                                   f"{info.header_offset}, past the end of the {self.size}-byte file (truncated?)")
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            if (info.compress_size > self.size
                    or info.file_size > MAX_DEFLATE_RATIO * info.compress_size + 1024):
                raise BadArrayFile(f"{owner}: the archive declares {info.file_size} bytes compressed to "
                                   f"{info.compress_size} in a {self.size}-byte file (deflate expands at most "
                                   f"{MAX_DEFLATE_RATIO}:1; truncated or forged)")
        else:
            raise BadArrayFile(f"{owner} is compressed with zip method {info.compress_type} (np.savez and "
                               "np.savez_compressed write stored or deflated members)")
        with archive.open(info) as f:
            return read_npy_header(f, owner, info.file_size)

    @property
    def keys(self) -> list[str]:
        """Array names, in file order."""
        return list(self._members)

    @property
    def files(self) -> list[str]:
        return self.keys

    def __contains__(self, key: str) -> bool:
        return key in self._members

    def _member(self, key: str) -> _Member:
        if key not in self._members:
            raise KeyError(f"{self.path}: no array '{key}'; keys found: {sorted(self._members)}")
        return self._members[key]

    def shape(self, key: str) -> tuple[int, ...]:
        return self._member(key).shape

    def dtype(self, key: str) -> np.dtype:
        return self._member(key).dtype

    def read(self, key: str, index: int | None = None) -> np.ndarray:
        """`array` or `array[index]` (a writable copy in native byte order)."""
        m = self._member(key)
        owner = f"{self.path}: '{key}'"
        if m.dtype.hasobject:
            with self._errors(f"'{key}'"), zipfile.ZipFile(self.path) as archive, archive.open(m.info) as f:
                f.seek(m.header.offset)
                value = _unpickle(f, owner, m.info.file_size - m.header.offset, self.allow_pickle)
            return value if index is None else value[index]
        if index is not None and not (m.shape and 0 <= index < m.shape[0]):
            raise IndexError(f"{owner} has {m.shape[0] if m.shape else 0} entries along axis 0; got index {index}")
        shape, first = m.shape, 0
        if index is not None and not m.header.fortran:  # a C-ordered slab is contiguous
            shape = m.shape[1:]
            first = index * math.prod(shape)
        with self._errors(f"'{key}'"):
            buffer = bytearray(math.prod(shape) * m.dtype.itemsize)
            self._read_into(m, m.header.offset + first * m.dtype.itemsize, buffer, owner)
        array = np.frombuffer(buffer, m.dtype).reshape(shape, order="F" if m.header.fortran else "C")
        if index is not None and m.header.fortran:
            array = array[index]
        return _checked_strings(_native(array), owner)

    def _read_into(self, m: _Member, offset: int, buffer: bytearray, owner: str) -> None:
        """Fill `buffer` from byte `offset` of member `m`'s uncompressed content."""
        if not buffer:
            return
        if m.info.compress_type == zipfile.ZIP_STORED:
            with open(self.path, "rb") as f:
                f.seek(m.info.header_offset)
                local = f.read(_LOCAL_HEADER.size)
                signature, name_length, extra_length = _LOCAL_HEADER.unpack(local) if len(local) == \
                    _LOCAL_HEADER.size else (b"", 0, 0)
                if signature != b"PK\x03\x04":
                    raise BadArrayFile(f"{owner}: corrupt zip member header")
                start = m.info.header_offset + _LOCAL_HEADER.size + name_length + extra_length + offset
                if start + len(buffer) > self.size:
                    raise BadArrayFile(f"{owner}: its data runs past the end of the {self.size}-byte file (truncated)")
                f.seek(start)
                done = f.readinto(buffer)
        else:
            with zipfile.ZipFile(self.path) as archive, archive.open(m.info) as f:
                f.seek(offset)  # decompresses what it skips, keeps nothing
                done = f.readinto(buffer)
        if done != len(buffer):
            raise BadArrayFile(f"{owner}: truncated ({done} of {len(buffer)} bytes of data)")


def read_image(path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray | None:
    """`cv2.imread(path, flags)`, decoding bytes read by Python (OpenCV cannot open every path: names
    that are not valid UTF-8 crash it). None where the file is empty or does not decode."""
    data = Path(path).read_bytes()
    return cv2.imdecode(np.frombuffer(data, np.uint8), flags) if data else None


def _utf8(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@contextlib.contextmanager
def opencv_path(path) -> Iterator[str]:
    """A path string OpenCV can open for `path`: itself, or (a name that is not valid UTF-8) a
    symbolic link with an ASCII name in a temporary folder, removed afterwards."""
    path = Path(path)
    if _utf8(path):
        yield str(path)
        return
    suffix = path.suffix if _utf8(Path(path.suffix)) else ""
    with tempfile.TemporaryDirectory(prefix="pointbench-") as folder:
        link = os.path.join(folder, f"video{suffix}")
        os.symlink(os.fsencode(path.absolute()), link)
        yield link
