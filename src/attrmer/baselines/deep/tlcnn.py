"""TLCNN: the Transferring Long-term Convolutional Neural Network of Wang et al.

S.-J. Wang, B.-J. Li, Y.-J. Liu, W.-J. Yan, X. Ou, X. Huang, F. Xu, X. Fu, "Micro-expression
recognition with small sample size by transferring long-term convolutional neural network",
Neurocomputing 312:251–262, 2018.

A deep CNN extracts a feature from every frame of a clip and an LSTM learns the sequence of
those features. Because micro-expression clips are few, the CNN is trained in two transfer
steps before the LSTM: (1) on static images of (macro-)expressions, (2) on the single frames
of the micro-expression clips, each frame labelled with its clip's emotion (many more frames
than clips: the paper's "big data"). This module builds the networks; the schedule that
chains the steps lives with the deep baselines' runner. How they chain:

1. `cnn = build_frame_cnn(config, n_source_classes)`, trained on `prepare_images(stills)`
   with the stills' labels for `source_epochs`;
2. `cnn.replace_head(n_classes)`, then trained on the training clips' frames,
   `clip_frames(prepare(...) of each clip, labels)`, for `frame_epochs`;
3. `model = build_clip_model(cnn, config, n_classes)`, trained on the prepared clips for
   `clip_epochs`. With `freeze_cnn` (the default) the CNN keeps the weights and batch-norm
   statistics of step 2 (its parameters do not require gradients and it stays in evaluation
   mode), so only the LSTM and its classifier learn, which is the point of the transfer.

`build(config, n_classes)` is the clip model over a fresh CNN, trained end to end (the
network without transfer, and the shape every deep baseline's `build` gives).

What the paper establishes and what this module takes from it: per-frame deep CNN features
fed to an LSTM, the two transfer steps above, evaluation on clips of spontaneous databases.

Choices where the paper leaves room, or where this implementation departs from it:

* The CNN: the paper's is a deep, image-sized CNN; here it is the small CNN of the other deep
  baselines (`attrmer.baselines.deep.common.FrameCnn`: three 3×3 convolution blocks of
  `width`, 2·`width`, 4·`width` channels, global average pooling), trained from scratch on
  RGB frames at `size` px, with a dropout and a linear frame classifier on its feature. The
  frame classifier is replaced, not kept, between steps 1 and 2, since the source images'
  classes are not the clips'.
* The LSTM: `hidden` units; its last state goes through dropout to a linear classifier.
* Frames: `frames` of the stored T, evenly spaced; the same frames feed step 2 and step 3.
* Inputs in numbers: RGB in [0, 1], standardised per image (over its pixels and channels)
  so that a still of step 1 and a frame of a clip are normalised alike, and lighting, which
  differs between subjects and between the source images and the clips, is removed. Every
  frame area-averaged (`cv2.INTER_AREA`) to `size` px. The flow store is not read.

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
from attrmer.config import TlcnnConfig


def prepare_images(rgb: np.ndarray, config: TlcnnConfig) -> np.ndarray:
    """(3, N, H, W) RGB images (stills or a clip's frames, uint8) -> (N, 3, size, size)
    float32, each image standardised over its own pixels and channels."""
    if rgb.ndim != 4 or rgb.shape[0] != 3:
        raise ValueError(f"expected RGB images of shape (3, N, H, W), got {rgb.shape}")
    images = resize_maps(np.asarray(rgb, dtype=np.float32).transpose(1, 0, 2, 3) / 255.0,
                         config.size)
    return np.stack([standardised(image) for image in images])


def prepare(rgb: np.ndarray, flow: np.ndarray, config: TlcnnConfig, *,
            reference: Literal["onset", "consecutive"]) -> np.ndarray:
    """One clip -> (frames, 3, size, size) float32, the frames the CNN reads.
    `flow` and `reference` are not used (the deep baselines share one signature)."""
    check_clip(rgb)
    return prepare_images(rgb[:, frame_indices(rgb.shape[1], config.frames)], config)


def clip_frames(clips: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """(B, T, C, S, S) prepared clips and (B,) labels -> (B·T, C, S, S) frames, each with
    its clip's label: the training set of step 2."""
    return clips.flatten(0, 1), labels.repeat_interleave(clips.shape[1])


class FrameClassifier(nn.Module):
    """The per-frame CNN: `forward` (N, 3, S, S) -> frame logits, `features` -> (N, F)."""

    def __init__(self, *, width: int, dropout: float, n_classes: int) -> None:
        super().__init__()
        self.cnn = FrameCnn(3, width)
        self.feature_dim = self.cnn.feature_dim
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.feature_dim, n_classes)

    def features(self, frames: Tensor) -> Tensor:
        return self.cnn(frames)

    def forward(self, frames: Tensor) -> Tensor:
        return self.head(self.dropout(self.features(frames)))

    def replace_head(self, n_classes: int) -> None:
        """A new, freshly initialised frame classifier for `n_classes` (between steps 1 and 2)."""
        self.head = nn.Linear(self.feature_dim, n_classes).to(self.head.weight.device)


class ClipModel(nn.Module):
    """(B, T, 3, S, S) clips -> (B, n_classes) logits: the frame CNN's features, LSTM,
    classifier on the last state."""

    def __init__(self, cnn: FrameClassifier, *, hidden: int, dropout: float, n_classes: int,
                 freeze_cnn: bool) -> None:
        super().__init__()
        self.cnn = cnn
        self.freeze_cnn = freeze_cnn
        cnn.requires_grad_(not freeze_cnn)
        cnn.head.requires_grad_(False)  # the frame classifier is no part of the clip model
        self.lstm = nn.LSTM(cnn.feature_dim, hidden, batch_first=True)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, n_classes))
        if freeze_cnn:
            cnn.eval()

    def train(self, mode: bool = True) -> ClipModel:
        super().train(mode)
        if self.freeze_cnn:
            self.cnn.eval()  # a fixed CNN keeps step 2's batch-norm statistics
        return self

    def forward(self, clips: Tensor) -> Tensor:
        batch, frames = clips.shape[:2]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_cnn):
            features = self.cnn.features(clips.flatten(0, 1))
        sequence, _ = self.lstm(features.view(batch, frames, -1))
        return self.classifier(sequence[:, -1])


def build_frame_cnn(config: TlcnnConfig, n_classes: int) -> FrameClassifier:
    """The frame CNN of steps 1 and 2, with a frame classifier for `n_classes`."""
    config.validate()
    return FrameClassifier(width=config.width, dropout=config.dropout, n_classes=n_classes)


def build_clip_model(cnn: FrameClassifier, config: TlcnnConfig, n_classes: int, *,
                     freeze_cnn: bool | None = None) -> ClipModel:
    """Step 3's clip model over a trained frame CNN; `freeze_cnn` defaults to the config's."""
    config.validate()
    return ClipModel(cnn, hidden=config.hidden, dropout=config.dropout, n_classes=n_classes,
                     freeze_cnn=config.freeze_cnn if freeze_cnn is None else freeze_cnn)


def build(config: TlcnnConfig, n_classes: int) -> ClipModel:
    """The clip model over a fresh frame CNN, trained end to end (no transfer)."""
    return build_clip_model(build_frame_cnn(config, n_classes), config, n_classes,
                            freeze_cnn=False)
