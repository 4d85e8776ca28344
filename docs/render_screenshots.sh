#!/usr/bin/env bash
# Re-render the README screenshots of the Rerun recordings from the current code:
#
#   docs/comparison.png  comparison.rrd of the sweep `-m tracker=static,lk,dis` (a tab per video, a view per tracker)
#   docs/tracks.png      tracks.rrd of a single run (lk on synthetic: the sweep's lk job)
#   docs/tracks3d.png    tracks3d.rrd of `dataset=synthetic_rgbd`
#
# Usage:  bash docs/render_screenshots.sh [WORK_DIR]     (WORK_DIR defaults to /tmp/pointbench-shots)
#
# Needs pointbench installed (`pip install -e .`), the `rerun` CLI of the installed rerun-sdk, and for the
# headless rendering a software Vulkan driver and a virtual X server (Debian/Ubuntu, as root):
#
#   apt-get update && apt-get install -y mesa-vulkan-drivers libvulkan1 libxkbcommon-x11-0 xvfb
#
# Why Xvfb and not `rerun --headless`: `rerun FILE --screenshot-to PNG` saves the picture about 10 UI frames
# after start-up, without waiting for the data. With --headless (0.41) those frames come so fast that
# comparison.rrd showed "Failed to load File: comparison.rrd: Data source finished without loading a recording"
# and the start-up notifications covered the top right; in a window on Xvfb with Mesa's llvmpipe the frames are
# slow enough (10-15 s in all) for the recording to load and the notifications to fade. The viewer keeps playing
# while it starts, so the frame shown differs a little between runs (seen: #9 to #19 of 24).
# Each screenshot is checked (it must show enough coloured pixels, not the empty or failed-load viewer) and
# retried up to 3 times. The viewer renders at 2x (3200x1800 for a 1600x900 window); the PNG is scaled back
# to 1600x900 and quantized to 256 colours so each stays well under 600 KB.
set -euo pipefail

DOCS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="${1:-/tmp/pointbench-shots}"
SIZE="${WINDOW_SIZE:-1600x900}"
PORT="${RERUN_PORT:-19876}"          # not the default 9876, so an open viewer is left alone

for tool in pointbench rerun xvfb-run python; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (see the header of $0)" >&2; exit 1; }
done

rm -rf "$WORK/sweep" "$WORK/rgbd" "$WORK/raw"
mkdir -p "$WORK/raw" "$WORK/xdg"
chmod 700 "$WORK/xdg"
cd "$WORK"   # hydra writes nothing into the repository

# 1. The recordings (synthetic data, offline, a few seconds each).
export POINTBENCH_CACHE="$WORK/cache"
pointbench -m tracker=static,lk,dis hydra.sweep.dir="$WORK/sweep"
pointbench dataset=synthetic_rgbd hydra.run.dir="$WORK/rgbd"

# 2. The screenshots.
export WGPU_BACKEND=vulkan XDG_RUNTIME_DIR="$WORK/xdg"
rerun --version

shoot() {  # shoot RRD NAME
    local rrd="$1" name="$2" raw="$WORK/raw/$2.png" try
    for try in 1 2 3; do
        rm -f "$raw"
        # The X pointer starts at the screen's centre: make the screen twice the 2x window so it lies outside
        # the window (otherwise a hover tooltip over the data ends up in the screenshot).
        timeout 300 xvfb-run -a -s "-screen 0 ${XVFB_SCREEN:-6600x3800x24}" \
            rerun "$rrd" --port "$PORT" --window-size "$SIZE" --screenshot-to "$raw" \
            >"$WORK/raw/$name.log" 2>&1 || true
        if [[ -s "$raw" ]] && python - "$raw" "$DOCS/$name.png" "$SIZE" <<'EOF'
import sys
from PIL import Image

raw, out, size = sys.argv[1], sys.argv[2], tuple(int(v) for v in sys.argv[3].split("x"))
im = Image.open(raw).convert("RGB")
# The empty / failed-load viewer is near-grey; frames with tracks are full of saturated colour.
small = im.resize((320, 180)).convert("HSV")
coloured = sum(1 for _, s, v in getattr(small, "get_flattened_data", small.getdata)() if s > 80 and v > 80) / (320 * 180)
if coloured < 0.03:
    sys.exit(f"{raw}: only {coloured:.1%} coloured pixels, the data did not load")
im = im.resize(size, Image.LANCZOS).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
im.save(out, optimize=True)
print(f"{out}: {im.size[0]}x{im.size[1]}, {coloured:.0%} coloured")
EOF
        then return 0; fi
        echo "retrying $name (try $try failed, log: $WORK/raw/$name.log)" >&2
    done
    echo "could not render $name" >&2
    return 1
}

shoot "$WORK/sweep/comparison.rrd" comparison
shoot "$(ls "$WORK"/sweep/*_lk_synthetic/tracks.rrd)" tracks
shoot "$WORK/rgbd/tracks3d.rrd" tracks3d
ls -l "$DOCS/comparison.png" "$DOCS/tracks.png" "$DOCS/tracks3d.png"
