"""Hostile and broken data files: every reader refuses them with an error naming the file, the loading
process survives, memory stays bounded, and one bad file or video costs only its own videos.

The hostile loads run in a child process (a regression could crash the interpreter: numpy reading
forged pointers, OpenCV handed an undecodable path). For every crafted file the child reports the
videos listed, the errors raised while loading each, a digest of the frames that did load, and the
peak memory traced while loading it (tracemalloc), plus the growth of its peak RSS over all of them.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

import pointbench
from pointbench.datasets.synthetic import SyntheticDataset
from pointbench.datasets.video import VideoDataset
from pointbench.runner import run

CONF = str(Path(pointbench.__file__).parent / "conf")
LIMIT = 64 << 20  # bytes a crafted file may cost above the baseline
T, H, W = 8, 32, 48


# ----------------------------------------------------------------------------- pickles, opcode by opcode

MARK, TUPLE, TUPLE1, TUPLE2, TUPLE3 = b"(", b"t", b"\x85", b"\x86", b"\x87"
REDUCE, BUILD, STOP, NONE, FALSE, TRUE = b"R", b"b", b".", b"N", b"\x89", b"\x88"
EMPTY_DICT, SETITEM, EMPTY_LIST, APPEND, EMPTY_TUPLE = b"}", b"s", b"]", b"a", b")"


def glob(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def text(value: str) -> bytes:
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def raw(data: bytes) -> bytes:
    return b"B" + struct.pack("<I", len(data)) + data


def num(value: int) -> bytes:
    if -2 ** 31 <= value < 2 ** 31:
        return b"J" + struct.pack("<i", value)
    data = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(data)]) + data


def put(i: int) -> bytes:
    return b"q" + bytes([i])


def get(i: int) -> bytes:
    return b"h" + bytes([i])


def stream(ops: bytes, proto: int = 3) -> bytes:
    return b"\x80" + bytes([proto]) + ops + STOP


def body(value) -> bytes:
    """`value` pickled, without PROTO and STOP, to splice into a stream (its memo use is self-contained)."""
    return pickle.dumps(value, protocol=3)[2:-1]


def dict_of(items) -> bytes:
    return EMPTY_DICT + b"".join(text(key) + ops + SETITEM for key, ops in items)


def list_of(items) -> bytes:
    return EMPTY_LIST + b"".join(ops + APPEND for ops in items)


def dtype_ops(descr: str, order: str = "<", elsize: int = -1, alignment: int = -1, flags: int = 0,
              names: bytes = NONE, fields: bytes = NONE, extra: bytes = b"") -> bytes:
    """numpy.dtype(descr, False, True), then BUILD with a hand-written state tuple."""
    state = MARK + num(3) + text(order) + NONE + names + fields + num(elsize) + num(alignment) + num(flags) + extra
    return glob("numpy", "dtype") + text(descr) + FALSE + TRUE + TUPLE3 + REDUCE + state + TUPLE + BUILD


def array_ops(dtype: bytes, shape: tuple, data: bytes, fortran: bool = False) -> bytes:
    """_reconstruct(ndarray, (0,), b'b'), then BUILD with (1, shape, dtype, fortran, data), as numpy writes."""
    return (glob("numpy._core.multiarray", "_reconstruct") + glob("numpy", "ndarray") + num(0) + TUPLE1 + raw(b"b")
            + TUPLE3 + REDUCE + MARK + num(1) + MARK + b"".join(num(s) for s in shape) + TUPLE + dtype
            + (TRUE if fortran else FALSE) + data + TUPLE + BUILD)


OBJECT = dtype_ops("O8", "|", flags=63)  # the genuine object dtype
FORGED_OBJECT = dtype_ops("O8", "|", flags=0)  # its flags off: numpy would copy file bytes in as pointers
FORGED_ARRAY = array_ops(FORGED_OBJECT, (4,), raw(b"\x41" * 32))


def call(module: str, name: str, *args: bytes) -> bytes:
    return glob(module, name) + MARK + b"".join(args) + TUPLE + REDUCE


def memo_bomb(data: bytes, copy: bytes) -> bytes:
    """`data` (60000 bytes) memoised once, then `copy` (which takes it from the memo) 3000 times."""
    return data + put(0) + EMPTY_LIST + b"".join(copy + APPEND for _ in range(3000))


BYTEARRAY_COPIES = memo_bomb(raw(b"x" * 60000), glob("__builtin__", "bytearray") + get(0) + TUPLE1 + REDUCE)


PICKLES = {
    # dtype-state tricks (names only globals safe_pickle admits)
    "dtype_object_flags_off": (stream(FORGED_ARRAY), r"refusing a numpy dtype 'O8' whose pickled state"),
    "dtype_float_object_flags": (stream(array_ops(dtype_ops("f8", flags=63), (4,), raw(bytes(32)))),
                                 r"dtype 'f8' whose pickled state"),
    "dtype_fields_smuggled": (stream(array_ops(dtype_ops("f8", names=text("a") + TUPLE1,
                                                          fields=EMPTY_DICT + text("a") + OBJECT + num(0)
                                                          + TUPLE2 + SETITEM), (1,), raw(bytes(8)))),
                              r"dtype 'f8' whose pickled state"),
    "dtype_elsize_forged": (stream(array_ops(dtype_ops("S4", "|", elsize=1 << 30, alignment=1), (1,), raw(b"abcd"))),
                            r"dtype 'S4' whose pickled state"),
    "dtype_metadata": (stream(array_ops(dtype_ops("f8", extra=EMPTY_DICT), (1,), raw(bytes(8)))),
                       r"dtype 'f8' whose pickled state"),
    "dtype_void": (stream(array_ops(dtype_ops("V8", "|", 8, 1), (1,), raw(bytes(8)))), r"numpy dtype 'V8'"),
    "dtype_datetime": (stream(array_ops(dtype_ops("M8"), (1,), raw(bytes(8)))), r"numpy dtype 'M8'"),
    "dtype_without_state": (stream(array_ops(glob("numpy", "dtype") + text("f8") + FALSE + TRUE + TUPLE3 + REDUCE,
                                             (1,), raw(bytes(8)))), r"a numpy dtype without its state"),
    "object_scalar": (stream(call("numpy._core.multiarray", "scalar", OBJECT, raw(bytes(8)))),
                      r"scalar of dtype dtype\('O'\)"),
    "build_twice": (stream(array_ops(dtype_ops("f8"), (1,), raw(bytes(8))) + MARK + num(1) + MARK + num(4) + TUPLE
                           + OBJECT + FALSE + raw(b"\x41" * 32) + TUPLE + BUILD),
                    r"refusing to set the state of a ndarray"),
    "build_on_dict": (stream(EMPTY_DICT + EMPTY_DICT + text("x") + num(1) + SETITEM + BUILD),
                      r"refusing to set the state of a dict"),
    # allocation bombs
    "bytearray_1e9": (stream(call("__builtin__", "bytearray", num(10 ** 9)), proto=2), r"bytearray\(1000000000,\)"),
    "ndarray_1e8_objects": (stream(call("numpy", "ndarray", num(10 ** 8) + TUPLE1, OBJECT)),
                            r"numpy\.ndarray\(\(100000000,\)"),
    "reconstruct_huge_shape": (stream(call("numpy._core.multiarray", "_reconstruct", glob("numpy", "ndarray"),
                                           num(10 ** 9) + TUPLE1, raw(b"b"))), r"numpy _reconstruct"),
    "state_shape_1e9": (stream(array_ops(dtype_ops("f8"), (10 ** 9,), raw(bytes(8)))),
                        r"refusing a numpy shape \(1000000000,\)"),
    "state_shape_beyond_file": (stream(array_ops(dtype_ops("u1", "|"), (0, 10 ** 12), raw(b""))), r"numpy shape \(0, "),
    "object_array_short_list": (stream(array_ops(OBJECT, (10 ** 8,), EMPTY_LIST + num(1) + APPEND)),
                                r"numpy shape \(100000000,\)"),
    "frombuffer_huge_shape": (stream(call("numpy._core.numeric", "_frombuffer", b"\x96" + struct.pack("<Q", 8)
                                          + bytes(8), dtype_ops("f8"), num(10 ** 9) + TUPLE1, text("C")), proto=5),
                              r"refusing a numpy shape \(1000000000,\)"),
    "binbytes8_length": (stream(b"\x8e" + struct.pack("<Q", 10 ** 12) + b"abc", proto=4),
                         r"asks for 1000000000000 bytes"),
    "bytearray8_length": (stream(b"\x96" + struct.pack("<Q", 10 ** 9) + b"abc", proto=5),
                          r"a bytearray of 1000000000 bytes"),
    "binunicode8_length": (stream(b"\x8d" + struct.pack("<Q", 10 ** 10) + b"abc", proto=4), r"asks for 10000000000"),
    "frame_length": (stream(b"\x95" + struct.pack("<Q", 10 ** 12) + NONE, proto=4), r"asks for 1000000000000"),
    "long4_length": (stream(b"\x8b" + struct.pack("<i", 2 ** 31 - 1) + b"abc"), r"asks for 2147483647"),
    "memo_bytearray_copies": (stream(BYTEARRAY_COPIES), r"a bytearray of 60000 bytes: more than a file of"),
    "memo_encode_copies": (stream(memo_bomb(text("y" * 60000), glob("_codecs", "encode") + get(0) + text("latin1")
                                            + TUPLE2 + REDUCE)), r"refusing bytes of 60000 bytes: more than"),
    "memo_array_copies": (stream(raw(b"x" * 60000) + put(0) + dtype_ops("u1", "|") + put(1) + EMPTY_LIST + b"".join(
        array_ops(get(1), (60000,), get(0)) + APPEND for _ in range(3000))), r"a numpy array of 60000 bytes: more"),
    "consumed_raw_data": (stream(raw(b"x" * 70000) + put(0) + EMPTY_LIST + (glob("__builtin__", "bytearray") + get(0)
                                                                          + TUPLE1 + REDUCE + APPEND) * 2),
                          r"bytearray\(<raw data already consumed>"),
    "empty_set_spam": (stream(b"\x8f" * 600_000, proto=4), r"more than \d+ bytes of objects"),
    "mark_spam": (stream(MARK * 1_500_000), r"more than \d+ bytes of objects"),
    "memoize_spam": (stream(NONE + b"\x94" * 1_500_000, proto=4), r"more than \d+ bytes of objects"),
    "deep_tuple_key": (stream(EMPTY_DICT + EMPTY_TUPLE + TUPLE1 * 300_000 + num(1) + SETITEM),
                       r"tuples nested more than 100 deep"),
    "deep_frozenset": (stream(MARK * 200 + EMPTY_TUPLE + b"\x91" * 200, proto=4), r"nested more than 100 deep"),
    # object arrays: plain values only, never nested
    "nested_object_array": (stream(array_ops(OBJECT, (2,), EMPTY_LIST + array_ops(OBJECT, (1,), EMPTY_LIST + num(1)
                                                                                     + APPEND) + APPEND + NONE
                                             + APPEND)), r"object array of shape \(2,\) holding a ndarray"),
    "object_array_of_dicts": (stream(array_ops(OBJECT, (1,), EMPTY_LIST + EMPTY_DICT + APPEND)),
                              r"holding a dict"),
    "object_array_refused_item": (stream(array_ops(OBJECT, (1,), EMPTY_LIST + FORGED_ARRAY + APPEND)),
                                  r"refusing a numpy dtype 'O8'"),
    # globals and opcodes outside the stand-ins
    "os_system": (stream(call("posix", "system", text("true"))), r"refusing to load global 'posix\.system'"),
    "newobj_on_admitted": (stream(glob("__builtin__", "set") + EMPTY_TUPLE + b"\x81", proto=2),
                           r"refusing to create an object of method"),
    "extension_code": (stream(b"\x82\x01", proto=2), r"copyreg extension code"),
    "leaked_global": (stream(glob("numpy", "dtype")), r"leaves a method in the data"),
    # not pickles at all
    "truncated": (pickle.dumps({"bear": {"video": np.zeros((4, 8, 8, 3), np.uint8)}})[:200],
                  r"not a readable pickle"),
    "random_bytes": (bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
                     r"not a readable pickle|refusing"),
}


# ----------------------------------------------------------------------------- .npz / .npy, byte by byte

def npy(shape, descr="<f8", data=b"", fortran=False, version=(1, 0), header: bytes | None = None) -> bytes:
    """A .npy stream whose header declares `shape`/`descr` (whatever `data` actually holds)."""
    if header is None:
        header = repr({"descr": descr, "fortran_order": fortran, "shape": tuple(shape)}).encode("latin-1")
        header += b" " * (-(len(header) + 11) % 64) + b"\n"
    size = struct.pack("<H" if version[0] == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes(version) + size + header + data


def npy_of(array: np.ndarray) -> bytes:
    descr = np.lib.format.dtype_to_descr(array.dtype)
    return npy(array.shape, descr, np.ascontiguousarray(array).tobytes())


def write_zip(path: Path, members: dict, method=zipfile.ZIP_STORED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name if name.endswith(".npy") else f"{name}.npy", data)
    return path


def forge_sizes(path: Path, file_size: int, compress_size: int | None = None) -> Path:
    """Rewrite the sizes the archive's directory declares for its (only) member."""
    data = bytearray(path.read_bytes())
    central = data.rindex(b"PK\x01\x02")
    if compress_size is not None:
        data[central + 20:central + 24] = struct.pack("<I", compress_size)
    data[central + 24:central + 28] = struct.pack("<I", file_size)
    path.write_bytes(bytes(data))
    return path


# ----------------------------------------------------------------------------- good content

@dataclass
class Video:
    frames: np.ndarray
    xy: np.ndarray  # (N, T, 2) pixels
    visible: np.ndarray


def _videos() -> list[Video]:
    dataset = SyntheticDataset(num_videos=3, num_frames=T, height=H, width=W, num_tracks=16, num_layers=2)
    return [Video(s.frames, s.gt.xy, s.gt.visible) for s in map(dataset.load, range(3))]


VIDEOS = _videos()


def tapvid_example(video: Video, jpeg: bool = False) -> dict:
    frames = video.frames
    if jpeg:
        frames = [cv2.imencode(".jpg", f[..., ::-1])[1].tobytes() for f in frames]
    return {"video": frames, "points": (video.xy / [W, H]).astype(np.float32), "occluded": ~video.visible}


def kubric_arrays(video: Video) -> dict:
    return {"video": video.frames, "target_points": video.xy, "occluded": ~video.visible}


def tapvid3d_arrays(n_frames: int = T) -> dict:
    rng = np.random.default_rng(1)
    xyz = np.stack([rng.uniform(-1, 1, (n_frames, 5)), rng.uniform(-1, 1, (n_frames, 5)),
                    rng.uniform(2, 4, (n_frames, 5))], -1).astype(np.float32)
    jpegs = [cv2.imencode(".jpg", f)[1].tobytes() for f in VIDEOS[0].frames[:n_frames]]
    return {"images_jpeg_bytes": np.array(jpegs), "tracks_XYZ": xyz, "visibility": np.ones((n_frames, 5), bool),
            "queries_xyt": np.zeros((5, 3), np.float32), "fx_fy_cx_cy": np.array([40.0, 40, 24, 16]),
            "extrinsics_w2c": np.tile(np.eye(4, dtype=np.float32), (n_frames, 1, 1))}


def multiview_arrays() -> dict:
    frames = np.stack([VIDEOS[0].frames, VIDEOS[1].frames])
    k = np.array([[40.0, 0, 24], [0, 40, 16], [0, 0, 1]])
    mask = np.zeros((2, T, H, W), bool)
    mask[:, :, 8:20, 10:30] = True
    return {"rgbs": frames, "depths": np.full((2, T, H, W), 2.0, np.float32), "intrs": np.stack([k, k]),
            "extrs": np.tile(np.eye(4)[:3], (2, 1, 1)), "camera_ids": np.array([3, 7]), "sam2_masks/box": mask}


def savez(path: Path, arrays: dict, compressed: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        (np.savez_compressed if compressed else np.savez)(f, **arrays)
    return path


def dump(path: Path, ops_or_value) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ops_or_value if isinstance(ops_or_value, bytes) else pickle.dumps(ops_or_value, protocol=3))
    return path


# ----------------------------------------------------------------------------- crafted cases

@dataclass
class Case:
    """A crafted input for one reader: `expect` must match an error naming the file; `good` videos load."""

    reader: str
    build: object  # (folder) -> path of the file or folder to read
    expect: str
    good: int = 0
    options: dict = field(default_factory=dict)
    named: str | None = None  # the name the error must contain (default: the file's name)


def _pickle_case(data: bytes, expect: str) -> Case:
    return Case("pickle", lambda d: dump(d / "crafted.pkl", data), expect)


def _davis_mixed(bad_example_ops: bytes):
    def build(folder: Path) -> Path:
        good = [body(tapvid_example(v)) for v in VIDEOS]
        return dump(folder / "tapvid_davis.pkl", stream(dict_of([("bear", good[0]), ("camel", bad_example_ops),
                                                                  ("dog", good[2])])))
    return build


def _bad_example(video_ops: bytes) -> bytes:
    example = tapvid_example(VIDEOS[1])
    return dict_of([("video", video_ops), ("points", body(example["points"])), ("occluded", body(example["occluded"]))])


def _kinetics_folder(folder: Path, broken: bytes | None) -> Path:
    root = folder / "kinetics"
    dump(root / "0000_of_0010.pkl", [tapvid_example(v, jpeg=True) for v in VIDEOS[:2]])
    if broken is not None:
        dump(root / "0001_of_0010.pkl", broken)
    dump(root / "0002_of_0010.pkl", [tapvid_example(VIDEOS[2], jpeg=True)])
    return root


def _robotap_folder(folder: Path, broken: bytes) -> Path:
    dump(folder / "r" / "a.pkl", {"bear": tapvid_example(VIDEOS[0])})
    return dump(folder / "r" / "b.pkl", broken).parent


def _kubric(change) -> object:
    def build(folder: Path) -> Path:
        arrays = kubric_arrays(VIDEOS[0])
        change(arrays)
        return savez(folder / "bad.npz", arrays)
    return build


def _kubric_member(key: str, data: bytes, method=zipfile.ZIP_STORED):
    """A Kubric file whose member `key` is replaced by raw .npy bytes."""
    def build(folder: Path) -> Path:
        members = {k: npy_of(v) for k, v in kubric_arrays(VIDEOS[0]).items()}
        members[key] = data
        return write_zip(folder / "bad.npz", members, method)
    return build


def _single_member(data: bytes, method=zipfile.ZIP_STORED, file_size=None, compress_size=None):
    def build(folder: Path) -> Path:
        path = write_zip(folder / "bad.npz", {"video": data}, method)
        return forge_sizes(path, file_size, compress_size) if file_size is not None else path
    return build


def _tapvid3d(change, **options):
    def build(folder: Path) -> Path:
        arrays = tapvid3d_arrays()
        change(arrays)
        return savez(folder / "bad.npz", arrays)
    return build


def _multiview(change):
    def build(folder: Path) -> Path:
        arrays = multiview_arrays()
        change(arrays)
        return savez(folder / "bad.npz", arrays)
    return build


def _multiview_900_bytes(folder: Path) -> Path:
    """A 900-byte recording whose rgbs header declares 0.3 GB (and holds a few bytes)."""
    members = {"rgbs": npy((1, 10, 1000, 10000, 3), "|u1", bytes(64)), "depths": npy((1, 10, 1000, 10000), "<f4"),
               "intrs": npy_of(np.eye(3)[None]), "extrs": npy_of(np.eye(4)[None, :3]),
               "sam2_masks": npy((1, 10, 1000, 10000), "|b1")}
    path = write_zip(folder / "bad.npz", members)
    assert path.stat().st_size < 1500
    return path


def _object_member(value: bytes, shape: tuple = (T,)) -> bytes:
    """An object-dtype .npy member: a header and then a pickle (as np.save writes it)."""
    return npy(shape, "|O", value)


def _folder_with(names: dict[bytes, np.ndarray | bytes], folder: Path, as_bytes: bytes) -> Path:
    root = os.path.join(os.fsencode(folder), as_bytes)
    os.makedirs(root, exist_ok=True)
    for name, content in names.items():
        data = content if isinstance(content, bytes) else cv2.imencode(".png", content[..., ::-1])[1].tobytes()
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    return Path(os.fsdecode(root))


def _frame_folder_undecodable(folder: Path) -> Path:
    return _folder_with({f"frame_{t}.png".encode(): f for t, f in enumerate(VIDEOS[0].frames)}, folder, b"shot\xff\xfe")


def write_video(path: Path, frames: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (frames.shape[2], frames.shape[1]))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame[..., ::-1])
    writer.release()
    return path


def _video_undecodable(folder: Path) -> Path:
    ascii_path = write_video(folder / "clip.avi", VIDEOS[1].frames)
    target = os.path.join(os.fsencode(folder), b"clip\xff.avi")
    os.rename(ascii_path, target)
    return Path(os.fsdecode(target))


def _glob_with_undecodable(folder: Path) -> Path:
    write_video(folder / "clips" / "a.avi", VIDEOS[0].frames)
    _video_undecodable(folder / "clips")
    return folder / "clips" / "*.avi"


def _points_file(name: str, content: bytes):
    def build(folder: Path) -> Path:
        return dump(folder / name, content)
    return build


def _mask_undecodable(folder: Path) -> Path:
    mask = np.zeros((H, W), np.uint8)
    mask[10:20, 10:30] = 255
    root = _folder_with({b"mask\xff.png": cv2.imencode(".png", mask)[1].tobytes()}, folder, b"masks")
    return Path(os.fsdecode(os.path.join(os.fsencode(root), b"mask\xff.png")))


def _shot(folder: Path) -> str:
    return str(_folder_with({f"f{t}.png".encode(): f for t, f in enumerate(VIDEOS[0].frames)}, folder, b"shot"))


def _kubric_member_3d(key: str, data: bytes):
    def build(folder: Path) -> Path:
        members = {k: npy_of(v) for k, v in tapvid3d_arrays().items()}
        members[key] = data
        return write_zip(folder / "bad.npz", members)
    return build


def _replace_member(path: Path, key: str, data: bytes) -> Path:
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members[f"{key}.npy"] = data
    path.unlink()
    return write_zip(path, members)


def _zip_with_raw_name(path: Path) -> Path:
    """A zip whose member name is flagged UTF-8 but is not."""
    write_zip(path, {"videoX": npy_of(np.zeros(3))})
    data = bytearray(path.read_bytes())
    for signature, flags, name in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        at = data.index(signature)
        data[at + flags:at + flags + 2] = struct.pack("<H", 0x800)
        data[at + name + 5] = 0xFF  # the X of "videoX.npy"
    path.write_bytes(bytes(data))
    return path


CASES: dict[str, Case] = {f"pickle/{name}": _pickle_case(data, expect) for name, (data, expect) in PICKLES.items()}
CASES.update({
    # TAP-Vid datasets: a bad video costs only itself, a bad file only its own videos
    "davis/forged_dtype_video": Case("davis", _davis_mixed(_bad_example(FORGED_ARRAY)),
                                     r"video 'camel': 'video': refusing a numpy dtype 'O8'", good=2),
    "davis/bytearray_bomb_video": Case("davis", _davis_mixed(_bad_example(call("builtins", "bytearray",
                                                                              num(10 ** 9)))),
                                       r"video 'camel': 'video': refusing bytearray", good=2),
    "davis/ndarray_bomb_points": Case("davis", _davis_mixed(dict_of([
        ("video", body(VIDEOS[1].frames)), ("points", call("numpy", "ndarray", num(10 ** 8) + TUPLE1, OBJECT)),
        ("occluded", body(~VIDEOS[1].visible))])), r"video 'camel': 'points': refusing numpy\.ndarray", good=2),
    "davis/frame_list_item_refused": Case("davis", _davis_mixed(_bad_example(list_of([raw(b"\xff\xd8"),
                                                                                       FORGED_ARRAY]))),
                                          r"video 'camel': 'video': refusing", good=2),
    "davis/zero_frames": Case("davis", _davis_mixed(dict_of([
        ("video", body(np.zeros((0, H, W, 3), np.uint8))), ("points", body(np.zeros((3, 0, 2), np.float32))),
        ("occluded", body(np.zeros((3, 0), bool)))])), r"video 'camel': 'points' must be at least one frame", good=2),
    "davis/zero_by_zero_frames": Case("davis", _davis_mixed(dict_of([
        ("video", body(np.zeros((T, 0, 0, 3), np.uint8))), ("points", body(np.zeros((3, T, 2), np.float32))),
        ("occluded", body(np.ones((3, T), bool)))])), r"video 'camel': 'video' must be frames of at least 1x1", good=2),
    "davis/truncated_file": Case("davis", lambda d: dump(d / "tapvid_davis.pkl", pickle.dumps(
        {"bear": tapvid_example(VIDEOS[0])})[:5000]), r"tapvid_davis\.pkl: not a readable pickle"),
    "davis/whole_file_refused": Case("davis", lambda d: dump(d / "tapvid_davis.pkl", stream(FORGED_ARRAY)),
                                     r"tapvid_davis\.pkl: refusing a numpy dtype"),
    "kinetics/truncated_shard": Case("kinetics", lambda d: _kinetics_folder(d, pickle.dumps(
        [tapvid_example(VIDEOS[0], jpeg=True)])[:3000]), r"0001_of_0010\.pkl: not a readable pickle", good=3,
        named="0001_of_0010.pkl"),
    "kinetics/garbage_shard": Case("kinetics", lambda d: _kinetics_folder(d, b"\x00" * 100),
                                   r"0001_of_0010\.pkl: not a readable pickle", good=3, named="0001_of_0010.pkl"),
    "kinetics/bomb_shard": Case("kinetics", lambda d: _kinetics_folder(d, stream(BYTEARRAY_COPIES)),
                                r"0001_of_0010\.pkl: refusing a bytearray of 60000 bytes", good=3,
        named="0001_of_0010.pkl"),
    "kinetics/no_frames": Case("kinetics", lambda d: _kinetics_folder(d, pickle.dumps(
        [{"video": [], "points": np.zeros((2, 0, 2)), "occluded": np.zeros((2, 0), bool)}])),
        r"0001_of_0010\.pkl: video '0001_of_0010/0': 'points' must be at least one frame", good=3,
        named="0001_of_0010.pkl"),
    "robotap/deep_tuple_shard": Case("robotap", lambda d: _robotap_folder(d, PICKLES["deep_tuple_key"][0]),
                                     r"b\.pkl: tuples nested more than 100 deep", good=1, named="b.pkl"),
    # .npz readers
    "kubric/not_a_zip": Case("kubric", lambda d: dump(d / "bad.npz", pickle.dumps({"video": 1})),
                             r"bad\.npz: not an \.npz file \(a zip archive of \.npy arrays\); it starts with"),
    "kubric/npy_named_npz": Case("kubric", lambda d: dump(d / "bad.npz", npy_of(np.zeros(3))),
                                 r"bad\.npz: a single \.npy array, not an \.npz archive"),
    "kubric/truncated_zip": Case("kubric", lambda d: dump(d / "bad.npz", savez(d / "full.npz", kubric_arrays(
        VIDEOS[0])).read_bytes()[:3000]), r"bad\.npz: cannot read it as an \.npz file.*BadZipFile"),
    "kubric/header_declares_1e10": Case("kubric", _kubric_member("video", npy((10 ** 4, 256, 256, 3), "|u1",
                                                                              bytes(1024))),
                                        r"'video': the \.npy header declares a uint8 array of shape \(10000, 256, "
                                        r"256, 3\), 1966080000 bytes, but 1024 bytes of data follow it"),
    "kubric/stored_size_forged": Case("kubric", _single_member(npy((4,), "<f8", bytes(32)), file_size=300 << 20,
                                                               compress_size=300 << 20),
                                      r"'video': the archive declares 314572800 bytes .* past the end"),
    "kubric/deflate_size_forged": Case("kubric", _single_member(npy((4,), "<f8", bytes(32)), zipfile.ZIP_DEFLATED,
                                                                file_size=300 << 20),
                                       r"'video': the archive declares 314572800 bytes compressed to \d+ in a \d+-byte "
                                       r"file \(deflate expands at most 1032:1"),
    "kubric/header_length_2e9": Case("kubric", _kubric_member("video", b"\x93NUMPY\x02\x00" + struct.pack(
        "<I", 2 ** 31) + b"{"), r"'video': a \.npy header of 2147483648 bytes"),
    "kubric/header_cut": Case("kubric", _kubric_member("video", b"\x93NUMPY\x01\x00\xff\x00{'descr'"),
                              r"'video': truncated \.npy header"),
    "kubric/header_not_a_dict": Case("kubric", _kubric_member("video", npy((), header=b"__import__('os')\n")),
                                     r"'video': not a valid \.npy header"),
    "kubric/negative_dim": Case("kubric", _kubric_member("video", npy((-1, 3), "|u1")), r"declares shape \(-1, 3\)"),
    "kubric/huge_dim_empty": Case("kubric", _kubric_member("video", npy((0, 10 ** 15, 2), "|u1")),
                                  r"declares shape \(0, 1000000000000000, 2\)"),
    "kubric/bad_version": Case("kubric", _kubric_member("video", b"\x93NUMPY\x09\x00\x10\x00" + b" " * 16),
                               r"unsupported \.npy format version 9\.0"),
    "kubric/structured_dtype": Case("kubric", _kubric_member("video", npy((1,), [("a", "<f8")], bytes(8))),
                                    r"'video': unsupported dtype"),
    "kubric/object_member": Case("kubric", _kubric_member("target_points", _object_member(pickle.dumps(
        np.array([1, 2], object), protocol=3))), r"'target_points' is a pickled object array \(pickles are not read"),
    "kubric/bz2_member": Case("kubric", lambda d: write_zip(d / "bad.npz", {"video": npy_of(VIDEOS[0].frames)},
                                                            zipfile.ZIP_BZIP2), r"compressed with zip method 12"),
    "kubric/undecodable_member_name": Case("kubric", lambda d: _zip_with_raw_name(d / "bad.npz"),
                                           r"bad\.npz: cannot read it as an \.npz file"),
    "kubric/no_frames": Case("kubric", _kubric(lambda a: a.update(video=np.zeros((0, H, W, 3), np.uint8),
                                                                   target_points=np.zeros((2, 0, 2)),
                                                                   occluded=np.zeros((2, 0), bool))),
                             r"'video' must be at least one frame of at least 1x1 pixels"),
    "kubric/zero_by_zero": Case("kubric", _kubric(lambda a: a.update(video=np.zeros((T, 0, 0, 3), np.uint8))),
                                r"'video' must be at least one frame of at least 1x1 pixels"),
    "kubric/singular_intrinsics": Case("kubric", _kubric(lambda a: a.update(intrinsics=np.diag([40.0, 40, 0]))),
                                       r"'intrinsics' must be finite intrinsics"),
    "kubric/nan_extrinsics": Case("kubric", _kubric(lambda a: a.update(extrinsics=np.full((3, 4), np.nan))),
                                  r"'extrinsics' must be finite rigid transforms"),
    "tapvid3d/nan_extrinsics": Case("tapvid3d", _tapvid3d(lambda a: a["extrinsics_w2c"].__setitem__((2, 0, 1),
                                                                                                     np.nan)),
                                    r"'extrinsics_w2c' must be finite rigid transforms .* at index \(2,\)"),
    "tapvid3d/singular_extrinsics": Case("tapvid3d", _tapvid3d(lambda a: a["extrinsics_w2c"].__setitem__(
        (0, 1, 1), 0.0)), r"'extrinsics_w2c' must be finite rigid transforms"),
    "tapvid3d/no_frames": Case("tapvid3d", lambda d: savez(d / "bad.npz", tapvid3d_arrays(0)),
                               r"'tracks_XYZ' must be at least one frame"),
    "tapvid3d/object_frames_refused": Case("tapvid3d", _tapvid3d(lambda a: a.update(
        images_jpeg_bytes=np.array(list(a["images_jpeg_bytes"]), dtype=object))),
        r"'images_jpeg_bytes' is a pickled object array; load it with dataset\.allow_pickle=true"),
    "tapvid3d/forged_dtype_with_allow_pickle": Case("tapvid3d", _kubric_member_3d(
        "images_jpeg_bytes", _object_member(stream(FORGED_ARRAY))), r"'images_jpeg_bytes': refusing a numpy dtype 'O8'",
        options={"allow_pickle": True}),
    "tapvid3d/nested_objects_with_allow_pickle": Case("tapvid3d", _kubric_member_3d("images_jpeg_bytes", _object_member(
        stream(PICKLES["nested_object_array"][0][2:-1]))), r"'images_jpeg_bytes': refusing a numpy object array",
        options={"allow_pickle": True}),
    "multiview/900_bytes_declaring_300MB": Case("multiview", _multiview_900_bytes,
                                                r"'rgbs': the \.npy header declares a uint8 array of shape "
                                                r"\(1, 10, 1000, 10000, 3\), 300000000 bytes, but 64 bytes"),
    "multiview/invalid_code_points": Case("multiview", _multiview(lambda a: a.update(camera_ids=np.frombuffer(
        np.array([0xFFFFFFFF, 65], "<u4").tobytes(), "<U1"))), r"'camera_ids': a str array holding invalid code"),
    "multiview/singular_intrinsics": Case("multiview", _multiview(lambda a: a["intrs"].__setitem__((1, 2, 2), 0.0)),
                                          r"'intrs' must be finite intrinsics .* at index \(1, 0\)"),
    "multiview/pickled_masks_bomb": Case("multiview", _multiview(lambda a: a.update(
        {"sam2_masks/box": np.zeros(1)})), r"'sam2_masks/box' must be a bool or integer mask"),
    "multiview/pickled_masks_with_allow_pickle": Case("multiview", lambda d: _replace_member(
        savez(d / "bad.npz", {**{k: v for k, v in multiview_arrays().items() if k != "sam2_masks/box"},
                              "sam2_masks": np.array({"box": np.zeros(1, bool)}, dtype=object)}),
        "sam2_masks", _object_member(stream(call("builtins", "bytearray", num(10 ** 9))), ())),
        r"'sam2_masks': refusing bytearray\(1000000000,\)", options={"allow_pickle": True}),
    "npz/mixed_folder": Case("kubric", lambda d: (savez(d / "k" / "a_good.npz", kubric_arrays(VIDEOS[0])),
                                                  dump(d / "k" / "b_bad.npz", b"PK\x03\x04broken"))[0].parent,
                             r"b_bad\.npz: cannot read it", good=1, named="b_bad.npz"),
    "multiview/mixed_folder": Case("multiview", lambda d: (savez(d / "m" / "a_good.npz", multiview_arrays()),
                                                           dump(d / "m" / "b_bad.npz", b"\x00" * 900))[0].parent,
                                   r"b_bad\.npz: not an \.npz file", good=2, named="b_bad.npz"),
    # plain videos: paths that are not UTF-8, CSVs, point files
    "video/frame_folder_not_utf8": Case("video", _frame_folder_undecodable, "", good=1),
    "video/video_file_not_utf8": Case("video", _video_undecodable, "", good=1),
    "video/glob_with_a_name_not_utf8": Case("video", _glob_with_undecodable, "", good=2),
    "video/mask_not_utf8": Case("mask", _mask_undecodable, "", good=1),
    "video/empty_image": Case("video", lambda d: _folder_with({b"f0.png": VIDEOS[0].frames[0], b"f1.png": b""},
                                                             d, b"shot"),
                              r"cannot read image '.*f1\.png'", named="f1.png"),
    "video/zero_byte_video": Case("video", lambda d: dump(d / "empty.mp4", b""), r"OpenCV cannot open video"),
    "points/csv_with_bom": Case("points", _points_file("p.csv", b"\xef\xbb\xbft,x,y\n0,10,12\n"), "", good=1),
    "points/csv_not_utf8": Case("points", _points_file("p.csv", b"t,x,y\n0,10,\xff\xfe\n"), r"p\.csv: not UTF-8 text"),
    "points/csv_with_nul": Case("points", _points_file("p.csv", b"t,x,y\n0,1\x00,2\n"),
                                r"p\.csv: line 2: (expected numbers|not a readable CSV)"),
    "points/npy_header_declares_1e9": Case("points", _points_file("p.npy", npy((10 ** 9, 3), "<f8", bytes(24))),
                                           r"p\.npy: the \.npy header declares a float64 array of shape"),
    "points/npy_pickle": Case("points", _points_file("p.npy", _object_member(stream(FORGED_ARRAY))),
                              r"p\.npy is a pickled object array"),
})


# ----------------------------------------------------------------------------- the child process

CHILD = r'''
import gc, hashlib, json, os, sys, tracemalloc
import numpy as np
from pointbench.datasets.bounded_io import NpzArrays, read_npy
from pointbench.datasets.kubric import KubricDataset
from pointbench.datasets.multiview import MultiViewNpzDataset
from pointbench.datasets.safe_pickle import safe_load
from pointbench.datasets.tapvid import RoboTap, TapVidDavis, TapVidKinetics
from pointbench.datasets.tapvid3d import TapVid3DDataset
from pointbench.datasets.video import VideoDataset

DATASETS = {"davis": TapVidDavis, "kinetics": TapVidKinetics, "robotap": RoboTap, "kubric": KubricDataset,
            "tapvid3d": TapVid3DDataset, "multiview": MultiViewNpzDataset, "video": VideoDataset}

def message(error):
    return f"{type(error).__name__}: {error}"

def dataset(reader, path, options, shot):
    if reader == "pickle":
        return None, lambda: [("file", safe_load(path))]
    if reader == "points":
        return VideoDataset(shot, queries={"source": "points", "points_file": path}), None
    if reader == "mask":
        return VideoDataset(shot, queries={"source": "mask", "mask_file": path}), None
    return DATASETS[reader](path, **options), None

def load(case):
    path = os.fsdecode(bytes.fromhex(case["path"]))
    out = {"id": case["id"], "names": [], "errors": [], "digests": {}, "listing_error": None}
    try:
        ds, direct = dataset(case["reader"], path, case["options"], case["shot"])
        if direct is not None:
            direct()
            return out
        out["names"] = ds.names
    except Exception as error:
        out["listing_error"] = out["errors"].append(message(error)) or message(error)
        return out
    for i, name in enumerate(out["names"]):
        for method in ("load", "load_annotations"):
            try:
                value = getattr(ds, method)(i)
                if method == "load":
                    frames = np.ascontiguousarray(value.frames)
                    out["digests"][name] = [hashlib.sha256(frames.tobytes()).hexdigest(), list(frames.shape),
                                            value.queries.tolist()]
            except Exception as error:
                out["errors"].append(f"{name}: {message(error)}")
    return out

def vm(field):
    """This process's VmRSS / VmHWM (its peak since the last reset), bytes; from /proc (Linux)."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024

def reset_peak():  # VmHWM back to the current RSS (the peak of ru_maxrss would include the parent's)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

cases = json.load(open(sys.argv[1]))
for case in cases[:2]:  # warm up: lazy imports and codec state are not the crafted files' cost
    load(case)
gc.collect()
tracemalloc.start()
base_rss, highest = vm("VmRSS"), 0
for case in cases:
    gc.collect()
    tracemalloc.reset_peak()
    reset_peak()
    before_rss, (before, _) = vm("VmRSS"), tracemalloc.get_traced_memory()
    out = load(case)
    out["peak"] = tracemalloc.get_traced_memory()[1] - before
    out["rss"] = vm("VmHWM") - before_rss
    if case["id"] == "control":
        print(json.dumps({"id": None, "rss_total": highest - base_rss}), flush=True)
    highest = max(highest, vm("VmHWM"))
    print(json.dumps(out), flush=True)
'''


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("measuring a child's peak RSS needs Linux /proc (VmHWM, clear_refs)")
    """Build every crafted file, load them all in one child process, and return its report by case id."""
    root = tmp_path_factory.mktemp("hostile")
    shot = _shot(root / "shots")
    manifest = []
    for i, (case_id, case) in enumerate(CASES.items()):
        path = case.build(root / f"case{i:03d}")
        manifest.append({"id": case_id, "reader": case.reader, "path": os.fsencode(path).hex(),
                         "options": case.options, "shot": shot})
    # Last, a control the meters must see: a genuine 96 MiB array (so a bounded reading means something).
    control = dump(root / "control.pkl", np.ones(12 << 20))
    manifest.append({"id": "control", "reader": "pickle", "path": os.fsencode(control).hex(), "options": {},
                     "shot": shot})
    (root / "manifest.json").write_text(json.dumps(manifest))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(root / "manifest.json")], capture_output=True,
                          text=True, timeout=600)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    results = {line["id"]: line for line in lines}
    paths = {m["id"]: os.fsdecode(bytes.fromhex(m["path"])) for m in manifest}
    return proc, results, paths, shot


def test_the_loading_process_survives_every_crafted_file(report):
    proc, results, _, _ = report
    assert proc.returncode == 0, f"exit status {proc.returncode}; last case reported: {list(results)[-1:]}\n" \
                                 f"{proc.stderr[-3000:]}"
    assert set(CASES) <= set(results)


def test_peak_rss_stays_bounded_and_the_meters_see_a_real_load(report):
    _, results, _, _ = report
    assert results[None]["rss_total"] < LIMIT, f"peak RSS grew by {results[None]['rss_total'] >> 20} MiB"
    control = results["control"]
    assert not control["errors"] and control["peak"] > 96 << 20 and control["rss"] > 96 << 20, control


@pytest.mark.parametrize("case_id", CASES)
def test_a_crafted_file_is_refused_naming_the_file_and_memory_stays_bounded(report, case_id):
    _, results, paths, _ = report
    case, result = CASES[case_id], results[case_id]
    assert result["peak"] < LIMIT and result["rss"] < LIMIT, (result["peak"] >> 20, result["rss"] >> 20)
    assert result["listing_error"] is None or case.reader == "pickle" or case.reader in ("points", "mask"), \
        f"listing the videos failed: {result['listing_error']}"
    loaded = len(result["digests"])
    assert loaded == case.good, (result["errors"], result["names"])
    if case.good and not case.expect:
        assert not result["errors"], result["errors"]
        return
    assert result["errors"], f"no error; names {result['names']}"
    matching = [e for e in result["errors"] if re.search(case.expect, e)]
    assert matching, f"{case.expect!r} not in {result['errors']}"
    named = case.named or Path(paths[case_id]).name
    assert all(named in e for e in matching), (named, matching)
    assert all("allow_pickle" not in e for e in result["errors"]) or "allow_pickle" in case.expect


def _sha(frames: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(frames).tobytes()).hexdigest()


def test_paths_that_are_not_utf8_load_the_same_frames(report, tmp_path):
    _, results, paths, shot = report
    folder = results["video/frame_folder_not_utf8"]["digests"]
    assert list(folder.values())[0][0] == _sha(VIDEOS[0].frames)  # PNG: exact
    ascii_copy = write_video(tmp_path / "clip.avi", VIDEOS[1].frames)
    expected = VideoDataset(str(ascii_copy)).load(0).frames  # the same decoder on an ASCII name
    assert list(results["video/video_file_not_utf8"]["digests"].values())[0][0] == _sha(expected)
    assert sorted(results["video/glob_with_a_name_not_utf8"]["names"]) == ["a", "clip\udcff"]
    mask = results["video/mask_not_utf8"]["digests"]
    queries = np.array(list(mask.values())[0][2])
    assert len(queries) and (queries[:, 1] > 10).all() and (queries[:, 1] < 30).all()


def test_a_csv_with_a_byte_order_mark_is_read(tmp_path):
    shot = _shot(tmp_path)
    path = dump(tmp_path / "p.csv", b"\xef\xbb\xbft,x,y\r\n0,10,12\r\n0,4.5,6\r\n")
    sample = VideoDataset(shot, queries={"source": "points", "points_file": str(path)}).load(0)
    np.testing.assert_array_equal(sample.queries, [[0, 10, 12], [0, 4.5, 6]])


# ----------------------------------------------------------------------------- runs over mixed files

RUN_CHILD = r'''
import json, sys
from hydra import compose, initialize_config_dir
from pointbench.runner import run
conf, jobs = sys.argv[1], json.loads(sys.argv[2])
for overrides, out in jobs:
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    run(cfg, out)
'''

SCORES = ["n_frames", "n_queries", "AJ", "delta_avg", "OA", "jaccard_1", "pts_within_16", "status"]


def _overrides(dataset: str, path: Path) -> list[str]:
    return [f"dataset={dataset}", f"dataset.path={path}", "tracker=static", "output.rerun=false"]


def _rows(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "metrics_per_video.csv").set_index("video")


@pytest.fixture(scope="module")
def mixed_runs(tmp_path_factory):
    """Runs (in a child process) over files that mix good and bad videos, and the same good videos alone."""
    root = tmp_path_factory.mktemp("mixed")
    good = [tapvid_example(v) for v in VIDEOS]
    jobs = {
        "tapvid_davis": (dump(root / "davis" / "tapvid_davis.pkl", stream(dict_of([
            ("bear", body(good[0])), ("camel", _bad_example(FORGED_ARRAY)), ("dog", body(good[2]))]))),
            dump(root / "davis_clean" / "tapvid_davis.pkl", {"bear": good[0], "dog": good[2]})),
        "tapvid_kinetics": (_kinetics_folder(root / "kin", pickle.dumps([tapvid_example(VIDEOS[0], True)])[:3000]),
                            _kinetics_folder(root / "kin_clean", None)),
        "kubric": ((savez(root / "kub" / "a.npz", kubric_arrays(VIDEOS[0])), dump(root / "kub" / "b.npz", b"PK"),
                    savez(root / "kub" / "c.npz", kubric_arrays(VIDEOS[2])))[0].parent,
                   (savez(root / "kub_clean" / "a.npz", kubric_arrays(VIDEOS[0])),
                    savez(root / "kub_clean" / "c.npz", kubric_arrays(VIDEOS[2])))[0].parent),
        "multiview_npz": ((savez(root / "mv" / "a.npz", multiview_arrays()),
                           _multiview_900_bytes(root / "mv"))[0].parent,
                          savez(root / "mv_clean" / "a.npz", multiview_arrays()).parent),
    }
    child = [[_overrides(name, mixed), str(root / f"{name}_run")] for name, (mixed, _) in jobs.items()]
    proc = subprocess.run([sys.executable, "-c", RUN_CHILD, CONF, json.dumps(child)], capture_output=True, text=True,
                          timeout=600)
    clean = {}
    for name, (_, path) in jobs.items():
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            cfg = compose(config_name="config", overrides=_overrides(name, path))
        clean[name] = run(cfg, root / f"{name}_clean_run").per_video.set_index("video")
    return proc, {name: root / f"{name}_run" for name in jobs}, clean


@pytest.mark.parametrize("dataset, bad, named", [
    ("tapvid_davis", "camel", "tapvid_davis.pkl: video 'camel': 'video': refusing a numpy dtype 'O8'"),
    ("tapvid_kinetics", "0001_of_0010.pkl (unreadable)", "0001_of_0010.pkl: not a readable pickle"),
    ("kubric", "b", "b.npz: not an .npz file"),
    ("multiview_npz", "bad.npz (unreadable)", "bad.npz: 'rgbs': the .npy header declares"),
])
def test_a_run_over_good_and_bad_videos_scores_the_good_ones_exactly(mixed_runs, dataset, bad, named):
    proc, outs, clean = mixed_runs
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _rows(outs[dataset])
    assert rows.loc[bad, "status"] == "error" and named in rows.loc[bad, "error"], rows.loc[bad, "error"]
    good = rows.drop(index=bad)
    expected = clean[dataset]
    assert list(good.index) == list(expected.index) and len(good) >= 1
    columns = [c for c in SCORES if c in good and good[c].notna().any()]
    pd.testing.assert_frame_equal(good[columns], expected[columns], check_dtype=False)
    assert (good["status"] != "error").all()
