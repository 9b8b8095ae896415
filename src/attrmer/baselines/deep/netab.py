"""NetAB: a multi-scale network (Net-A) and a network on difference images (Net-B), fused.

What was and was not established: the paper's Table III names "NetAB" as a deep method it
compares with, described as a 2D–3D CNN method made of "Net-A", a multi-scale network,
"Net-B", a network on difference images, and their fusion; the paper cites it as Wang, Jia &
Mao, "Micro-Expression Recognition Based on 2D-3D CNN", Chinese Control Conference (CCC)
2020. Its layer sizes, inputs and fusion rule are not established here: Table III marks this
row "from an outline". Everything below beyond the one-sentence description is this
implementation's choice, made to fit it:

* Net-A, the 3D, multi-scale half, reads the greyscale clip (1, T, S, S): a 3×3×3 stem
  (`width` channels, batch norm, ReLU, 1×2×2 max-pool), then a multi-scale block of three
  parallel 3D convolutions with spatial kernels 1×1, 3×3 and 5×5 (all 3 frames deep, `width`
  channels each, concatenated; at half the input resolution, so 2 to 10 px of the `size`
  px face), a 2×2×2 max-pool, one 3×3×3 convolution to 2·`width` channels and global
  average pooling.
* Net-B, the 2D half, reads the difference images d_t = g_t − g_0 of the clip's frames from
  its first one, stacked as the channels of one image (T − 1 channels), with the small CNN of
  the other deep baselines (`attrmer.baselines.deep.common.FrameCnn`, 4·`width` features).
  Differences from the first frame rather than between neighbours: at 16 TIM frames a
  neighbour difference is mostly noise, while the change from the start accumulates the
  expression. The stores' first frame is the first TIM instant after the onset, so g_0 is
  1/16 of the way into the clip, not the onset itself.
* Fusion (`fusion`, the table FUSIONS): `concat` joins the two feature vectors into one
  linear classifier (dropout before it); `mean` gives each network a classifier of its own
  and averages their logits.
* Inputs in numbers: grey is ITU-R BT.601 luma scaled to [0, 1], standardised per clip
  (lighting differs between subjects, not emotions); the differences are taken between the
  standardised frames, so they are in the same units. Frames: `frames` of the stored T,
  evenly spaced; every map area-averaged (`cv2.INTER_AREA`) to `size` px. The flow store is
  not read.

Not for training (the deep baselines' runner).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from attrmer.baselines.deep.common import (
    FrameCnn,
    check_clip,
    frame_indices,
    resize_maps,
    standardised,
)
from attrmer.baselines.lbptop import grey_clip
from attrmer.config import NetabConfig

# Spatial kernel sizes of Net-A's parallel convolutions.
MULTI_SCALE_KERNELS = (1, 3, 5)


def difference_images(grey: np.ndarray) -> np.ndarray:
    """(T, H, W) frames -> (T, H, W) float32 g_t − g_0 (the first is zero)."""
    grey = np.asarray(grey, dtype=np.float32)
    return grey - grey[:1]


def prepare(rgb: np.ndarray, flow: np.ndarray, config: NetabConfig, *,
            reference: Literal["onset", "consecutive"]) -> np.ndarray:
    """One clip -> (2, frames, size, size) float32: channel 0 the standardised grey frames
    (Net-A's clip), channel 1 their differences from the first frame (Net-B's images).
    `flow` and `reference` are not used (the deep baselines share one signature)."""
    check_clip(rgb)
    chosen = frame_indices(rgb.shape[1], config.frames)
    grey = standardised(grey_clip(rgb[:, chosen]) / 255.0)
    return resize_maps(np.stack([grey, difference_images(grey)]), config.size)


class MultiScaleBlock3d(nn.Module):
    """Parallel 3D convolutions of several spatial kernel sizes, concatenated, BN, ReLU."""

    def __init__(self, in_channels: int, width: int, kernels: tuple[int, ...]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Conv3d(in_channels, width, (3, k, k), padding=(1, k // 2, k // 2), bias=False)
            for k in kernels)
        self.out_channels = width * len(kernels)
        self.norm = nn.Sequential(nn.BatchNorm3d(self.out_channels), nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(torch.cat([branch(x) for branch in self.branches], dim=1))


class NetA(nn.Module):
    """(B, 1, T, S, S) grey clips -> (B, 2·width) features."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv3d(1, width, 3, padding=1, bias=False), nn.BatchNorm3d(width),
            nn.ReLU(inplace=True), nn.MaxPool3d((1, 2, 2)))
        self.multi_scale = MultiScaleBlock3d(width, width, MULTI_SCALE_KERNELS)
        self.head = nn.Sequential(
            nn.MaxPool3d(2),
            nn.Conv3d(self.multi_scale.out_channels, 2 * width, 3, padding=1, bias=False),
            nn.BatchNorm3d(2 * width), nn.ReLU(inplace=True), nn.AdaptiveAvgPool3d(1))
        self.feature_dim = 2 * width

    def forward(self, clips: Tensor) -> Tensor:
        return self.head(self.multi_scale(self.stem(clips))).flatten(1)


class NetB(nn.Module):
    """(B, T − 1, S, S) difference images as channels -> (B, 4·width) features."""

    def __init__(self, differences: int, width: int) -> None:
        super().__init__()
        self.cnn = FrameCnn(differences, width)
        self.feature_dim = self.cnn.feature_dim

    def forward(self, differences: Tensor) -> Tensor:
        return self.cnn(differences)


class ConcatFusion(nn.Module):
    """One linear classifier over the two feature vectors joined."""

    def __init__(self, dims: tuple[int, int], n_classes: int, dropout: float) -> None:
        super().__init__()
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(sum(dims), n_classes))

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return self.classifier(torch.cat([a, b], dim=1))


class MeanLogitFusion(nn.Module):
    """A linear classifier per network; the logits averaged."""

    def __init__(self, dims: tuple[int, int], n_classes: int, dropout: float) -> None:
        super().__init__()
        self.classifiers = nn.ModuleList(
            nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, n_classes)) for dim in dims)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return 0.5 * (self.classifiers[0](a) + self.classifiers[1](b))


FUSIONS: dict[str, type[nn.Module]] = {"concat": ConcatFusion, "mean": MeanLogitFusion}


class Netab(nn.Module):
    """(B, 2, T, S, S) prepared clips -> (B, n_classes) logits: Net-A and Net-B, fused."""

    def __init__(self, *, frames: int, width: int, fusion: str, dropout: float,
                 n_classes: int) -> None:
        super().__init__()
        self.net_a = NetA(width)
        self.net_b = NetB(frames - 1, width)
        self.fusion = FUSIONS[fusion]((self.net_a.feature_dim, self.net_b.feature_dim),
                                      n_classes, dropout)

    def forward(self, clips: Tensor) -> Tensor:
        grey, differences = clips[:, :1], clips[:, 1, 1:]  # d_0 = 0 carries nothing
        return self.fusion(self.net_a(grey), self.net_b(differences))


def build(config: NetabConfig, n_classes: int) -> Netab:
    """The fused network for `prepare`'s clips."""
    config.validate()
    return Netab(frames=config.frames, width=config.width, fusion=config.fusion,
                 dropout=config.dropout, n_classes=n_classes)
