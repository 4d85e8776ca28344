"""The limits profile of `lk`: does its memory grow linearly in points × frames, as its tracks do?

    python benchmarks/profile_lk.py [--points 1024,4096,16384] [--frames 8,16,32]
                                    [--resolution 64x64,128x128,256x256] [--repeats 1]

Runs `pointbench-profile tracker=lk` (`pointbench.limits.main`, every cell in its own process) over
3 sizes of each axis (27 cells) into a temporary dir and prints its table, then, from that one run:

- a least-squares fit of the memory each cell's `track()` call adds (peak RSS − RSS before) to
  a + b·N·T + e·N + c·T·H·W + d·H·W. `b` is the bytes per point-frame: the returned tracks hold 9
  (`xy` float32 ×2, `visible` bool), and the peak comes when `Tracks` checks them (`xy[visible]` gathers a copy
  with its indices), about 33; `e` the per-step arrays of every point, `c` the grey frames (1 byte per pixel),
  `d` OpenCV's per-call pyramids. (Where the pyramids outweigh the tracks — few points, large frames — the peak
  is during the sweep instead, with 9 bytes per point-frame: the fit is then only approximately linear.)
- the memory ratio from the fewest to the most points at every (frames, size), and the
  marginal bytes per point-frame from the middle to the largest point count: linear growth in N·T makes
  the latter the same at every frame count and size once the tracks dominate (the largest frame count).
- the same fit of the seconds, and model-only against end-to-end fps.

Targets: fit R² >= 0.98; at the largest frame count, largest / smallest marginal bytes per point-frame over the
sizes <= 1.3; fitted bytes per point-frame between 1× and 4× the 9 bytes of the tracks themselves.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from _common import exit_report, header, temp_dir, verdict

R2_TARGET, SPREAD_TARGET, TRACK_BYTES, BYTES_RANGE = 0.98, 1.3, 9, (1.0, 4.0)
TERMS = ("1", "N·T", "N", "T·H·W", "H·W")


def fit(table: pd.DataFrame, column: str) -> tuple[np.ndarray, float]:
    """Least-squares coefficients of `column` on `TERMS` and the fit's R²."""
    n, t, hw = table["num_points"], table["num_frames"], table["height"] * table["width"]
    x = np.stack([np.ones(len(table)), n * t, n, t * hw, hw], axis=1).astype(float)
    y = table[column].to_numpy(float)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ coef
    return coef, 1 - residual @ residual / ((y - y.mean()) @ (y - y.mean()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default="1024,4096,16384")
    parser.add_argument("--frames", default="8,16,32")
    parser.add_argument("--resolution", default="64x64,128x128,256x256")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    from pointbench.limits import main as profile_main

    header("limits profile of lk: memory and time against points × frames")
    with temp_dir() as root:
        grid = ["--points", args.points, "--frames", args.frames, "--resolution", args.resolution,
                "--repeats", str(args.repeats)]
        print(f"   command: pointbench-profile tracker=lk {' '.join(grid)} --out {root / 'profile'}")
        rc = profile_main(["tracker=lk", *grid, "--out", str(root / "profile"), "--no-plot"])
        table = pd.read_csv(root / "profile" / "profile.csv")
    ran = table[table["status"] == "ok"].copy()
    if rc != 0 or len(ran) < len(table) or len(ran) < 5:
        print(f"   {len(table) - len(ran)} of {len(table)} cells did not run: "
              f"{table[table['status'] != 'ok'][['num_points', 'num_frames', 'height', 'width', 'status', 'error']]}")
    if len(ran) < 5:
        print("   RESULT not enough cells ran to fit: FAIL")
        exit_report()

    mib = 2**20
    coef, r2 = fit(ran, "track_mem_mb")
    a, b, e, c, d = coef * mib
    print(f"\n   memory added by track() (MiB) = a + b·N·T + e·N + c·T·H·W + d·H·W over {len(ran)} cells:")
    print(f"     b = {b:6.1f} bytes per point-frame (the Tracks arrays themselves hold {TRACK_BYTES})")
    print(f"     e = {e:6.1f} bytes per point, c = {c:6.2f} bytes per pixel-frame, d = {d:6.2f} bytes per pixel, "
          f"a = {a / mib:.2f} MiB; R² = {r2:.4f}")

    ran["nt"] = ran["num_points"] * ran["num_frames"]
    print("\n   marginal bytes per point-frame along the points axis (Δ memory / Δ N·T at fixed T and size):")
    points = sorted(ran["num_points"].unique())
    mid, top = points[-2], points[-1]
    slopes = {}
    rows = []
    for (h, w, t), group in ran.groupby(["height", "width", "num_frames"]):
        by_n = group.set_index("num_points")["track_mem_mb"]
        cells = [f"{by_n.get(n, float('nan')):8.2f}" for n in points]
        if mid in by_n and top in by_n:
            slope = (by_n[top] - by_n[mid]) * mib / ((top - mid) * t)
            slopes[(h, w, t)] = slope
            ratio = by_n[top] / by_n[points[0]] if points[0] in by_n else float("nan")
            rows.append(f"     {h:>4}x{w:<4} T={t:<4}" + "".join(cells) + f" {slope:9.1f} B {ratio:9.2f}x")
    print(f"     {'size':<9} {'':6}" + "".join(f"{'N=' + str(n):>8}" for n in points)
          + f" {'B/(pt·fr)':>11} {'memory':>10}")
    print(f"     {'':<16}" + "".join(f"{'MiB':>8}" for _ in points)
          + f" {f'N {mid}→{top}':>11} {f'N {points[0]}→{top}':>10}")
    print("\n".join(rows))
    print(f"     (the memory ratio stays below the N·T ratio ×{top / points[0]:g}: the grey frames and the pyramids "
          f"do not grow with N)")

    tcoef, tr2 = fit(ran, "seconds")
    print(f"\n   seconds of track() = a + b·N·T + e·N + c·T·H·W + d·H·W: b = {tcoef[1] * 1e6:.2f} µs per point-frame, "
          f"R² = {tr2:.4f} (timings: see the load average)")
    share = (ran["fps_end_to_end"] / ran["fps_model"]).median()
    print(f"   fps end to end / model only (median over cells): {share:.3f} "
          f"(making and checking the synthetic inputs and the output)")

    print()
    print(f"   RESULT fit R² of memory on {', '.join(TERMS)}: {r2:.4f} (target >= {R2_TARGET}) "
          f"{'PASS' if r2 >= R2_TARGET else 'FAIL'}")
    longest = max(t for _, _, t in slopes) if slopes else None
    at_longest = {k: v for k, v in slopes.items() if k[2] == longest}
    if len(at_longest) >= 2:
        print("   marginal bytes per point-frame at T=%d: " % longest
              + ", ".join(f"{h}x{w} {v:.1f}" for (h, w, _), v in at_longest.items()))
        verdict(f"largest / smallest of those over {len(at_longest)} sizes",
                max(at_longest.values()) / min(at_longest.values()), SPREAD_TARGET, higher_is_better=False)
    low, high = BYTES_RANGE
    ratio = b / TRACK_BYTES
    print(f"   RESULT fitted bytes per point-frame / {TRACK_BYTES} B of tracks: {ratio:.3f}x "
          f"(target {low:g}x–{high:g}x) {'PASS' if low <= ratio <= high else 'FAIL'}")
    exit_report()


if __name__ == "__main__":
    main()
