"""pointbench-check: built-in trackers conform, learned adapters conform structurally with random weights, and each
deliberately broken tracker fails the check named for its fault (and only that one)."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from pointbench.check import CHECKS, assert_conforms, check_tracker, leaving_clip, main, translation_clip
from pointbench.trackers import Tracker
from pointbench.trackers.flow import DISFlowTracker, FarnebackFlowTracker
from pointbench.trackers.lk import LucasKanadeTracker
from pointbench.trackers.static import StaticTracker
from pointbench.types import Tracks

MOTION_CHECKS = {"xy_order", "leaves_frame"}


def _by_name(results):
    assert [r.name for r in results] == list(CHECKS)
    return {r.name: r for r in results}


# ---------------------------------------------------------------- built-in trackers


@pytest.mark.parametrize("tracker", [LucasKanadeTracker, DISFlowTracker, FarnebackFlowTracker,
                                     lambda: DISFlowTracker(preset="ultrafast"), lambda: DISFlowTracker(preset="fast")],
                         ids=["lk", "dis", "farneback", "dis_ultrafast", "dis_fast"])
def test_builtin_trackers_pass_every_check(tracker):
    results = _by_name(assert_conforms(tracker()))
    assert all(r.passed for r in results.values()), results


def test_static_passes_structure_and_is_exempt_from_motion():
    results = _by_name(assert_conforms(StaticTracker()))
    for name, result in results.items():
        assert result.status == ("skipped" if name in MOTION_CHECKS else "pass"), result
    assert "query's own frame" in results["pixel_convention"].detail


def test_structural_only_skips_accuracy_checks():
    results = _by_name(check_tracker(LucasKanadeTracker(), accuracy=False))
    for name, (applies, _) in CHECKS.items():
        assert results[name].status == ("skipped" if applies == "accuracy" else "pass"), results[name]


def test_clips_motion_is_exact():
    """The clips' ground truth: the query's own position at its frame, and the texture really moves that way."""
    clip = translation_clip()
    rows = np.arange(len(clip.queries))
    np.testing.assert_array_equal(clip.xy[rows, clip.query_frame], clip.queries[:, 1:])
    assert clip.inside.all()
    # frame 8 is frame 0 moved by exactly 8 · (1.125, -0.5) = (9, -4) px; frame 4 by (4.5, -2): the mean of the
    # shifts by 4 and 5 in x, as bilinear interpolation renders a half-pixel shift
    f0, f4, f8 = (clip.frames[t].astype(np.int64) for t in (0, 4, 8))
    np.testing.assert_array_equal(f8[:-4, 9:], f0[4:, :-9])
    assert np.abs(2 * f4[:-2, 5:] - f0[2:, 1:-4] - f0[2:, :-5]).max() <= 2
    leaving = leaving_clip()
    assert (~leaving.inside).any(axis=1).sum() >= 16 and leaving.inside.all(axis=1).sum() >= 8


# ---------------------------------------------------------------- deliberately broken trackers


class _Broken(Tracker):
    """Lucas–Kanade with one fault applied to its output."""

    def __init__(self, **lk):
        self.inner = LucasKanadeTracker(**lk)

    def track(self, frames, queries):
        tracks = self.inner.track(frames, queries)
        xy, visible = tracks.xy.copy(), tracks.visible.copy()
        before = np.arange(len(frames))[None, :] < queries[:, :1].astype(int)
        xy, visible = self.fault(xy, visible, before, frames, queries)
        return Tracks(xy=xy.astype(np.float32), visible=visible)


class SwappedAxes(_Broken):
    def fault(self, xy, visible, before, frames, queries):
        return xy[..., ::-1], visible


class HalfPixelShift(_Broken):
    def fault(self, xy, visible, before, frames, queries):
        return xy + 0.5, visible


class BeforeQueryNaN(_Broken):
    def fault(self, xy, visible, before, frames, queries):
        xy[before] = np.nan
        visible[before] = False
        return xy, visible


class BeforeQueryZero(_Broken):
    def fault(self, xy, visible, before, frames, queries):
        xy[before] = 0.0
        return xy, visible


class BeforeQueryInvisible(_Broken):
    def fault(self, xy, visible, before, frames, queries):
        visible[before] = False
        return xy, visible


class NeverOccluded(_Broken):
    def fault(self, xy, visible, before, frames, queries):
        return xy, np.ones_like(visible)


class NonDeterministic(_Broken):
    def fault(self, xy, visible, before, frames, queries):
        return xy + np.random.default_rng().normal(0, 0.01, xy.shape), visible


class FixedResolution(Tracker):
    """Tracks at a fixed 64×48 and forgets to scale the tracks back to the video's pixels."""

    def track(self, frames, queries):
        import cv2

        sx, sy = 64 / frames.shape[2], 48 / frames.shape[1]
        small = np.stack([cv2.resize(f, (64, 48), interpolation=cv2.INTER_AREA) for f in frames])
        q = queries * np.array([1, sx, sy], np.float32)
        return LucasKanadeTracker().track(small, q)


FAULTS = [
    (SwappedAxes, "xy_order"),
    (HalfPixelShift, "pixel_convention"),
    (BeforeQueryNaN, "before_query"),
    (BeforeQueryZero, "before_query"),
    (BeforeQueryInvisible, "before_query"),
    (NeverOccluded, "leaves_frame"),
    (NonDeterministic, "determinism"),
]


@pytest.mark.parametrize("broken, check", FAULTS, ids=[f[0].__name__ for f in FAULTS])
def test_each_fault_fails_its_own_check(broken, check):
    results = _by_name(check_tracker(broken()))
    assert results[check].failed, results[check]
    others = {name: r.status for name, r in results.items() if name != check}
    assert set(others.values()) == {"pass"}, f"only {check} should fail: {others}"
    with pytest.raises(AssertionError, match=check):
        assert_conforms(broken())


def test_fault_messages_say_what_is_wrong():
    assert "swapped" in _by_name(check_tracker(SwappedAxes()))["xy_order"].detail
    assert "half-pixel" in _by_name(check_tracker(HalfPixelShift()))["pixel_convention"].detail
    assert "NaN" in _by_name(check_tracker(BeforeQueryNaN()))["before_query"].detail
    assert "fill value" in _by_name(check_tracker(BeforeQueryZero()))["before_query"].detail
    assert "occluded" in _by_name(check_tracker(BeforeQueryInvisible()))["before_query"].detail


@pytest.mark.parametrize("accuracy", [True, False])
def test_unscaled_tracks_fail_resize_invariance(accuracy):
    """A coordinate left at the model's resolution is caught even by the structural tolerance."""
    results = _by_name(check_tracker(FixedResolution(), accuracy=accuracy))
    assert results["resize_invariance"].failed, results["resize_invariance"]


def test_structural_faults_are_caught_without_accuracy_checks():
    for broken, check in [(BeforeQueryNaN, "before_query"), (BeforeQueryZero, "before_query"),
                          (NonDeterministic, "determinism")]:
        assert _by_name(check_tracker(broken(), accuracy=False))[check].failed


def test_wrong_output_type_and_raising_tracker_are_reported():
    class WrongShape(Tracker):
        def track(self, frames, queries):
            return Tracks(xy=np.zeros((len(queries), len(frames) - 1, 2), np.float32),
                          visible=np.ones((len(queries), len(frames) - 1), bool))

    class Raises(Tracker):
        def track(self, frames, queries):
            raise RuntimeError("boom")

    wrong = _by_name(check_tracker(WrongShape()))
    assert wrong["shapes_dtypes"].failed and "xy: expected float32 (20, 10, 2)" in wrong["shapes_dtypes"].detail
    assert not any(r.failed for name, r in wrong.items() if name != "shapes_dtypes")  # the rest cannot be judged
    raised = _by_name(check_tracker(Raises()))
    assert raised["shapes_dtypes"].failed and "boom" in raised["shapes_dtypes"].detail
    assert raised["determinism"].failed


# ---------------------------------------------------------------- command line


def test_cli_passes_builtin_and_prints_a_table(capsys):
    assert main(["tracker=dis", "tracker.preset=fast"]) == 0
    out = capsys.readouterr().out
    assert "tracker 'dis'" in out and "structural and accuracy checks" in out
    for name in CHECKS:
        assert name in out
    assert "7 passed, 0 failed, 0 skipped" in out


def test_cli_static(capsys):
    assert main(["tracker=static"]) == 0
    assert "does not follow motion" in capsys.readouterr().out


def test_cli_exits_1_on_failure(capsys):
    assert main(["tracker=lk", "tracker._target_=test_check.HalfPixelShift"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"pixel_convention +FAIL", out) and "6 passed, 1 failed" in out


def test_cli_structural_flag_and_unknown_tracker(capsys):
    assert main(["tracker=lk", "--structural"]) == 0
    assert "structural checks only" in capsys.readouterr().out
    assert main(["tracker=no_such_tracker"]) == 2
    assert "no_such_tracker" in capsys.readouterr().err


def test_console_script_installed():
    result = subprocess.run([sys.executable, "-m", "pointbench.check", "tracker=static"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "5 passed, 0 failed, 2 skipped" in result.stdout


# ---------------------------------------------------------------- learned adapters, random weights


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


# Small models at 64×64 with random weights, as in test_learned_trackers.py.
COTRACKER = dict(checkpoint="random", device="cpu", model_resolution=(64, 64), model={"num_virtual_tracks": 4},
                 support_grid_size=2)
TAPIR = dict(checkpoint="random", device="cpu", resolution=(64, 64),
             model={"pyramid_level": 1, "extra_convs": True, "softmax_temperature": 10.0,
                    "initial_resolution": (64, 64)})
LEARNED = {
    "cotracker3_offline": ("cotracker.models.core.cotracker.cotracker3_offline", "cotracker", "CoTracker3", COTRACKER),
    "cotracker3_online": ("cotracker.models.core.cotracker.cotracker3_online", "cotracker", "CoTracker3",
                          dict(COTRACKER, online=True, window_len=4, support_grid_size=0, visibility_score="vis_conf",
                               visibility_threshold=0.6)),
    "tapir": ("tapnet.torch.tapir_model", "tapir", "Tapir",
              dict(TAPIR, model={"pyramid_level": 0, "extra_convs": False, "softmax_temperature": 20.0,
                                 "initial_resolution": (64, 64)})),
    "bootstapir": ("tapnet.torch.tapir_model", "tapir", "Tapir", TAPIR),
    "bootstapir_online": ("tapnet.torch.tapir_model", "tapir", "Tapir", dict(TAPIR, online=True)),
}


@pytest.mark.parametrize("kind", list(LEARNED))
def test_learned_adapters_pass_structurally_with_random_weights(kind, torch):
    upstream, module, cls, kwargs = LEARNED[kind]
    pytest.importorskip(upstream)
    import importlib

    tracker = getattr(importlib.import_module(f"pointbench.trackers.{module}"), cls)(**kwargs)
    results = _by_name(assert_conforms(tracker, accuracy=False))
    for name, (applies, _) in CHECKS.items():
        assert results[name].status == ("skipped" if applies == "accuracy" else "pass"), results[name]


def test_cli_random_checkpoint_means_structural(torch, capsys):
    pytest.importorskip("tapnet.torch.tapir_model")
    code = main(["tracker=tapir", "tracker.checkpoint=random", "tracker.device=cpu", "tracker.resolution=[64,64]"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "structural checks only" in out and "4 passed, 0 failed, 3 skipped" in out
