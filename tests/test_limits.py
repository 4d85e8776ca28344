"""pointbench-profile (pointbench.limits): the grid, the CSV, OOM and crash handling, memory per cell, the plot."""

import logging
import math

import cv2
import numpy as np
import pandas as pd
import pytest

from pointbench import limits
from pointbench.limits import COLUMNS, Cell, main

STANDIN = "tracker=static"


def run_profile(tmp_path, *args, name="p"):
    out = tmp_path / name
    rc = main([*args, "--out", str(out)])
    return rc, pd.read_csv(out / "profile.csv", keep_default_na=False, na_values=[""]), out


def standin(cls, *params):
    return [STANDIN, f"tracker._target_=oom_tracker.{cls}", *(f"+tracker.{p}" for p in params)]


@pytest.mark.parametrize("tracker, isolate", [("lk", "--isolate"), ("static", "--no-isolate")])
def test_small_grid_writes_one_ok_row_per_cell(tmp_path, tracker, isolate):
    rc, table, out = run_profile(tmp_path, f"tracker={tracker}", "--points", "16,64", "--frames", "6,12",
                                 "--resolution", "48x64", isolate, "--no-plot")
    assert rc == 0
    assert list(table.columns) == list(COLUMNS)
    assert table[["num_points", "num_frames", "height", "width"]].values.tolist() == [
        [16, 6, 48, 64], [64, 6, 48, 64], [16, 12, 48, 64], [64, 12, 48, 64]]
    assert (table["tracker"] == tracker).all() and (table["status"] == "ok").all()
    assert table["error"].isna().all()
    for column in ("seconds", "fps_model", "fps_end_to_end", "peak_mem_mb", "base_mem_mb", "seconds_end_to_end"):
        assert (table[column] > 0).all(), column
    assert np.allclose(table["fps_model"], table["num_frames"] / table["seconds"])
    assert (table["seconds_end_to_end"] >= table["seconds"]).all()  # end to end includes the track() call
    assert (table["fps_end_to_end"] <= table["fps_model"]).all()
    assert np.allclose(table["track_mem_mb"], table["peak_mem_mb"] - table["base_mem_mb"])
    assert table["latency_ms_per_frame"].isna().all()  # offline trackers: N/A
    assert table["peak_gpu_mem_mb"].isna().all()  # no CUDA
    assert not (out / "profile.png").exists()


def test_overrides_reach_the_tracker(tmp_path):
    rc, table, _ = run_profile(tmp_path, "tracker=lk", "tracker.win_size=21", "--points", "8", "--frames", "4",
                               "--resolution", "32x32", "--no-isolate", "--no-plot")
    assert rc == 0 and '"win_size": 21' in table["tracker_config"][0]


def test_cells_above_the_limit_run_out_of_memory_and_the_rest_still_run(tmp_path):
    # 8×4 = 32 and 8×8 = 64 fit under 100; 64×4 and 64×8 do not
    rc, table, out = run_profile(tmp_path, *standin("OomTracker", "max_points_frames=100"),
                                 "--points", "8,64", "--frames", "4,8", "--resolution", "32x32")
    assert rc == 0  # running out of memory is a result, not a failure of the profile
    statuses = dict(zip(zip(table["num_points"], table["num_frames"]), table["status"]))
    assert statuses == {(8, 4): "ok", (64, 4): "oom", (8, 8): "ok", (64, 8): "oom"}
    oom = table[table["status"] == "oom"]
    assert oom["error"].str.contains("MemoryError").all() and oom["seconds"].isna().all()
    assert table[table["status"] == "ok"]["seconds"].notna().all()


@pytest.mark.parametrize("kind, isolate", [("memory", "--no-isolate"), ("cuda", "--no-isolate"),
                                           ("opencv", "--no-isolate"), ("sigkill", "--isolate")])
def test_every_kind_of_out_of_memory_is_recorded(tmp_path, kind, isolate):
    rc, table, _ = run_profile(tmp_path, *standin("OomTracker", "max_points_frames=100", f"kind={kind}"),
                               "--points", "8,64", "--frames", "4", "--resolution", "32x32", isolate, "--no-plot")
    assert rc == 0 and table["status"].tolist() == ["ok", "oom"]


def test_a_crash_or_a_bug_is_an_error_and_the_profile_goes_on(tmp_path):
    rc, table, _ = run_profile(tmp_path, *standin("OomTracker", "max_points_frames=100", "kind=segv"),
                               "--points", "8,64,4", "--frames", "4", "--resolution", "32x32", "--no-plot")
    assert rc == 1  # an error (not an OOM) makes the exit status non-zero
    assert table["status"].tolist() == ["ok", "ok", "error"]  # smallest first: 4, 8, 64 points
    assert "SIGSEGV" in table["error"].iloc[2]
    rc, table, _ = run_profile(tmp_path, *standin("OomTracker", "max_points_frames=100", "kind=value"),
                               "--points", "8,64", "--frames", "4", "--resolution", "32x32", "--no-isolate",
                               "--no-plot", name="bug")
    assert rc == 1 and table["status"].tolist() == ["ok", "error"] and "ValueError" in table["error"].iloc[1]


def test_skip_larger_skips_cells_that_dominate_an_oom_cell(tmp_path):
    rc, table, _ = run_profile(tmp_path, *standin("OomTracker", "max_points_frames=100"), "--points", "8,64",
                               "--frames", "4,8", "--resolution", "32x32,48x48", "--no-isolate", "--skip-larger",
                               "--no-plot")
    assert rc == 0
    by_cell = {(r.num_points, r.num_frames, r.height): r.status for r in table.itertuples()}
    assert by_cell[(64, 4, 32)] == "oom"  # the first to run out; every cell at least as large is skipped
    assert {k: v for k, v in by_cell.items() if k[0] == 64 and k != (64, 4, 32)} == {
        (64, 8, 32): "skipped", (64, 4, 48): "skipped", (64, 8, 48): "skipped"}
    assert all(v == "ok" for k, v in by_cell.items() if k[0] == 8)


@pytest.mark.parametrize("isolate", ["--isolate", "--no-isolate"])
def test_timeout_per_cell(tmp_path, isolate):
    rc, table, _ = run_profile(tmp_path, *standin("SleepyTracker", "seconds=3"), "--points", "8", "--frames", "4",
                               "--resolution", "32x32", "--timeout-per-cell", "0.5", isolate, "--no-plot")
    assert rc == 0 and table["status"].tolist() == ["timeout"] and "0.5" in table["error"][0]


def test_memory_is_measured_per_cell_even_after_a_larger_one(tmp_path):
    """The tracker allocates 1000 bytes per point-frame and frees them before it returns: a sampled or a
    process-lifetime peak would miss or carry over that; each cell's own peak is what it used."""
    for isolate in ("--isolate", "--no-isolate"):
        # order: 32x32 (4000 then 16000 point-frames), then 48x48 (4000 again, after the 16 MB cell)
        rc, table, _ = run_profile(tmp_path, *standin("AllocTracker", "bytes_per_point_frame=1000"),
                                   "--points", "1000,4000", "--frames", "4", "--resolution", "32x32,48x48",
                                   isolate, "--no-plot", name=isolate)
        assert rc == 0
        expected_mb = table["num_points"] * table["num_frames"] * 1000 / 2**20
        assert np.allclose(table["track_mem_mb"], expected_mb, rtol=0.15, atol=1.0), (isolate, table["track_mem_mb"])


def test_online_latency_where_the_tracker_steps_and_na_where_it_does_not(tmp_path, caplog):
    rc, table, _ = run_profile(tmp_path, *standin("SteppingTracker", "seconds_per_frame=0.004", "frames_per_step=2"),
                               "--points", "8", "--frames", "8", "--resolution", "32x32", "--no-plot")
    assert rc == 0 and 3.5 <= table["latency_ms_per_frame"][0] < 40
    with caplog.at_level(logging.INFO, logger="pointbench.limits"):
        rc, table, _ = run_profile(tmp_path, *standin("OnlineTracker", "online=true"), "--points", "8",
                                   "--frames", "4", "--resolution", "32x32", "--no-plot", name="na")
    assert rc == 0 and table["status"].tolist() == ["ok"] and table["latency_ms_per_frame"].isna().all()
    assert "N/A" in caplog.text and "online_steps" in caplog.text


def test_plot_marks_the_frontier_when_matplotlib_is_installed(tmp_path):
    pytest.importorskip("matplotlib")
    _, table, out = run_profile(tmp_path, *standin("OomTracker", "max_points_frames=100"), "--points", "8,64",
                                "--frames", "4,8", "--resolution", "32x32,48x48", "--no-isolate")
    png = out / "profile.png"
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cv2.imread(str(png)).shape[:2] == (420, 1100)


def test_without_matplotlib_no_plot_and_a_log_line(tmp_path, monkeypatch, caplog):
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(__import__("sys").modules, module, None)
    with caplog.at_level(logging.INFO, logger="pointbench.limits"):
        rc, _, out = run_profile(tmp_path, "tracker=static", "--points", "8", "--frames", "4",
                                 "--resolution", "32x32", "--no-isolate")
    assert rc == 0 and not (out / "profile.png").exists() and "matplotlib" in caplog.text


def test_bad_arguments_are_refused(tmp_path):
    for args in (["dataset=synthetic"], ["tracker=nope"], ["--points", "0"], ["--resolution", "256"],
                 ["--repeats", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            main([*args, "--out", str(tmp_path / "bad"), "--no-plot"])
        assert exit_info.value.code == 2, args


def test_out_of_memory_classification():
    assert limits.is_out_of_memory(MemoryError())
    assert limits.is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert limits.is_out_of_memory(cv2.error("(-4:Insufficient memory) Failed to allocate 10 bytes"))
    assert not limits.is_out_of_memory(RuntimeError("shape mismatch"))
    assert not limits.is_out_of_memory(KeyboardInterrupt())
    torch = pytest.importorskip("torch")
    assert limits.is_out_of_memory(torch.cuda.OutOfMemoryError("boom"))


def test_synthetic_frames_are_deterministic_and_move_as_stated():
    frames = limits.synthetic_frames(12, 96, 128, seed=3)
    assert frames.dtype == np.uint8 and frames.shape == (12, 96, 128, 3)
    assert np.array_equal(frames, limits.synthetic_frames(12, 96, 128, seed=3))
    assert not np.array_equal(frames, limits.synthetic_frames(12, 96, 128, seed=4))
    motion = limits.synthetic_motion(12, 96, 128)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float64) for f in frames]
    for t in (3, 7, 11):
        (dx, dy), _ = cv2.phaseCorrelate(gray[0], gray[t])  # content shift from frame 0 to frame t
        assert math.hypot(dx - (motion[0, 0] - motion[t, 0]), dy - (motion[0, 1] - motion[t, 1])) < 0.5
    queries = limits.synthetic_queries(50, 12, 96, 128)
    assert queries.dtype == np.float32 and queries[:, 0].max() < 12
    assert (queries[:, 1] > 0).all() and (queries[:, 1] < 128).all() and (queries[:, 2] < 96).all()


def test_grid_is_smallest_first():
    cells = limits.grid([64, 8], [8, 4], [(48, 48), (32, 32)])
    assert cells[0] == Cell(8, 4, 32, 32) and cells[-1] == Cell(64, 8, 48, 48) and len(cells) == 8


@pytest.mark.parametrize("isolate", ["--isolate", "--no-isolate"])
def test_a_tracker_that_cannot_be_built_fails_every_cell_with_the_reason(tmp_path, isolate):
    rc, table, _ = run_profile(tmp_path, "tracker=lk", "+tracker.no_such_knob=1", "--points", "8,16", "--frames", "4",
                               "--resolution", "32x32", isolate, "--no-plot")
    assert rc == 1 and (table["status"] == "error").all()
    assert table["error"].str.contains("building the tracker").all() and table["error"].str.contains("no_such_knob").all()
