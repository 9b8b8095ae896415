"""3D-ResNet encoders and the two-stream video network: sizes, gradients, memory formats."""

from __future__ import annotations

import pytest
import torch

from attrmer.config import ModelConfig
from attrmer.model import RESNET3D_LAYERS, VideoNet, count_parameters, resnet3d

# Table I of the paper: (T, H, W) after each layer for a 16×112×112 clip.
TABLE_I_SIZES = {
    "conv1": (16, 56, 56),
    "pool": (8, 56, 56),
    "stage1": (8, 56, 56),
    "stage2": (4, 28, 28),
    "stage3": (2, 14, 14),
    "stage4": (1, 7, 7),
}
STAGE_WIDTH_FACTOR = {"conv1": 1, "pool": 1, "stage1": 1, "stage2": 2, "stage3": 4, "stage4": 8}
DEPTHS = sorted(RESNET3D_LAYERS)
STREAMS = {"rgb": 3, "flow": 2}


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("depth", DEPTHS)
def test_feature_sizes_match_table_one(depth: int, stream: str) -> None:
    width = 8  # sizes do not depend on width; a narrow network keeps the test fast
    net = resnet3d(depth, in_channels=STREAMS[stream], width=width).eval()
    with torch.no_grad():
        maps = net.forward_stages(torch.randn(1, STREAMS[stream], 16, 112, 112))
    expected = {name: (width * STAGE_WIDTH_FACTOR[name], *size)
                for name, size in TABLE_I_SIZES.items()}
    assert {name: tuple(m.shape[1:]) for name, m in maps.items()} == expected
    assert net.feature_shapes(16, 112) == expected


@pytest.mark.parametrize("depth", DEPTHS)
def test_block_counts_follow_the_depth_table(depth: int) -> None:
    net = resnet3d(depth, width=4)
    counts = tuple(len(getattr(net, f"stage{i}")) for i in range(1, 5))
    assert counts == RESNET3D_LAYERS[depth]
    # Two convolutions per basic block, plus conv1 and the fc: the depth the name promises.
    assert 2 * sum(counts) + 2 == depth


def test_full_width_forward_gives_a_128_d_feature() -> None:
    net = resnet3d(10, width=64).eval()
    with torch.no_grad():
        feature = net(torch.randn(1, 3, 16, 112, 112))
    assert feature.shape == (1, 128)
    assert torch.isfinite(feature).all()
    assert net.feature_shapes()["stage4"] == (512, 1, 7, 7)


def test_parameter_count_of_resnet3d_10_at_full_width() -> None:
    # The figure quoted in docs/model.md; a change here means that page is out of date.
    assert count_parameters(resnet3d(10, width=64)) == 14_427_456
    assert count_parameters(resnet3d(10, in_channels=2, width=64)) == 14_418_048


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("depth", DEPTHS)
def test_forward_backward_has_no_nan(depth: int, stream: str, batch: int) -> None:
    torch.manual_seed(0)
    net = resnet3d(depth, in_channels=STREAMS[stream], width=4).train()
    feature = net(torch.randn(batch, STREAMS[stream], 16, 112, 112))
    assert feature.shape == (batch, 128)
    assert torch.isfinite(feature).all()
    feature.square().mean().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert net.conv1.weight.grad.abs().sum() > 0


def test_pool_stride_is_a_parameter() -> None:
    net = resnet3d(10, width=4, pool_stride=(2, 2, 2)).eval()
    with torch.no_grad():
        maps = net.forward_stages(torch.randn(1, 3, 16, 112, 112))
    assert tuple(maps["stage4"].shape[2:]) == (1, 4, 4)
    assert net.feature_shapes()["stage4"] == (32, 1, 4, 4)


def test_unknown_depth_and_wrong_input_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="depth: 50"):
        resnet3d(50)
    net = resnet3d(10, in_channels=2, width=4)
    with pytest.raises(ValueError, match=r"\(B, 2, T, H, W\)"):
        net(torch.randn(1, 3, 16, 32, 32))


def test_channels_last_matches_the_default_layout() -> None:
    torch.manual_seed(0)
    net = resnet3d(10, width=4)
    clip = torch.randn(2, 3, 16, 64, 64)
    reference = net(clip)
    reference.square().mean().backward()
    reference_grad = net.conv1.weight.grad.clone()
    net.zero_grad()
    net = net.to(memory_format=torch.channels_last_3d)
    feature = net(clip.to(memory_format=torch.channels_last_3d))
    feature.square().mean().backward()
    assert torch.allclose(feature, reference, atol=1e-4)
    assert torch.allclose(net.conv1.weight.grad, reference_grad, rtol=1e-3, atol=1e-5)
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


def test_bf16_autocast_forward_on_cpu() -> None:
    # Forward (inference) only. The bf16 backward is not relied on: on CPU, oneDNN's bf16
    # conv3d weight gradient for 2-frame inputs (stage3 of a 16-frame clip) comes out wrong or
    # NaN in torch 2.13, so CPU training runs in fp32.
    torch.manual_seed(0)
    net = resnet3d(10, width=4).eval().to(memory_format=torch.channels_last_3d)
    clip = torch.randn(2, 3, 16, 64, 64).to(memory_format=torch.channels_last_3d)
    with torch.no_grad():
        reference = net(clip)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            feature = net(clip)
    assert feature.dtype == torch.bfloat16
    assert torch.isfinite(feature.float()).all()
    assert torch.allclose(feature.float(), reference, atol=0.05 * reference.abs().max().item())


# --- the two-stream network ---------------------------------------------------------------


def _tiny_video_net(**kw) -> VideoNet:
    return VideoNet(num_classes=5, depth=10, width=4, **kw)


def test_video_net_outputs_logits_and_z_m() -> None:
    net = _tiny_video_net().eval()
    with torch.no_grad():
        logits, z_m = net(torch.randn(2, 3, 16, 32, 32), torch.randn(2, 2, 16, 32, 32))
    assert logits.shape == (2, 5)
    assert z_m.shape == (2, 256)
    with torch.no_grad():
        z_rgb = net.rgb_encoder(torch.zeros(1, 3, 16, 32, 32))
    assert z_rgb.shape == (1, 128)


def test_video_streams_do_not_share_weights() -> None:
    net = _tiny_video_net()
    assert net.rgb_encoder.conv1.in_channels == 3
    assert net.flow_encoder.conv1.in_channels == 2
    rgb_params = {id(p) for p in net.rgb_encoder.parameters()}
    assert not rgb_params & {id(p) for p in net.flow_encoder.parameters()}
    # Both streams reach the classifier: each gets a gradient.
    logits, _ = net(torch.randn(2, 3, 16, 32, 32), torch.randn(2, 2, 16, 32, 32))
    logits.sum().backward()
    assert net.rgb_encoder.fc.weight.grad.abs().sum() > 0
    assert net.flow_encoder.fc.weight.grad.abs().sum() > 0


def test_video_net_from_config_and_rebuild_from_hparams() -> None:
    cfg = ModelConfig(depth=18, width=4, pool_stride=[2, 1, 1], feature_dim=32, dropout=0.2)
    net = VideoNet.from_config(cfg, num_classes=3)
    assert net.hparams == {"num_classes": 3, "depth": 18, "width": 4, "pool_stride": [2, 1, 1],
                           "feature_dim": 32, "dropout": 0.2}
    rebuilt = VideoNet(**net.hparams)
    rebuilt.load_state_dict(net.state_dict())
    assert len(rebuilt.rgb_encoder.stage1) == 2
    assert rebuilt.classifier.in_features == 64


def test_video_net_rejects_mismatched_streams() -> None:
    net = _tiny_video_net()
    with pytest.raises(ValueError, match="batches differ"):
        net(torch.randn(2, 3, 16, 32, 32), torch.randn(1, 2, 16, 32, 32))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_video_net_scripts_and_exports_with_a_dynamic_batch() -> None:
    # The export command's two routes: TorchScript, and torch.export (which ONNX export uses).
    net = _tiny_video_net().eval()
    example = (torch.randn(2, 3, 16, 32, 32), torch.randn(2, 2, 16, 32, 32))
    other_batch = (torch.randn(3, 3, 16, 32, 32), torch.randn(3, 2, 16, 32, 32))
    batch = torch.export.Dim("batch")
    with torch.no_grad():
        expected = net(*other_batch)[0]
        scripted = torch.jit.script(net)
        exported = torch.export.export(net, example, dynamic_shapes=({0: batch}, {0: batch}))
        assert torch.allclose(scripted(*other_batch)[0], expected, atol=1e-5)
        assert torch.allclose(exported.module()(*other_batch)[0], expected, atol=1e-5)


def test_bf16_autocast_keeps_two_frame_blocks_in_fp32():
    """oneDNN's bf16 conv3d weight gradient breaks at a temporal extent of 2 frames on some
    CPUs (NaN or tens of % off); blocks there run in fp32 under autocast instead."""
    from attrmer.model.resnet3d import BasicBlock3d

    torch.manual_seed(0)
    for frames_in, stride in ((4, 2), (2, 1)):
        block = BasicBlock3d(8, 16, stride=stride)
        x = torch.randn(2, 8, frames_in, 8, 8)
        target = torch.randn(2, 16, 2, 8 // stride, 8 // stride)

        def gradients(bf16: bool, block=block, x=x, target=target) -> dict[str, torch.Tensor]:
            block.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = block(x)
            (out.float() * target).sum().backward()
            return {n: p.grad.clone() for n, p in block.named_parameters()}

        fp32, bf16 = gradients(False), gradients(True)
        for name in fp32:
            assert torch.allclose(bf16[name], fp32[name], rtol=1e-4, atol=1e-5), name

    net = VideoNet(num_classes=3, width=8, feature_dim=16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, _ = net(torch.randn(2, 3, 16, 64, 64), torch.randn(2, 2, 16, 64, 64))
    logits.float().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
