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

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[Sample]:
        for index in range(len(self)):
            yield self.load(index)


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
