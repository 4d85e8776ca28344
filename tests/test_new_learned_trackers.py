"""TAPNext / BootsTAPNext / TAPNext++, LocoTrack and AllTracker: the tracker contract, equality with the upstream
code called directly (as upstream's own evaluation and demos call it), pixel conventions, checkpoints, imports.

Models are built with random weights (`checkpoint=random`) at small sizes; nothing is downloaded. What each group
needs, and the skip message when it is missing:
  TAPNext family: torch, torchvision, einops and tapnet (pip install --no-deps 'tapnet @ git+...@<commit>').
      PyPI's torchvision wheels are built against CUDA torch: they do not load with a CPU-only torch build, so
      these tests run in an environment with matching torch / torchvision (e.g. torch==2.12.0 torchvision==0.27.0).
  LocoTrack: torch, einops and a clone of cvlab-kaist/locotrack named by LOCOTRACK_REPO.
  AllTracker: torch, torchvision, einops and a clone of aharley/alltracker named by ALLTRACKER_REPO.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import pointbench
from pointbench.trackers.alltracker import ALLTRACKER_COMMIT, AllTracker
from pointbench.trackers.locotrack import LOCOTRACK_COMMIT, LocoTrack
from pointbench.trackers.tapnext import TAPNET_COMMIT, TAPNext
from pointbench.types import Tracks
import upstream_reference as upstream
from track_contract import assert_tracks_contract

CONF = str(Path(pointbench.__file__).parent / "conf")
RNG = np.random.default_rng(0)
FRAMES = RNG.integers(0, 256, (7, 64, 64, 3), dtype=np.uint8)  # T=7 at the small models' input size
FRAMES_128 = RNG.integers(0, 256, (7, 128, 128, 3), dtype=np.uint8)  # TAPNext++-like: input twice the model space
QUERIES = np.array([[0, 10.3, 20.7], [3, 30.2, 5.5], [6, 60.0, 40.0], [2, 1.0, 47.0], [4, 33.0, 22.0]], np.float32)
# AllTracker: query frames 0, 3 and 5 of 6 (a last-frame query; no clip of exactly 2 frames, where upstream's demo
# code breaks), two queries sharing a frame
FRAMES_6 = FRAMES[:6]
QUERIES_ALL = np.array([[0, 10.3, 20.7], [3, 30.2, 5.5], [5, 60.0, 40.0], [0, 1.0, 47.0], [3, 33.0, 22.0]], np.float32)

TAPNEXT_SMALL = dict(checkpoint="random", device="cpu", resolution=(64, 64),
                     model={"image_size": (64, 64), "width": 64, "num_heads": 4, "lru_width": 64, "depth": 2})
TAPNEXTPP_SMALL = dict(TAPNEXT_SMALL, resolution=(128, 128))  # 16×16 patches, the position embedding interpolated
LOCO_SMALL = dict(checkpoint="random", device="cpu", resolution=(64, 64),
                  model={"initial_resolution": (64, 64), "model_size": "small"})
ALL_SMALL = dict(checkpoint="random", device="cpu", resolution=(64, 64), window_len=4, iters=2,
                 model={"corr_levels": 3}, visibility_threshold=0.2)  # random weights score about 0.1-0.3

TAPNEXT_NEEDS = (f"torch, torchvision and einops with tapnet: pip install --no-deps 'tapnet @ "
                 f"git+https://github.com/google-deepmind/tapnet.git@{TAPNET_COMMIT}' (PyPI's torchvision needs a "
                 "CUDA torch build: e.g. torch==2.12.0 torchvision==0.27.0)")
LOCO_NEEDS = (f"LocoTrack's code: git clone https://github.com/cvlab-kaist/locotrack && git -C locotrack checkout "
              f"{LOCOTRACK_COMMIT} && export LOCOTRACK_REPO=$PWD/locotrack, and pip install einops")
ALL_NEEDS = (f"AllTracker's code: git clone https://github.com/aharley/alltracker && git -C alltracker checkout "
             f"{ALLTRACKER_COMMIT} && export ALLTRACKER_REPO=$PWD/alltracker, and torchvision and einops (PyPI's "
             "torchvision needs a CUDA torch build: e.g. torch==2.12.0 torchvision==0.27.0)")


def _need(module: str, what: str):
    try:
        return importlib.import_module(module)
    except Exception as error:  # ImportError, or a torchvision that does not load with this torch (RuntimeError...)
        pytest.skip(f"needs {what} [{module}: {type(error).__name__}: {error}]")


@pytest.fixture(scope="module")
def torch():
    return _need("torch", "torch")


@pytest.fixture(scope="module")
def tapnet(torch):
    for module in ("torchvision", "einops", "tapnet.tapnext.tapnext_torch", "tapnet.tapnextpp.votsp2026.model"):
        _need(module, TAPNEXT_NEEDS)
    return torch


@pytest.fixture(scope="module")
def loco_repo(torch):
    repo = os.environ.get("LOCOTRACK_REPO")
    if not repo:
        pytest.skip(f"needs {LOCO_NEEDS} [LOCOTRACK_REPO is not set]")
    _need("einops", LOCO_NEEDS)
    return repo


@pytest.fixture(scope="module")
def all_repo(torch):
    repo = os.environ.get("ALLTRACKER_REPO")
    if not repo:
        pytest.skip(f"needs {ALL_NEEDS} [ALLTRACKER_REPO is not set]")
    for module in ("torchvision", "einops"):
        _need(module, ALL_NEEDS)
    return repo


def _lively_tapnext(model, torch):
    """Give a random TAPNext's heads enough gain that tracks move, and visibility logits around 0 (its default
    init gives every point one position and one side of the threshold)."""
    with torch.no_grad():
        model.coordinate_head[-1].weight.mul_(30)
        model.visible_head[-1].bias.fill_(0.25)
    return model


def build(kind: str, **overrides):
    if kind in ("tapnext", "tapnextpp"):
        tracker = TAPNext(**{**(TAPNEXT_SMALL if kind == "tapnext" else TAPNEXTPP_SMALL), **overrides})
        _lively_tapnext(tracker.model, tracker.torch)
        return tracker
    if kind == "locotrack":
        return LocoTrack(**{**LOCO_SMALL, "repo": os.environ.get("LOCOTRACK_REPO"), **overrides})
    return AllTracker(**{**ALL_SMALL, "repo": os.environ.get("ALLTRACKER_REPO"), **overrides})


def inputs(kind: str):
    if kind == "alltracker":
        return FRAMES_6, QUERIES_ALL
    return (FRAMES_128, (QUERIES * [1, 2, 2]).astype(np.float32)) if kind == "tapnextpp" else (FRAMES, QUERIES)


# ---------------------------------------------------------------- direct upstream calls (tests/upstream_reference.py)


@pytest.fixture
def cuda_is_identity(torch, monkeypatch):
    """Upstream AllTracker calls `.cuda()` on the frames; on a CPU-only machine the direct call runs with it as the
    identity, as the adapter does on CPU."""
    if not torch.cuda.is_available():
        monkeypatch.setattr(torch.Tensor, "cuda", lambda self, *args, **kwargs: self)


# ---------------------------------------------------------------- equality with upstream


@pytest.mark.parametrize("kind", ["tapnext", "tapnextpp"])
def test_tapnext_equals_upstream_colab(kind, tapnet):
    tracker = build(kind)
    frames, queries = inputs(kind)
    ours = tracker.track(frames, queries)
    xy, visible = upstream.tapnext(tracker.model, frames, queries, tapnet)
    delta = float(np.abs(ours.xy - xy).max())
    print(f"{kind}: max |Δxy| = {delta:.3g} px")
    assert delta < 1e-3
    assert np.array_equal(ours.visible, visible)
    assert 0 < visible.mean() < 1, "visibility must be a real test, not all one value"
    assert np.ptp(xy[:, 1:], axis=1).max() > 1, "tracks must move"


def test_tapnext_certainty_rule_equals_upstream(tapnet):
    torch = tapnet
    utils = importlib.import_module("tapnet.tapnext.tapnext_torch_utils")
    tracker = build("tapnext", visibility_score="vis_certainty", backward_tracking=False)
    ours = tracker.track(FRAMES, QUERIES[:1])  # a frame-0 query: one forward pass, as upstream's `first` mode
    video = (torch.from_numpy(FRAMES).float() / 255 * 2 - 1)[None]
    q = torch.from_numpy(QUERIES[:1, [0, 2, 1]].copy())[None]
    with torch.no_grad():
        out = [tracker.model(video=video[:, :1], query_points=q)]
        for t in range(1, len(FRAMES)):
            out.append(tracker.model(video=video[:, t:t + 1], state=out[-1][3]))
        tracks = torch.cat([o[0] for o in out], 1).transpose(1, 2)
        track_logits = torch.cat([o[1] for o in out], 1).transpose(1, 2)
        visible_logits = torch.cat([o[2] for o in out], 1).transpose(1, 2)
        score = (torch.sigmoid(visible_logits) * utils.tracker_certainty(tracks, track_logits, 8))[0, ..., 0]
    assert np.abs(ours.confidence - score.numpy()).max() < 1e-6
    assert np.array_equal(ours.visible, (score > 0.5).numpy())


def test_locotrack_equals_upstream_evaluation(loco_repo, torch):
    tracker = build("locotrack")
    ours = tracker.track(FRAMES, QUERIES)
    xy, visible = upstream.locotrack(tracker.model, FRAMES, QUERIES, torch)
    delta = float(np.abs(ours.xy - xy).max())
    print(f"locotrack: max |Δxy| = {delta:.3g} px")
    assert delta < 1e-3
    assert np.array_equal(ours.visible, visible)
    assert 0 < visible.mean() < 1
    # and upstream's own inference() helper (uint8 frames, (t, x, y) queries) gives the same
    with torch.no_grad():
        own = tracker.model.inference(FRAMES[None], torch.from_numpy(QUERIES)[None], resolution=(64, 64),
                                      query_format="txy")
    assert np.abs(own["tracks"][0].numpy() - ours.xy).max() < 1e-3
    assert np.array_equal(~own["occlusion"][0].numpy(), ours.visible)


@pytest.mark.parametrize("sliding", [False, True])
def test_alltracker_equals_upstream_evaluation(sliding, all_repo, torch, cuda_is_identity):
    tracker = build("alltracker", sliding=sliding)
    ours = tracker.track(FRAMES_6, QUERIES_ALL)
    xy, score = upstream.alltracker(tracker.model, FRAMES_6, QUERIES_ALL, tracker.iters, sliding, torch)
    delta = float(np.abs(ours.xy - xy).max())
    print(f"alltracker (sliding={sliding}): max |Δxy| = {delta:.3g} px")
    assert delta < 1e-3
    assert np.abs(ours.confidence - score).max() < 1e-6
    assert np.array_equal(ours.visible, score >= tracker.visibility_threshold)
    assert 0 < ours.visible.mean() < 1


# ---------------------------------------------------------------- contract


KINDS = ["tapnext", "tapnextpp", "locotrack", "alltracker"]


@pytest.fixture(params=KINDS)
def learned(request, torch):
    fixture = {"locotrack": "loco_repo", "alltracker": "all_repo"}.get(request.param, "tapnet")
    request.getfixturevalue(fixture)
    tracker = build(request.param)
    frames, queries = inputs(request.param)
    return request.param, tracker, frames, queries, tracker.track(frames, queries)


def test_contract_shapes_dtypes_and_every_frame_filled(learned):
    kind, _, frames, queries, tracks = learned
    assert_tracks_contract(tracks, frames, len(queries))


def test_empty_and_single_query(learned):
    kind, tracker, frames, queries, _ = learned
    assert tracker.track(frames[:3], np.zeros((0, 3), np.float32)).xy.shape == (0, 3, 2)
    one = tracker.track(frames[:3], (queries[[1]] * [0, 1, 1] + [2, 0, 0]).astype(np.float32))  # N=1, last of T=3
    assert one.xy.shape == (1, 3, 2) and np.isfinite(one.xy).all()


@pytest.mark.parametrize("kind", ["tapnext", "alltracker"])
def test_backward_pass_fills_frames_before_the_query(kind, torch, request):
    request.getfixturevalue("all_repo" if kind == "alltracker" else "tapnet")
    frames, queries = inputs(kind)
    both, forward_only = build(kind).track(frames, queries), build(kind, backward_tracking=False).track(frames, queries)
    before = np.arange(len(frames))[None] < queries[:, :1]
    assert np.abs(both.xy - forward_only.xy)[before].max() > 1e-3, "the backward pass must change frames before"
    assert np.array_equal(both.xy[~before], forward_only.xy[~before])
    assert np.array_equal(both.visible[~before], forward_only.visible[~before])
    if kind == "alltracker":  # without it, as upstream's evaluator: the query pixel, not visible
        assert not forward_only.visible[before].any() and (forward_only.confidence[before] == 0).all()


def test_tapnext_chunks_are_runs_of_their_queries(tapnet):
    """TAPNext's points attend to each other: a chunked run is exactly the runs of its chunks."""
    chunked = build("tapnext", max_queries_per_pass=2).track(FRAMES, QUERIES)
    tracker = build("tapnext")
    parts = [tracker.track(FRAMES, QUERIES[s]) for s in (slice(0, 2), slice(2, 4), slice(4, 5))]
    assert chunked == Tracks.merge(parts)


def test_locotrack_chunks_only_bound_memory(loco_repo):
    whole = build("locotrack").track(FRAMES, QUERIES)
    chunked = build("locotrack", max_queries_per_pass=2).track(FRAMES, QUERIES)
    np.testing.assert_allclose(chunked.xy, whole.xy, atol=1e-4)
    assert np.array_equal(chunked.visible, whole.visible)


# ---------------------------------------------------------------- pixel conventions (known answers)


def test_tapnext_converts_to_model_space_and_yx(tapnet, monkeypatch):
    """Queries (t, x, y) in the image -> (t, y·mh/H, x·mw/W) in the model's space; tracks (y, x) ->
    (x·W/mw, y·H/mh); frames resized to `resolution`, in [-1, 1]."""
    torch = tapnet
    tracker = TAPNext(**{**TAPNEXT_SMALL, "resolution": (32, 32)})  # model space 64×64, input 32×32
    seen = {"videos": []}

    def fake_forward(video, query_points=None, state=None):
        seen["videos"].append(video)
        if query_points is not None:
            seen["points"] = query_points.clone()
        n = (query_points if query_points is not None else state).shape[1]
        tracks = torch.tensor([[8.0, 48.0], [60.0, 2.0]])[None, None]  # (y, x)
        logits = torch.full((1, 1, n, 1), 3.0)
        return tracks, torch.zeros(1, 1, n, 512), logits, (query_points if query_points is not None else state)

    monkeypatch.setattr(tracker.model, "forward", fake_forward)
    frames = np.full((2, 32, 128, 3), 255, np.uint8)  # H=32, W=128
    out = tracker.track(frames, np.array([[0, 64.0, 16.0], [0, 0.5, 31.0]], np.float32))
    np.testing.assert_allclose(seen["points"][0].numpy(), [[0, 32, 32], [0, 62, 0.25]])
    assert all(tuple(v.shape) == (1, 1, 32, 32, 3) for v in seen["videos"])
    assert all(torch.allclose(v, torch.ones(1)) for v in seen["videos"])
    np.testing.assert_allclose(out.xy[:, 0], [[96, 4], [4, 30]])
    assert out.visible.all()


def test_locotrack_scales_raster_coordinates(loco_repo, monkeypatch):
    torch = importlib.import_module("torch")
    tracker = build("locotrack", resolution=(16, 32))
    seen = {}

    def fake_forward(video, query_points, query_chunk_size, refinement_resolutions):
        seen["video"], seen["points"] = video, query_points.clone()
        n, t = query_points.shape[1], video.shape[1]
        tracks = torch.tensor([[32.0, 16.0], [8.0, 4.0]])[None, :, None].expand(1, n, t, 2)
        occlusion = torch.full((1, n, t), -9.0)
        expected_dist = torch.tensor([-9.0, 0.0])[None, :, None].expand(1, n, t)
        return {"tracks": tracks, "occlusion": occlusion, "expected_dist": expected_dist}

    monkeypatch.setattr(tracker.model, "forward", fake_forward)
    out = tracker.track(np.full((2, 32, 64, 3), 255, np.uint8), np.array([[1, 64.0, 32.0], [0, 0.5, 2.0]], np.float32))
    assert tuple(seen["video"].shape) == (1, 2, 16, 32, 3) and torch.allclose(seen["video"], torch.ones(1))
    np.testing.assert_allclose(seen["points"][0].numpy(), [[1, 16, 32], [0, 1, 0.25]])
    np.testing.assert_allclose(out.xy[:, 0], [[64, 32], [16, 8]])
    assert out.visible[0].all() and not out.visible[1].any()  # (1 - σ(-9)) · (1 - σ(0)) just under 0.5


def test_alltracker_reads_the_nearest_pixel_and_returns_raster(all_repo, monkeypatch):
    """Zero flow: each track is its query's nearest pixel centre. Raster x=20.6 in a 128-wide image is 10.3 at the
    model's 64 -> pixel-grid 9.8 -> pixel 10 -> raster 10.5 -> 21.0 in the image."""
    torch = importlib.import_module("torch")
    tracker = build("alltracker")
    seen = []

    def fake_forward(images, iters, sw, is_training):
        seen.append(images)
        b, t, _, h, w = images.shape
        visconf = torch.ones(b, t, 2, h, w)
        return torch.zeros(b, t, 2, h, w), visconf, None, None

    monkeypatch.setattr(tracker.model, "forward", fake_forward)
    frames = np.full((4, 128, 128, 3), 200, np.uint8)
    out = tracker.track(frames, np.array([[0, 20.6, 1.2], [2, 127.9, 64.0]], np.float32))
    assert all(v.shape[2:] == (3, 64, 64) and torch.allclose(v, torch.full((1,), 200.0)) for v in seen)  # [0, 255]
    np.testing.assert_allclose(out.xy[0], [[21.0, 1.0]] * 4)
    np.testing.assert_allclose(out.xy[1], [[127.0, 65.0]] * 4)
    assert out.visible.all()
    assert [v.shape[1] for v in seen] == [4, 2, 3]  # frame 0 forward; frame 2: forward over 2, reversed over 3


# ---------------------------------------------------------------- checkpoints


def test_locotrack_reads_lightning_checkpoints(loco_repo, tmp_path):
    torch = importlib.import_module("torch")
    tracker = build("locotrack")
    expected = tracker.track(FRAMES[:3], QUERIES[[0, 3]])
    path = tmp_path / "locotrack.ckpt"
    torch.save({"epoch": 3, "state_dict": {f"model.{k}": v for k, v in tracker.model.state_dict().items()}}, path)
    with torch.no_grad():
        for p in tracker.model.parameters():
            p.add_(1.0)
    assert build("locotrack", checkpoint=str(path)).track(FRAMES[:3], QUERIES[[0, 3]]) == expected
    torch.save(build("locotrack", model={"initial_resolution": (64, 64), "model_size": "base"}).model.state_dict(),
               tmp_path / "base.pt")
    with pytest.raises(ValueError, match="does not fit the model"):
        build("locotrack", checkpoint=str(tmp_path / "base.pt"))


def test_alltracker_reads_its_checkpoint_format(all_repo, tmp_path):
    torch = importlib.import_module("torch")
    tracker = build("alltracker")
    path = tmp_path / "alltracker.pth"
    torch.save({"model": tracker.model.state_dict(), "optimizer": {}}, path)
    with torch.no_grad():
        for p in tracker.model.parameters():
            p.add_(1.0)
    loaded = build("alltracker", checkpoint=str(path)).model.state_dict()
    fresh = build("alltracker").model.state_dict()  # the same random weights as the saved ones
    assert loaded.keys() == fresh.keys() and all(torch.equal(loaded[k], fresh[k]) for k in fresh)


def test_tapnext_reads_torch_checkpoints_as_upstream(tapnet, tmp_path):
    """TAPNext++'s .pt/.ckpt files: a `state_dict` wrapper and the `tapnext.` prefix (TAPNextPP.from_checkpoint)."""
    torch = tapnet
    source = build("tapnext")
    path = tmp_path / "tapnextpp.ckpt"
    torch.save({"state_dict": {f"tapnext.{k}": v for k, v in source.model.state_dict().items()}}, path)
    loaded = TAPNext(**{**TAPNEXT_SMALL, "checkpoint": str(path)})
    assert loaded.track(FRAMES[:3], QUERIES[[0, 3]]) == source.track(FRAMES[:3], QUERIES[[0, 3]])


def test_tapnext_reads_jax_npz_through_upstreams_converter(tapnet, tmp_path):
    """The released .npz files are JAX checkpoints: the adapter loads them with upstream's
    restore_model_from_jax_checkpoint (full-size model: upstream's converter fixes 12 layers of width 768)."""
    torch = tapnet
    utils = importlib.import_module("tapnet.tapnext.tapnext_torch_utils")
    source = TAPNext(checkpoint="random", device="cpu")
    path = tmp_path / "bootstapnext_ckpt.npz"
    np.savez(path, **utils.convert_pytorch_model_to_jax_checkpoint(source.model))
    loaded = TAPNext(checkpoint=str(path), device="cpu")
    for (name, a), (_, b) in zip(source.model.state_dict().items(), loaded.model.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_checkpoint_download_goes_to_the_hub_cache(tapnet, tmp_path, monkeypatch):
    torch = tapnet
    source = tmp_path / "source" / "tapnextpp_ckpt.pt"
    source.parent.mkdir()
    torch.save(TAPNext(**TAPNEXT_SMALL).model.state_dict(), source)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    tracker = TAPNext(**{**TAPNEXT_SMALL, "checkpoint": None, "checkpoint_url": source.as_uri()})
    assert (tmp_path / "torch_home" / "hub" / "checkpoints" / "tapnextpp_ckpt.pt").is_file()
    _lively_tapnext(tracker.model, torch)
    assert tracker.track(FRAMES[:3], QUERIES[[0, 3]]) == build("tapnext").track(FRAMES[:3], QUERIES[[0, 3]])
    missing = (tmp_path / "offline" / "bootstapnext_ckpt.npz").as_uri()
    cached = tmp_path / "torch_home" / "hub" / "checkpoints" / "bootstapnext_ckpt.npz"
    with pytest.raises(RuntimeError, match=f"curl -L --create-dirs -o {cached} {missing}"):
        TAPNext(**{**TAPNEXT_SMALL, "checkpoint": None, "checkpoint_url": missing})


# ---------------------------------------------------------------- imports, RNG, settings


def test_repo_import_leaves_other_top_level_packages_alone(loco_repo, monkeypatch):
    """SpaTrackerV2 and LocoTrack both call their code `models`: importing LocoTrack from its clone neither
    sees nor replaces another `models` already imported."""
    from pointbench.trackers import torch_support

    monkeypatch.setattr(torch_support, "_REPO_MODULES", {})  # import it afresh
    other = types.ModuleType("models")
    other.__path__ = []
    monkeypatch.setitem(sys.modules, "models", other)
    tracker = build("locotrack")
    assert sys.modules["models"] is other
    assert not [m for m in sys.modules if m.startswith("models.")]
    assert tracker.model.__class__.__module__ == "models.locotrack_model"
    assert np.isfinite(tracker.track(FRAMES[:3], QUERIES[[0, 3]]).xy).all()


def test_random_weights_are_reproducible_and_rng_is_left_alone(tapnet):
    torch = tapnet
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = TAPNext(**TAPNEXT_SMALL)
    b = TAPNext(**TAPNEXT_SMALL)
    a.track(FRAMES[:3], QUERIES[[0, 3]])
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
    assert all(torch.isfinite(p).all() for p in a.model.parameters()), "upstream's torch.empty parameters are set"


def _hide(monkeypatch, package):
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, package, None)


def test_missing_packages_name_the_install_command(torch, monkeypatch, tmp_path):
    _hide(monkeypatch, "tapnet")
    with pytest.raises(ImportError, match=r"pip install --no-deps 'tapnet @ git\+https://github.com/google-deepmind"):
        TAPNext(**TAPNEXT_SMALL)
    with pytest.raises(FileNotFoundError, match=r"git clone https://github.com/cvlab-kaist/locotrack.git"):
        LocoTrack(**{**LOCO_SMALL, "repo": str(tmp_path)})
    with pytest.raises(FileNotFoundError, match=r"git clone https://github.com/aharley/alltracker.git"):
        AllTracker(**{**ALL_SMALL, "repo": str(tmp_path)})
    _hide(monkeypatch, "models")
    with pytest.raises(ImportError, match=r"git clone https://github.com/cvlab-kaist/locotrack.git"):
        LocoTrack(**{**LOCO_SMALL, "repo": None})


def test_missing_torch_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    for build_one in (lambda: TAPNext(**TAPNEXT_SMALL), lambda: LocoTrack(**LOCO_SMALL),
                      lambda: AllTracker(**ALL_SMALL)):
        with pytest.raises(ImportError, match="pip install torch"):
            build_one()


@pytest.mark.parametrize("make, message", [
    (lambda: TAPNext(resolution=(250, 256)), "resolution"),
    (lambda: TAPNext(visibility_score="conf"), "visibility_score"),
    (lambda: TAPNext(visibility_threshold=1.0), "visibility_threshold"),
    (lambda: TAPNext(max_queries_per_pass=0), "max_queries_per_pass"),
    (lambda: TAPNext(checkpoint=None, checkpoint_url=None), "checkpoint_url"),
    (lambda: LocoTrack(resolution=(250, 256)), "resolution"),
    (lambda: LocoTrack(max_queries_per_pass=None), "max_queries_per_pass"),
    (lambda: LocoTrack(refinement_resolutions=[(250, 256)]), "refinement_resolutions"),
    (lambda: AllTracker(window_len=5), "window_len"),
    (lambda: AllTracker(sliding="sometimes"), "sliding"),
    (lambda: AllTracker(model={"seqlen": 8}), "window_len"),
    (lambda: AllTracker(visibility_score="both"), "visibility_score"),
    (lambda: AllTracker(iters=0), "iters"),
])
def test_bad_settings_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_device_checks_come_before_the_package_check(torch):
    if torch.cuda.is_available():
        pytest.skip("checks the CPU-only behaviour")
    for make in (lambda: TAPNext(**{**TAPNEXT_SMALL, "device": "cuda"}),
                 lambda: LocoTrack(**{**LOCO_SMALL, "device": "cuda"}),
                 lambda: AllTracker(**{**ALL_SMALL, "device": "cuda"})):
        with pytest.raises(ValueError, match="CUDA is not available"):
            make()
    with pytest.raises(ValueError, match="needs a CUDA device"):
        TAPNext(**{**TAPNEXT_SMALL, "precision": "bf16"})


def test_alltracker_cpu_shim_is_scoped(all_repo, monkeypatch):
    torch = importlib.import_module("torch")
    original = torch.Tensor.cuda
    tracker = build("alltracker")

    def boom(*args, **kwargs):
        raise RuntimeError("inside the model")

    monkeypatch.setattr(tracker.model, "forward", boom)
    with pytest.raises(RuntimeError, match="inside the model"):
        tracker.track(FRAMES_6, QUERIES_ALL)
    assert torch.Tensor.cuda is original


def test_modules_and_configs_need_no_torch():
    code = ("import sys, pointbench.trackers.tapnext, pointbench.trackers.locotrack, pointbench.trackers.alltracker\n"
            "from hydra import compose, initialize_config_dir\n"
            "from pointbench.building import license_text\n"
            f"with initialize_config_dir(config_dir={CONF!r}, version_base='1.3'):\n"
            "    for t in ['tapnext', 'bootstapnext', 'tapnextpp', 'locotrack', 'alltracker']:\n"
            "        cfg = compose(config_name='config', overrides=['tracker=' + t])\n"
            "        assert license_text(cfg.tracker).startswith('code '), t\n"
            "heavy = [m for m in ('torch', 'tapnet', 'torchvision', 'models', 'nets') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_tracker_config_states_its_licence():
    from hydra import compose, initialize_config_dir

    from pointbench.building import license_text

    names = sorted(p.stem for p in (Path(CONF) / "tracker").glob("*.yaml"))
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        for name in names:
            cfg = compose(config_name="config", overrides=[f"tracker={name}"])
            assert set(cfg.tracker.license) == {"code", "weights"}, name
            assert license_text(cfg.tracker), name


@pytest.mark.parametrize("tracker, extra", [
    ("locotrack", ["tracker.resolution=[64,64]", "+tracker.model.initial_resolution=[64,64]",
                   "tracker.model.model_size=small"]),
    ("tapnext", ["tracker.resolution=[64,64]", "tracker.model.image_size=[64,64]", "+tracker.model.width=64",
                 "+tracker.model.num_heads=4", "+tracker.model.lru_width=64", "+tracker.model.depth=2"]),
])
def test_runs_through_the_runner_strided(tracker, extra, torch, tmp_path, request):
    request.getfixturevalue("loco_repo" if tracker == "locotrack" else "tapnet")
    from hydra import compose, initialize_config_dir

    from pointbench.runner import run

    overrides = [f"tracker={tracker}", "tracker.checkpoint=random", "tracker.device=cpu", *extra,
                 "dataset.num_videos=1", "dataset.num_frames=6", "dataset.height=64", "dataset.width=64",
                 "dataset.num_tracks=4", "dataset.query_mode=strided", "output.rerun=false"]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    result = run(cfg, tmp_path)
    assert (result.per_video["status"] == "ok").all(), result.per_video["error"].tolist()
    with np.load(next((tmp_path / "predictions").glob("*.npz"))) as saved:
        assert np.isfinite(saved["xy"]).all() and saved["xy"].shape[1] == 6
