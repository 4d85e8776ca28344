"""Run dirs are data, not code: crafted run dirs given to the commands that read finished runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import pointbench
from pointbench.runner import run

CONF = str(Path(pointbench.__file__).parent / "conf")
SMALL = ["dataset.num_videos=2", "dataset.num_frames=8", "dataset.height=64", "dataset.width=64",
         "dataset.num_tracks=16", "output.rerun=false", "cache_dir=null"]
COMMANDS = ("pointbench-compare", "pointbench-report", "pointbench-leaderboard")


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("good") / "run"
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=SMALL)
    run(cfg, out)
    return out


def _command(name, run_dir, tmp_path):
    module = {"pointbench-compare": "compare", "pointbench-report": "report",
              "pointbench-leaderboard": "leaderboard"}[name]
    return subprocess.run([sys.executable, "-c", f"from pointbench.{module} import main; main()", str(run_dir),
                           "--out", str(tmp_path / "out" / ("x.rrd" if module == "compare" else ""))],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=dict(os.environ))


def _marker_payloads(marker: Path) -> dict[str, str]:
    """Stored dataset configs that would create `marker` if anything instantiated or unpickled them."""
    pickled = ("cposix\nsystem\n(V" + f"touch {marker}" + "\ntR.").encode("latin1")
    return {
        "os.system": json.dumps({"_target_": "os.system", "command": f"touch {marker}"}),
        "numpy.load": json.dumps({"_target_": "numpy.load", "file": {"_target_": "io.BytesIO",
                                                                     "initial_bytes": pickled.decode("latin1")},
                                  "allow_pickle": True}),
        "nested": json.dumps({"_target_": "pointbench.datasets.synthetic.SyntheticDataset", "num_videos": 2,
                              "seed": {"_target_": "os.system", "command": f"touch {marker}"}}),
        "unknown": json.dumps({"_target_": "os.system", "command": f"touch {marker}"}),
    }


@pytest.mark.parametrize("payload", ["os.system", "numpy.load", "nested", "unknown"])
@pytest.mark.parametrize("where", ["run.json", "config.yaml"])
def test_crafted_run_dirs_run_nothing_and_are_refused_by_compare(tmp_path, good_run, payload, where):
    marker = tmp_path / "PWNED"
    crafted = tmp_path / "crafted"
    shutil.copytree(good_run, crafted)
    dataset = json.loads(_marker_payloads(marker)[payload])
    name = "mystery" if payload == "unknown" else "synthetic"
    if where == "run.json":
        identity = json.loads((crafted / "run.json").read_text())
        identity["identity"]["dataset"] = {"name": name, "config": dataset}
        (crafted / "run.json").write_text(json.dumps(identity))
    else:
        (crafted / "run.json").unlink()
        (crafted / ".hydra").mkdir(exist_ok=True)
        (crafted / ".hydra" / "config.yaml").write_text(json.dumps(
            {"tracker": {"name": "lk", "_target_": "pointbench.trackers.lk.LucasKanadeTracker"},
             "dataset": {"name": name, **dataset}}))
    for command in COMMANDS:
        proc = _command(command, crafted, tmp_path)
        assert not marker.exists(), f"{command} ran a payload"
        if command == "pointbench-compare" or payload in ("nested", "numpy.load"):
            assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
            assert str(crafted) in proc.stderr and "refus" in proc.stderr
            assert "Traceback" not in proc.stderr
        else:  # the leaderboard and the report read tables only: data, shown as data
            assert proc.returncode == 0, (command, proc.stderr)


def test_yaml_that_constructs_python_objects_is_refused(tmp_path, good_run):
    marker = tmp_path / "PWNED"
    crafted = tmp_path / "crafted"
    shutil.copytree(good_run, crafted)
    (crafted / "run.json").unlink()
    (crafted / ".hydra").mkdir(exist_ok=True)
    (crafted / ".hydra" / "config.yaml").write_text(
        f"tracker: !!python/object/apply:os.system ['touch {marker}']\ndataset: {{name: synthetic}}\n")
    for command in COMMANDS:
        proc = _command(command, crafted, tmp_path)
        assert not marker.exists()
        assert proc.returncode == 2 and "config.yaml" in proc.stderr and "Traceback" not in proc.stderr


def test_interpolations_in_a_stored_config_are_not_resolved(tmp_path, good_run):
    crafted = tmp_path / "crafted"
    shutil.copytree(good_run, crafted)
    (crafted / "run.json").unlink()
    (crafted / ".hydra").mkdir(exist_ok=True)
    taken = tmp_path / "made_by_a_resolver"
    (crafted / ".hydra" / "config.yaml").write_text(json.dumps(
        {"tracker": {"name": "lk", "_target_": "pointbench.trackers.lk.LucasKanadeTracker"},
         "dataset": {"name": "synthetic", "_target_": "pointbench.datasets.synthetic.SyntheticDataset",
                     "num_videos": 2, "seed": f"${{pb.unique:{taken}}}"}}))
    proc = _command("pointbench-leaderboard", crafted, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not taken.exists(), "a stored interpolation was resolved"


def test_missing_dirs_and_dirs_without_runs_are_one_line_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    for command in COMMANDS:
        for target in (tmp_path / "nope", tmp_path / "empty"):
            proc = _command(command, target, tmp_path)
            assert proc.returncode == 2, (command, proc.stderr)
            assert len(proc.stderr.strip().splitlines()) == 1 and str(target) in proc.stderr
