"""Off-ApexNet: Optical Flow Features from the Apex frame Network of Gan, Liong, Yau, Huang and
Tan.

Y. S. Gan, S.-T. Liong, W.-C. Yau, Y.-C. Huang, L.-K. Tan, "OFF-ApexNet on micro-expression
recognition system", Signal Processing: Image Communication 74 (2019) 129–139
(arXiv:1805.08699).

One pair of images per clip: the horizontal (u) and vertical (v) components of the optical
flow between the onset and the apex frame, each 28×28. Each component has a stream of its
own, LeNet-like: a 5×5 convolution with 6 filters, 2×2 max pooling, a 5×5 convolution with 16
filters, 2×2 max pooling. The two streams' features are concatenated and go through two fully
connected layers of 1024 units, each with dropout, to the classes (softmax in the loss).

What this module takes from the paper: the apex frame and the onset as the two frames of the
flow and a CNN on that flow (its abstract), and the network above, two streams on u and v at
28×28 with the layer sizes given, as the paper's architecture is summarised by those who
re-implement it. Everything else is unverified against the paper's full text.

Choices where the paper is silent or that are unverified against it (every value below is
this implementation's choice, not the paper's):

* Padding and activation: "same" padding, so that the streams give 14×14 then 7×7 (7·7·16
  values each, 1568 together), and a ReLU after each convolution and each fully connected
  layer.
* Dropout: after each fully connected layer, at `dropout` (0.5).
* Training: Adam (the shared AdamW with weight decay 0), learning rate `lr` 1e-4, batches of
  `batch_size` 16 images, `epochs` 100: the network has 2.7 million parameters against a
  hundred training clips, and on the built-in data its training loss is near zero (0.02) by
  epoch 100 and the epochs chosen on validation lie between 30 and 60. The paper evaluates
  with a fixed schedule and leave-one-subject-out; here, as for every deep baseline, the
  epoch kept is the one of best UF1 on the method's validation subjects
  (`attrmer.baselines.deep.fit`).
* Flow: the pipeline's stored fields (Farnebäck, `flow` in params.yaml); the apex is the
  stored TIM frame nearest the annotated apex (`fit.apex_positions`, handed in by the runner
  as `apex`), its field taken as displacement from the onset (`common.apex_displacement`),
  where the paper reads the raw apex frame.
* Inputs in numbers: u and v in pixels of the stored 112 px face (a micro-expression's motion
  is about 0.3–2 px, already of unit order), as for ELRCN and STSTNet, area-averaged to
  `size`.
* Initial weights: PyTorch's defaults.

Not for training (the deep baselines' runner, `attrmer.baselines.deep.run`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from attrmer.baselines.deep.common import apex_displacement, check_clip, resize_maps
from attrmer.config import OffApexNetConfig

# The channels of the prepared images, in order: one stream each.
CHANNELS = ("u", "v")
# Each stream's convolutions: (filters, kernel size), each followed by 2×2 max pooling.
STREAM_LAYERS = ((6, 5), (16, 5))
# Units of each of the two fully connected layers.
HIDDEN = 1024


def prepare(rgb: np.ndarray, flow: np.ndarray, config: OffApexNetConfig, *,
            reference: Literal["onset", "consecutive"], apex: int) -> np.ndarray:
    """One clip -> (2, size, size) float32: the onset→apex u, v in pixels (channel order
    CHANNELS), at the stored frame `apex`. `rgb` is only checked (the deep baselines share one
    signature)."""
    check_clip(rgb, flow)
    return resize_maps(apex_displacement(flow, apex, reference), config.size)


def flow_stream() -> nn.Sequential:
    """(B, 1, S, S) one flow component -> (B, 16·(S/4)²) features."""
    layers: list[nn.Module] = []
    channels = 1
    for filters, kernel in STREAM_LAYERS:
        layers += [nn.Conv2d(channels, filters, kernel, padding=kernel // 2),
                   nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        channels = filters
    return nn.Sequential(*layers, nn.Flatten())


class OffApexNet(nn.Module):
    """(B, 2, S, S) images -> (B, n_classes) logits: a stream per flow component, the
    features concatenated, two fully connected layers with dropout, the classifier."""

    def __init__(self, *, size: int, dropout: float, n_classes: int) -> None:
        super().__init__()
        self.streams = nn.ModuleList(flow_stream() for _ in CHANNELS)
        side = size // 2 ** len(STREAM_LAYERS)
        features = len(CHANNELS) * STREAM_LAYERS[-1][0] * side * side
        self.head = nn.Sequential(
            nn.Linear(features, HIDDEN), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(HIDDEN, HIDDEN), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(HIDDEN, n_classes))

    def forward(self, images: Tensor) -> Tensor:
        features = [stream(images[:, k:k + 1]) for k, stream in enumerate(self.streams)]
        return self.head(torch.cat(features, dim=1))


def build(config: OffApexNetConfig, n_classes: int) -> OffApexNet:
    """The network for `prepare`'s images."""
    config.validate()
    return OffApexNet(size=config.size, dropout=config.dropout, n_classes=n_classes)
