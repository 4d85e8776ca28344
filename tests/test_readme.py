"""The README's examples, read from README.md itself and run verbatim where they can run offline.

Every shell command of a ```bash block either runs (in one working folder prepared with the files
and run dirs the README names: `clip.mp4`, `frames/`, `clips/*.mp4`, `multirun/2026-11-24/00-10-12`,
`outputs/run_a`, ...) or matches one of `SKIPPED`, which says why it cannot run here. The plugin
example is built from the README's own files and installed, and its commands run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

README = Path(__file__).parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCKS = [(m.group(1), m.group(2)) for m in re.finditer(r"```(\w*)\n(.*?)```", TEXT, re.S)]

#: Commands that cannot run here, and why (matched against the whole command).
SKIPPED = [
    (r"^(python -m )?pip install", "installs packages (the test environment has them; the plugin's is run below)"),
    (r"python -m pytest", "this test suite itself"),
    (r"^(git|export|curl) ", "needs the network or changes the shell"),
    (r"^rerun ", "opens the viewer"),
    (r"cotracker|tapir|bootstapir|spatialtracker|tapnext|locotrack|alltracker|mediapipe",
     "a learned tracker: needs its upstream package and weights"),
    (r"dataset=(tapvid_davis|tapvid_kinetics|tapvid_rgb_stacking|robotap|kubric|tapvid3d|multiview_npz|jhmdb)",
     "a public dataset that cannot be downloaded here"),
    (r"hydra/launcher=slurm", "needs a SLURM cluster"),
    (r"tracker=my_tracker", "the plugin example: run by test_the_plugin_example_works_verbatim"),
]
#: Run dirs the README's commands read; made before the commands run, by the command given.
RUN_DIRS = {
    "multirun/2026-11-24/00-10-12": ["-m", "tracker=static,lk", "hydra.sweep.dir=multirun/2026-11-24/00-10-12"],
    "outputs/run_a": ["tracker=static", "hydra.run.dir=outputs/run_a"],
    "outputs/run_b": ["tracker=lk", "hydra.run.dir=outputs/run_b"],
    "outputs/run_lk": ["tracker=lk", "hydra.run.dir=outputs/run_lk"],
    "outputs/run_static": ["tracker=static", "hydra.run.dir=outputs/run_static"],
}
FAST = ["dataset.num_videos=2", "dataset.num_frames=8", "dataset.height=64", "dataset.width=64",
        "dataset.num_tracks=16"]


def shell_commands() -> list[str]:
    """Every command of the README's bash blocks: continuation lines joined, comments dropped."""
    commands = []
    for language, text in BLOCKS:
        if language != "bash":
            continue
        for line in text.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.extend(part.strip() for part in line.split("&&"))
    return commands


def skip_reason(command: str) -> str | None:
    return next((why for pattern, why in SKIPPED if re.search(pattern, command)), None)


COMMANDS = shell_commands()
RUNNABLE = [c for c in COMMANDS if skip_reason(c) is None]


def test_every_readme_command_runs_here_or_says_why_not():
    assert len(COMMANDS) >= 30 and len(RUNNABLE) >= 20
    assert all(c.split()[0] in ("pointbench", "pointbench-leaderboard", "pointbench-report", "pointbench-compare",
                                "pointbench-check", "pointbench-profile") for c in RUNNABLE), RUNNABLE


def _env(cache: Path, **extra) -> dict:
    return dict(os.environ, POINTBENCH_CACHE=str(cache), **extra)


def _write_video(path: Path, frames: np.ndarray, fps: int = 10) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, frames.shape[2:0:-1])
    for frame in frames:
        writer.write(frame[..., ::-1])
    writer.release()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder with the files and run dirs the README's commands name."""
    from pointbench.datasets.synthetic import SyntheticDataset

    root = tmp_path_factory.mktemp("readme")
    sample = SyntheticDataset(num_videos=2, num_frames=12, height=96, width=128, num_tracks=8)
    _write_video(root / "clip.mp4", sample.load(0).frames)
    (root / "clips").mkdir()
    for i in range(2):
        _write_video(root / "clips" / f"shot{i}.mp4", sample.load(i).frames)
    (root / "frames").mkdir()
    for t, frame in enumerate(sample.load(1).frames):
        cv2.imwrite(str(root / "frames" / f"frame{t}.png"), frame[..., ::-1])
    for args in RUN_DIRS.values():
        subprocess.run([sys.executable, "-m", "pointbench", *args, *FAST], cwd=root, env=_env(root / "cache"),
                       check=True, capture_output=True, timeout=300)
    return root


@pytest.mark.parametrize("command", RUNNABLE)
def test_readme_command(workdir, command):
    proc = subprocess.run(shlex.split(command), cwd=workdir, env=_env(workdir / "cache"), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def _files(language_first_lines) -> dict[str, str]:
    """README blocks whose first line is a comment naming a file: {path: text}."""
    found = {}
    for language, text in BLOCKS:
        match = re.match(r"#\s*([\w./-]+\.(py|yaml|toml))\s*\n", text)
        if match and language in language_first_lines:
            found[match.group(1)] = text
    return found


def test_the_plugin_example_works_verbatim(tmp_path):
    files = _files(("python", "yaml", "toml"))
    assert set(files) == {"my_tracker/__init__.py", "my_tracker/configs/__init__.py",
                          "my_tracker/configs/my_tracker.yaml", "pyproject.toml"}
    package = tmp_path / "my-tracker"
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    (block,) = [text for language, text in BLOCKS if language == "bash" and "tracker=my_tracker" in text]
    site = tmp_path / "site"
    env = _env(tmp_path / "cache", PYTHONPATH=str(site))
    for command in [c for c in block.splitlines() if c.strip()]:
        args = shlex.split(command)
        if args[:2] == ["pip", "install"]:  # the same install, into a folder of its own and offline
            args = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), *args[2:]]
        else:
            args += [*FAST, "output.rerun=false", f"hydra.run.dir={tmp_path / 'run'}"]
        proc = subprocess.run(args, cwd=package, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "my_tracker" in (tmp_path / "run" / "metrics_per_video.csv").read_text()

    (check,) = [text for language, text in BLOCKS if language == "python" and "assert_conforms" in text]
    code = check + "\ntest_my_tracker_conforms()\nprint('conforms')\n"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "conforms" in proc.stdout, proc.stderr


def test_the_python_snippets_run():
    from pointbench.datasets.synthetic import SyntheticDataset

    sample = SyntheticDataset(num_videos=1, num_frames=8, height=64, width=64, num_tracks=8).load(0)
    prelude = {"gt_xy": sample.gt.xy, "gt_visible": sample.gt.visible, "pred_xy": sample.gt.xy,
               "pred_visible": sample.gt.visible, "query_frames": sample.queries[:, 0], "h": 64, "w": 64}
    snippets = [text for language, text in BLOCKS
                if language == "python" and not text.startswith("# my_tracker") and "assert_conforms" not in text]
    assert len(snippets) >= 2
    scored = 0
    for text in snippets:
        namespace = dict(prelude)
        exec(compile(textwrap.dedent(text), "README.md", "exec"), namespace)  # noqa: S102 (our own README)
        if "m" in namespace:  # the metrics snippet, given the ground truth as the prediction
            assert namespace["m"]["AJ"] == pytest.approx(1.0) and namespace["m"]["OA"] == pytest.approx(1.0)
            scored += 1
    assert scored == 1
