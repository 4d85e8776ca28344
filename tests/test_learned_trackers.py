"""Learned trackers (CoTracker3, TAPIR/BootsTAPIR): the tracker contract, equality with the upstream
predictors called directly, pixel conventions, checkpoints, RNG isolation and lazy imports.

Models are built with random weights (`checkpoint=random`) at small resolutions; nothing is downloaded.
Tests needing torch, cotracker or tapnet skip cleanly when they are missing.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pointbench
from pointbench.trackers.cotracker import CoTracker3
from pointbench.trackers.tapir import Tapir
from pointbench.trackers.torch_support import resolve_device
from pointbench.types import Tracks
import upstream_reference as upstream
from track_contract import assert_tracks_contract

CONF = str(Path(pointbench.__file__).parent / "conf")
RNG = np.random.default_rng(0)
FRAMES = RNG.integers(0, 256, (7, 48, 64, 3), dtype=np.uint8)  # T=7, H=48, W=64
QUERIES = np.array([[0, 10.3, 20.7], [3, 30.2, 5.5], [6, 60.0, 40.0], [2, 1.0, 47.0], [4, 33.0, 22.0]], np.float32)

# Small models: 64×64, few virtual tracks, short online windows (step 2, so T=7 takes three steps, the last partial).
COTRACKER = dict(checkpoint="random", model_resolution=(64, 64), model={"num_virtual_tracks": 4}, support_grid_size=2)
COTRACKER_ONLINE = dict(COTRACKER, online=True, window_len=4, support_grid_size=0, visibility_score="vis_conf",
                        visibility_threshold=0.6)
TAPIR_SMALL = dict(checkpoint="random", resolution=(64, 64),
                   model={"pyramid_level": 1, "extra_convs": True, "softmax_temperature": 10.0,
                          "initial_resolution": (64, 64)})
FRAMES_64 = RNG.integers(0, 256, (7, 64, 64, 3), dtype=np.uint8)  # TAPIR at its input size: no resampling
EARLY = QUERIES[[0, 3]]  # queries on frames 0 and 2, for 3-frame videos


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: one thread is faster and immune to a busy machine
    yield torch
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def cotracker(torch):
    pytest.importorskip("cotracker.models.core.cotracker.cotracker3_offline")
    return torch


@pytest.fixture(scope="module")
def tapnet(torch):
    pytest.importorskip("tapnet.torch.tapir_model")
    return torch


def _lively(model, torch, vis_bias):
    """Give a random CoTracker's output heads enough gain that tracks move (forward and backward passes
    disagree), and a bias that puts its visibility scores around the threshold (its default init barely
    moves a point and gives every score one side of it)."""
    former, gen = model.updateformer, torch.Generator().manual_seed(2)
    with torch.no_grad():
        for head, std in ((former.flow_head, 0.02), (former.vis_conf_head, 0.01)):
            head.weight.copy_(torch.randn(head.weight.shape, generator=gen) * std)
        former.vis_conf_head.bias.fill_(vis_bias)
    return model


def _build(kind, **overrides):
    if kind == "cotracker3_offline":
        tracker = CoTracker3(**{**COTRACKER, **overrides})
    elif kind == "cotracker3_online":
        tracker = CoTracker3(**{**COTRACKER_ONLINE, **overrides})
    else:
        tracker = Tapir(**{**TAPIR_SMALL, "online": kind == "bootstapir_online", **overrides})
    if kind.startswith("cotracker"):  # scores around 0.9 (vis, offline) and 0.6 (vis · conf, online)
        _lively(tracker.model, tracker.torch, vis_bias=0.95 if tracker.online else 0.7)
    return tracker


KINDS = ["cotracker3_offline", "cotracker3_online", "bootstapir", "bootstapir_online"]


@pytest.fixture(scope="module", params=KINDS)
def learned(request, torch):
    pytest.importorskip("cotracker.models.core.cotracker.cotracker3_offline" if request.param.startswith("cotracker")
                        else "tapnet.torch.tapir_model")
    tracker = _build(request.param)
    frames = FRAMES if request.param.startswith("cotracker") else FRAMES_64
    return request.param, tracker, frames, tracker.track(frames, QUERIES)


# ---------------------------------------------------------------- contract


def test_contract_shapes_dtypes_and_every_frame_filled(learned):
    kind, _, frames, tracks = learned
    assert_tracks_contract(tracks, frames, len(QUERIES))  # query 2 is on the last frame: every frame before it


def test_chunked_equals_unchunked(learned):
    kind, tracker, frames, whole = learned
    if kind.startswith("cotracker"):
        # CoTracker tracks the points of one pass jointly: a chunked run is exactly the runs of its chunks,
        # and differs (slightly) from one joint pass.
        frames, queries = frames[:4], QUERIES[[0, 1, 3]]
        chunked = _build(kind, max_queries_per_pass=2).track(frames, queries)
        assert chunked == Tracks.merge([tracker.track(frames, queries[s]) for s in (slice(0, 2), slice(2, 3))])
        assert not np.array_equal(chunked.xy, tracker.track(frames, queries).xy), "chunks do interact"
    else:
        # TAPIR tracks each query on its own: chunks only bound memory.
        chunked = _build(kind, max_queries_per_pass=2).track(frames, QUERIES)
        np.testing.assert_allclose(chunked.xy, whole.xy, atol=1e-4)
        np.testing.assert_allclose(chunked.confidence, whole.confidence, atol=1e-5)
        assert np.array_equal(chunked.visible, whole.visible)


@pytest.mark.parametrize("kind", KINDS)
def test_single_query_two_frames_and_empty(kind, torch):
    pytest.importorskip("cotracker.models.core.cotracker.cotracker3_offline" if kind.startswith("cotracker")
                        else "tapnet.torch.tapir_model")
    tracker = _build(kind)
    frames = (FRAMES if kind.startswith("cotracker") else FRAMES_64)[:2]
    one = tracker.track(frames, np.array([[1, 30.2, 5.5]], np.float32))  # N=1, on the last of T=2 frames
    assert one.xy.shape == (1, 2, 2) and np.isfinite(one.xy).all()
    assert tracker.track(frames, np.zeros((0, 3), np.float32)).xy.shape == (0, 2, 2)


# ---------------------------------------------------------------- equal to upstream called directly


@pytest.mark.parametrize("kind", ["cotracker3_offline", "cotracker3_online"])
def test_cotracker_equals_upstream_predictor(kind, cotracker):
    torch = cotracker
    tracker = _build(kind)
    ours = tracker.track(FRAMES, QUERIES)
    xy, visible = upstream.cotracker(upstream.cotracker_predictor(tracker), FRAMES, QUERIES, torch)
    assert np.abs(ours.xy - xy).max() < 1e-3
    assert np.array_equal(ours.visible, visible)
    assert 0 < visible.mean() < 1, "visibility must be a real test, not all one value"
    forward_only = _build(kind, backward_tracking=False).track(FRAMES, QUERIES)
    before = np.arange(len(FRAMES))[None] < QUERIES[:, :1]
    assert np.abs(forward_only.xy - ours.xy)[before].min() > 1e-3, "the backward pass must change frames before"
    assert np.array_equal(forward_only.xy[~before], ours.xy[~before])


@pytest.mark.parametrize("online", [False, True])
def test_tapir_equals_upstream_demo(online, tapnet):
    torch = tapnet
    tracker = _build("bootstapir_online" if online else "bootstapir")
    ours = tracker.track(FRAMES_64, QUERIES)
    tracks, occlusion, expected_dist = (upstream.tapir_causal if online else upstream.tapir_forward)(
        tracker.model, FRAMES_64, QUERIES, torch)
    score = ((1 - torch.sigmoid(occlusion)) * (1 - torch.sigmoid(expected_dist))).numpy()
    assert np.abs(ours.xy - tracks.numpy()).max() < 1e-3
    assert np.abs(ours.confidence - score).max() < 1e-5
    assert np.array_equal(ours.visible, score > 0.5)


# ---------------------------------------------------------------- pixel conventions (known answers)


def test_cotracker_converts_raster_to_pixel_centres(cotracker, monkeypatch):
    """With align_corners=True resizing, the centre of the first pixel (raster 0.5) is model coordinate 0 and the
    centre of the last (raster W - 0.5) is w - 1, whatever the sizes; tracks come back the same way."""
    torch = cotracker
    tracker = CoTracker3(checkpoint="random", model_resolution=(64, 128), support_grid_size=0,
                         backward_tracking=False, model={"num_virtual_tracks": 4})
    seen = {}

    def fake_forward(video, queries, iters):
        seen["queries"] = queries.clone()
        t, n = video.shape[1], queries.shape[1]
        coords = torch.tensor([[0.0, 0.0], [127.0, 63.0]])[None, None].expand(1, t, n, 2).clone()
        return coords, torch.ones(1, t, n), torch.ones(1, t, n), None

    monkeypatch.setattr(tracker.model, "forward", fake_forward)
    frames = np.zeros((3, 32, 64, 3), np.uint8)  # H=32, W=64 -> model 64×128: factor (128-1)/(64-1) in x
    out = tracker.track(frames, np.array([[0, 0.5, 0.5], [0, 63.5, 31.5]], np.float32))
    np.testing.assert_allclose(seen["queries"][0, :, 1:].numpy(), [[0, 0], [127, 63]], atol=1e-5)
    # frame 1 is the model's answer (frame 0, the query frame, is pinned to the query as upstream does)
    np.testing.assert_allclose(out.xy[:, 1], [[0.5, 0.5], [63.5, 31.5]], atol=1e-5)


def test_tapir_scales_raster_coordinates(tapnet, monkeypatch):
    """TAPIR takes (t, y, x) raster at its input size: image (x, y) -> (x·w/W, y·h/H), tracks back by W/w, H/h."""
    torch = tapnet
    tracker = Tapir(**{**TAPIR_SMALL, "resolution": (16, 32)})
    seen = {}

    def fake_forward(video, query_points, query_chunk_size):
        seen["video"], seen["points"] = video, query_points.clone()
        n, t = query_points.shape[1], video.shape[1]
        tracks = torch.tensor([[32.0, 16.0], [8.0, 4.0]])[None, :, None].expand(1, n, t, 2)
        occlusion = torch.tensor([-9.0, -9.0])[None, :, None].expand(1, n, t)
        expected_dist = torch.tensor([-9.0, 0.0])[None, :, None].expand(1, n, t)
        return {"tracks": tracks, "occlusion": occlusion, "expected_dist": expected_dist}

    monkeypatch.setattr(tracker.model, "forward", fake_forward)
    frames = np.full((2, 32, 64, 3), 255, np.uint8)
    out = tracker.track(frames, np.array([[1, 64.0, 32.0], [0, 0.5, 2.0]], np.float32))
    assert tuple(seen["video"].shape) == (1, 2, 16, 32, 3) and torch.allclose(seen["video"], torch.ones(1))
    np.testing.assert_allclose(seen["points"][0].numpy(), [[1, 16, 32], [0, 1, 0.25]])
    np.testing.assert_allclose(out.xy[:, 0], [[64, 32], [16, 8]])
    # visibility score (1 - σ(occlusion)) · (1 - σ(expected_dist)): ≈ 0.99975 for query 0, just under 0.5 for query 1
    keep = 1 - 1 / (1 + np.exp(9.0))  # 1 - σ(-9)
    np.testing.assert_allclose(out.confidence, [[keep**2] * 2, [keep * 0.5] * 2], rtol=1e-6)
    assert out.visible[0].all() and not out.visible[1].any()


# ---------------------------------------------------------------- checkpoints


def test_checkpoint_file_round_trip(tapnet, tmp_path):
    torch = tapnet
    tracker = _build("bootstapir")
    expected = tracker.track(FRAMES_64[:3], EARLY)
    path = tmp_path / "weights.pt"
    torch.save({"model": tracker.model.state_dict()}, path)  # the training-checkpoint wrapper is unwrapped
    with torch.no_grad():
        for p in tracker.model.parameters():
            p.add_(1.0)
    assert _build("bootstapir", checkpoint=str(path)).track(FRAMES_64[:3], EARLY) == expected


def test_checkpoint_download_into_hub_cache(tapnet, tmp_path, monkeypatch):
    torch = tapnet
    source = tmp_path / "source" / "official.pt"
    source.parent.mkdir()
    torch.save(_build("bootstapir").model.state_dict(), source)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    tracker = _build("bootstapir", checkpoint=None, checkpoint_url=source.as_uri())
    assert (tmp_path / "torch_home" / "hub" / "checkpoints" / "official.pt").is_file()
    assert tracker.track(FRAMES_64[:3], EARLY) == _build("bootstapir").track(FRAMES_64[:3], EARLY)


def test_checkpoint_errors_name_the_fix(tapnet, tmp_path, monkeypatch):
    torch = tapnet
    url = "https://storage.googleapis.com/dm-tapnet/bootstap/bootstapir_checkpoint_v2.pt"
    with pytest.raises(FileNotFoundError, match=r"curl -L --create-dirs -o .*nothere\.pt " + url):
        _build("bootstapir", checkpoint=str(tmp_path / "nothere.pt"), checkpoint_url=url)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    missing = (tmp_path / "offline" / "bootstapir_checkpoint_v2.pt").as_uri()  # like no network: cannot fetch
    cached = tmp_path / "torch_home" / "hub" / "checkpoints" / "bootstapir_checkpoint_v2.pt"
    with pytest.raises(RuntimeError, match=f"curl -L --create-dirs -o {cached} {missing}"):
        _build("bootstapir", checkpoint=None, checkpoint_url=missing)
    # weights of another configuration: TAPIR's settings cannot take BootsTAPIR's weights
    path = tmp_path / "boots.pt"
    torch.save(_build("bootstapir").model.state_dict(), path)
    with pytest.raises(ValueError, match="does not fit the model"):
        _build("tapir", checkpoint=str(path), model={"pyramid_level": 0, "extra_convs": False,
                                                      "initial_resolution": (64, 64)})


def _hide_package(monkeypatch, package):
    """Make `package` (and any of its modules already imported) unimportable for this test."""
    for name in [m for m in sys.modules if m.startswith(package + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, package, None)


def test_missing_packages_name_the_install_command(torch, monkeypatch):
    _hide_package(monkeypatch, "cotracker")
    with pytest.raises(ImportError, match=r"pip install 'cotracker @ git\+https://github.com/facebookresearch"):
        CoTracker3(**COTRACKER)
    _hide_package(monkeypatch, "tapnet")
    with pytest.raises(ImportError, match=r"pip install --no-deps 'tapnet @ git\+https://github.com/google-deepmind"
                                          r".*einshape dm-tree"):
        Tapir(**TAPIR_SMALL)


def test_missing_torch_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    for build in (lambda: CoTracker3(**COTRACKER), lambda: Tapir(**TAPIR_SMALL)):
        with pytest.raises(ImportError, match="pip install torch"):
            build()


# ---------------------------------------------------------------- RNG, settings, imports


def test_building_cotracker_leaves_torch_rng_alone(cotracker, monkeypatch):
    torch = cotracker
    module = "cotracker.models.core.cotracker.cotracker3_offline"

    def forget_cotracker():  # so that the upstream import (which calls torch.manual_seed(0)) really runs again
        for name in [m for m in sys.modules if m == "cotracker" or m.startswith("cotracker.")]:
            monkeypatch.delitem(sys.modules, name)

    forget_cotracker()
    torch.manual_seed(123)
    state, expected = torch.get_rng_state(), torch.rand(4)
    torch.set_rng_state(state)
    CoTracker3(**COTRACKER)
    assert module in sys.modules
    assert torch.equal(torch.get_rng_state(), state) and torch.equal(torch.rand(4), expected)
    # the control: the same import without the adapter's guard does reseed
    forget_cotracker()
    torch.set_rng_state(state)
    importlib.import_module(module)
    assert not torch.equal(torch.get_rng_state(), state)


def test_tracking_leaves_torch_rng_alone(tapnet):
    torch = tapnet
    tracker = _build("bootstapir")  # TAPIR's forward draws a torch.randperm of the queries
    torch.manual_seed(7)
    state = torch.get_rng_state()
    tracker.track(FRAMES_64[:3], EARLY)
    assert torch.equal(torch.get_rng_state(), state)


def test_random_weights_are_reproducible(cotracker):
    a, b = CoTracker3(**COTRACKER), CoTracker3(**COTRACKER)
    assert all(cotracker.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))


@pytest.mark.parametrize("build, message", [
    (lambda: CoTracker3(model_resolution=(64, 66)), "model_resolution"),
    (lambda: CoTracker3(visibility_score="conf"), "visibility_score"),
    (lambda: CoTracker3(visibility_threshold=1.5), "visibility_threshold"),
    (lambda: CoTracker3(max_queries_per_pass=0), "max_queries_per_pass"),
    (lambda: CoTracker3(model={"window_len": 8}), "tracker keys"),
    (lambda: CoTracker3(precision="fp8"), "precision"),
    (lambda: Tapir(resolution=(250, 256)), "resolution"),
    (lambda: Tapir(model={"use_casual_conv": True}), "online"),
    (lambda: Tapir(checkpoint=None, checkpoint_url=None), "checkpoint_url"),
])
def test_bad_settings_are_named(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_device_and_precision_checks(torch):
    if torch.cuda.is_available():
        pytest.skip("checks the CPU-only behaviour")
    with pytest.raises(ValueError, match="needs a CUDA device"):
        CoTracker3(**{**COTRACKER, "precision": "fp16", "device": "cpu"})
    with pytest.raises(ValueError, match="CUDA is not available"):
        Tapir(**{**TAPIR_SMALL, "device": "cuda"})
    assert resolve_device(torch, "auto", "test").type == "cpu"


def test_modules_and_configs_need_no_torch():
    code = ("import sys, pointbench, pointbench.trackers.cotracker, pointbench.trackers.tapir\n"
            "from hydra import compose, initialize_config_dir\n"
            f"with initialize_config_dir(config_dir={CONF!r}, version_base='1.3'):\n"
            "    for t in ['cotracker3_offline', 'cotracker3_online', 'tapir', 'bootstapir', 'bootstapir_online']:\n"
            "        compose(config_name='config', overrides=['tracker=' + t])\n"
            "heavy = [m for m in ('torch', 'cotracker', 'tapnet') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("tracker, extra", [
    ("cotracker3_online", ["tracker.model_resolution=[64,64]", "tracker.window_len=4", "+tracker.model.num_virtual_tracks=4"]),
    ("bootstapir", ["tracker.resolution=[64,64]", "+tracker.model.initial_resolution=[64,64]"]),
])
def test_runs_through_the_runner_strided(tracker, extra, torch, tmp_path):
    pytest.importorskip("cotracker.models.core.cotracker.cotracker3_online" if tracker.startswith("cotracker")
                        else "tapnet.torch.tapir_model")
    from hydra import compose, initialize_config_dir

    from pointbench.runner import run

    overrides = [f"tracker={tracker}", "tracker.checkpoint=random", "tracker.device=cpu", *extra,
                 "dataset.num_videos=1", "dataset.num_frames=8", "dataset.height=64", "dataset.width=64",
                 "dataset.num_tracks=6", "dataset.query_mode=strided", "output.rerun=false"]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    result = run(cfg, tmp_path)
    assert (result.per_video["status"] == "ok").all(), result.per_video["error"].tolist()
    with np.load(next((tmp_path / "predictions").glob("*.npz"))) as saved:
        assert np.isfinite(saved["xy"]).all() and saved["xy"].shape[1] == 8
