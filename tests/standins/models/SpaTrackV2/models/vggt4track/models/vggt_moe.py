"""Stand-in for SpaTrackerV2's front end `VGGT4Track` (tests only; written for pointbench, no upstream code).

Upstream's interface: `VGGT4Track.from_pretrained(name)`, `.eval()`, `.to(device)`, and
`model(images (B, T, 3, H, W) in [0, 1], fx_prev=None, fy_prev=None)` returning a dict with `poses_pred`
(B, T, 4, 4) camera-to-world (first camera = world), `intrs` (B, T, 3, 3) at (H, W), `points_map`
(B·T, H, W, 3) camera-frame points (z = depth) and `unc_metric` (B·T, H, W) depth confidence in [0, 1].

Fake answers, all at the input size (H, W), OpenCV pixel-centre convention:
  poses      camera t at (0.1·t, 0, 0), no rotation;
  intrinsics fx = fy = W (or the mean of `fx_prev` / `fy_prev` when given), cx = (W − 1)/2, cy = (H − 1)/2;
  depth      z(t, j) = 2 + 0.25·t + 0.5·j/W at column j;
  confidence 0.2 in column 0, 0.9 elsewhere.
Every call's inputs are appended to CALLS, every loaded name to LOADED.
"""

from __future__ import annotations

import torch

CALLS: list[dict] = []
LOADED: list[str] = []


def fake_depth(n_frames: int, height: int, width: int) -> torch.Tensor:
    t = torch.arange(n_frames, dtype=torch.float32)[:, None, None]
    j = torch.arange(width, dtype=torch.float32)[None, None, :]
    return (2 + 0.25 * t + 0.5 * j / width).expand(n_frames, height, width).clone()


class VGGT4Track(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # so .to() has something to move

    @classmethod
    def from_pretrained(cls, name):
        LOADED.append(str(name))
        return cls()

    def forward(self, images, annots={}, fx_prev=None, fy_prev=None, **kwargs):
        CALLS.append(dict(images=images.detach().cpu().clone(), fx_prev=fx_prev, fy_prev=fy_prev))
        b, n_frames, _, height, width = images.shape
        c2w = torch.eye(4).repeat(b, n_frames, 1, 1)
        c2w[..., 0, 3] = 0.1 * torch.arange(n_frames, dtype=torch.float32)
        fx = float(width) if fx_prev is None else float(torch.as_tensor(fx_prev).float().mean())
        fy = float(width) if fy_prev is None else float(torch.as_tensor(fy_prev).float().mean())
        k = torch.tensor([[fx, 0, (width - 1) / 2], [0, fy, (height - 1) / 2], [0, 0, 1]])
        depth = fake_depth(n_frames, height, width).repeat(b, 1, 1)  # (B·T, H, W)
        v, u = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32),
                              indexing="ij")
        rays = torch.stack([(u - k[0, 2]) / fx, (v - k[1, 2]) / fy, torch.ones_like(u)], dim=-1)  # (H, W, 3)
        unc = torch.full((b * n_frames, height, width), 0.9)
        unc[..., 0] = 0.2
        return {
            "poses_pred": c2w,
            "intrs": k.repeat(b, n_frames, 1, 1),
            "points_map": rays[None] * depth[..., None],
            "unc_metric": unc,
            "depth": depth.view(b, n_frames, height, width, 1),
        }
