"""The deep baselines' networks (ELRCN, NetAB, TLCNN): prepared inputs checked by hand, the
networks' shapes, gradients and determinism, and their configs' errors."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
import torch

from attrmer.baselines.deep import elrcn, netab, tlcnn
from attrmer.baselines.deep.common import frame_indices, onset_referenced
from attrmer.baselines.deep.elrcn import STRAIN_SCALE, optical_strain
from attrmer.config import ConfigError, ElrcnConfig, NetabConfig, TlcnnConfig

FRAMES, SIZE, CLASSES = 4, 16, 5
STORED_FRAMES, STORED_SIZE = 6, 24

# Each method at a tiny size, and the shape `prepare` gives one clip.
TINY = {
    "elrcn-se": (elrcn, ElrcnConfig(size=SIZE, frames=FRAMES, width=4, hidden=8),
                 (FRAMES, 4, SIZE, SIZE)),
    "elrcn-te": (elrcn, ElrcnConfig(size=SIZE, frames=FRAMES, width=4, hidden=8, variant="te"),
                 (FRAMES, 4, SIZE, SIZE)),
    "netab-concat": (netab, NetabConfig(size=SIZE, frames=FRAMES, width=4),
                     (2, FRAMES, SIZE, SIZE)),
    "netab-mean": (netab, NetabConfig(size=SIZE, frames=FRAMES, width=4, fusion="mean"),
                   (2, FRAMES, SIZE, SIZE)),
    "tlcnn": (tlcnn, TlcnnConfig(size=SIZE, frames=FRAMES, width=4, hidden=8),
              (FRAMES, 3, SIZE, SIZE)),
}


def _clip(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (3, STORED_FRAMES, STORED_SIZE, STORED_SIZE), dtype=np.uint8)
    flow = rng.normal(0.0, 0.5, (2, STORED_FRAMES, STORED_SIZE, STORED_SIZE))
    return rgb, flow.astype(np.float16)


def _batch(method: ModuleType, config: object, clips: int = 3) -> torch.Tensor:
    return torch.from_numpy(np.stack([
        method.prepare(*_clip(seed), config, reference="onset") for seed in range(clips)]))


@pytest.mark.parametrize("name", TINY)
def test_prepare_gives_a_fixed_float32_shape(name: str) -> None:
    method, config, shape = TINY[name]
    prepared = method.prepare(*_clip(), config, reference="onset")
    assert prepared.shape == shape and prepared.dtype == np.float32
    assert np.isfinite(prepared).all()


@pytest.mark.parametrize("name", TINY)
def test_the_network_gives_logits_and_every_parameter_a_gradient(name: str) -> None:
    method, config, _ = TINY[name]
    torch.manual_seed(0)
    model = method.build(config, CLASSES)
    model.train()
    logits = model(_batch(method, config))
    assert logits.shape == (3, CLASSES) and torch.isfinite(logits).all()
    logits.logsumexp(dim=1).sum().backward()
    trainable = [(key, p) for key, p in model.named_parameters() if p.requires_grad]
    assert trainable
    for key, parameter in trainable:
        assert parameter.grad is not None, key
        assert torch.isfinite(parameter.grad).all(), key
        assert parameter.grad.abs().sum() > 0, key


@pytest.mark.parametrize("name", TINY)
def test_the_same_seed_builds_the_same_network(name: str) -> None:
    method, config, _ = TINY[name]
    inputs = _batch(method, config)
    outputs = []
    for _ in range(2):
        torch.manual_seed(3)
        model = method.build(config, CLASSES).eval()
        with torch.no_grad():
            outputs.append(model(inputs))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)


@pytest.mark.parametrize("method, config", [(elrcn, ElrcnConfig()), (netab, NetabConfig()),
                                            (tlcnn, TlcnnConfig())])
def test_the_defaults_are_small_networks(method: ModuleType, config: object) -> None:
    parameters = sum(p.numel() for p in method.build(config, CLASSES).parameters())
    assert 10_000 <= parameters <= 500_000


# --- ELRCN's inputs -------------------------------------------------------------------------


def test_optical_strain_of_a_linear_field_is_exact() -> None:
    # u = a·x + c·y, v = d·x + b·y: ε_xx = a, ε_yy = b, ε_xy = (c + d)/2 at every pixel (the
    # central and the border differences of a linear field are both exact).
    a, b, c, d = 0.03, -0.02, 0.01, 0.05
    y, x = np.mgrid[0:9, 0:11].astype(np.float64)
    strain = optical_strain(a * x + c * y, d * x + b * y)
    expected = np.sqrt(a**2 + b**2 + 2 * ((c + d) / 2) ** 2)
    np.testing.assert_allclose(strain, expected, rtol=1e-6)
    # u = a·x alone: a pure stretch, |ε| = a.
    np.testing.assert_allclose(optical_strain(a * x, np.zeros_like(x)), a, rtol=1e-6)


def test_prepare_stacks_flow_strain_and_grey_in_that_order() -> None:
    a = 0.02
    x = np.mgrid[0:STORED_SIZE, 0:STORED_SIZE][1].astype(np.float32)
    flow = np.zeros((2, STORED_FRAMES, STORED_SIZE, STORED_SIZE), np.float32)
    flow[0] = a * x  # a stretch along x, the same in every field
    flow[1] = 0.5  # a uniform downward shift: no strain
    rgb = np.zeros((3, STORED_FRAMES, STORED_SIZE, STORED_SIZE), np.uint8)
    prepared = elrcn.prepare(rgb, flow, ElrcnConfig(size=SIZE, frames=FRAMES),
                             reference="onset")
    np.testing.assert_allclose(prepared[:, 1], 0.5, rtol=1e-6)
    np.testing.assert_allclose(prepared[:, 2], a / STRAIN_SCALE, rtol=1e-5)
    np.testing.assert_allclose(prepared[:, 3], 0.0)  # a flat clip stays at zero
    # Area averaging keeps the mean of a linear field.
    np.testing.assert_allclose(prepared[:, 0].mean(), flow[0].mean(), rtol=1e-5)


def test_grey_is_bt601_luma_standardised_over_the_clip() -> None:
    # Four frames: pure red, green, blue, white; luma 0.299, 0.587, 0.114, 1.
    rgb = np.zeros((3, 4, STORED_SIZE, STORED_SIZE), np.uint8)
    for frame, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]):
        rgb[:, frame] = np.array(colour, np.uint8)[:, None, None]
    flow = np.zeros((2, *rgb.shape[1:]), np.float32)
    grey = elrcn.prepare(rgb, flow, ElrcnConfig(size=SIZE, frames=4), reference="onset")[:, 3]
    luma = np.array([0.299, 0.587, 0.114, 1.0])
    expected = (luma - luma.mean()) / luma.std()
    np.testing.assert_allclose(grey[:, 0, 0], expected, rtol=1e-5)
    assert np.ptp(grey, axis=(1, 2)).max() < 1e-6  # each frame uniform


def test_frame_to_frame_flow_is_summed_into_displacement_from_the_onset() -> None:
    consecutive = np.ones((2, 4, 3, 3), np.float32)
    onset = onset_referenced(consecutive, "consecutive")
    np.testing.assert_allclose(onset[0, :, 0, 0], [1, 2, 3, 4])
    np.testing.assert_array_equal(onset_referenced(consecutive, "onset"), consecutive)
    with pytest.raises(ValueError, match="reference"):
        onset_referenced(consecutive, "apex")  # type: ignore[arg-type]


def test_frames_are_evenly_spaced_with_both_ends() -> None:
    np.testing.assert_array_equal(frame_indices(16, 8), [0, 2, 4, 6, 9, 11, 13, 15])
    np.testing.assert_array_equal(frame_indices(4, 4), [0, 1, 2, 3])
    np.testing.assert_array_equal(frame_indices(2, 4), [0, 0, 1, 1])


def test_prepare_rejects_a_flow_of_another_shape() -> None:
    rgb, flow = _clip()
    with pytest.raises(ValueError, match="flow"):
        elrcn.prepare(rgb, flow[:, 1:], ElrcnConfig(size=SIZE, frames=FRAMES),
                      reference="onset")


# --- NetAB's inputs -------------------------------------------------------------------------


def test_difference_images_of_a_constant_clip_are_zero() -> None:
    rgb = np.full((3, STORED_FRAMES, STORED_SIZE, STORED_SIZE), 120, np.uint8)
    prepared = netab.prepare(rgb, np.zeros((2, *rgb.shape[1:])), NetabConfig(size=SIZE,
                             frames=FRAMES), reference="onset")
    grey, differences = prepared
    np.testing.assert_array_equal(differences, 0.0)
    np.testing.assert_allclose(grey, 0.0, atol=1e-6)  # a flat clip standardises to zero


def test_difference_images_show_only_what_changed() -> None:
    # The last frame brightens by 51 grey levels on its left half; nothing else moves.
    rgb = np.full((3, FRAMES, STORED_SIZE, STORED_SIZE), 100, np.uint8)
    rgb[:, -1, :, : STORED_SIZE // 2] = 151
    config = NetabConfig(size=SIZE, frames=FRAMES)
    grey, differences = netab.prepare(rgb, np.zeros((2, *rgb.shape[1:])), config,
                                      reference="onset")
    np.testing.assert_allclose(differences[:-1], 0.0, atol=1e-6)
    np.testing.assert_allclose(differences[-1], grey[-1] - grey[0], atol=1e-6)
    assert differences[-1, :, : SIZE // 2].min() > 0
    np.testing.assert_allclose(differences[-1, :, SIZE // 2:], 0.0, atol=1e-6)


def test_mean_fusion_averages_the_two_classifiers() -> None:
    torch.manual_seed(0)
    model = netab.build(NetabConfig(size=SIZE, frames=FRAMES, width=4, fusion="mean"),
                        CLASSES).eval()
    inputs = _batch(netab, NetabConfig(size=SIZE, frames=FRAMES))
    with torch.no_grad():
        a = model.fusion.classifiers[0](model.net_a(inputs[:, :1]))
        b = model.fusion.classifiers[1](model.net_b(inputs[:, 1, 1:]))
        torch.testing.assert_close(model(inputs), (a + b) / 2)


# --- TLCNN's steps --------------------------------------------------------------------------


def test_each_image_is_standardised_on_its_own() -> None:
    rgb, _ = _clip()
    rgb[:, 0] //= 4  # a darker frame comes out like the others
    images = tlcnn.prepare_images(rgb, TlcnnConfig(size=SIZE))
    assert images.shape == (STORED_FRAMES, 3, SIZE, SIZE)
    np.testing.assert_allclose(images.mean(axis=(1, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(images.std(axis=(1, 2, 3)), 1.0, rtol=1e-4)


def test_the_frame_cnn_classifies_frames_and_gives_features() -> None:
    config = TlcnnConfig(size=SIZE, frames=FRAMES, width=4, hidden=8)
    cnn = tlcnn.build_frame_cnn(config, n_classes=7)
    frames, labels = tlcnn.clip_frames(_batch(tlcnn, config, clips=2), torch.tensor([3, 1]))
    assert frames.shape == (2 * FRAMES, 3, SIZE, SIZE)
    assert labels.tolist() == [3] * FRAMES + [1] * FRAMES
    assert cnn(frames).shape == (2 * FRAMES, 7)
    assert cnn.features(frames).shape == (2 * FRAMES, cnn.feature_dim)
    cnn.replace_head(CLASSES)
    assert cnn(frames).shape == (2 * FRAMES, CLASSES)


def test_a_frozen_cnn_keeps_its_weights_and_statistics_while_the_lstm_learns() -> None:
    config = TlcnnConfig(size=SIZE, frames=FRAMES, width=4, hidden=8)
    torch.manual_seed(0)
    cnn = tlcnn.build_frame_cnn(config, CLASSES)
    before = {key: value.clone() for key, value in cnn.state_dict().items()}
    model = tlcnn.build_clip_model(cnn, config, CLASSES).train()
    assert not cnn.training
    model(_batch(tlcnn, config)).sum().backward()
    assert all(p.grad is None for p in cnn.parameters())
    assert all(p.grad is not None for p in model.lstm.parameters())
    for key, value in cnn.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    assert {id(p) for p in model.parameters() if p.requires_grad} == {
        id(p) for module in (model.lstm, model.classifier) for p in module.parameters()}


# --- configs --------------------------------------------------------------------------------


@pytest.mark.parametrize("config, key", [
    (ElrcnConfig(variant="both"), "baselines.elrcn.variant"),
    (ElrcnConfig(size=8), "baselines.elrcn.size"),
    (ElrcnConfig(hidden=0), "baselines.elrcn.hidden"),
    (ElrcnConfig(dropout=1.0), "baselines.elrcn.dropout"),
    (ElrcnConfig(batch_size=1), "baselines.elrcn.batch_size"),
    (NetabConfig(fusion="max"), "baselines.netab.fusion"),
    (NetabConfig(frames=1), "baselines.netab.frames"),
    (NetabConfig(lr=0.0), "baselines.netab.lr"),
    (TlcnnConfig(frame_batch_size=1), "baselines.tlcnn.frame_batch_size"),
    (TlcnnConfig(clip_epochs=-1), "baselines.tlcnn.clip_epochs"),
    (TlcnnConfig(freeze_cnn="yes"), "baselines.tlcnn.freeze_cnn"),  # type: ignore[arg-type]
])
def test_a_bad_value_names_its_key(config: object, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config.validate()  # type: ignore[attr-defined]


def test_the_defaults_are_valid() -> None:
    for config in (ElrcnConfig(), ElrcnConfig(variant="te"), NetabConfig(), TlcnnConfig()):
        config.validate()
