"""The two-stream video network: RGB and optical-flow 3D-ResNets fused into z_m, then a classifier.

This is the whole inference path: `predict` and `export` build a `VideoNet` and nothing else
(the attribute branch exists only to shape z_m during training). Inputs are expected already
prepared by `attrmer.model.inputs`; this module does no normalisation of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from attrmer.config import ModelConfig
from attrmer.model.resnet3d import resnet3d

RGB_CHANNELS = 3
FLOW_CHANNELS = 2


class VideoNet(nn.Module):
    """Separate (unshared) RGB and flow encoders; z_m = concat(z_rgb, z_flow); linear classifier."""

    def __init__(
        self,
        *,
        num_classes: int,
        depth: int = 10,
        width: int = 64,
        pool_stride: Sequence[int] = (2, 1, 1),
        feature_dim: int = 128,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes: {num_classes} must be at least 2")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: {dropout} is not in [0, 1)")
        # Everything needed to rebuild the network, stored with its weights as JSON.
        self.hparams = {
            "num_classes": num_classes,
            "depth": depth,
            "width": width,
            "pool_stride": list(pool_stride),
            "feature_dim": feature_dim,
            "dropout": dropout,
        }
        encoder_kw = {"width": width, "pool_stride": tuple(pool_stride),
                      "feature_dim": feature_dim}
        self.rgb_encoder = resnet3d(depth, in_channels=RGB_CHANNELS, **encoder_kw)
        self.flow_encoder = resnet3d(depth, in_channels=FLOW_CHANNELS, **encoder_kw)
        self.embed_dim = 2 * feature_dim
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.embed_dim, num_classes)

    @classmethod
    def from_config(cls, cfg: ModelConfig, num_classes: int) -> VideoNet:
        return cls(
            num_classes=num_classes,
            depth=cfg.depth,
            width=cfg.width,
            pool_stride=tuple(cfg.pool_stride),
            feature_dim=cfg.feature_dim,
            dropout=cfg.dropout,
        )

    @torch.jit.unused
    def _check_inputs(self, rgb: Tensor, flow: Tensor) -> None:
        if rgb.shape[0] != flow.shape[0]:
            raise ValueError(
                f"rgb and flow batches differ: {tuple(rgb.shape)} vs {tuple(flow.shape)}"
            )

    def embed(self, rgb: Tensor, flow: Tensor) -> Tensor:
        """z_m: the concatenated stream features, (B, 2·feature_dim)."""
        # Checked in eager mode only, so that tracing and scripting for export stay clean.
        if not torch.jit.is_scripting() and not torch.jit.is_tracing():
            self._check_inputs(rgb, flow)
        return torch.cat([self.rgb_encoder(rgb), self.flow_encoder(flow)], dim=1)

    def forward(self, rgb: Tensor, flow: Tensor) -> tuple[Tensor, Tensor]:
        """(logits (B, num_classes), z_m (B, 2·feature_dim))."""
        z_m = self.embed(rgb, flow)
        return self.classifier(self.dropout(z_m)), z_m
