"""Restricted unpickling for dataset files: numpy arrays, numpy scalars and plain containers only.

A pickle can name any importable callable and have it called while loading (`os.system`, `eval`,
...). Dataset pickles (TAP-Vid, RoboTAP) hold only dicts, lists, tuples, strings, bytes, numbers
and numpy arrays, so `safe_load` admits exactly the globals such data needs, as written by
`pickle.dump` with protocols 0-5 under numpy 1.x and 2.x (`pickletools.dis` shows them), and
refuses every other global before it is imported or called.

Admitted globals are not handed out either: each is a stand-in that checks its arguments and
builds the value itself. numpy's own reconstructors are never called, and no numpy `__setstate__`
ever sees file-supplied state (a pickled dtype state can switch an object dtype's flags off, and
numpy then copies raw file bytes into an object array as pointers). Instead:

- a dtype is made from a plain descriptor (bool, integer, float, complex, bytes, str; `object`
  only as the dtype of an object array) and its pickled state must be exactly what numpy writes
  for that descriptor;
- an array is made with `np.frombuffer(...).reshape(...)` (and a copy) from its raw bytes, whose
  length must match the shape; an object array is filled element by element from plain values (str,
  bytes, numbers, None), and a 0-d one (what `np.save` makes of a dict) may hold one dict, list
  or tuple of plain values and non-object arrays. Object arrays never nest.

Memory is bounded by the file's size: every length or shape is checked against the bytes left
in the file before anything is allocated, and everything the stand-ins allocate (copies of raw
data, decoded text, containers) is charged to a budget of twice the file's size plus 1 MiB
(each byte of the file may be decoded once, latin-1 text to bytes as protocols 0-2 write it,
and copied once, bytes to array). A file asking for more is refused, naming the file.
"""

from __future__ import annotations

import math
import os
import pickle
import re
import reprlib
import struct
from pathlib import Path

import numpy as np

__all__ = ["safe_load", "restricted_load", "RestrictedUnpickler", "UnsafePickleError", "Refused",
           "ALLOWED_GLOBALS", "plain_dtype"]

_NUMPY_CORE = ("numpy.core", "numpy._core")  # numpy 1.x writes numpy.core, numpy 2.x numpy._core
_BUILTINS = ("builtins", "__builtin__")  # protocols 0-2 write builtins as __builtin__

#: (module, name) -> the stand-in method that builds what the global would. Nothing else can be loaded.
ALLOWED_GLOBALS = {("numpy", "ndarray"): "_ndarray", ("numpy", "dtype"): "_dtype",
                   ("_codecs", "encode"): "_encode", ("collections", "OrderedDict"): "_ordered_dict"}
for _prefix in _NUMPY_CORE:
    ALLOWED_GLOBALS.update({(f"{_prefix}.multiarray", "_reconstruct"): "_reconstruct",
                            (f"{_prefix}.multiarray", "scalar"): "_scalar",
                            (f"{_prefix}.numeric", "_frombuffer"): "_frombuffer"})
for _module in _BUILTINS:
    ALLOWED_GLOBALS.update({(_module, name): f"_{name}" for name in ("bytes", "bytearray", "set", "frozenset",
                                                                       "complex")})

SLACK = 1 << 20  # bytes every file may spend beyond twice its size (small pickles)
MAX_NESTING = 100  # tuples/frozensets inside each other (hashing one recurses in C)
MAX_NDIM = 32
#: Descriptors of the dtypes an array may have (numpy's own spelling, as pickles and .npy headers write them).
_DESCR = re.compile(r"[<>|=]?(b1|\?|[iu][1248]|f(2|4|8|12|16)|c(8|16|24|32)|[SU][1-9][0-9]{0,11}|O[48]?)")
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A pickle names a global outside `ALLOWED_GLOBALS`, or asks an admitted one for something unsafe."""


class Refused:
    """Stands, in what `safe_load(..., keep_refused=True)` returns, for a value it refused to build.

    `owner` is the file, `what` says what was refused and why; `error(where)` is the matching
    exception, naming `where` (e.g. the file, video and key) instead of the file alone. Calling
    it (as a refused global would be called) gives itself.
    """

    __slots__ = ("owner", "what")

    def __init__(self, owner: str, what: str):
        self.owner, self.what = owner, what

    @property
    def reason(self) -> str:
        return f"{self.owner}: refusing {self.what}"

    def __call__(self, *args, **kwargs) -> Refused:
        return self

    def error(self, where: str | None = None) -> UnsafePickleError:
        return UnsafePickleError(self.reason if where is None else f"{where}: refusing {self.what}")

    def __repr__(self) -> str:
        return f"Refused({self.reason!r})"


def plain_dtype(descr) -> np.dtype | None:
    """The dtype a plain descriptor names (bool, integer, float, complex, bytes, str, object), else None."""
    if not isinstance(descr, str) or not _DESCR.fullmatch(descr):
        return None
    try:
        return np.dtype(descr)
    except (TypeError, ValueError):
        return None


class _Stub:
    """A numpy dtype or array under construction: made by REDUCE, finished by BUILD."""

    __slots__ = ("kind", "descr", "memo_keys", "done")

    def __init__(self, kind: str, descr: str | None = None):
        self.kind, self.descr, self.memo_keys, self.done = kind, descr, [], False

    def __repr__(self) -> str:
        return f"<numpy {self.kind} without its state>"


class _Released:
    """Left in the memo where raw data was consumed by the array made from it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<raw data already consumed>"


_RELEASED = _Released()


class _Memo(dict):
    """The unpickler's memo: charges each entry and notes where stubs and large raw data live."""

    def __init__(self, owner: RestrictedUnpickler):
        super().__init__()
        self.owner = owner

    def __setitem__(self, key, value):
        self.owner._charge(64)
        if isinstance(value, _Stub):
            value.memo_keys.append(key)
        for item in value if isinstance(value, tuple) else (value,):  # raw data, or an argument/state tuple
            if isinstance(item, (bytes, bytearray, str)) and len(item) >= 1 << 16:
                self.owner._large.setdefault(id(item), []).append(key)
        super().__setitem__(key, value)


class _Truncated(EOFError):
    """The stream asks for more bytes than are left."""


class _Bounded:
    """A file that refuses to read past `size` bytes (so a forged length allocates nothing)."""

    def __init__(self, file, size: int, owner: str):
        self.file, self.left, self.owner = file, size, owner

    def read(self, n: int) -> bytes:
        if n > self.left:
            raise _Truncated(f"it asks for {n} bytes where {self.left} are left: truncated, or a forged length")
        data = self.file.read(n)
        self.left -= len(data)
        return data

    def readinto(self, buffer: bytearray) -> None:
        if len(buffer) > self.left:
            raise _Truncated(f"it asks for {len(buffer)} bytes where {self.left} are left: truncated, or a forged "
                             "length")
        done = self.file.readinto(buffer) or 0
        self.left -= done
        if done != len(buffer):
            raise _Truncated(f"it asks for {len(buffer)} bytes where {done} are left: truncated")

    def readline(self) -> bytes:
        line = self.file.readline(self.left)
        self.left -= len(line)
        return line


def _opcode(name: str) -> int:
    return getattr(pickle, name)[0]


#: Bytes of Python objects an opcode may create, beyond the file bytes it copies (charged when run).
_COSTS = {**{_opcode(n): 64 for n in ("MARK", "EMPTY_LIST", "EMPTY_DICT", "SETITEM", "TUPLE1", "TUPLE2", "TUPLE3",
                                       "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "UNICODE", "BINBYTES",
                                       "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8", "STRING", "BINSTRING",
                                       "SHORT_BINSTRING")},
          **{_opcode(n): 32 for n in ("INT", "BININT", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT")},
          **{_opcode(n): 8 for n in ("DUP", "GET", "BINGET", "LONG_BINGET", "APPEND")},
          _opcode("EMPTY_SET"): 256}
#: Bytes per item on the stack (since the last MARK) for opcodes that take a variable number.
_PER_ITEM = {**{_opcode(n): 8 for n in ("LIST", "TUPLE", "APPENDS")},
             **{_opcode(n): 32 for n in ("DICT", "SETITEMS", "ADDITEMS", "FROZENSET")}}
_NESTED = {_opcode(n) for n in ("TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "FROZENSET")}


def _charged(handler, code: int):
    fixed, per_item, nested = _COSTS.get(code, 0), _PER_ITEM.get(code, 0), code in _NESTED

    def run(self):
        self._charge(fixed + per_item * len(self.stack))
        handler(self)
        if nested:
            self._nesting(self.stack[-1])
    return run


class RestrictedUnpickler(pickle._Unpickler):
    """Unpickles data only (see the module doc); `size` (default: the bytes left in `file`) bounds
    what the stream may describe.

    `owner` names the stream in every error (a file, or a file and key). With `keep_refused`,
    a value that cannot be built safely becomes a `Refused` in the result instead of an error,
    so the rest of the file still loads; otherwise the first refusal raises `UnsafePickleError`.
    Malformed streams (truncated, unknown opcodes, a budget spent) always raise.
    """

    dispatch = {code: _charged(handler, code) for code, handler in pickle._Unpickler.dispatch.items()}

    def __init__(self, file, owner, size: int | None = None, keep_refused: bool = False):
        size = _remaining(file) if size is None else size
        self.owner, self.size, self.keep_refused = str(owner), int(size), keep_refused
        self.budget, self.spent = 2 * self.size + SLACK, 0
        self._large: dict[int, list] = {}  # id of large raw data -> memo keys holding it
        self._depth: dict[int, int] = {}  # id of a tuple/frozenset -> nesting depth
        self._source = _Bounded(file, self.size, self.owner)
        super().__init__(self._source)
        self.memo = _Memo(self)
        self._ndarray_global = self._ndarray  # one object, so `_reconstruct` can recognise it

    # -- bookkeeping ---------------------------------------------------------------------------------------

    def _charge(self, n: int) -> None:
        self.spent += n
        if self.spent > self.budget:
            raise UnsafePickleError(f"{self.owner}: the pickle would make more than {self.budget} bytes of objects "
                                    f"from {self.size} bytes of data (a memory bomb?); refusing it")

    def _afford(self, n: int, what: str) -> None:
        """Charge `n` bytes for `what`; a file asking for more than it can describe is refused whole."""
        if self.spent + n > self.budget:
            raise UnsafePickleError(f"{self.owner}: refusing {what} of {n} bytes: more than a file of {self.size} "
                                    f"bytes can describe ({self.budget - self.spent} bytes of its budget of "
                                    f"{self.budget} left; a memory bomb?)")
        self.spent += n

    def _nesting(self, value) -> None:
        depth = 1 + max((self._depth.get(id(v), 1) for v in value if isinstance(v, (tuple, frozenset))), default=0)
        if depth > MAX_NESTING:
            raise UnsafePickleError(f"{self.owner}: tuples nested more than {MAX_NESTING} deep; refusing them")
        self._depth[id(value)] = depth

    def _refuse(self, what: str):
        refused = Refused(self.owner, what)
        if not self.keep_refused:
            raise refused.error()
        return refused

    def _release(self, raw) -> None:
        """Drop the memo's references to raw data an array or bytes were made from (directly, or in the
        argument or state tuple that held it), so it is freed once used: it is never needed twice."""
        for key in self._large.pop(id(raw), ()):
            value = self.memo.get(key)
            if value is raw or (isinstance(value, tuple) and any(item is raw for item in value)):
                dict.__setitem__(self.memo, key, _RELEASED)

    # -- globals -------------------------------------------------------------------------------------------

    def find_class(self, module: str, name: str):
        method = ALLOWED_GLOBALS.get((module, name))
        if method is None:
            return self._refuse(
                f"to load global '{module}.{name}': this file may hold only numpy arrays, numpy scalars, dicts, "
                "lists, tuples, str, bytes and numbers (a pickle naming other globals can run arbitrary code)")
        return self._ndarray_global if method == "_ndarray" else getattr(self, method)

    def _shape(self, shape):
        """A validated shape tuple, or a refusal."""
        if not (isinstance(shape, tuple) and len(shape) <= MAX_NDIM
                and all(type(s) is int and 0 <= s <= max(self.size, 1) for s in shape)):
            return self._refuse(f"a numpy shape {_SHORT.repr(shape)} (expected at most {MAX_NDIM} sizes, each "
                                f"at most the {self.size} bytes of the data)")
        return shape

    def _array_dtype(self, dtype, allow_object: bool):
        if isinstance(dtype, Refused):
            return dtype
        if isinstance(dtype, _Stub):
            return self._refuse(f"a numpy {dtype.kind} without its state used as a dtype")
        if not isinstance(dtype, np.dtype) or dtype.names is not None or dtype.subdtype is not None or (
                dtype.hasobject and not allow_object):
            return self._refuse(f"a numpy array or scalar of dtype {_SHORT.repr(dtype)} (expected bool, integer, "
                                "float, complex, bytes or str" + (", or object" if allow_object else "") + ")")
        return dtype

    def _ndarray(self, *args):
        return self._refuse(f"numpy.ndarray{_SHORT.repr(args)}: numpy pickles never call it (it would allocate "
                            "whatever shape it is given); it may only be the first argument of _reconstruct")

    def _dtype(self, descr=None, align=False, copy=True, *rest):
        if rest or not isinstance(align, bool) or not isinstance(copy, bool):
            return self._refuse(f"numpy.dtype with arguments {_SHORT.repr((descr, align, copy, *rest))}")
        if plain_dtype(descr) is None:
            return self._refuse(f"numpy dtype {_SHORT.repr(descr)} (expected bool, integer, float, complex, bytes, str "
                                "or object)")
        return _Stub("dtype", descr)

    def _finish_dtype(self, stub: _Stub, state):
        dtype = plain_dtype(stub.descr)
        order = state[1] if isinstance(state, tuple) and len(state) > 1 else None
        if isinstance(order, str) and order in ("<", ">"):
            dtype = dtype.newbyteorder(order)
        expected = dtype.__reduce__()[2]
        if not (isinstance(state, tuple) and len(state) == len(expected)
                and all(type(a) is type(b) and a == b for a, b in zip(state, expected))):
            return self._refuse(f"a numpy dtype '{stub.descr}' whose pickled state {_SHORT.repr(state)} is not the "
                                f"state numpy writes for it, {expected!r} (a forged dtype state can make numpy read "
                                "file bytes as memory addresses)")
        return dtype

    def _reconstruct(self, cls=None, shape=None, code=None, *rest):
        if not (cls is self._ndarray_global and type(shape) is tuple and shape == (0,) and type(code) is bytes
                and code == b"b" and not rest):
            return self._refuse(f"numpy _reconstruct{_SHORT.repr((cls, shape, code, *rest))} (numpy writes "
                                "_reconstruct(numpy.ndarray, (0,), b'b'))")
        return _Stub("array")

    def _finish_array(self, state):
        if not (isinstance(state, tuple) and (len(state) == 4 or (len(state) == 5 and type(state[0]) is int
                                                                  and state[0] == 1))):
            return self._refuse(f"a numpy array state {_SHORT.repr(state)} (expected (1, shape, dtype, fortran, data))")
        shape, dtype, fortran, raw = state[-4:]
        return self._array(shape, dtype, fortran, raw)

    def _array(self, shape, dtype, fortran, raw, copy: bool = True, native: bool = True):
        shape, dtype = self._shape(shape), self._array_dtype(dtype, allow_object=True)
        for value in (shape, dtype):
            if isinstance(value, Refused):
                return value
        if not isinstance(fortran, bool):
            return self._refuse(f"a numpy array whose order flag is {_SHORT.repr(fortran)}")
        count = math.prod(shape)
        if dtype.hasobject:
            return self._object_array(shape, fortran, raw, count)
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != count * dtype.itemsize:
            found = f"{len(raw)} bytes" if isinstance(raw, (bytes, bytearray)) else type(raw).__name__
            return self._refuse(f"a numpy array of shape {shape} and dtype {dtype}: expected {count * dtype.itemsize} "
                                f"bytes of data, got {found}")
        if dtype.kind == "U" and count and not _valid_code_points(raw, dtype):
            return self._refuse(f"a numpy str array of shape {shape} holding invalid code points")
        copy = copy or isinstance(raw, bytes)  # bytes are read-only; a bytearray can be used in place
        if copy:
            self._afford(len(raw), "a numpy array")
        array = np.frombuffer(raw, dtype).reshape(shape, order="F" if fortran else "C")
        if copy:  # as numpy's own unpickling does: a state's data becomes native byte order, a buffer's stays
            array = array.astype(dtype.newbyteorder("=") if native else dtype, order="K", copy=True)
            self._release(raw)
        return array

    def _object_array(self, shape: tuple, fortran: bool, items, count: int):
        if not isinstance(items, list) or len(items) != count:
            found = f"{len(items)} items" if isinstance(items, list) else type(items).__name__
            return self._refuse(f"a numpy object array of shape {shape}: expected a list of {count} items, got {found}")
        if shape:
            bad = next((v for v in items if not _plain(v)), None)
        else:  # what np.save makes of a dict, list or tuple
            bad = None if _plain(items[0]) or _plain_container(items[0]) else items[0]
        if bad is not None:
            reason = f" ({bad.what})" if isinstance(bad, Refused) else ""
            return self._refuse(f"a numpy object array of shape {shape} holding a {type(bad).__name__}{reason}: "
                                "object arrays may hold only str, bytes, numbers and None (a 0-d one also one dict, "
                                "list or tuple of those and of non-object arrays)")
        self._afford(8 * count, "a numpy object array")
        flat = np.empty(count, dtype=object)
        for i, value in enumerate(items):
            flat[i] = value
        array = flat.reshape(shape)
        return np.asfortranarray(array) if fortran and array.ndim > 1 else array

    def _frombuffer(self, buffer=None, dtype=None, shape=None, order="C", *rest):
        if rest or not (isinstance(order, str) and order in ("C", "F")) or not isinstance(buffer, (bytes, bytearray)):
            return self._refuse(f"numpy _frombuffer with arguments {_SHORT.repr((buffer, dtype, shape, order, *rest))}")
        dtype = self._array_dtype(dtype, allow_object=False)
        if isinstance(dtype, Refused):
            return dtype
        return self._array(shape, dtype, order == "F", buffer, copy=False, native=False)

    def _scalar(self, dtype=None, data=None, *rest):
        dtype = self._array_dtype(dtype, allow_object=False)
        if isinstance(dtype, Refused):
            return dtype
        if rest or not isinstance(data, bytes) or len(data) != dtype.itemsize:
            return self._refuse(f"a numpy {dtype} scalar from {_SHORT.repr(data)} (expected {dtype.itemsize} bytes)")
        if dtype.kind == "U" and not _valid_code_points(data, dtype):
            return self._refuse(f"a numpy {dtype} scalar holding invalid code points")
        return np.frombuffer(data, dtype)[0]

    def _encode(self, text=None, encoding=None, *rest):
        if rest or not isinstance(text, str) or not (isinstance(encoding, str) and encoding in ("latin1", "latin-1")):
            return self._refuse(f"_codecs.encode{_SHORT.repr((text, encoding, *rest))} (pickle writes bytes as "
                                "_codecs.encode(str, 'latin1'))")
        self._afford(len(text), "bytes")
        data = text.encode("latin-1")
        self._release(text)
        return data

    def _bytes(self, *args):
        return b"" if not args else self._refuse(f"bytes{_SHORT.repr(args)} (pickle writes bytes() only, for b'')")

    def _bytearray(self, *args):
        if args and not (len(args) == 1 and isinstance(args[0], bytes)):
            return self._refuse(f"bytearray{_SHORT.repr(args)}: pickle writes bytearray() or bytearray(bytes), and "
                                f"a file of {self.size} bytes can describe at most that many")
        data = args[0] if args else b""
        self._afford(len(data), "a bytearray")
        self._release(data)
        return bytearray(data)

    def _container(self, kind, name: str, args):
        if len(args) > 1 or (args and not isinstance(args[0], (list, tuple))):
            return self._refuse(f"{name}{_SHORT.repr(args)} (expected a list of items)")
        items = args[0] if args else []
        self._afford(256 + 32 * len(items), name)
        value = kind(items)
        if kind is frozenset:
            self._nesting(value)
        return value

    def _set(self, *args):
        return self._container(set, "set", args)

    def _frozenset(self, *args):
        return self._container(frozenset, "frozenset", args)

    def _ordered_dict(self, *args):
        if args:
            return self._refuse(f"collections.OrderedDict{_SHORT.repr(args)} (pickle writes OrderedDict() and "
                                "then its items)")
        from collections import OrderedDict
        return OrderedDict()

    def _complex(self, *args):
        if not (1 <= len(args) <= 2 and all(type(a) in (int, float) for a in args)):
            return self._refuse(f"complex{_SHORT.repr(args)} (expected one or two numbers)")
        return complex(*args)

    # -- opcodes that would reach past the stand-ins ------------------------------------------------------

    def _load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, Refused):
            return
        if not isinstance(inst, _Stub) or inst.done:
            self.stack[-1] = self._refuse(f"to set the state of a {type(inst).__name__} (only a numpy dtype or array "
                                          "under construction takes a pickled state)")
            return
        inst.done = True
        built = self._finish_dtype(inst, state) if inst.kind == "dtype" else self._finish_array(state)
        self.stack[-1] = built
        for key in inst.memo_keys:
            if self.memo.get(key) is inst:
                dict.__setitem__(self.memo, key, built)

    def _load_newobj(self):
        del self.stack[-1]  # the arguments
        self._push_created(self.stack.pop())

    def _load_newobj_ex(self):
        del self.stack[-2:]  # the arguments and keyword arguments
        self._push_created(self.stack.pop())

    def _push_created(self, cls) -> None:
        self.append(cls if isinstance(cls, Refused) else self._refuse(f"to create an object of {type(cls).__name__}"))

    def _load_ext(self):
        raise UnsafePickleError(f"{self.owner}: refusing a copyreg extension code (it names a global by number)")

    def _load_bytearray8(self):
        length, = struct.unpack("<Q", self.read(8))
        if length > self.size:
            raise UnsafePickleError(f"{self.owner}: a bytearray of {length} bytes in {self.size} bytes of data "
                                    "(a forged length?)")
        self._charge(64)
        data = bytearray(length)
        frame = self._unframer.current_frame
        if frame is not None and frame.tell() == len(frame.getbuffer()):
            self._unframer.current_frame = frame = None  # as the unframer does at a frame's end
        if frame is None:  # outside a frame (where large data is): straight into the buffer, no copy
            self._source.readinto(data)
        else:
            self.readinto(data)
        self.append(data)

    def load(self):
        value = super().load()
        return self._checked(value)

    def _checked(self, value):
        """`value`, checked to hold only data (no stand-in leaked out through memo tricks)."""
        todo, seen = [value], set()
        while todo:
            item = todo.pop()
            if isinstance(item, (list, tuple, dict, set, frozenset)):
                if id(item) not in seen:
                    seen.add(id(item))
                    todo.extend((*item.keys(), *item.values()) if isinstance(item, dict) else item)
            elif isinstance(item, Refused):
                if not self.keep_refused:
                    raise item.error()
            elif not isinstance(item, _DATA):
                raise UnsafePickleError(f"{self.owner}: the pickle leaves a {type(item).__name__} in the data "
                                        "(a numpy object without its state, or a reference to consumed data)")
        return value


for _name, _handler in (("BUILD", RestrictedUnpickler._load_build), ("NEWOBJ", RestrictedUnpickler._load_newobj),
                       ("NEWOBJ_EX", RestrictedUnpickler._load_newobj_ex), ("EXT1", RestrictedUnpickler._load_ext),
                       ("EXT2", RestrictedUnpickler._load_ext), ("EXT4", RestrictedUnpickler._load_ext)):
    RestrictedUnpickler.dispatch[_opcode(_name)] = _charged(_handler, _opcode(_name))
RestrictedUnpickler.dispatch[_opcode("BYTEARRAY8")] = RestrictedUnpickler._load_bytearray8

_DATA = (type(None), bool, int, float, complex, str, bytes, bytearray, np.ndarray, np.generic, np.dtype)
_PLAIN = (type(None), bool, int, float, complex, str, bytes)


def _plain(value) -> bool:
    return isinstance(value, _PLAIN) or (isinstance(value, np.generic) and not isinstance(value, np.object_))


def _plain_container(value) -> bool:
    """A dict, list or tuple of plain values and non-object arrays (what a 0-d object array may hold)."""
    def leaf(v):
        return _plain(v) or (isinstance(v, np.ndarray) and not v.dtype.hasobject)
    if isinstance(value, dict):
        return all(_plain(k) and leaf(v) for k, v in value.items())
    return isinstance(value, (list, tuple)) and all(leaf(v) for v in value)


def _valid_code_points(raw, dtype: np.dtype) -> bool:
    order = dtype.str[0] if dtype.str[0] in "<>" else "="
    codes = np.frombuffer(raw, np.dtype(f"{order}u4"))
    return bool(((codes <= 0x10FFFF) & ((codes < 0xD800) | (codes > 0xDFFF))).all())


def _remaining(file) -> int:
    """Bytes from `file`'s position to its end."""
    position = file.tell()
    try:
        return os.fstat(file.fileno()).st_size - position
    except (AttributeError, OSError, ValueError):  # no file descriptor (BytesIO, a zip member)
        end = file.seek(0, os.SEEK_END)
        file.seek(position)
        return end - position


def restricted_load(file, owner, size: int | None = None, keep_refused: bool = False):
    """Unpickle at most `size` bytes (default: the rest) of `file` with `RestrictedUnpickler`; every
    error names `owner`.

    Raises `UnsafePickleError` for what it refuses, `pickle.UnpicklingError` for a stream that is
    not a readable pickle and `MemoryError` naming `owner` when memory runs out.
    """
    size = _remaining(file) if size is None else size
    try:
        return RestrictedUnpickler(file, owner, size, keep_refused).load()
    except UnsafePickleError:
        raise
    except MemoryError:
        raise MemoryError(f"{owner}: out of memory while unpickling {size} bytes") from None
    except Exception as error:  # truncated, corrupt, or not a pickle at all
        kind = "" if isinstance(error, _Truncated) else f"{type(error).__name__}: "
        raise pickle.UnpicklingError(f"{owner}: not a readable pickle ({kind}{str(error)[:200]})") from None


def safe_load(path, *, keep_refused: bool = False) -> object:
    """Unpickle `path`, admitting only numpy arrays/scalars and plain containers (see the module doc).

    Raises `UnsafePickleError` (a `pickle.UnpicklingError`) naming the file and what it refused
    (a global `module.name`, a forged dtype state, an allocation the file cannot describe), and
    `pickle.UnpicklingError` naming the file when it is not a readable pickle. With
    `keep_refused=True`, refused values become `Refused` objects in the result instead, so one
    bad video in a file does not cost the others.

    >>> data = safe_load("tapvid_davis.pkl")  # doctest: +SKIP
    """
    path = Path(path)
    with open(path, "rb") as f:
        return restricted_load(f, path, os.fstat(f.fileno()).st_size, keep_refused)
