"""Plugins: a third-party tracker package, installed into a temp dir, becomes `tracker=<name>`."""

import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from pointbench.registry import discover, load_config, register

PACKAGE = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "halfway-tracker"
        version = "0.1"

        [project.entry-points."pointbench.trackers"]
        halfway = "halfway_tracker.configs"

        [tool.setuptools.packages.find]
        include = ["halfway_tracker*"]

        [tool.setuptools.package-data]
        "halfway_tracker.configs" = ["*.yaml"]
    """,
    "halfway_tracker/__init__.py": """
        import numpy as np
        from pointbench import Tracks
        from pointbench.trackers import Tracker

        IMPORTED = True


        class HalfwayTracker(Tracker):
            \"\"\"Moves every query `shift` pixels to the right, always visible.\"\"\"

            def __init__(self, shift: float):
                self.shift = shift

            def track(self, frames, queries):
                xy = np.repeat(queries[:, None, 1:3], len(frames), axis=1).astype(np.float32)
                xy[..., 0] += self.shift
                return Tracks(xy=xy, visible=np.ones(xy.shape[:2], bool))
    """,
    "halfway_tracker/configs/__init__.py": "",
    "halfway_tracker/configs/halfway.yaml": """
        name: halfway
        _target_: halfway_tracker.HalfwayTracker
        shift: 0.5
    """,
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The package above, pip-installed (no network) into a folder of its own."""
    root = tmp_path_factory.mktemp("plugin")
    source, target = root / "src", root / "site"
    for name, text in PACKAGE.items():
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True)
    return target


def test_installed_plugin_is_a_tracker_choice(site, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(site))
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "pointbench", "tracker=halfway", "tracker.shift=1.5",
                           "dataset.num_videos=1", "dataset.num_frames=4", "dataset.height=32", "dataset.width=32",
                           "dataset.motion_strength=0",
                           "output.rerun=false", f"hydra.run.dir={out}"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = pd.read_csv(out / "metrics_per_video.csv").iloc[0]
    assert row["tracker"] == "halfway" and row["status"] == "ok"
    # A still video: every prediction is 1.5 px off at 32x32, i.e. 12 px at 256x256: within 16, not 8.
    assert row["pts_within_8"] == 0.0 and row["pts_within_16"] == 1.0
    unknown = subprocess.run([sys.executable, "-m", "pointbench", "tracker=nope"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
    assert "halfway" in unknown.stdout + unknown.stderr, "listed among the choices"


def test_discovery_reads_configs_without_importing_the_tracker(site, monkeypatch):
    monkeypatch.syspath_prepend(str(site))
    import importlib

    importlib.invalidate_caches()
    found = discover()
    assert found["tracker"]["halfway"] == "halfway_tracker.configs"
    assert {"lk", "static"} <= set(found["tracker"]) and "synthetic" in found["dataset"]
    assert "halfway_tracker" not in sys.modules or not hasattr(sys.modules["halfway_tracker"], "IMPORTED")
    assert load_config("halfway_tracker.configs", "halfway")["shift"] == 0.5


def test_a_plugin_config_needs_name_and_target():
    with pytest.raises(ValueError, match="_target_"):
        register("tracker", "broken", {"name": "broken"})
    with pytest.raises(ValueError, match="kind"):
        register("metric", "x", {"name": "x", "_target_": "x.Y"})
