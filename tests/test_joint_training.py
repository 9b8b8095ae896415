"""Video and attribute branches trained together; and the input preparation they share."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from attrmer.config import ModelConfig
from attrmer.model import RGB_MEAN, RGB_STD, JointLoss, VideoNet, prepare_flow, prepare_rgb
from attrmer.model.text import AttributeNet
from attrmer.resources import bundled_text_model_dir

SENTENCES = [
    "inner brow raiser",
    "lip corner puller",
    "brow lowerer, lid tightener",
    "nose wrinkler, upper lip raiser",
]


def _cosines(z_m: torch.Tensor, z_a: torch.Tensor) -> torch.Tensor:
    return F.normalize(z_m, dim=1) @ F.normalize(z_a, dim=1).T


def _matching_margin(cosine: torch.Tensor) -> float:
    """Mean cosine of matching (video, text) pairs minus that of non-matching pairs."""
    off_diagonal = ~torch.eye(len(cosine), dtype=torch.bool)
    return (cosine.diagonal().mean() - cosine[off_diagonal].mean()).item()


@pytest.mark.slow
def test_fifty_steps_pull_matching_video_and_text_together() -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    batch = len(SENTENCES)
    # Clips stored at 48 px and seen at 32 px, to take the resizing path of the inputs.
    rgb = prepare_rgb(torch.randint(0, 256, (batch, 3, 16, 48, 48), dtype=torch.uint8,
                                    generator=generator), input_size=32)
    flow = prepare_flow(3 * torch.randn(batch, 2, 16, 48, 48, generator=generator),
                        bound=2.0, input_size=32)
    labels = torch.arange(batch)

    cfg = ModelConfig(depth=10, width=4, feature_dim=16, text_pooler="cls",
                      text_model=str(bundled_text_model_dir()))  # a local directory by path
    video = VideoNet.from_config(cfg, num_classes=batch)
    text = AttributeNet.from_config(cfg, num_classes=batch)
    assert text.embed_dim == video.embed_dim == 32
    tokens = text.tokenize(SENTENCES)
    criterion = JointLoss(0.5)
    optimizer = torch.optim.Adam([
        {"params": video.parameters(), "lr": 1e-3},
        {"params": text.encoder.parameters(), "lr": 1e-4},
        {"params": [*text.projection.parameters(), *text.classifier.parameters()], "lr": 1e-3},
    ], fused=True)  # the fused step is several times faster on CPU for BERT's 22M parameters

    def evaluate() -> torch.Tensor:
        video.eval()
        text.eval()
        with torch.no_grad():
            cosine = _cosines(video(rgb, flow)[1], text(**tokens)[1])
        video.train()
        text.train()
        return cosine

    margin_before = _matching_margin(evaluate())
    losses = []
    for _ in range(50):
        video_logits, z_m = video(rgb, flow)
        text_logits, z_a = text(**tokens)
        terms = criterion(video_logits, labels, z_m, text_logits, z_a)
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        optimizer.step()
        losses.append(terms.total.item())
    cosine = evaluate()

    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-5:]) / 5 < 0.5 * losses[0]
    assert _matching_margin(cosine) > margin_before + 0.2
    # Every clip is now closer to its own sentence than to any other.
    for i in range(batch):
        others = torch.cat([cosine[i, :i], cosine[i, i + 1:]])
        assert cosine[i, i] > others.max()


# --- input preparation (shared by training and predict) ------------------------------------


def test_prepare_rgb_scales_and_normalises() -> None:
    rgb = torch.zeros(1, 3, 2, 4, 4, dtype=torch.uint8)
    rgb[:, :, 1] = 255
    out = prepare_rgb(rgb, input_size=4)
    assert out.dtype == torch.float32 and out.shape == (1, 3, 2, 4, 4)
    for channel in range(3):
        black = (0.0 - RGB_MEAN[channel]) / RGB_STD[channel]
        white = (1.0 - RGB_MEAN[channel]) / RGB_STD[channel]
        assert torch.allclose(out[0, channel, 0], torch.full((4, 4), black))
        assert torch.allclose(out[0, channel, 1], torch.full((4, 4), white))


def test_prepare_rgb_resizes_space_and_keeps_time() -> None:
    rgb = torch.randint(0, 256, (2, 3, 5, 112, 112), dtype=torch.uint8)
    out = prepare_rgb(rgb, input_size=56)
    assert out.shape == (2, 3, 5, 56, 56)
    # A flat frame stays flat, and each frame is resized from itself alone.
    flat = torch.full((1, 3, 3, 112, 112), 128, dtype=torch.uint8)
    flat[:, :, 1] = 10
    resized = prepare_rgb(flat, input_size=32)
    assert torch.allclose(resized[:, :, 0], prepare_rgb(flat[:, :, :1], 32)[:, :, 0])
    assert resized[:, :, 1].std(dim=(-2, -1)).max() < 1e-5
    with pytest.raises(TypeError, match="uint8"):
        prepare_rgb(rgb.float(), 56)
    with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\)"):
        prepare_rgb(rgb[:, :2], 56)


def test_prepare_flow_clips_with_a_fixed_bound() -> None:
    flow = torch.tensor([0.5, -1.0, 3.0, -7.0]).view(1, 2, 1, 1, 2).expand(1, 2, 1, 2, 2)
    out = prepare_flow(flow, bound=2.0, input_size=2)
    assert torch.equal(out[0, 0, 0, 0], torch.tensor([0.25, -0.5]))
    assert torch.equal(out[0, 1, 0, 0], torch.tensor([1.0, -1.0]))
    # No per-frame stretching: a near-still frame stays near zero.
    still = torch.full((1, 2, 1, 4, 4), 0.01)
    assert prepare_flow(still, bound=2.0, input_size=4).abs().max() == pytest.approx(0.005)


def test_prepare_flow_scales_displacements_when_resizing() -> None:
    # A uniform 1.5 px motion at 112 px is a 0.75 px motion at 56 px.
    flow = torch.full((1, 2, 3, 112, 112), 1.5, dtype=torch.float16)
    out = prepare_flow(flow, bound=2.0, input_size=56)
    assert out.shape == (1, 2, 3, 56, 56) and out.dtype == torch.float32
    assert torch.allclose(out, torch.full_like(out, 0.75 / 2.0))
    # Scaling comes before clipping: 3 px at 112 becomes 1.5 px at 56, inside the bound.
    fast = torch.full((1, 2, 1, 112, 112), 3.0)
    assert torch.allclose(prepare_flow(fast, 2.0, 56), torch.full((1, 2, 1, 56, 56), 0.75))
    with pytest.raises(ValueError, match="bound"):
        prepare_flow(flow, bound=0.0, input_size=56)


def test_clip_scale_makes_a_strong_and_a_weak_motion_of_one_pattern_alike() -> None:
    generator = torch.Generator().manual_seed(0)
    pattern = torch.randn(1, 2, 4, 16, 16, generator=generator)
    weak, strong = 0.5 * pattern, 12.0 * pattern  # a micro- and a macro-expression
    fixed_weak = prepare_flow(weak, 2.0, 16)
    fixed_strong = prepare_flow(strong, 2.0, 16)
    assert (fixed_strong.abs() == 1.0).float().mean() > 0.5  # saturated at the bound
    scaled_weak = prepare_flow(weak, 2.0, 16, scale="clip", reference=1.0, floor=0.15)
    scaled_strong = prepare_flow(strong, 2.0, 16, scale="clip", reference=1.0, floor=0.15)
    assert torch.allclose(scaled_weak, scaled_strong, atol=1e-5)
    # Each clip's 99th-percentile motion lands on the reference (1 px, half the bound).
    magnitude = torch.linalg.vector_norm(scaled_weak * 2.0, dim=1).flatten()
    assert torch.quantile(magnitude, 0.99).item() == pytest.approx(1.0, rel=1e-3)
    assert not torch.allclose(fixed_weak, fixed_strong)


def test_clip_scale_does_not_blow_noise_up_past_the_floor() -> None:
    noise = 0.01 * torch.randn(1, 2, 4, 16, 16, generator=torch.Generator().manual_seed(1))
    out = prepare_flow(noise, 2.0, 16, scale="clip", reference=1.0, floor=0.15)
    # Amplified by reference / floor at most, not up to the reference.
    assert out.abs().max() * 2.0 <= noise.abs().max() * (1.0 / 0.15) * 1.001
    with pytest.raises(ValueError, match="scale"):
        prepare_flow(noise, 2.0, 16, scale="per-frame")


def _head_and_face(batch: int = 2, frames: int = 3, side: int = 32):
    """A rigid affine head motion (shift, rotation, zoom) plus a local movement at the mouth."""
    ys, xs = torch.meshgrid(torch.linspace(-0.5, 0.5, side), torch.linspace(-0.5, 0.5, side),
                            indexing="ij")
    head = torch.stack([2.0 + 0.6 * xs - 0.9 * ys, -1.5 + 0.9 * xs + 0.6 * ys])
    head = head.view(1, 2, 1, side, side).expand(batch, 2, frames, side, side).clone()
    face = torch.zeros_like(head)
    face[:, 1, :, 22:27, 10:22] = -1.0  # an upward movement of the lower face
    return head, face


def test_affine_head_motion_is_removed_and_the_expression_kept() -> None:
    from attrmer.model.inputs import remove_head_motion

    head, face = _head_and_face()
    assert torch.allclose(remove_head_motion(head + face, "affine"), face, atol=1e-3)
    # A translation-only removal leaves the rotation and zoom behind.
    assert (remove_head_motion(head + face, "translation") - face).abs().max() > 0.2
    assert torch.equal(remove_head_motion(head, "none"), head)
    with pytest.raises(ValueError, match="head_motion"):
        remove_head_motion(head, "rigid")


def test_translation_removal_takes_out_a_shift_of_the_whole_face() -> None:
    from attrmer.model.inputs import remove_head_motion

    _, face = _head_and_face()
    shifted = face + torch.tensor([3.0, -2.0]).view(1, 2, 1, 1, 1)
    assert torch.allclose(remove_head_motion(shifted, "translation"), face, atol=1e-5)
    out = prepare_flow(shifted, 2.0, 32, head_motion="translation")
    assert torch.allclose(out, face / 2.0, atol=1e-5)


def test_face_region_fades_the_background_and_fits_the_head_on_the_face() -> None:
    from attrmer.config import FlowConfig
    from attrmer.model.inputs import face_region, motion_input

    side = 32
    region = face_region(side)
    assert region[side // 2, side // 2] == 1.0 and region[0, 0] == 0.0
    assert torch.equal(region, region.flip(1))  # symmetric about the face's midline
    # The head shifts by (1, -0.5) px; the background (outside the face) by 4 px the other
    # way, as a room does when the camera follows the head; the mouth moves up.
    _, face = _head_and_face(side=side)
    head = torch.tensor([1.0, -0.5]).view(1, 2, 1, 1, 1)
    background = torch.tensor([-4.0, 0.0]).view(1, 2, 1, 1, 1)
    inside = (region > 0.5).view(1, 1, 1, side, side)
    flow = torch.where(inside, head + face, background)
    cfg = FlowConfig(head_motion="translation", region="face")
    motion = motion_input(flow, cfg, side)
    # The head's shift comes off everywhere; what lies outside the face is faded out.
    assert torch.allclose(motion, (flow - head) * region, atol=1e-5)
    assert torch.allclose(motion[..., inside[0, 0, 0]], face[..., inside[0, 0, 0]]
                          * region[inside[0, 0, 0]], atol=1e-5)
    assert (motion[..., region == 0] == 0).all()
    # The whole frame's median is pulled by the background, and the background stays.
    whole = motion_input(flow, FlowConfig(head_motion="translation"), side)
    assert whole[:, 0, :, 0, 0].abs().min() > 3.0
    with pytest.raises(ValueError, match="region"):
        motion_input(flow, FlowConfig(region="ellipse"), side)


def test_inner_region_keeps_where_the_action_units_act_and_leaves_the_outline_out() -> None:
    """`inner` covers the brows, eyes, cheeks, mouth and chin boss of the aligned template
    and fades the face's outline (jaw line at the sides, the chin's edge) out."""
    from attrmer.model.inputs import face_region

    side = 112
    inner, face = face_region(side, region="inner"), face_region(side)

    def at(region: torch.Tensor, x: float, y: float) -> float:
        return float(region[int(y * side), int(x * side)])

    # Template points (align.TEMPLATE): eyes at 0.29, mouth corners at 0.635; brows about
    # 0.1 above the eyes, the cheeks between lid and mouth corner, the chin boss at 0.76.
    for x, y in [(0.35, 0.29), (0.65, 0.29), (0.35, 0.19), (0.5, 0.46), (0.377, 0.635),
                 (0.623, 0.635), (0.3, 0.45), (0.7, 0.45), (0.5, 0.76)]:
        assert at(inner, x, y) == 1.0
    # The jaw line beside the eyes and the mouth, and the chin's edge: inside `face`, out of
    # `inner`.
    for x, y in [(0.18, 0.35), (0.82, 0.35), (0.22, 0.62), (0.78, 0.62), (0.5, 0.88)]:
        assert at(inner, x, y) == 0.0 and at(face, x, y) > 0.5
    assert torch.allclose(inner, inner.flip(1), atol=1e-5)  # symmetric about the midline
    assert bool((inner <= face).all())  # a part of the face region


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 16 * 32 * 32])
@pytest.mark.parametrize("q", [0.0, 0.5, 0.99, 1.0])
def test_upper_quantile_is_torch_quantile(n: int, q: float) -> None:
    from attrmer.model.inputs import upper_quantile

    values = torch.rand(3, n, generator=torch.Generator().manual_seed(n))
    torch.testing.assert_close(upper_quantile(values, q), torch.quantile(values, q, dim=1))
