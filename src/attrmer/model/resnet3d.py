"""3D-ResNet encoders (Hara et al.'s 3D basic-block ResNets) built by depth from one table.

`resnet3d(depth=10)` builds one stream of the paper's video network (Table I): a clip
(B, C, T, H, W) goes to a `feature_dim` vector. The same builder serves the RGB stream
(`in_channels=3`) and the optical-flow stream (`in_channels=2`); the two-stream composition and
the classifier live in `attrmer.model.video`. This module knows nothing about losses or data.

With the default time-only max-pool a 16×112×112 clip gives Table I's sizes:

    conv1   16×56×56      stage1  8×56×56      stage3  2×14×14
    pool     8×56×56      stage2  4×28×28      stage4  1×7×7
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

# Basic blocks per stage for each supported depth.
RESNET3D_LAYERS: dict[int, tuple[int, int, int, int]] = {
    10: (1, 1, 1, 1),
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
}

STAGE_NAMES = ("stage1", "stage2", "stage3", "stage4")

NormFactory = Callable[[int], nn.Module]


def _triple(value: int | Sequence[int], name: str) -> tuple[int, int, int]:
    if isinstance(value, int):
        return (value, value, value)
    triple = tuple(int(v) for v in value)
    if len(triple) != 3 or min(triple) < 1:
        raise ValueError(f"{name}: needs three positive integers (t, h, w), got {value!r}")
    return triple  # type: ignore[return-value]


def _as_triple(value: int | Sequence[int]) -> tuple[int, ...]:
    return (value,) * 3 if isinstance(value, int) else tuple(value)


class BasicBlock3d(nn.Module):
    """Two 3×3×3 convolutions with a residual connection.

    The shortcut is a 1×1×1 convolution plus norm (a projection) whenever the block changes
    the channel count or the resolution, and the identity otherwise.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        norm: NormFactory = nn.BatchNorm3d,
    ) -> None:
        super().__init__()
        self.stride = stride
        self.conv1 = nn.Conv3d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = norm(out_channels)
        self.conv2 = nn.Conv3d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = norm(out_channels)
        self.relu = nn.ReLU(inplace=True)
        projection = stride != 1 or in_channels != out_channels
        self.shortcut = nn.Sequential(
            nn.Conv3d(in_channels, out_channels, 1, stride=stride, bias=False),
            norm(out_channels),
        ) if projection else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        if not torch.jit.is_scripting():
            return self._forward_eager(x)
        return self._forward(x)

    @torch.jit.unused
    def _forward_eager(self, x: Tensor) -> Tensor:
        if _bf16_conv3d_unsafe(x, self.stride):
            # oneDNN's bf16 conv3d weight gradient on CPU comes out wrong (often NaN) when the
            # temporal extent is 2 frames (torch 2.13); such blocks run in fp32 instead.
            with torch.autocast("cpu", enabled=False):
                return self._forward(x.float())
        return self._forward(x)

    def _forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


def _bf16_conv3d_unsafe(x: Tensor, stride: int) -> bool:
    if x.device.type != "cpu" or not torch.is_autocast_enabled("cpu"):
        return False
    if torch.get_autocast_dtype("cpu") != torch.bfloat16:
        return False
    frames_in = x.shape[2]
    frames_out = (frames_in - 1) // stride + 1
    return 2 in (frames_in, frames_out)


class ResNet3D(nn.Module):
    """conv1 → max-pool → four stages of basic blocks → global average pool → fc."""

    def __init__(
        self,
        *,
        layers: Sequence[int],
        in_channels: int = 3,
        width: int = 64,
        pool_stride: int | Sequence[int] = (2, 1, 1),
        feature_dim: int = 128,
        block: Callable[..., nn.Module] = BasicBlock3d,
        norm: NormFactory = nn.BatchNorm3d,
    ) -> None:
        super().__init__()
        if len(layers) != 4 or min(layers) < 1:
            raise ValueError(f"layers: needs four positive block counts, got {tuple(layers)}")
        if in_channels < 1 or width < 1 or feature_dim < 1:
            raise ValueError("in_channels, width and feature_dim must be positive")
        self.layers = tuple(int(n) for n in layers)
        self.in_channels = in_channels
        self.width = width
        self.pool_stride = _triple(pool_stride, "pool_stride")
        self.feature_dim = feature_dim

        self.conv1 = nn.Conv3d(
            in_channels, width, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False
        )
        self.bn1 = norm(width)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool3d(3, stride=self.pool_stride, padding=1)

        stages = []
        channels = width
        for index, blocks in enumerate(self.layers):
            out_channels = width * 2**index
            stride = 1 if index == 0 else 2
            stage = [block(channels, out_channels, stride=stride, norm=norm)]
            stage += [block(out_channels, out_channels, stride=1, norm=norm)
                      for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*stage))
            channels = out_channels
        self.stage1, self.stage2, self.stage3, self.stage4 = stages
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(channels, feature_dim)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward_stages(self, x: Tensor) -> dict[str, Tensor]:
        """The feature maps after conv1, pool and each stage, by name (for inspection)."""
        maps = {}
        x = self.relu(self.bn1(self.conv1(x)))
        maps["conv1"] = x
        x = self.pool(x)
        maps["pool"] = x
        for name in STAGE_NAMES:
            x = getattr(self, name)(x)
            maps[name] = x
        return maps

    @torch.jit.unused
    def _check_input(self, x: Tensor) -> None:
        if x.ndim != 5 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"expected a clip batch (B, {self.in_channels}, T, H, W), got {tuple(x.shape)}"
            )

    def forward(self, x: Tensor) -> Tensor:
        # Checked in eager mode only, so that tracing and scripting for export stay clean.
        if not torch.jit.is_scripting() and not torch.jit.is_tracing():
            self._check_input(x)
        x = self.pool(self.relu(self.bn1(self.conv1(x))))
        x = self.stage4(self.stage3(self.stage2(self.stage1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))

    def feature_shapes(self, frames: int = 16, size: int | tuple[int, int] = 112
                       ) -> dict[str, tuple[int, int, int, int]]:
        """(channels, T, H, W) after conv1, pool and each stage for a frames×H×W clip.

        Computed from the layer geometry alone (no forward pass), so it is free at any width.
        """
        height, width = (size, size) if isinstance(size, int) else size
        shape = [frames, height, width]

        def apply(layer: nn.Conv3d | nn.MaxPool3d) -> None:
            geometry = [_as_triple(getattr(layer, attr))
                        for attr in ("kernel_size", "stride", "padding")]
            for axis, (kernel, stride, padding) in enumerate(zip(*geometry, strict=True)):
                shape[axis] = (shape[axis] + 2 * padding - kernel) // stride + 1

        shapes = {}
        apply(self.conv1)
        shapes["conv1"] = (self.width, *shape)
        apply(self.pool)
        shapes["pool"] = (self.width, *shape)
        for index, name in enumerate(STAGE_NAMES):
            for block in getattr(self, name):
                apply(block.conv1)
                apply(block.conv2)
            shapes[name] = (self.width * 2**index, *shape)
        return shapes


def resnet3d(
    depth: int,
    *,
    in_channels: int = 3,
    width: int = 64,
    pool_stride: int | Sequence[int] = (2, 1, 1),
    feature_dim: int = 128,
) -> ResNet3D:
    """Build a 3D-ResNet of a depth in RESNET3D_LAYERS (10, 18 or 34)."""
    if depth not in RESNET3D_LAYERS:
        known = ", ".join(map(str, RESNET3D_LAYERS))
        raise ValueError(f"depth: {depth} is not a known 3D-ResNet depth (known: {known})")
    return ResNet3D(
        layers=RESNET3D_LAYERS[depth],
        in_channels=in_channels,
        width=width,
        pool_stride=pool_stride,
        feature_dim=feature_dim,
    )


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
