"""The dataset interface: an indexable collection of videos that loads one `Sample` at a time."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from pathlib import Path

from pointbench.types import Annotations, Sample


class Dataset(abc.ABC):
    """A list of videos; `load(i)` builds video i's `Sample`, so at most one video's frames are held.

    Loading is per index (not one generator) so that a video that fails to load costs only that
    video: the runner records the error under `names[i]` and goes on with the next.
    """

    #: How queries were sampled from the ground truth: "first" or "strided" (decides which frames are scored).
    query_mode: str = "first"
    #: True where the ground truth has real positions at occluded frames (synthetic sets, Kubric): the
    #: out-of-view and occluded-point breakdowns use them.
    positions_under_occlusion: bool = False

    @property
    @abc.abstractmethod
    def names(self) -> list[str]:
        """Video names, in order (the `video` column of the tables)."""

    @abc.abstractmethod
    def load(self, index: int) -> Sample:
        """Load video `index` with its queries and ground truth."""

    def load_annotations(self, index: int) -> Annotations:
        """Queries and ground truth of video `index`; formats that can skip decoding frames override this."""
        return self.load(index).annotations()

    # Optional: `combine_predictions(predictions: dict[str, Tracks], out_dir: Path) -> None`, called
    # by the runner after every video ran, with the predictions by video name (2D, and 3D where
    # the video has depth), for datasets whose videos belong together (the cameras of a recording).

    def frame_counts(self) -> list[int] | None:
        """Frames of each video where the dataset knows them without decoding (balances shards), else None."""
        return None

    def shard(self, shard: int, num_shards: int) -> Dataset:
        """Shard `shard` of `num_shards`: a deterministic subset of the videos (see `shard_indices`)."""
        return ShardView(self, shard, num_shards)

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[Sample]:
        for index in range(len(self)):
            yield self.load(index)


def shard_indices(n_videos: int, shard: int, num_shards: int, frame_counts: list[int] | None = None) -> list[int]:
    """The indices (ascending) of the videos in shard `shard` of `num_shards`.

    With frame counts, videos go longest first to the shard with the fewest frames so far (ties:
    the lower video index, the lower shard), so shards balance by work; without, video i goes to
    shard i mod num_shards. Either way every video is in exactly one shard, and the split depends
    only on the list of videos.
    """
    if not isinstance(num_shards, int) or isinstance(num_shards, bool) or num_shards < 1:
        raise ValueError(f"dataset.num_shards must be a positive integer; got {num_shards!r}")
    if not isinstance(shard, int) or isinstance(shard, bool) or not 0 <= shard < num_shards:
        raise ValueError(f"dataset.shard must be an integer in [0, {num_shards}); got {shard!r}")
    if frame_counts is None or num_shards == 1:
        return [i for i in range(n_videos) if i % num_shards == shard]
    if len(frame_counts) != n_videos:
        raise ValueError(f"frame_counts has {len(frame_counts)} entries for {n_videos} videos")
    load = [0] * num_shards
    owner = [0] * n_videos
    for i in sorted(range(n_videos), key=lambda i: (-int(frame_counts[i]), i)):
        k = min(range(num_shards), key=lambda k: (load[k], k))
        owner[i] = k
        load[k] += int(frame_counts[i])
    return [i for i in range(n_videos) if owner[i] == shard]


class ShardView(Dataset):
    """Shard `shard` of `num_shards` of a dataset: its videos in their order, loaded by the dataset itself.

    Any other attribute (`scene`, `combine_predictions`, ...) is the dataset's.
    """

    def __init__(self, dataset, shard: int, num_shards: int):
        counts = dataset.frame_counts() if hasattr(dataset, "frame_counts") else None
        self.dataset, self.shard_index, self.num_shards = dataset, shard, num_shards
        self.indices = shard_indices(len(dataset.names), shard, num_shards, counts)
        self.query_mode = getattr(dataset, "query_mode", "first")

    @property
    def names(self) -> list[str]:
        all_names = self.dataset.names
        return [all_names[i] for i in self.indices]

    def load(self, index: int) -> Sample:
        return self.dataset.load(self.indices[index])

    def load_annotations(self, index: int) -> Annotations:
        return self.dataset.load_annotations(self.indices[index])

    def frame_counts(self) -> list[int] | None:
        counts = self.dataset.frame_counts() if hasattr(self.dataset, "frame_counts") else None
        return None if counts is None else [counts[i] for i in self.indices]

    def __getattr__(self, name):
        if name == "dataset":  # not set yet (during unpickling)
            raise AttributeError(name)
        value = getattr(self.dataset, name)
        if name in _INDEXED_METHODS:  # methods taking a video index take the dataset's index
            return lambda index, *args, **kwargs: value(self.indices[index], *args, **kwargs)
        return value


#: Optional dataset methods whose first argument is a video index (see the runner).
_INDEXED_METHODS = ("scene",)


def npz_files(path, dataset: str) -> list[Path]:
    """The `.npz` files a dataset's `path` names: the file itself, or those in a folder (sorted).

    Raises FileNotFoundError naming the dataset and the path when there is none.
    """
    if path is None:
        raise FileNotFoundError(f"{dataset} dataset: dataset.path is not set (a folder of .npz files or one .npz)")
    root = Path(path).expanduser()
    if root.is_dir():
        files = sorted(root.glob("*.npz"))
        if not files:
            raise FileNotFoundError(f"{dataset} dataset: no .npz files in {str(root)!r}")
        return files
    if root.is_file() and root.suffix == ".npz":
        return [root]
    raise FileNotFoundError(f"{dataset} dataset: path {str(root)!r} is neither a folder nor an .npz file")
