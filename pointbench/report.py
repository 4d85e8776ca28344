"""Report: figures and one self-contained HTML page from finished runs.

    pointbench-report multirun/2026-11-24/00-10-12 [more dirs...] [--out DIR] [--resamples N]

Reads the runs' `metrics_per_video.csv` and re-scores their `predictions/<video>.npz` with the
TAP-Vid functions to draw what the leaderboard's means hide: accuracy at every threshold, against
speed, per video, against the distance from the query frame, and just after occlusions. Writes
`report.html` (figures inlined, no external resource) and the figures as `report_*.png`. Needs
matplotlib (`pip install 'pointbench[report]'`); the end-of-sweep callback calls it when installed.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import logging
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pointbench.io import atomic_path, load_predictions, write_csv
from pointbench.leaderboard import (
    ALPHA, DEFAULT_RESAMPLES, GT_FREE_CAVEAT, default_out_dir, finished_runs_or_exit, leaderboard, pairwise, positive_int,
)
from pointbench.report_breakdowns import breakdown_figures, robustness_figure, robustness_html, robustness_table
from pointbench.runs import RunDirError, merge_runs
from pointbench.metrics.tables import STATUS_OK
from pointbench.metrics.tapvid import THRESHOLDS, eval_mask, tapvid_metrics

__all__ = ["CURVE_DELTAS", "REAPPEAR_FRAMES", "FIGURES", "Analysis", "accuracy_at", "reappearance_mask",
           "never_occluded_mask", "analyse_video", "analyse", "write_report", "main"]

log = logging.getLogger("pointbench")

# δ at 256×256 from 0.5 to 32 px, four per octave: every k·d with d a TAP-Vid threshold, so that one
# scoring call per k gives up to five points of the curve (and 1, 2, 4, 8, 16 come from k = 1).
_SCALES = tuple(2.0 ** (j / 4) for j in range(-4, 5))
CURVE_DELTAS = tuple(sorted({k * d for k in _SCALES for d in THRESHOLDS if 0.5 <= k * d <= 32}))
REAPPEAR_FRAMES = 3  # the first k visible frames after an occlusion count as "just re-appeared"
FIGURES = {"thresholds": "report_thresholds.png", "speed": "report_speed.png", "per_video": "report_per_video.png",
           "distance": "report_query_distance.png", "reappearance": "report_reappearance.png"}
_GROUPS = ("never occluded", "just re-appeared")


# --- Re-scoring one video (numpy; the metric itself is `tapvid_metrics`) ------------------------------------


def _plan(deltas) -> dict[float, list[tuple[int, int]]]:
    """Group thresholds δ by scale k with δ = k·d, d a TAP-Vid threshold: {k: [(index of δ, d)]}."""
    plan: dict[float, list[tuple[int, int]]] = {}
    for i, delta in enumerate(deltas):
        if not delta > 0:
            raise ValueError(f"thresholds must be positive; got {delta!r}")
        d = delta if delta in THRESHOLDS else max([t for t in THRESHOLDS if t <= delta] or [THRESHOLDS[0]])
        plan.setdefault(delta / d, []).append((i, int(d)))
    return plan


def accuracy_at(gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size,
                deltas=CURVE_DELTAS) -> tuple[np.ndarray, np.ndarray]:
    """`pts_within_δ` and `jaccard_δ` of one video (pooled as `tapvid_metrics` pools) at any δ > 0.

    A distance below k·d at 256×256 is a distance below d once both tracks are shrunk by k, so each
    δ = k·d is read off `tapvid_metrics` on tracks divided by k (at δ in 1, 2, 4, 8, 16: unchanged
    tracks, hence exactly the `pts_within_δ`/`jaccard_δ` columns). Returns two arrays like `deltas`.
    """
    within, jaccard = np.full(len(deltas), np.nan), np.full(len(deltas), np.nan)
    gt_xy, pred_xy = np.asarray(gt_xy), np.asarray(pred_xy)
    for k, items in _plan(deltas).items():
        gt_k, pred_k = (gt_xy, pred_xy) if k == 1 else (gt_xy / k, pred_xy.astype(np.float64) / k)
        metrics = tapvid_metrics(gt_k, gt_visible, pred_k, pred_visible, query_frames, query_mode, image_size)
        for i, d in items:
            within[i], jaccard[i] = metrics[f"pts_within_{d}"], metrics[f"jaccard_{d}"]
    return within, jaccard


def reappearance_mask(gt_visible, k: int = REAPPEAR_FRAMES) -> np.ndarray:
    """Bool `(N, T)`: the first `k` visible frames after each occlusion of a point seen before it.

    A point's first appearance is not a re-appearance; each occlusion starts a new count.
    """
    gt_visible = np.asarray(gt_visible, bool)
    mask = np.zeros_like(gt_visible)
    seen = np.zeros(gt_visible.shape[0], bool)
    since = np.full(gt_visible.shape[0], k)  # visible frames since the last re-appearance (k: none pending)
    for t in range(gt_visible.shape[1]):
        visible = gt_visible[:, t]
        if t:
            since[visible & ~gt_visible[:, t - 1] & seen] = 0
        mask[:, t] = visible & (since < k)
        since[mask[:, t]] += 1
        seen |= visible
    return mask


def never_occluded_mask(gt_visible, query_frames, query_mode) -> np.ndarray:
    """Bool `(N, T)`: the scored frames of the points visible at every scored frame (and their query)."""
    gt_visible = np.asarray(gt_visible, bool)
    scored = eval_mask(query_frames, gt_visible.shape[1], query_mode)
    always = (gt_visible | ~scored).all(axis=1)
    always &= gt_visible[np.arange(len(gt_visible)), np.asarray(query_frames).astype(np.int64)]
    return gt_visible & scored & always[:, None]


def _delta_avg_on(mask, gt_xy, gt_visible, pred_xy, pred_visible, query_frames, query_mode, image_size):
    """δ_avg over the ground-truth-visible cells in `mask` only, and how many cells that is."""
    metrics = tapvid_metrics(gt_xy, np.asarray(gt_visible, bool) & mask, pred_xy, pred_visible, query_frames,
                             query_mode, image_size)
    return metrics["delta_avg"], metrics["n_scored_points"]


def analyse_video(path: Path, deltas=CURVE_DELTAS) -> dict:
    """Re-score one predictions file: threshold curves, δ_avg by distance from the query frame
    (bins [1, 2), [2, 4), [4, 8), … frames, keyed by their first frame) and δ_avg of points just
    re-appeared and never occluded (each as `(delta_avg, cells)`)."""
    tracks, queries, extra = load_predictions(path)
    missing = [key for key in ("gt_xy", "gt_visible", "image_size", "query_mode") if key not in extra]
    if missing:
        raise ValueError(f"{path}: no {', '.join(missing)} to re-score with (written by an older pointbench?)")
    query_frames = queries[:, 0].astype(np.int64)
    args = (extra["gt_xy"], extra["gt_visible"], tracks.xy, tracks.visible, query_frames, str(extra["query_mode"]),
            tuple(int(v) for v in extra["image_size"]))
    within, jaccard = accuracy_at(*args, deltas=deltas)
    n_frames = tracks.xy.shape[1]
    distance = np.abs(np.arange(n_frames)[None, :] - query_frames[:, None])
    by_distance = {}
    lo = 1
    while lo < n_frames:
        by_distance[lo] = _delta_avg_on((distance >= lo) & (distance < 2 * lo), *args)
        lo *= 2
    gt_visible = np.asarray(extra["gt_visible"], bool)
    groups = {_GROUPS[0]: _delta_avg_on(never_occluded_mask(gt_visible, query_frames, args[5]), *args),
              _GROUPS[1]: _delta_avg_on(reappearance_mask(gt_visible), *args)}
    return {"within": within, "jaccard": jaccard, "by_distance": by_distance, "groups": groups, "n_frames": n_frames}


# --- Re-scoring every run -----------------------------------------------------------------------------------


@dataclass
class Analysis:
    """What the figures show, as tables (means over the scored videos of each tracker × dataset)."""

    curves: pd.DataFrame  # tracker, dataset, delta, pts_within, jaccard
    by_distance: pd.DataFrame  # tracker, dataset, frames_from, frames_to, delta_avg, videos, points
    reappearance: pd.DataFrame  # tracker, dataset, group, delta_avg, videos, points
    notes: list[str] = field(default_factory=list)


def _mean_over_videos(results: list[tuple[float, int]]) -> tuple[float, int, int]:
    """(mean δ_avg over videos with cells, videos, cells) of per-video `(delta_avg, cells)`."""
    kept = [(value, cells) for value, cells in results if cells > 0]
    return (float(np.mean([v for v, _ in kept])) if kept else np.nan), len(kept), sum(c for _, c in kept)


def _predictions_file(row) -> Path:
    return Path(row.run_dir) / "predictions" / f"{row.video_key}.npz"


def _add_series(results: list[dict], group: pd.DataFrame, deltas, curves, by_distance, reappearance, notes) -> None:
    """Append one tracker × dataset's means over its videos (`results`, rows of `group`) to the tables."""
    key = {"tracker": group["tracker"].iloc[0], "dataset": group["dataset"].iloc[0]}
    at_thresholds = [list(deltas).index(d) for d in THRESHOLDS if d in deltas]
    columns = [f"pts_within_{d}" for d in THRESHOLDS if d in deltas]
    for result, (_, row) in zip(results, group.iterrows()):
        if not np.allclose(result["within"][at_thresholds], row[columns].to_numpy(float), rtol=0, atol=1e-9):
            notes.append(f"{key['tracker']} on {key['dataset']}, video {row['video']}: its predictions file does "
                         f"not reproduce metrics_per_video.csv (overwritten by another run?)")
    within, jaccard = np.mean([r["within"] for r in results], 0), np.mean([r["jaccard"] for r in results], 0)
    curves += [{**key, "delta": d, "pts_within": w, "jaccard": j} for d, w, j in zip(deltas, within, jaccard)]
    farthest = max(r["n_frames"] for r in results) - 1
    for lo in sorted({lo for r in results for lo in r["by_distance"]}):
        value, videos, points = _mean_over_videos([r["by_distance"][lo] for r in results if lo in r["by_distance"]])
        by_distance.append({**key, "frames_from": lo, "frames_to": min(2 * lo - 1, farthest), "delta_avg": value,
                            "videos": videos, "points": points})
    for name in _GROUPS:
        value, videos, points = _mean_over_videos([r["groups"][name] for r in results])
        reappearance.append({**key, "group": name, "delta_avg": value, "videos": videos, "points": points})


def analyse(per_video: pd.DataFrame, deltas=CURVE_DELTAS) -> Analysis:
    """Re-score the scored videos of `per_video` (with its `run_dir` column) from their prediction files.

    A tracker × dataset with any prediction file missing or unreadable is left out of these tables
    (its curve would no longer be the mean over the leaderboard's videos) and named in `notes`.
    """
    curves, by_distance, reappearance, notes = [], [], [], []
    scored = per_video[per_video["status"] == STATUS_OK]
    for (tracker, dataset), group in scored.groupby(["tracker", "dataset"], sort=False):
        try:
            results = [analyse_video(_predictions_file(row), deltas) for row in group.itertuples()]
        except FileNotFoundError as error:
            notes.append(f"{tracker} on {dataset}: left out of the figures drawn from predictions: no file "
                         f"{error.filename} (runs need output.save_predictions=true)")
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
            notes.append(f"{tracker} on {dataset}: left out of the figures drawn from predictions: "
                         f"{type(error).__name__}: {error}")
        else:
            _add_series(results, group, deltas, curves, by_distance, reappearance, notes)
            continue
        log.warning(notes[-1])
    return Analysis(
        pd.DataFrame(curves, columns=["tracker", "dataset", "delta", "pts_within", "jaccard"]),
        pd.DataFrame(by_distance, columns=["tracker", "dataset", "frames_from", "frames_to", "delta_avg", "videos",
                                           "points"]),
        pd.DataFrame(reappearance, columns=["tracker", "dataset", "group", "delta_avg", "videos", "points"]),
        notes)


# --- Figures (matplotlib, Agg, no pyplot state) -------------------------------------------------------------


def _matplotlib():
    """The Figure class, with Agg as its canvas; ImportError saying how to install when missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("the report needs matplotlib: pip install 'pointbench[report]'") from error

    def figure(width=6.0, height=4.0):
        fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        return fig

    return figure


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None}, pil_kwargs={"optimize": True})
    return buffer.getvalue()


class _Style:
    """One colour per tracker, one line style per dataset, and labels that name the dataset only if needed."""

    def __init__(self, table: pd.DataFrame):
        from matplotlib import colormaps

        self.order = list(zip(table["tracker"], table["dataset"]))
        self.trackers = list(dict.fromkeys(table["tracker"]))
        self.datasets = list(dict.fromkeys(table["dataset"]))
        palette = colormaps["tab10"].colors
        self.colours = {t: palette[i % len(palette)] for i, t in enumerate(self.trackers)}
        self.lines = {d: ("-", "--", ":", "-.")[i % 4] for i, d in enumerate(self.datasets)}
        self.markers = {d: "osD^v<>"[i % 7] for i, d in enumerate(self.datasets)}

    def ranked(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` with its series in leaderboard order (the order of legends and bars)."""
        rank = {key: i for i, key in enumerate(self.order)}
        keys = [rank.get(key, len(rank)) for key in zip(frame["tracker"], frame["dataset"])]
        return frame.iloc[np.argsort(keys, kind="stable")]

    def label(self, tracker, dataset) -> str:
        return str(tracker) if len(self.datasets) == 1 else f"{tracker} · {dataset}"

    def line(self, tracker, dataset) -> dict:
        return {"color": self.colours[tracker], "linestyle": self.lines[dataset], "label": self.label(tracker, dataset)}


def _series(style: _Style, frame: pd.DataFrame):
    return style.ranked(frame).groupby(["tracker", "dataset"], sort=False)


def _threshold_figure(figure, style: _Style, curves: pd.DataFrame):
    fig = figure(8.0, 3.6)
    axes = fig.subplots(1, 2, sharex=True)
    for ax, column, title in zip(axes, ("pts_within", "jaccard"), ("points within δ (%)", "Jaccard at δ (%)")):
        for (tracker, dataset), series in _series(style, curves):
            ax.plot(series["delta"], 100 * series[column], **style.line(tracker, dataset))
            marked = series[series["delta"].isin(THRESHOLDS)]
            ax.plot(marked["delta"], 100 * marked[column], "o", ms=4, color=style.colours[tracker])
        ax.set_xscale("log", base=2)
        ax.set_xticks([0.5, 1, 2, 4, 8, 16, 32], ["0.5", "1", "2", "4", "8", "16", "32"])
        ax.set_xlabel("δ (px at 256×256)")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return fig


def _headline(table: pd.DataFrame) -> tuple[str, str]:
    """The score the figures plot: AJ where any row has one, else the ground-truth-free cycle score."""
    if table["AJ"].notna().any() or "cycle_within_4" not in table or table["cycle_within_4"].isna().all():
        return "AJ", "AJ (%)"
    return "cycle_within_4", "cycle returns within 4 px (%), no ground truth"


def _speed_figure(figure, style: _Style, table: pd.DataFrame):
    fig = figure()
    ax = fig.subplots()
    metric, label = _headline(table)
    shown = table[np.isfinite(table["fps"]) & (table["fps"] > 0) & np.isfinite(table[metric])]
    for row in shown.itertuples():
        value = 100 * getattr(row, metric)
        low, high = getattr(row, f"{metric}_ci_low", np.nan), getattr(row, f"{metric}_ci_high", np.nan)
        error = [[value - 100 * low], [100 * high - value]] if np.isfinite(low) else None
        ax.errorbar(row.fps, value, yerr=error, fmt=style.markers[row.dataset], color=style.colours[row.tracker],
                    capsize=4, ms=7)
        ax.annotate(style.label(row.tracker, row.dataset), (row.fps, value), textcoords="offset points",
                    xytext=(7, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("frames per second (tracking only)")
    ax.set_ylabel(f"{label} with 95% CI")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    if len(shown):
        low, high = shown["fps"].min(), shown["fps"].max()
        ax.set_xlim(low / 3, high * 3)
    return fig


def _per_video_figure(figure, style: _Style, per_video: pd.DataFrame, table: pd.DataFrame):
    from matplotlib import colormaps

    metric, label = _headline(table)
    scored = per_video[per_video["status"] == STATUS_OK] if metric == "AJ" else per_video[per_video[metric].notna()]
    columns = list(zip(table["tracker"], table["dataset"]))
    rows = list(dict.fromkeys(zip(per_video["dataset"], per_video["video"])))
    values = np.full((len(rows), len(columns)), np.nan)
    row_index = {r: i for i, r in enumerate(rows)}
    column_index = {c: j for j, c in enumerate(columns)}
    for r in scored.itertuples():
        if (r.tracker, r.dataset) in column_index:
            values[row_index[(r.dataset, r.video)], column_index[(r.tracker, r.dataset)]] = 100 * getattr(r, metric)
    fig = figure(max(4.0, min(8.0, 2.5 + 0.9 * len(columns))), float(np.clip(1.3 + 0.22 * len(rows), 4, 14)))
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(values), aspect="auto", vmin=0, vmax=100, interpolation="nearest",
                      cmap=colormaps["viridis"].with_extremes(bad="0.85"))
    ax.set_xticks(range(len(columns)), [style.label(t, d) for t, d in columns], rotation=30, ha="right", fontsize=8)
    names = [str(v) if len(style.datasets) == 1 else f"{d}/{v}" for d, v in rows]
    ax.set_yticks(range(len(rows)), names, fontsize=7 if len(rows) > 30 else 8)
    if values.size <= 200:
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7,
                        color="black" if value > 60 else "white")
    fig.colorbar(image, ax=ax, label=label, shrink=0.8)
    ax.set_title(f"{label.split(' (')[0]} per video (grey: not scored)", fontsize=10)
    return fig


def _distance_figure(figure, style: _Style, by_distance: pd.DataFrame):
    fig = figure()
    ax = fig.subplots()
    bins = by_distance.groupby("frames_from")["frames_to"].max()  # datasets may differ in length
    position = {lo: i for i, lo in enumerate(bins.index)}
    for (tracker, dataset), series in _series(style, by_distance):
        ax.plot(series["frames_from"].map(position), 100 * series["delta_avg"], marker="o",
                **style.line(tracker, dataset))
    ax.set_xticks(range(len(bins)), [str(lo) if lo == hi else f"{lo}–{hi}" for lo, hi in bins.items()])
    ax.set_xlabel("|t − t_query| (frames)")
    ax.set_ylabel("δ_avg (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _reappearance_figure(figure, style: _Style, reappearance: pd.DataFrame):
    fig = figure()
    ax = fig.subplots()
    series = list(_series(style, reappearance))
    width = 0.8 / max(len(series), 1)
    for i, ((tracker, dataset), rows) in enumerate(series):
        values = rows.set_index("group").reindex(list(_GROUPS))["delta_avg"]
        x = np.arange(len(_GROUPS)) + (i - (len(series) - 1) / 2) * width
        ax.bar(x, 100 * values.to_numpy(), width, color=style.colours[tracker], label=style.label(tracker, dataset),
               hatch=None if style.lines[dataset] == "-" else "//")
    ax.set_xticks(range(len(_GROUPS)), [_GROUPS[0], f"first {REAPPEAR_FRAMES} frames after an occlusion"])
    ax.set_ylabel("δ_avg (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return fig


# --- HTML ---------------------------------------------------------------------------------------------------

_CSS = """body{font-family:system-ui,sans-serif;max-width:70em;margin:1.5em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}th,td{padding:.25em .6em;border-bottom:1px solid #ddd}
th{text-align:left;background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.ns td{color:#999}figure{margin:1em 0 2em}figcaption{font-size:.9em;color:#444;max-width:50em}
img{max-width:100%}.note{color:#a40}code{background:#f4f4f4;padding:0 .2em}"""


def _pct(value) -> str:
    return f"{100 * value:.1f}" if pd.notna(value) else "–"


def _interval(low, high) -> str:
    return f"[{_pct(low)}, {_pct(high)}]" if pd.notna(low) else "–"


def _html_table(header: list[str], rows: list[tuple[str, list[tuple[str, bool]]]]) -> str:
    """rows: (class of the row, [(text, numeric)]); texts are escaped here."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        f"<tr class=\"{cls}\">" + "".join(f"<td{' class=num' if num else ''}>{html.escape(text)}</td>"
                                         for text, num in cells) + "</tr>" for cls, cells in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _leaderboard_html(table: pd.DataFrame) -> str:
    header = ["tracker", "dataset", "videos", "AJ", "95% CI", "δ_avg", "95% CI", "OA", "95% CI", "<1 px", "<4 px",
              "fps", "licence"]
    rows = [("", [(str(r.tracker), False), (str(r.dataset), False), (f"{r.videos_scored}/{r.videos}", True),
                  (_pct(r.AJ), True), (_interval(r.AJ_ci_low, r.AJ_ci_high), True),
                  (_pct(r.delta_avg), True), (_interval(r.delta_avg_ci_low, r.delta_avg_ci_high), True),
                  (_pct(r.OA), True), (_interval(r.OA_ci_low, r.OA_ci_high), True),
                  (_pct(r.pts_within_1), True), (_pct(r.pts_within_4), True),
                  (f"{r.fps:.1f}" if pd.notna(r.fps) else "–", True),
                  (str(r.license) if pd.notna(getattr(r, "license", None)) else "–", False)])
            for r in table.itertuples()]
    return _html_table(header, rows)


def _gt_free_html(table: pd.DataFrame) -> str:
    """The ground-truth-free scores with their intervals, for rows that have them ('' when none)."""
    rows_with = table[table["cycle_median_px"].notna() | table["survival"].notna()]
    if not len(rows_with):
        return ""
    px = lambda v: f"{v:.2f}" if pd.notna(v) else "–"  # noqa: E731
    rows = [("", [(str(r.tracker), False), (str(r.dataset), False), (str(r.videos_ran), True),
                  (px(r.cycle_median_px), True),
                  (f"[{px(r.cycle_median_px_ci_low)}, {px(r.cycle_median_px_ci_high)}]"
                   if pd.notna(r.cycle_median_px_ci_low) else "–", True),
                  (_pct(r.cycle_within_4), True), (_interval(r.cycle_within_4_ci_low, r.cycle_within_4_ci_high), True),
                  (_pct(r.survival), True), (_interval(r.survival_ci_low, r.survival_ci_high), True)])
            for r in rows_with.itertuples()]
    header = ["tracker", "dataset", "videos", "cycle median px", "95% CI", "cycle <4 px", "95% CI", "survival",
              "95% CI"]
    return (f"<h3>Ground-truth-free scores</h3>{_html_table(header, rows)}"
            f"<p class=note>{html.escape(GT_FREE_CAVEAT)}</p>")


def _pairwise_html(pairs: pd.DataFrame) -> str:
    header = ["dataset", "A", "B", "metric", "videos", "A − B", "95% CI", "p", "verdict"]
    rows = []
    for r in pairs.itertuples():
        if r.significant:
            verdict = f"{r.variant_a if r.mean_diff > 0 else r.variant_b} better"
        else:
            verdict = "n.s."
        p = "–" if pd.isna(r.p_value) else "<0.001" if r.p_value < 0.001 else f"{r.p_value:.3f}"
        diff = "–" if pd.isna(r.mean_diff) else f"{100 * r.mean_diff:+.1f}"
        rows.append(("" if r.significant else "ns", [
            (str(r.dataset_variant), False), (str(r.variant_a), False), (str(r.variant_b), False),
            ({"delta_avg": "δ_avg"}.get(r.metric, r.metric), False), (str(r.n_videos), True), (diff, True),
            (_interval(r.ci_low, r.ci_high), True), (p, True), (verdict, False)]))
    return _html_table(header, rows)


def _reappearance_html(style: _Style, reappearance: pd.DataFrame) -> str:
    header = ["tracker", "dataset"] + [f"{g}: δ_avg (videos, points)" for g in _GROUPS]
    rows = []
    for (tracker, dataset), series in _series(style, reappearance):
        groups = series.set_index("group")
        rows.append(("", [(str(tracker), False), (str(dataset), False)] + [
            (f"{_pct(groups.loc[g, 'delta_avg'])} ({groups.loc[g, 'videos']}, {groups.loc[g, 'points']})", True)
            for g in _GROUPS]))
    return _html_table(header, rows)


def _figure_html(png: bytes, name: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f"<figure><img src=\"data:image/png;base64,{data}\" alt=\"{html.escape(name)}\">"
            f"<figcaption>{caption}</figcaption></figure>")


_CAPTIONS = {
    "breakdown": "re-detection Jaccard in the first frames after an occlusion, by how long the point was hidden; "
                 "δ_avg by the track's motion speed and by the distance from the query frame (means over videos; "
                 "breakdown_summary.csv has every value, the event counts and intervals).",
    "robustness": "each metric against the severity of a perturbation of the frames (dataset.perturb), one line per "
                  "tracker and kind; dashed: the same tracker on the clean videos. robustness.csv has the values and "
                  "relative drops.",
    "thresholds": "Accuracy at every threshold δ (pixels at 256×256), re-scored from the prediction files: pooled "
                  "per video as TAP-Vid pools, then the mean over videos. Dots: δ = 1, 2, 4, 8, 16, the values "
                  "behind δ_avg and AJ.",
    "speed": "AJ (without ground truth: the cycle score) against tracking speed; error bars: the 95% bootstrap "
             "interval over videos.",
    "per_video": "AJ (without ground truth: the cycle score) of every tracker on every video: a mean can hide a "
                 "tracker that fails on a few videos.",
    "distance": "δ_avg against the distance in frames from the query frame (mean over videos with points at "
                "that distance): how fast a tracker drifts.",
    "reappearance": f"δ_avg of points on their first {REAPPEAR_FRAMES} visible frames after an occlusion, "
                    "against points never occluded (mean over videos that have such points).",
}

_HOW_TO_READ = f"""<p>Metrics are percentages. <b>95% CI</b>: percentile bootstrap interval of the mean over videos
(the videos are resampled with replacement); it says how much the mean could move with another draw of videos
of the same kind. <b>Pairwise</b>: A ranks above B on AJ; <i>A − B</i> is the mean per-video difference on the videos
both scored, with its paired bootstrap interval, and <i>p</i> a two-sided sign-flip permutation test (exact up to
16 videos). A difference is <b>significant</b> when p &lt; {ALPHA}; otherwise it is marked n.s. (greyed): these videos
do not show that the two trackers differ. With few videos nothing can be significant (with 5 videos the smallest
exact p is 0.0625).</p>"""


def _page(style, table, pairs, reappearance, figures: dict[str, bytes], notes, sources, n_resamples,
          pages: dict[str, bytes] | None = None, robustness: pd.DataFrame | None = None) -> str:
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>pointbench report</title>"
             f"<style>{_CSS}</style></head><body><h1>pointbench report</h1>",
             f"<p>{len(sources)} run(s); {n_resamples} bootstrap/permutation resamples, seed 0.</p>",
             "<h2>Leaderboard</h2>", _leaderboard_html(table), _gt_free_html(table),
             "<h2>Pairwise comparisons</h2>", _pairwise_html(pairs) if len(pairs) else "<p>Only one tracker.</p>",
             _HOW_TO_READ, "<h2>Figures</h2>"]
    for name, png in figures.items():
        parts.append(_figure_html(png, FIGURES[name], _CAPTIONS[name]))
        if name == "reappearance":
            parts.append(_reappearance_html(style, reappearance))
    for name, png in (pages or {}).items():
        if name.startswith("breakdown: "):
            if "<h2>Breakdowns</h2>" not in parts:
                parts.append("<h2>Breakdowns</h2>")
            parts.append(_figure_html(png, name, html.escape(f"{name[11:]}: " + _CAPTIONS["breakdown"])))
    if pages and "robustness" in pages:
        parts += ["<h2>Robustness</h2>", _figure_html(pages["robustness"], "robustness", _CAPTIONS["robustness"]),
                  robustness_html(robustness)]
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li class=note>{html.escape(n)}</li>" for n in notes) + "</ul>")
    parts.append("<h2>Runs</h2><ul>" + "".join(f"<li><code>{html.escape(str(s))}</code></li>" for s in sources)
                 + "</ul></body></html>\n")
    return "\n".join(parts)


def _by_label(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its `tracker` and `dataset` columns replaced by the run labels (`variant`,
    `dataset_variant`): unique per run identity, so every figure and table keeps variants apart."""
    return frame.assign(tracker=frame["variant"], dataset=frame["dataset_variant"])


def write_report(run_dirs: list[Path], out_dir: Path, n_resamples: int = DEFAULT_RESAMPLES,
                 merged: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None = None) -> Path:
    """Write `report.html` and the `report_*.png` figures of `run_dirs` into `out_dir`; return the page's path.

    `merged`: the (per-video table with `run_dir`, leaderboard, pairwise) already computed for
    these runs (the end-of-sweep callback passes them), else they are computed here.
    """
    figure = _matplotlib()
    if merged is None:
        per_video = merge_runs(run_dirs, with_source=True)
        table = leaderboard(per_video, n_resamples)
        pairs = pairwise(per_video, table, n_resamples)
    else:
        per_video, table, pairs = merged
    robustness = robustness_table(table, per_video)  # by dataset name: the clean run is another dataset variant
    per_video, table = _by_label(per_video), _by_label(table)
    analysis = analyse(per_video)
    style = _Style(table)
    notes = list(analysis.notes)
    drawn = {}
    if len(analysis.curves):
        drawn["thresholds"] = _threshold_figure(figure, style, analysis.curves)
    drawn["speed"] = _speed_figure(figure, style, table)
    drawn["per_video"] = _per_video_figure(figure, style, per_video, table)
    if len(analysis.by_distance):
        drawn["distance"] = _distance_figure(figure, style, analysis.by_distance)
    reappeared = analysis.reappearance[analysis.reappearance["group"] == _GROUPS[1]]
    if (reappeared["points"] > 0).any():
        drawn["reappearance"] = _reappearance_figure(figure, style, analysis.reappearance)
    elif len(reappeared):
        notes.append("No re-appearance figure: no ground-truth point is occluded and then visible again.")
    out_dir = Path(out_dir)
    summary_file = out_dir / "breakdown_summary.csv"
    pages = {}
    if summary_file.exists():
        for dataset, fig in breakdown_figures(figure, pd.read_csv(summary_file)).items():
            pages[f"breakdown: {dataset}"] = _png(fig)
    if len(robustness):
        pages["robustness"] = _png(robustness_figure(figure, robustness))
        write_csv(robustness, out_dir / "robustness.csv")
    for i, (name, png) in enumerate(pages.items()):
        with atomic_path(out_dir / ("report_robustness.png" if name == "robustness" else f"report_breakdown_{i}.png")) \
                as tmp:
            tmp.write_bytes(png)
    figures = {name: _png(fig) for name, fig in drawn.items()}
    for name, png in figures.items():
        with atomic_path(out_dir / FIGURES[name]) as tmp:
            tmp.write_bytes(png)
    page = out_dir / "report.html"
    with atomic_path(page) as tmp:
        tmp.write_text(_page(style, table, pairs, analysis.reappearance, figures, notes, run_dirs, n_resamples,
                             pages, robustness), encoding="utf-8")
    return page


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pointbench-report", description=(
        "Write report.html (self-contained: leaderboard with confidence intervals, pairwise tests, figures) "
        "and the figures as report_*.png from run dirs (found recursively)."))
    parser.add_argument("dirs", nargs="+", type=Path, help="run dirs or sweep dirs")
    parser.add_argument("--out", type=Path, help="where to write (default: the one sweep dir given, else here)")
    parser.add_argument("--resamples", type=positive_int, default=DEFAULT_RESAMPLES,
                        help=f"bootstrap and permutation resamples (default {DEFAULT_RESAMPLES})")
    args = parser.parse_args(argv)
    try:
        _matplotlib()
    except ImportError as error:
        sys.exit(f"pointbench-report: {error}")
    run_dirs = finished_runs_or_exit(parser, args.dirs)
    try:
        page = write_report(run_dirs, args.out or default_out_dir(args.dirs), args.resamples)
    except RunDirError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    print(f"report: {page} ({len(run_dirs)} runs)")


if __name__ == "__main__":
    main()
