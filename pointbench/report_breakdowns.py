"""The report's breakdown and robustness pages: where trackers fail, and how much a perturbation costs.

- Breakdowns (`breakdown_summary.csv`, see `pointbench.metrics.breakdowns`): per dataset, one bar
  group per tracker variant for re-detection by occlusion length, accuracy by motion speed and by
  distance from the query frame.
- Robustness (runs with `dataset.perturb`): each metric against severity, one line per tracker
  variant and perturbation kind, and the relative drop from the same tracker's clean run (the same
  dataset config with `perturb.kind: null`).
"""

from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd

from pointbench.identity import stable_hash
from pointbench.metrics.breakdowns import GAP_BINS, QDIST_BINS, SPEED_BINS, bin_name

ROBUSTNESS_METRICS = ("AJ", "delta_avg", "OA")
ROBUSTNESS_COLUMNS = ("variant", "dataset", "base", "kind", "severity", "metric", "value", "clean", "relative_drop")
#: (title, column pattern, bins) of the breakdown panels.
PANELS = (("re-detection after occlusion (Jaccard)", "redetect_jaccard_{}", GAP_BINS, "occluded frames"),
          ("accuracy by motion speed (δ_avg)", "speed_{}_delta_avg", SPEED_BINS, "px/frame at 256×256"),
          ("accuracy by distance from the query (δ_avg)", "qdist_{}_delta_avg", QDIST_BINS, "frames"))


def _perturbation(dataset_config: str) -> tuple[str | None, int | None, str]:
    """(kind, severity, hash of the rest of the config) of a row's `dataset_config` JSON."""
    try:
        config = json.loads(dataset_config)
    except (TypeError, ValueError):
        return None, None, ""
    perturb = config.pop("perturb", None) or {}
    kind = perturb.get("kind") if isinstance(perturb, dict) else None
    if isinstance(kind, list):
        kind = "+".join(map(str, kind))
    severity = perturb.get("severity") if kind is not None else None
    return kind, severity if isinstance(severity, int) else None, stable_hash(config, 8)


def robustness_table(table: pd.DataFrame, per_video: pd.DataFrame) -> pd.DataFrame:
    """`ROBUSTNESS_COLUMNS` rows for every perturbed run that has a clean counterpart (same tracker
    variant, same dataset name and config but the perturbation): its metric, the clean one and
    `relative_drop` = (clean - value) / clean. Empty when no run is perturbed."""
    if "dataset_config" not in per_video:
        return pd.DataFrame(columns=list(ROBUSTNESS_COLUMNS))
    configs = per_video.drop_duplicates("run_id").set_index("run_id")["dataset_config"]
    runs = []
    for row in table.itertuples():
        kind, severity, base = _perturbation(configs.get(row.run_id))
        runs.append({"run_id": row.run_id, "variant": row.variant, "dataset": row.dataset, "base": base,
                     "kind": kind, "severity": severity, **{m: getattr(row, m) for m in ROBUSTNESS_METRICS}})
    runs = pd.DataFrame(runs)
    rows = []
    for (variant, dataset, base), group in runs.groupby(["variant", "dataset", "base"], sort=False):
        clean = group[group["kind"].isna()]
        for run in group[group["kind"].notna()].itertuples():
            for metric in ROBUSTNESS_METRICS:
                reference = clean[metric].iloc[0] if len(clean) else np.nan
                value = getattr(run, metric)
                drop = (reference - value) / reference if np.isfinite(reference) and reference > 0 else np.nan
                rows.append({"variant": variant, "dataset": dataset, "base": base, "kind": run.kind,
                             "severity": run.severity, "metric": metric, "value": value, "clean": reference,
                             "relative_drop": drop})
    return pd.DataFrame(rows, columns=list(ROBUSTNESS_COLUMNS))


def breakdown_figures(figure, summary: pd.DataFrame) -> dict[str, object]:
    """{dataset variant: figure} with the `PANELS` as bar groups, one bar per tracker variant."""
    from matplotlib import colormaps

    figures = {}
    palette = colormaps["tab10"].colors
    for dataset, rows in summary.groupby("dataset_variant", sort=False):
        fig = figure(11.0, 3.4)
        axes = fig.subplots(1, len(PANELS))
        width = 0.8 / max(len(rows), 1)
        for ax, (title, pattern, bins, unit) in zip(axes, PANELS):
            names = [bin_name(*b) for b in bins]
            for i, row in enumerate(rows.itertuples()):
                values = [100 * float(rows.iloc[i].get(pattern.format(n), np.nan)) for n in names]
                x = np.arange(len(names)) + (i - (len(rows) - 1) / 2) * width
                ax.bar(x, values, width, color=palette[i % len(palette)], label=str(row.variant))
            ax.set_xticks(range(len(names)), names, fontsize=8)
            ax.set_xlabel(unit, fontsize=8)
            ax.set_title(title, fontsize=9)
            ax.set_ylim(0, 100)
            ax.grid(alpha=0.3, axis="y")
        axes[0].set_ylabel("%")
        axes[0].legend(fontsize=7)
        fig.suptitle(str(dataset), fontsize=10)
        figures[str(dataset)] = fig
    return figures


def robustness_figure(figure, robustness: pd.DataFrame):
    """Each metric against severity: one line per (tracker variant, kind), the clean value dashed."""
    fig = figure(11.0, 3.4)
    axes = fig.subplots(1, len(ROBUSTNESS_METRICS))
    from matplotlib import colormaps

    palette = colormaps["tab10"].colors
    series = list(robustness.groupby(["variant", "kind"], sort=False))
    for ax, metric in zip(axes, ROBUSTNESS_METRICS):
        for i, ((variant, kind), rows) in enumerate(series):
            rows = rows[rows["metric"] == metric].sort_values("severity")
            colour = palette[i % len(palette)]
            ax.plot(rows["severity"], 100 * rows["value"], marker="o", color=colour, label=f"{variant} · {kind}")
            if rows["clean"].notna().any():
                ax.axhline(100 * rows["clean"].iloc[0], color=colour, linestyle="--", linewidth=0.8)
        ax.set_xticks([1, 2, 3, 4, 5])
        ax.set_xlabel("severity")
        ax.set_title({"delta_avg": "δ_avg"}.get(metric, metric) + " (%; dashed: clean)", fontsize=9)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return fig


def robustness_html(robustness: pd.DataFrame) -> str:
    """The table of relative drops (AJ) under each perturbation and severity."""
    aj = robustness[robustness["metric"] == "AJ"]
    if not len(aj):
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("tracker", "dataset", "perturbation", "severity", "AJ", "clean AJ",
                                            "relative drop"))
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            r.variant, r.dataset, r.kind, r.severity, f"{100 * r.value:.1f}",
            "–" if pd.isna(r.clean) else f"{100 * r.clean:.1f}",
            "–" if pd.isna(r.relative_drop) else f"{100 * r.relative_drop:.1f}%")) + "</tr>"
        for r in aj.itertuples())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
