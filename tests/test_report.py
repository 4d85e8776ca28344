"""The report: re-scoring prediction files at any threshold, its breakdowns, the figures and the HTML page."""

import base64
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import pointbench
from pointbench.io import save_predictions
from pointbench.callbacks import LeaderboardCallback
from pointbench.runs import merge_runs
from pointbench.metrics.tapvid import THRESHOLDS
from pointbench.report import (
    CURVE_DELTAS, FIGURES, accuracy_at, analyse, analyse_video, never_occluded_mask, reappearance_mask,
)
from pointbench.report import main as report_main
from pointbench.runner import run
from pointbench.types import Tracks

CONF = str(Path(pointbench.__file__).parent / "conf")
SMALL = ["dataset.num_videos=4", "dataset.num_frames=16", "dataset.height=64", "dataset.width=96",
         "dataset.num_tracks=32", "output.rerun=false", "cache_dir=null"]
DATA_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory):
    """A real small sweep: static and lk on a non-square synthetic set, each in its own run dir."""
    root = tmp_path_factory.mktemp("runs")
    for tracker in ("static", "lk"):
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            cfg = compose(config_name="config", overrides=[f"tracker={tracker}", *SMALL])
        run(cfg, root / tracker)
    return [root / "static", root / "lk"]


def test_threshold_curve_equals_the_table_columns(run_dirs):
    per_video = merge_runs(run_dirs, with_source=True)
    analysis = analyse(per_video)
    assert analysis.notes == []
    assert {1.0, 2.0, 4.0, 8.0, 16.0} <= set(CURVE_DELTAS) and min(CURVE_DELTAS) == 0.5 and max(CURVE_DELTAS) == 32
    for tracker in ("static", "lk"):
        curve = analysis.curves[analysis.curves["tracker"] == tracker].set_index("delta")
        assert list(curve.index) == list(CURVE_DELTAS)
        rows = per_video[per_video["tracker"] == tracker]
        for d in THRESHOLDS:
            assert curve.loc[d, "pts_within"] == pytest.approx(rows[f"pts_within_{d}"].mean(), abs=1e-12)
            assert curve.loc[d, "jaccard"] == pytest.approx(rows[f"jaccard_{d}"].mean(), abs=1e-12)
        # A larger threshold never loses a point nor a true positive.
        assert (np.diff(curve["pts_within"]) >= 0).all() and (np.diff(curve["jaccard"]) >= 0).all()
    lk, static = (analysis.curves[analysis.curves["tracker"] == t]["pts_within"].to_numpy() for t in ("lk", "static"))
    assert (lk[CURVE_DELTAS.index(1):] > static[CURVE_DELTAS.index(1):]).all()


def test_accuracy_at_any_threshold_by_hand():
    # One track on a 512 wide, 128 high video: at 256×256 x shrinks by 2 and y grows by 2.
    gt = np.zeros((1, 5, 2))
    pred = gt.copy()
    pred[0, 1:, 1] = [0.15, 0.35, 0.75, 1.5]  # y errors: 0.3, 0.7, 1.5, 3 px at 256×256
    visible = np.ones((1, 5), bool)
    deltas = (0.25, 0.5, 1, 2 ** 0.25, 2 ** 0.75, 3, 2 ** 1.75, 32)
    within, jaccard = accuracy_at(gt, visible, pred, visible, np.array([0]), "first", (128, 512), deltas)
    np.testing.assert_allclose(within, [0, 1 / 4, 2 / 4, 2 / 4, 3 / 4, 3 / 4, 1, 1])
    # Predicted visible but too far: a miss and a false positive: TP / (4 + 4 - TP).
    np.testing.assert_allclose(jaccard, [0, 1 / 7, 2 / 6, 2 / 6, 3 / 5, 3 / 5, 1, 1])
    with pytest.raises(ValueError, match="thresholds must be positive; got 0"):
        accuracy_at(gt, visible, pred, visible, np.array([0]), "first", (128, 512), (0,))


def test_reappearance_and_never_occluded_masks_by_hand():
    visible = np.array([[1, 1, 0, 0, 1, 1, 1, 1, 0, 1],
                        [0, 0, 1, 1, 0, 1, 1, 0, 1, 1],
                        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]], bool)
    np.testing.assert_array_equal(reappearance_mask(visible, k=3).astype(int), [
        [0, 0, 0, 0, 1, 1, 1, 0, 0, 1],
        [0, 0, 0, 0, 0, 1, 1, 0, 1, 1],  # first appearance at 2 is not a re-appearance
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]])
    query_frames = np.array([0, 2, 0])
    never = never_occluded_mask(visible, query_frames, "first")
    np.testing.assert_array_equal(never.any(axis=1), [False, False, True])
    np.testing.assert_array_equal(never[2], np.arange(10) > 0)
    # Strided mode scores frames before the query too: track 1 is occluded there.
    assert not never_occluded_mask(visible[1:2], np.array([3]), "strided").any()


def test_breakdowns_of_one_video_by_hand(tmp_path):
    # Track 0: always visible, exact. Track 1: visible at 0-1, occluded at 2-3, visible again at 4-8,
    # exact at frame 1, 100 px off once it re-appears.
    n_frames = 9
    gt = np.zeros((2, n_frames, 2), np.float32) + 50
    visible = np.ones((2, n_frames), bool)
    visible[1, 2:4] = False
    pred = gt.copy()
    pred[1, 4:, 0] += 100
    path = tmp_path / "video.npz"
    save_predictions(path, Tracks(xy=pred, visible=visible.copy()), np.array([[0, 50, 50]] * 2, np.float32),
                     gt_xy=gt, gt_visible=visible, image_size=np.array([256, 256]), query_mode=np.array("first"))
    result = analyse_video(path)
    # Frame distance bins [1, 2), [2, 4), [4, 8), [8, 16): (δ_avg, visible cells scored).
    assert result["by_distance"] == {1: (1.0, 2), 2: (1.0, 2), 4: (0.5, 8), 8: (0.5, 2)}
    assert result["groups"] == {"never occluded": (1.0, 8), "just re-appeared": (0.0, 3)}
    save_predictions(tmp_path / "video_old.npz", Tracks(xy=pred, visible=visible), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"video_old.npz: no gt_xy, gt_visible, image_size, query_mode"):
        analyse_video(tmp_path / "video_old.npz")


def test_a_run_without_prediction_files_is_left_out_and_named(run_dirs, tmp_path):
    lk = tmp_path / "lk"
    shutil.copytree(run_dirs[1], lk)
    (lk / "predictions" / "synthetic_002.npz").unlink()
    analysis = analyse(merge_runs([run_dirs[0], lk], with_source=True))
    assert set(analysis.curves["tracker"]) == {"static"}
    assert len(analysis.notes) == 1 and "lk on synthetic" in analysis.notes[0]
    assert "synthetic_002.npz" in analysis.notes[0] and "save_predictions" in analysis.notes[0]


# --- figures and HTML (matplotlib) ----------------------------------------------------------------------------


def check_self_contained(page: Path, out_dir: Path, expected: set[str]) -> None:
    text = page.read_text(encoding="utf-8")
    outside_images = DATA_URI.sub("data:", text)
    assert "http" not in outside_images.lower() and "//" not in outside_images
    assert "<script" not in text and "url(" not in text and "@import" not in text and "href" not in text
    assert re.findall(r'src="([^"]*)"', outside_images) == ["data:"] * len(expected)
    for name in expected:
        png = (out_dir / FIGURES[name]).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) < 100_000
        assert base64.b64encode(png).decode() in text, f"{name} is embedded"


def test_report_command_writes_a_self_contained_page(run_dirs, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "report"
    report_main([*map(str, run_dirs), "--out", str(out), "--resamples", "500"])
    assert "report.html" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(["report.html", *FIGURES.values()])
    check_self_contained(out / "report.html", out, set(FIGURES))
    text = (out / "report.html").read_text(encoding="utf-8")
    # Tables: the leaderboard with its intervals, the pairwise tests (4 videos: p >= 2/16, never significant).
    assert text.count("95% CI") >= 4 and "500 bootstrap/permutation resamples" in text
    assert text.count('<tr class="ns">') == 3 and text.count("n.s.") >= 3
    pages_png = {name: (out / f).read_bytes() for name, f in FIGURES.items()}
    report_main([*map(str, run_dirs), "--out", str(out), "--resamples", "500"])
    assert (out / FIGURES["thresholds"]).read_bytes() == pages_png["thresholds"], "figures are deterministic"


def test_end_of_sweep_callback_writes_the_report(run_dirs, tmp_path):
    pytest.importorskip("matplotlib")
    sweep = tmp_path / "sweep"
    for d in run_dirs:
        shutil.copytree(d, sweep / d.name)
    LeaderboardCallback().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}}))
    for name in ("leaderboard.csv", "pairwise.csv", "report.html", *FIGURES.values()):
        assert (sweep / name).exists(), name
    # The report of the sweep dir by the command, written where the sweep is by default.
    (sweep / "report.html").unlink()
    report_main([str(sweep), "--resamples", "100"])
    assert (sweep / "report.html").exists()


def hide_matplotlib(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")] or ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)


def test_without_matplotlib_the_sweep_says_how_to_install_and_goes_on(run_dirs, tmp_path, monkeypatch, caplog):
    hide_matplotlib(monkeypatch)
    sweep = tmp_path / "sweep"
    for d in run_dirs:
        shutil.copytree(d, sweep / d.name)
    with caplog.at_level("INFO", logger="pointbench"):
        LeaderboardCallback().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}}))
    assert (sweep / "leaderboard.csv").exists() and (sweep / "pairwise.csv").exists()
    assert not (sweep / "report.html").exists()
    messages = [r.getMessage() for r in caplog.records if "pointbench[report]" in r.getMessage()]
    assert len(messages) == 1, caplog.text
    with pytest.raises(SystemExit, match=r"pip install 'pointbench\[report\]'"):
        report_main([str(sweep)])
    board = pd.read_csv(sweep / "leaderboard.csv")
    assert list(board["tracker"]) == ["lk", "static"]
