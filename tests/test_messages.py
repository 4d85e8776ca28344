"""Messages that say what to do: missing extras, unknown keys, missing packages, bad command lines."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import pointbench
from pointbench import cli
from pointbench.building import build
from pointbench.runner import run
from rrd_reading import blueprint_rows, read_blueprint_views, read_rrd

CONF = str(Path(pointbench.__file__).parent / "conf")
SMALL = ["dataset.num_videos=2", "dataset.num_frames=8", "dataset.height=64", "dataset.width=64",
         "dataset.num_tracks=16"]


def make_cfg(*overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def pointbench_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pointbench", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ))


@pytest.mark.parametrize("key, listed", [("tracker.win_sz=21", "win_size"), ("dataset.seeed=1", "num_videos")])
def test_an_unknown_key_lists_the_valid_ones_and_exits_2(tmp_path, key, listed):
    proc = pointbench_cli(key, cwd=tmp_path)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert f"has no key '{key.split('.')[1].split('=')[0]}'" in line and listed in line
    assert not (tmp_path / "outputs").exists(), "nothing ran"


def test_an_unknown_key_in_a_sweep_is_checked_for_every_tracker(tmp_path):
    proc = pointbench_cli("-m", "tracker=lk,static", "tracker.win_size=9", cwd=tmp_path)
    assert proc.returncode == 2 and "tracker 'static' has no key 'win_size'" in proc.stderr


def test_an_added_key_the_tracker_does_not_take_lists_its_parameters():
    with pytest.raises(ValueError, match=r"unexpected keyword argument 'win_sz'.*Valid keys of tracker 'lk': "
                                         r"win_size, pyramid_levels"):
        build(make_cfg("+tracker.win_sz=21").tracker, "tracker")


def test_a_launcher_without_its_extra_names_the_install_command(monkeypatch):
    monkeypatch.setattr(cli, "_importable", lambda module: False)
    for launcher, extra in (("joblib", "parallel"), ("submitit_local", "slurm"), ("slurm", "slurm")):
        with pytest.raises(cli.UsageError, match=rf'needs the \'{extra}\' extra: pip install "pointbench\[{extra}\]"'):
            cli.check_launcher(cli._parse(["-m", f"hydra/launcher={launcher}"]))
    cli.check_launcher(cli._parse(["hydra/launcher=basic"]))  # Hydra's own: nothing to install


def test_a_missing_package_is_named_with_every_command_on_its_own_line(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.split(".")[0] in ("torch", "tapnet", "einshape") else real(name, *a))
    with pytest.raises(ImportError) as caught:
        build(make_cfg("tracker=tapir").tracker, "tracker")
    text = str(caught.value)
    assert "'torch'" in text and "'tapnet'" in text and "'einshape'" in text and "\\n" not in text
    assert "\n    pip install torch" in text and "\n    pip install --no-deps 'tapnet" in text


def test_encoded_frames_without_pyav_stop_before_any_video(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "av" else real(name, *a))
    with pytest.raises(ImportError, match=r'output.frame_format=av1 needs PyAV.*pip install "pointbench\[video\]"'):
        run(make_cfg(*SMALL, "output.frame_format=av1"), tmp_path / "run")
    assert not (tmp_path / "run" / "metrics_per_video.csv").exists()


def test_the_single_run_recording_has_a_tab_per_video_and_caps_points(tmp_path):
    run(make_cfg(*SMALL, "dataset.num_tracks=64", "output.max_points=10"), tmp_path)
    path = tmp_path / "tracks.rrd"
    views = read_blueprint_views(path)
    for video in ("synthetic_000", "synthetic_001"):
        assert [name for name, kind, origin in views if origin == f"videos/{video}" and kind == "2D"] == ["lk"]
        assert [kind for name, kind, origin in views if origin == f"videos/{video}/scores"] == ["TimeSeries"]
    tabs = [row for row in blueprint_rows(path) if row.get("ContainerBlueprint:container_kind") == [1]]
    assert len(tabs) == 1 and len(tabs[0]["ContainerBlueprint:contents"]) == 2
    temporal, _ = read_rrd(path)
    points = temporal["/videos/synthetic_000/lk/points"]
    assert max(len(row["Points2D:positions"]) for row in points.values()) == 10
