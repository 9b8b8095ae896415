"""STSTNet: the Shallow Triple Stream Three-dimensional CNN of Liong, Gan, See, Khor and Huang.

S.-T. Liong, Y. S. Gan, J. See, H.-Q. Khor, Y.-C. Huang, "Shallow Triple Stream
Three-dimensional CNN (STSTNet) for Micro-expression Recognition", 14th IEEE International
Conference on Automatic Face & Gesture Recognition (FG 2019), MEGC 2019 (arXiv:1902.03634).

One image per clip, its three channels derived from the optical flow between the onset and
the apex frame: the horizontal component u, the vertical component v and the optical strain
magnitude |ε| = sqrt((∂u/∂x)² + (∂v/∂y)² + ½ (∂u/∂y + ∂v/∂x)²), resized to 28×28. Three
shallow streams read the whole image, each one 3×3 convolution (3, 5 and 8 filters, output
28×28) with ReLU and a 3×3 max pooling to 10×10; their 16 channels are concatenated, a 2×2
average pooling gives 5×5×16, and one fully connected layer maps those 400 values to the
classes (softmax in the loss). The "three-dimensional" of the name is the 3-channel input; the
convolutions are 2D.

What the paper establishes and this module takes from it: the inputs (u, v, strain of the
onset→apex flow, 28×28×3), the layers and their output sizes (its Table I), the initial
learning rate 0.00005 and 500 epochs (`StstnetConfig`). The strain is the one ELRCN reads,
computed the same way (`common.optical_strain`, central differences): the sum of the squared
normal and shear components of the paper's strain tensor (its Eq. 6; Eq. 7 as printed in
arXiv v1 repeats ∂u/∂x in the shear term, read here as Eq. 6's ∂u/∂y + ∂v/∂x).

Choices where the paper is silent, or where this implementation departs from it:

* Activation: the paper's table lists convolutions, poolings and the fully connected layer
  only; a ReLU after each convolution (as the authors' public code has).
* Pooling strides: not given in the paper; stride 3 with one pixel of padding for the 3×3
  max pooling and stride 2 for the 2×2 average pooling, which give the table's 10×10 and
  5×5. No batch normalisation or dropout: the paper has none (the authors' later PyTorch code
  adds both).
* Optimiser and batch: not given in the paper; Adam (the shared AdamW with weight decay 0,
  which is Adam) as in the authors' public code, and batches of 16 images (`batch_size`), as
  the other deep baselines. The authors' code uses 256, on inputs stored as 8-bit images:
  with this module's unit-order inputs and a hundred training clips that is one step per
  epoch, and on the built-in data the training loss has fallen only from 1.66 to 1.1 (5
  classes) after the 500 epochs at the paper's learning rate, where batches of 16 bring it
  to 0.3 within them.
* Epoch: the paper trains a fixed 500 epochs and reports leave-one-subject-out results on the
  MEGC 2019 composite; here, as for every deep baseline, the epoch kept is the one of best
  UF1 on the method's validation subjects (`attrmer.baselines.deep.fit`) among the 500.
* Flow: the pipeline's stored fields (Farnebäck, `flow` in params.yaml); the paper does not
  name its method (the authors' repository points to TV-L1). The apex is the stored TIM
  frame nearest the annotated apex (`fit.apex_positions`, handed in by the runner as
  `apex`), its field taken as displacement from the onset (`common.apex_displacement`),
  where the paper reads the raw apex frame (annotated for CASME II and SAMM, spotted for
  SMIC).
* Inputs in numbers: not given in the paper (its inputs are images); u and v stay in pixels
  of the stored 112 px face and strain is divided by `STRAIN_SCALE`, as for ELRCN, so that
  all three are of unit order without a per-clip rescaling that would blow up the noise of
  a still clip. Strain is computed at 112 px and every map then area-averaged to `size`.
* Initial weights: not given in the paper; PyTorch's defaults.

Not for training (the deep baselines' runner, `attrmer.baselines.deep.run`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from attrmer.baselines.deep.common import (
    STRAIN_SCALE,
    apex_displacement,
    check_clip,
    optical_strain,
    resize_maps,
)
from attrmer.config import StstnetConfig

# The channels of the prepared image, in order.
CHANNELS = ("u", "v", "strain")
# Filters of each stream's 3×3 convolution (the paper's Table I).
STREAM_FILTERS = (3, 5, 8)


def prepare(rgb: np.ndarray, flow: np.ndarray, config: StstnetConfig, *,
            reference: Literal["onset", "consecutive"], apex: int) -> np.ndarray:
    """One clip -> (3, size, size) float32: the onset→apex u, v (pixels) and strain over
    STRAIN_SCALE (channel order CHANNELS), at the stored frame `apex`. `rgb` is only checked
    (the deep baselines share one signature)."""
    check_clip(rgb, flow)
    u, v = apex_displacement(flow, apex, reference)
    strain = optical_strain(u, v) / STRAIN_SCALE
    return resize_maps(np.stack([u, v, strain]), config.size)


class Ststnet(nn.Module):
    """(B, 3, S, S) images -> (B, n_classes) logits: three conv streams, concatenated,
    average-pooled, one fully connected layer."""

    def __init__(self, *, size: int, n_classes: int,
                 filters: tuple[int, ...] = STREAM_FILTERS) -> None:
        super().__init__()
        self.streams = nn.ModuleList(
            nn.Sequential(nn.Conv2d(len(CHANNELS), count, 3, padding=1), nn.ReLU(inplace=True),
                          nn.MaxPool2d(3, stride=3, padding=1))
            for count in filters)
        self.pool = nn.AvgPool2d(2)
        side = ((size - 1) // 3 + 1) // 2  # 28 -> 10 -> 5
        self.classifier = nn.Linear(sum(filters) * side * side, n_classes)

    def forward(self, images: Tensor) -> Tensor:
        features = torch.cat([stream(images) for stream in self.streams], dim=1)
        return self.classifier(self.pool(features).flatten(1))


def build(config: StstnetConfig, n_classes: int) -> Ststnet:
    """The network for `prepare`'s images."""
    config.validate()
    return Ststnet(size=config.size, n_classes=n_classes)
