"""Turn stored clips into network inputs: the one place training and predict share for it.

RGB arrives as uint8 (B, 3, T, H, W) and optical flow as raw displacements in pixels
(B, 2, T, H, W), channel 0 horizontal (u), channel 1 vertical (v), as the HDF5 stores hold them.
Both come out as float32 at `input_size`×`input_size`, time untouched. This module does not read
files and does not augment.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from attrmer.config import FlowConfig

# Per-channel mean and std of RGB in [0, 1] (the ImageNet statistics). The networks are trained
# from scratch, so the exact values matter little; what matters is that training and predict
# use the same ones, which is why they live here.
RGB_MEAN = (0.485, 0.456, 0.406)
RGB_STD = (0.229, 0.224, 0.225)


def _check_clip(clip: Tensor, channels: int, what: str) -> None:
    if clip.ndim != 5 or clip.shape[1] != channels:
        raise ValueError(f"{what}: expected (B, {channels}, T, H, W), got {tuple(clip.shape)}")


def _resize(clip: Tensor, input_size: int) -> Tensor:
    """Resize every frame to input_size×input_size; T is kept.

    Frames are resized one by one (bilinear, antialiased) rather than with a trilinear
    interpolation over the clip: the two agree in time (a kept T is the identity either way),
    and the antialiasing keeps a 112→32 reduction from aliasing the fine facial texture.
    """
    batch, channels, frames, height, width = clip.shape
    if height == input_size and width == input_size:
        return clip
    flat = clip.permute(0, 2, 1, 3, 4).reshape(batch * frames, channels, height, width)
    flat = F.interpolate(flat, size=(input_size, input_size), mode="bilinear",
                         align_corners=False, antialias=True)
    return flat.reshape(batch, frames, channels, input_size, input_size).permute(0, 2, 1, 3, 4)


def prepare_rgb(rgb: Tensor, input_size: int) -> Tensor:
    """uint8 RGB clips → float32 scaled to [0, 1], normalised by RGB_MEAN / RGB_STD, resized."""
    _check_clip(rgb, 3, "rgb")
    if rgb.dtype != torch.uint8:
        raise TypeError(f"rgb: expected uint8 pixels, got {rgb.dtype}")
    clip = _resize(rgb.float().div_(255.0), input_size)
    mean = torch.tensor(RGB_MEAN, device=clip.device).view(1, 3, 1, 1, 1)
    std = torch.tensor(RGB_STD, device=clip.device).view(1, 3, 1, 1, 1)
    return ((clip - mean) / std).contiguous()


MOTION_PERCENTILE = 99.0


def motion_level(flow: Tensor) -> Tensor:
    """(B,) the 99th percentile of each clip's displacement magnitude, over every frame and
    pixel: how far the face's moving parts move (a micro-expression's region is a few percent
    of the face, so the median would read the still rest)."""
    flow = flow.float()
    # hypot of the two components: equal to vector_norm over dim 1 within one ulp, and ~50×
    # faster (a reduction over a strided axis of two is the slow path of vector_norm; it had
    # cost 0.1 s of every training batch).
    magnitude = torch.hypot(flow[:, 0], flow[:, 1]).flatten(1)
    return upper_quantile(magnitude, MOTION_PERCENTILE / 100)


def upper_quantile(values: Tensor, q: float) -> Tensor:
    """(B,) the q-quantile of each row of `values` (B, N), interpolated linearly between order
    statistics as `torch.quantile` does, from the top (1 − q) of each row only: a partial
    selection instead of a full sort, about 10× faster at q = 0.99 (it ran once per training
    batch, and had cost as much as the network's step)."""
    n = values.shape[1]
    position = q * (n - 1)
    below = int(position)  # the order statistics on either side of `position`, from 0
    above = min(below + 1, n - 1)
    top = torch.topk(values, n - below, dim=1, sorted=True).values  # descending
    low, high = top[:, n - 1 - below], top[:, n - 1 - above]
    return low + (high - low) * (position - below)


def resize_flow(flow: Tensor, input_size: int) -> Tensor:
    """Raw flow (B, 2, T, H, W) in pixels → float32 at input_size, still in pixels (of the
    resized frames)."""
    _check_clip(flow, 2, "flow")
    clip = flow.float()
    height, width = clip.shape[-2:]
    if height != input_size or width != input_size:
        clip = _resize(clip, input_size)
        factor = torch.tensor([input_size / width, input_size / height], device=clip.device)
        clip = clip * factor.view(1, 2, 1, 1, 1)
    return clip


HEAD_MOTION_KEEP = 0.7  # the affine fit's second pass uses the 70% of pixels it fits best
HEAD_MOTION_STRIDE = 2


def remove_head_motion(flow: Tensor, mode: str = "none", region: Tensor | None = None
                       ) -> Tensor:
    """Flow (B, 2, T, H, W) in pixels, minus what the whole face does in each frame.

    One alignment per clip leaves head motion in the flow (real footage: several pixels; an
    expression: one or two). "translation" subtracts each frame's median displacement;
    "affine" subtracts each frame's least-squares affine motion field, fitted twice, the second
    time on the pixels the first fit explains best, so that the expression's own, local motion
    barely pulls the fit. "none" keeps the flow as measured. `region` (H, W), when given, is
    where the head's motion is measured: only its pixels above one half enter the fit (the
    background and the shoulders move otherwise than the head).
    """
    if mode == "none":
        return flow
    batch, _, frames, height, width = flow.shape
    fields = flow.permute(0, 2, 3, 4, 1).reshape(batch * frames, height * width, 2)
    # Without a region every pixel counts, and no mask (nor the copy it would make) is built.
    inside = None if region is None else (region.to(flow.device) > 0.5).flatten()
    if mode == "translation":
        sample = fields if inside is None else fields[:, inside]
        fields = fields - sample.median(dim=1, keepdim=True).values
    elif mode == "affine":
        ys, xs = torch.meshgrid(torch.linspace(-0.5, 0.5, height, device=flow.device),
                                torch.linspace(-0.5, 0.5, width, device=flow.device),
                                indexing="ij")
        design = torch.stack([xs.flatten(), ys.flatten(), torch.ones_like(xs.flatten())], 1)
        # The fit reads every other row and column (an affine field is smooth; a quarter of
        # the pixels pin it down as well and cost a quarter), then is subtracted everywhere.
        grid = torch.zeros(height, width, dtype=torch.bool, device=flow.device)
        grid[::HEAD_MOTION_STRIDE, ::HEAD_MOTION_STRIDE] = True
        sample = grid.flatten() if inside is None else grid.flatten() & inside
        points, values = design[sample], fields[:, sample]
        weights = torch.ones(batch * frames, len(points), 1, device=flow.device)
        keep = max(1, int(HEAD_MOTION_KEEP * len(points)))
        for _ in range(2):
            # Weighted least squares through its 3×3 normal equations: one small solve per
            # frame instead of a factorisation of the whole (pixels × 3) design.
            weighted = (weights * points).transpose(1, 2)
            coefficients = torch.linalg.solve(weighted @ points, weighted @ values)
            error = values - points @ coefficients
            residual = torch.hypot(error[..., 0], error[..., 1])
            cut = residual.kthvalue(keep, dim=1, keepdim=True).values
            weights = (residual <= cut).float().unsqueeze(2)
        fields = fields - design @ coefficients
    else:
        raise ValueError(f"head_motion: {mode!r} is not none, translation or affine")
    return fields.reshape(batch, frames, height, width, 2).permute(0, 4, 1, 2, 3).contiguous()


# The face's extent in the aligned crop, as fractions of its side: an ellipse around the
# align stage's template (eyes at 0.29 of the height, mouth corners at 0.635, inter-ocular
# distance 0.30), reaching the forehead above the brows, the chin and the jaw line on both
# sides, with a soft edge of FACE_EDGE. Outside it lie background, hair, neck and shoulders,
# which in real footage move by pixels (the head turning against the room, the shirt
# following the jaw) and in the built-in clips not at all.
# (centre (x, y), half-axes (x, y)) of each region's ellipse.
FACE_ELLIPSES = {
    "face": ((0.5, 0.5), (0.37, 0.46)),
    # Where the action units move the face, and only there: from the low forehead (the brows
    # at about 0.19 of the height, AU1/AU2 lift the skin above them) to the chin boss (AU17,
    # about 0.76), cheek to cheek (AU6 and AU12's cheeks at 0.30 and 0.70), inside the face's
    # outline. The outline itself is left out: a head that turns in real footage slides it
    # over the background, which no affine fit removes, and no action unit moves it.
    "inner": ((0.5, 0.44), (0.26, 0.37)),
}
FACE_EDGE = 0.08


def face_region(size: int, device: torch.device | str | None = None, region: str = "face"
                ) -> Tensor:
    """(size, size) float weights in [0, 1]: 1 on the aligned face (or its inner part),
    0 well outside it."""
    (cx, cy), (ax, ay) = FACE_ELLIPSES[region]
    steps = (torch.arange(size, dtype=torch.float32, device=device) + 0.5) / size
    ys, xs = torch.meshgrid(steps, steps, indexing="ij")
    radius = torch.sqrt(((xs - cx) / ax) ** 2 + ((ys - cy) / ay) ** 2)
    return ((1.0 - radius) / FACE_EDGE + 0.5).clamp(0.0, 1.0)


def motion_input(flow: Tensor, cfg: FlowConfig, input_size: int) -> Tensor:
    """Raw flow → pixels at input_size with the head's motion removed (cfg.head_motion): the
    motion the network's input and the motion level both describe. With cfg.region "face"
    (or "inner") the head's motion is measured on the face (its inner part) alone and the
    flow outside it faded to zero."""
    return _motion(resize_flow(flow, input_size), cfg.head_motion, cfg.region)


def _motion(clip: Tensor, head_motion: str, region: str) -> Tensor:
    if region == "frame":
        return remove_head_motion(clip, head_motion)
    if region not in FACE_ELLIPSES:
        raise ValueError(f"region: {region!r} is not frame, face or inner")
    weights = face_region(clip.shape[-1], clip.device, region)
    return remove_head_motion(clip, head_motion, weights) * weights


def motion_levels(flow: Tensor, cfg: FlowConfig, input_size: int) -> Tensor:
    """(B,) `motion_level` of raw flow clips as a model with `cfg` and `input_size` sees them
    (what training records as its range and `attrmer predict` checks a clip against)."""
    return motion_level(motion_input(flow, cfg, input_size))


def prepare_flow(flow: Tensor, bound: float, input_size: int, *,
                 scale: str = "fixed", reference: float = 1.0, floor: float = 0.15,
                 head_motion: str = "none", region: str = "frame") -> Tensor:
    """Raw flow in pixels → float32 in [-1, 1]: clip to ±bound, divide by bound.

    One fixed bound for every frame and clip keeps the motion's magnitude (a per-frame min–max
    would blow a near-still frame's noise up to full scale). When the frames are resized, the
    displacements are scaled with them first, so `bound` keeps meaning pixels at input_size.
    `head_motion` is removed next (`remove_head_motion`), on the face alone and with the rest
    faded out when `region` is "face" or "inner" (`face_region`). With `scale="clip"` each
    clip is then multiplied by reference / max(its motion_level, floor): its pattern of
    motion is kept, its overall strength is not.
    """
    return bounded_flow(_motion(resize_flow(flow, input_size), head_motion, region), bound,
                        scale=scale, reference=reference, floor=floor)


def bounded_flow(clip: Tensor, bound: float, *, scale: str = "fixed", reference: float = 1.0,
                 floor: float = 0.15) -> Tensor:
    """The second half of `prepare_flow`: motion already at the input size with the head's
    motion removed (`motion_input`) → the network's flow input. Training computes the first
    half once per clip and this one per batch, after augmenting."""
    if bound <= 0:
        raise ValueError(f"bound: {bound} must be positive")
    if scale == "clip":
        level = motion_level(clip).clamp_min(floor)
        clip = clip * (reference / level).view(-1, 1, 1, 1, 1)
    elif scale != "fixed":
        raise ValueError(f"scale: {scale!r} is not fixed or clip")
    return (clip.clamp(-bound, bound) / bound).contiguous()


def flow_input(flow: Tensor, cfg: FlowConfig, input_size: int) -> Tensor:
    """`prepare_flow` with a model's flow settings (what training and predict both call)."""
    return flow_from_motion(motion_input(flow, cfg, input_size), cfg)


def flow_from_motion(motion: Tensor, cfg: FlowConfig) -> Tensor:
    """`bounded_flow` with a model's flow settings: `flow_input(flow)` is
    `flow_from_motion(motion_input(flow))`."""
    return bounded_flow(motion, cfg.bound, scale=cfg.scale, reference=cfg.scale_reference,
                        floor=cfg.scale_floor)
