"""ELRCN: the Enriched Long-term Recurrent Convolutional Network of Khor, See, Phan and Lin.

H.-Q. Khor, J. See, R. C.-W. Phan, W. Lin, "Enriched Long-term Recurrent Convolutional Network
for Facial Micro-Expression Recognition", 13th IEEE International Conference on Automatic Face
& Gesture Recognition (FG 2018), pp. 667–674 (arXiv:1805.08417).

A CNN encodes every frame of a clip into a feature vector and an LSTM reads the sequence of
those vectors; its last state goes through a fully connected layer to the classifier. Each
frame is "enriched" beyond its grey image with the optical flow (u, v) and the optical strain
of the face, in one of two ways (`variant`):

* `se`, spatial enrichment: the four maps (u, v, strain, grey) are stacked as the channels of
  one input, read by one CNN;
* `te`, temporal enrichment: each kind of input (the flow, the strain, the grey image) has a
  CNN of its own, and their per-frame features are concatenated before the LSTM.

Optical strain (Shreve et al.) is the magnitude of the strain tensor of the flow field,

    ε_xx = ∂u/∂x,  ε_yy = ∂v/∂y,  ε_xy = ½ (∂u/∂y + ∂v/∂x),
    |ε| = sqrt(ε_xx² + ε_yy² + 2 ε_xy²),

with the derivatives taken by central differences (`np.gradient`: one-sided at the border),
in pixels of the stored 112 px face, before any downsampling, so that the resize averages
strain rather than differentiating a blurred field (`common.optical_strain`, which STSTNet
reads too).

What the paper establishes and what this module takes from it: a CNN per frame, an LSTM over
the frames, SE and TE as above, inputs of flow, strain and grey frames of a TIM-normalised
clip; its CNN is VGG-Face (VGG-16 pretrained on faces), fine-tuned, its LSTM is wide (3000
units in the authors' public code, followed by a 128-unit fully connected layer).

Choices where the paper leaves room, or where this implementation departs from it:

* The CNN: VGG-Face is not bundled (nothing downloads at run time), and 130 clips could
  not train a VGG-16 from scratch. `FrameCnn` is a small CNN trained from scratch: three
  3×3 convolution blocks (batch norm, ReLU, 2×2 max-pool) of `width`, 2·`width`, 4·`width`
  channels, then global average pooling, so the feature is 4·`width` long. The LSTM has
  `hidden` units and the fully connected layer after it `hidden` units too (the paper's
  3000 and 128 scaled down together). Dropout (`dropout`) on the frame features and before
  the classifier.
* Frames: `frames` of the stored clip's T, evenly spaced from the first to the last
  (`frame_indices`); the paper uses 10 TIM frames, the default here 8 of the 16 stored.
* Flow reference: every field is the displacement from the onset (the stores' default
  `reference="onset"`), so that strain measures how far the face has deformed from neutral
  at that frame; frame-to-frame fields are summed into that, an approximation that ignores
  the small warp between fields.
* Inputs in numbers: flow stays in pixels of the 112 px face (micro-expression motion is
  about 0.3–2 px, already of unit order); strain is divided by `STRAIN_SCALE` (a 1 px
  displacement over a 5–10 px facial feature is a strain of 0.1–0.2), so both are of unit
  order without a per-clip rescaling that would amplify the noise of a still clip and drop
  the motion's amplitude. Grey (ITU-R BT.601 luma, `attrmer.baselines.lbptop.grey_clip`) is
  standardised per clip: lighting and skin tone differ between subjects, not emotions.
* Resolution: every map is area-averaged (`cv2.INTER_AREA`) to `size` px.

The small CNN and the input helpers are those of every deep baseline
(`attrmer.baselines.deep.common`). Not for training (the deep baselines' runner).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from attrmer.baselines.deep.common import (
    STRAIN_SCALE,
    FrameCnn,
    check_clip,
    frame_indices,
    onset_referenced,
    optical_strain,
    resize_maps,
    standardised,
)
from attrmer.baselines.lbptop import grey_clip
from attrmer.config import ElrcnConfig

# The inputs of one prepared frame, in channel order.
CHANNELS = ("u", "v", "strain", "grey")

# For each variant, the CNNs it runs: (name, the channels of CHANNELS that CNN reads).
ELRCN_STREAMS: dict[str, tuple[tuple[str, tuple[int, ...]], ...]] = {
    "se": (("stacked", (0, 1, 2, 3)),),
    "te": (("flow", (0, 1)), ("strain", (2,)), ("grey", (3,))),
}


# --- inputs ---------------------------------------------------------------------------------


def prepare(rgb: np.ndarray, flow: np.ndarray, config: ElrcnConfig, *,
            reference: Literal["onset", "consecutive"]) -> np.ndarray:
    """One clip -> (frames, 4, size, size) float32: per frame u, v (pixels), strain over
    STRAIN_SCALE, grey standardised over the clip (channel order CHANNELS)."""
    check_clip(rgb, flow)
    chosen = frame_indices(rgb.shape[1], config.frames)
    displacement = onset_referenced(flow, reference)[:, chosen]  # (2, T', H, W)
    strain = optical_strain(displacement[0], displacement[1]) / STRAIN_SCALE
    grey = standardised(grey_clip(rgb[:, chosen]) / 255.0)
    maps = np.stack([displacement[0], displacement[1], strain, grey], axis=1)  # (T', 4, H, W)
    return resize_maps(maps, config.size)


# --- networks -------------------------------------------------------------------------------


class Elrcn(nn.Module):
    """(B, T, C, S, S) clips -> (B, n_classes) logits: CNN(s) per frame, LSTM, FC, classifier."""

    def __init__(self, streams: tuple[tuple[str, tuple[int, ...]], ...], *, width: int,
                 hidden: int, dropout: float, n_classes: int) -> None:
        super().__init__()
        self.stream_channels = {name: list(channels) for name, channels in streams}
        self.cnns = nn.ModuleDict({name: FrameCnn(len(channels), width)
                                   for name, channels in streams})
        feature_dim = sum(cnn.feature_dim for cnn in self.cnns.values())
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(feature_dim, hidden, batch_first=True)
        self.fc = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
                                nn.Dropout(dropout))
        self.classifier = nn.Linear(hidden, n_classes)

    def frame_features(self, clips: Tensor) -> Tensor:
        """(B, T, C, S, S) -> (B, T, F): every stream's CNN features, concatenated."""
        batch, frames = clips.shape[:2]
        flat = clips.flatten(0, 1)
        features = [cnn(flat[:, self.stream_channels[name]]) for name, cnn in self.cnns.items()]
        return torch.cat(features, dim=1).view(batch, frames, -1)

    def forward(self, clips: Tensor) -> Tensor:
        sequence, _ = self.lstm(self.dropout(self.frame_features(clips)))
        return self.classifier(self.fc(sequence[:, -1]))


def build(config: ElrcnConfig, n_classes: int) -> Elrcn:
    """The network for `prepare`'s clips, its variant's CNNs from ELRCN_STREAMS."""
    config.validate()
    return Elrcn(ELRCN_STREAMS[config.variant], width=config.width, hidden=config.hidden,
                 dropout=config.dropout, n_classes=n_classes)
