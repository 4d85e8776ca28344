"""Stand-in for SpaTrackerV2's tracker `Predictor` (tests only; written for pointbench, no upstream code).

Upstream's interface: `Predictor.from_pretrained(name)`, `.spatrack.track_num`, the window `S_wind` / `overlap`
(offline 500 / 4, online 20 / 6), `.eval()`, `.to(device)` (returns None, as upstream's), and
`forward(video, depth, unc_metric, intrs, extrs, queries, queries_3d, iters_track, full_point, fps, track2d_gt,
fixed_cam, query_no_BA, stage, support_frame, replace_ratio)` with video (T, 3, H, W) 0..255, numpy or torch
depth (T, H, W), intrs (T, 3, 3), extrs (T, 4, 4) camera-to-world, unc_metric (T, H, W) and queries (N, 3) rows
(t, x, y) in pixel-centre coordinates, returning `(c2w (T, 4, 4), intrs (T, 3, 3), point_map (T, 3, H, W),
depth_conf (T, H, W), track3d (T, N, 6), track2d (T, N, 3), vis (T, N, 1), conf (T, N, 1), video)`.

Fake answers with a known truth:
  motion     frame t's stamp s(t) is its mean value / 10 (the tests' frames are uniform, value 10·t); a query
             (t0, u0, v0) is at u = u0 + W/40 · (s(t) − s(t0)), v = v0 + H/60 · (s(t) − s(t0)). Reversing the
             video reverses the stamps, so a backward pass finds the same positions.
  visibility vis = 1.2 (upstream's sigmoid + 0.2 at its top) inside the frame, 0.2 outside; conf = 0.9, or
             0.8 on a video whose stamps decrease (a reversed one), so tests can tell the passes apart.
  3D         track3d = K⁻¹ [u, v, 1] · depth[t] at the pixel containing (u, v) (clamped to the frame), then
             three zero colour channels; track2d = (u, v, that depth).
  windows    as upstream's `forward_stream`: a query joins the first window [i·step, i·step + S_wind) that holds
             its frame (a window i > 0 from frame i·step + overlap on), step = S_wind − overlap; every array is
             left zero before that window.
  cameras    c2w = extrs[0]⁻¹ · extrs (upstream anchors the poses to the first frame), or identity;
             intrs returned as given.
Every call's inputs are appended to CALLS, every loaded name to LOADED.
"""

from __future__ import annotations

import numpy as np
import torch

CALLS: list[dict] = []
LOADED: list[str] = []


def _tensor(x):
    if x is None:
        return None
    return torch.from_numpy(x).float() if isinstance(x, np.ndarray) else x.float()


class _SpaTrack2:
    def __init__(self):
        self.track_num = 768


class Predictor(torch.nn.Module):
    def __init__(self, online: bool = False):
        super().__init__()
        self.spatrack = _SpaTrack2()
        self.S_wind, self.overlap = (20, 6) if online else (500, 4)
        self.moved_to = None

    @classmethod
    def from_pretrained(cls, name):
        LOADED.append(str(name))
        if "missing" in str(name):
            raise OSError(f"Repository Not Found for url: https://huggingface.co/{name}")
        return cls(online="Online" in str(name))

    def to(self, device):
        self.moved_to = str(device)  # upstream's Predictor.to returns nothing

    def entry_window_start(self, t: int) -> int:
        step = self.S_wind - self.overlap
        i = 0
        while not (t < i * step + self.S_wind and (i == 0 or t >= i * step + self.overlap)):
            i += 1
        return i * step

    def forward(self, video, depth=None, unc_metric=None, intrs=None, extrs=None, queries=None, queries_3d=None,
                iters_track=4, full_point=False, fps=30, track2d_gt=None, fixed_cam=False, query_no_BA=False, stage=0,
                support_frame=0, replace_ratio=0.6):
        CALLS.append(dict(video=video.clone(), depth=depth, unc_metric=unc_metric, intrs=intrs, extrs=extrs,
                          queries=np.array(queries), iters_track=iters_track, full_point=full_point, fps=fps,
                          fixed_cam=fixed_cam, query_no_BA=query_no_BA, stage=stage, support_frame=support_frame,
                          replace_ratio=replace_ratio, track_num=self.spatrack.track_num))
        video = _tensor(video)
        depth, intrs, extrs = _tensor(depth), _tensor(intrs), _tensor(extrs)
        if depth is None or intrs is None:
            raise TypeError("stand-in Predictor: depth and intrs are required (upstream fails without them)")
        n_frames, _, height, width = video.shape
        q = torch.as_tensor(np.asarray(queries, np.float32))
        n = len(q)
        stamps = video.mean(dim=(1, 2, 3)) / 10
        ds = stamps[:, None] - stamps[q[:, 0].long()][None, :]  # (T, N)
        u = q[None, :, 1] + width / 40 * ds
        v = q[None, :, 2] + height / 60 * ds
        inside = (u >= -0.5) & (u < width - 0.5) & (v >= -0.5) & (v < height - 0.5)
        vis = 0.2 + inside.float()
        conf = torch.full((n_frames, n), 0.9 if stamps[-1] >= stamps[0] else 0.8)
        rows = v.round().long().clamp(0, height - 1)
        cols = u.round().long().clamp(0, width - 1)
        z = depth[torch.arange(n_frames)[:, None], rows, cols]
        pix = torch.stack([u, v, torch.ones_like(u)], dim=-1)  # (T, N, 3)
        xyz = torch.einsum("tij,tnj->tni", torch.linalg.inv(intrs), pix) * z[..., None]
        track3d = torch.cat([xyz, torch.zeros_like(xyz)], dim=-1)
        track2d = torch.stack([u, v, z], dim=-1)
        for i, t0 in enumerate(q[:, 0].long().tolist()):
            start = self.entry_window_start(t0)
            for array in (track3d, track2d, vis, conf):
                array[:start, i] = 0
        c2w = torch.eye(4).repeat(n_frames, 1, 1) if extrs is None else torch.linalg.inv(extrs[:1]) @ extrs
        point_map = torch.zeros(n_frames, 3, height, width)
        depth_conf = torch.ones(n_frames, height, width)
        return c2w, intrs, point_map, depth_conf, track3d, track2d, vis[..., None], conf[..., None], video
