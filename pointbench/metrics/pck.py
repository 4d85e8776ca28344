"""PCK (percentage of correct keypoints) for keypoint propagation, as JHMDB is scored.

Pure functions on arrays. The protocol is that of the video label-propagation papers (TimeCycle,
UVC, CRW; TAP-Net reports the same numbers on JHMDB): the joints of the first frame are propagated
through the clip and, at every later frame, a joint is correct when

    ‖pred − gt‖ ≤ α · 0.6 · ‖(max x − min x, max y − min y)‖

the bracket being the bounding box of that frame's ground-truth joints (the person's size). The
distance is measured in the pixels of the frames as loaded (JHMDB: native 320×240; PCK is relative
to the box, but a resize that changes the aspect ratio would change it). Predicted visibility plays no
part: a position is always scored. What is scored, per query: every frame after its query frame
where its ground-truth position is annotated (finite), in or out of the image (the published code
scores joints that leave the frame); tapnet also scores frame 0 (`score_query_frame=True`), where
every tracker that returns its query is trivially right, CRW does not, and neither do we by default.
The box of a frame is built from the finite ground-truth positions of the queried joints at that
frame (as tapnet: joints not queried are not in the box); a frame whose box has zero size is not
scored.

Aggregation, an explicit rule as for TAP-Vid: a video's `pck_α` pools every scored (joint, frame)
of that video and `pck_n` counts them. Over a dataset, `pool_pck` pools every scored pair of every
video (the per-video values weighted by `pck_n`; exact under any split into shards). The published
code pools each joint over all videos and then averages over joints (`combine_pck` on the rows of
`pck_joint_rows`); the two agree whenever every video scores the same joints (on JHMDB: every video
whose 15 joints are all inside the image at frame 0). The plain mean over videos weighs short clips
more and is neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["PCK_ALPHAS", "PCK_BOX_FACTOR", "PCK_COLUMNS", "pck_column", "pck_box_size", "pck_distances",
           "pck", "pck_curve", "pck_per_joint", "pck_scores", "pck_joint_rows", "combine_pck", "pool_pck"]

#: The α of the per-video columns (the curve the papers print; PCK@0.1 and PCK@0.2 are the headline).
PCK_ALPHAS = (0.1, 0.2, 0.3, 0.4, 0.5)
#: The person's size is this fraction of the diagonal of its ground-truth joint box.
PCK_BOX_FACTOR = 0.6


def pck_column(alpha: float) -> str:
    """The column of PCK@α: `pck_0.1`, `pck_0.2`, …"""
    return f"pck_{alpha:g}"


#: Per-video columns of `pck_scores`: PCK@α for α in `PCK_ALPHAS`, and `pck_n` the (joint, frame) pairs scored.
PCK_COLUMNS = tuple(pck_column(a) for a in PCK_ALPHAS) + ("pck_n",)


def _check_xy(name: str, xy, shape=None) -> np.ndarray:
    xy = np.asarray(xy, np.float64)
    if xy.ndim != 3 or xy.shape[-1] != 2 or (shape is not None and xy.shape != shape):
        expected = "(N, T, 2)" if shape is None else str(shape)
        raise ValueError(f"pck: '{name}' must have shape {expected}; got {xy.shape}")
    return xy


def pck_box_size(gt_xy: np.ndarray) -> np.ndarray:
    """The person's size at each frame, float64 `(T,)`: 0.6 × the diagonal of the box around the finite
    positions of `gt_xy` `(N, T, 2)` at that frame (NaN where none is finite, 0 where the box is a point).

    >>> gt = np.array([[[0.0, 0.0]], [[30.0, 40.0]]])   # two joints, one frame: a 30 × 40 box
    >>> float(pck_box_size(gt)[0])
    30.0
    """
    gt_xy = _check_xy("gt_xy", gt_xy)
    finite = np.isfinite(gt_xy).all(axis=-1)  # (N, T)
    with np.errstate(invalid="ignore"):
        lo = np.where(finite[..., None], gt_xy, np.inf).min(axis=0)  # (T, 2)
        hi = np.where(finite[..., None], gt_xy, -np.inf).max(axis=0)
        size = PCK_BOX_FACTOR * np.hypot(*(hi - lo).T)
    size[~finite.any(axis=0)] = np.nan
    return size


def pck_distances(gt_xy: np.ndarray, pred_xy: np.ndarray, query_frames: np.ndarray,
                  score_query_frame: bool = False) -> np.ndarray:
    """Distances normalised by the person's size, float64 `(N, T)`; NaN where not scored.

    Scored: frames after each query's frame (and the query frame itself with `score_query_frame`)
    where the ground truth is finite and the frame's box has a positive size. A prediction that is
    not finite there counts as infinitely far (scored, never correct).
    """
    gt_xy = _check_xy("gt_xy", gt_xy)
    pred_xy = _check_xy("pred_xy", pred_xy, gt_xy.shape)
    n, t = gt_xy.shape[:2]
    q = np.asarray(query_frames)
    if q.shape != (n,):
        raise ValueError(f"pck: 'query_frames' must have shape ({n},); got {q.shape}")
    frames = np.arange(t)[None, :]
    after = frames >= q[:, None] if score_query_frame else frames > q[:, None]
    box = pck_box_size(gt_xy)
    scored = after & np.isfinite(gt_xy).all(axis=-1) & (np.nan_to_num(box, nan=0.0) > 0)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        distance = np.hypot(*(pred_xy - gt_xy).transpose(2, 0, 1)) / box[None, :]
    distance[scored & ~np.isfinite(distance)] = np.inf
    distance[~scored] = np.nan
    return distance


def pck(normalised: np.ndarray, alpha: float) -> float:
    """The fraction of scored entries (not NaN) of `normalised` that are ≤ `alpha` (NaN if none is scored).

    >>> pck(np.array([[0.05, 0.1, 0.3, np.nan]]), 0.1)   # ≤ is correct, as in the published code
    0.6666666666666666
    """
    d = np.asarray(normalised, np.float64)
    scored = ~np.isnan(d)
    return float((d[scored] <= alpha).mean()) if scored.any() else float("nan")


def pck_curve(normalised: np.ndarray, alphas: Iterable[float] = np.linspace(0.0, 0.5, 51)) -> np.ndarray:
    """PCK at each α of `alphas`: float64 `(A,)`, non-decreasing in α."""
    return np.array([pck(normalised, a) for a in alphas], np.float64)


def pck_per_joint(normalised: np.ndarray, keypoint_ids: np.ndarray, n_joints: int,
                  alphas: Sequence[float] = PCK_ALPHAS) -> dict[str, np.ndarray]:
    """Counts per joint: `n` int `(K,)` scored pairs and `correct` int `(K, A)` of them ≤ each α.

    Row i of `normalised` `(N, T)` belongs to joint `keypoint_ids[i]` (several rows may share a joint).
    """
    d = np.asarray(normalised, np.float64)
    ids = np.asarray(keypoint_ids)
    if ids.shape != (d.shape[0],):
        raise ValueError(f"pck: 'keypoint_ids' must have shape ({d.shape[0]},); got {ids.shape}")
    scored = ~np.isnan(d)
    n = np.bincount(ids, weights=scored.sum(axis=1), minlength=n_joints).astype(np.int64)
    correct = np.stack([np.bincount(ids, weights=(scored & (d <= a)).sum(axis=1), minlength=n_joints)
                        for a in alphas], axis=1).astype(np.int64)
    return {"n": n, "correct": correct}


def pck_scores(video, pred, alphas: Sequence[float] = PCK_ALPHAS, score_query_frame: bool = False) -> dict:
    """The PCK columns (`PCK_COLUMNS`) of one video: `video` an `Annotations` with keypoint ground
    truth (`gt` row i is query i's joint), `pred` its `Tracks`. Empty without ground truth.

    Values are fractions in [0, 1] pooled over the video's scored (joint, frame) pairs; `pck_n` counts
    them (NaN columns and 0 when nothing is scored).
    """
    if video.gt is None:
        return {}
    d = pck_distances(video.gt.xy, pred.xy, video.queries[:, 0], score_query_frame)
    out = {pck_column(a): pck(d, a) for a in alphas}
    out["pck_n"] = int((~np.isnan(d)).sum())
    return out


def pck_joint_rows(video, pred, skeleton, alphas: Sequence[float] = PCK_ALPHAS,
                   score_query_frame: bool = False) -> list[dict]:
    """One row per joint of `skeleton` (a `pointbench.types.Skeleton`): `video` (name), `joint`, `n` and
    `correct_<α>` counts — the per-joint table that `combine_pck` turns into the published number."""
    if video.gt is None:
        return []
    d = pck_distances(video.gt.xy, pred.xy, video.queries[:, 0], score_query_frame)
    counts = pck_per_joint(d, skeleton.keypoint_ids, len(skeleton.names), alphas)
    rows = []
    for k, name in enumerate(skeleton.names):
        row = {"video": video.name, "joint": name, "n": int(counts["n"][k])}
        row.update({f"correct_{a:g}": int(c) for a, c in zip(alphas, counts["correct"][k])})
        rows.append(row)
    return rows


def combine_pck(rows: Iterable[dict], alphas: Sequence[float] = PCK_ALPHAS) -> dict:
    """The published dataset PCK from `pck_joint_rows` rows of many videos: each joint pooled over
    every scored frame of every video, then the mean over joints that were scored at all.

    Returns `{pck_<α>: fraction}` plus `pck_per_joint` `{joint: {α: fraction}}` and `pck_n`.
    """
    n: dict[str, int] = {}
    correct: dict[str, np.ndarray] = {}
    for row in rows:
        joint = row["joint"]
        n[joint] = n.get(joint, 0) + int(row["n"])
        correct[joint] = correct.get(joint, np.zeros(len(alphas), np.int64)) + [row[f"correct_{a:g}"] for a in alphas]
    scored = [j for j in n if n[j] > 0]
    per_joint = {j: {a: correct[j][i] / n[j] for i, a in enumerate(alphas)} for j in scored}
    out = {pck_column(a): float(np.mean([per_joint[j][a] for j in scored])) if scored else float("nan")
           for a in alphas}
    out["pck_n"] = int(sum(n.values()))
    out["pck_per_joint"] = per_joint
    return out


def pool_pck(rows, alphas: Sequence[float] = PCK_ALPHAS) -> dict:
    """The PCK columns of many videos pooled: `pck_<α>` = Σ pck_n · pck_<α> / Σ pck_n over `rows` (a
    table or dicts with the `PCK_COLUMNS`; rows without a count are skipped), `pck_n` = Σ pck_n.

    >>> pool_pck([{"pck_0.1": 1.0, "pck_n": 30}, {"pck_0.1": 0.5, "pck_n": 10}], alphas=(0.1,))
    {'pck_0.1': 0.875, 'pck_n': 40}
    """
    records = rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows)
    counted = [r for r in records if r.get("pck_n") is not None and np.isfinite(r["pck_n"]) and r["pck_n"] > 0]
    total = int(sum(int(r["pck_n"]) for r in counted))
    out = {pck_column(a): (float(sum(r["pck_n"] * r[pck_column(a)] for r in counted) / total) if total else float("nan"))
           for a in alphas}
    out["pck_n"] = total
    return out
