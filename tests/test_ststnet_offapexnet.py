"""STSTNet and Off-ApexNet, the deep baselines on the onset→apex flow: their inputs checked by
hand (the apex frame's flow, strain as ELRCN computes it), the networks' layers and logits,
the runner handing each clip's apex frame to them, and both learning the apex motion through
the baselines stage."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from attrmer.baselines.deep import elrcn, offapexnet, ststnet
from attrmer.baselines.deep.common import STRAIN_SCALE, optical_strain, resize_maps
from attrmer.baselines.deep.run import prepare_inputs
from attrmer.config import (
    ConfigError,
    ElrcnConfig,
    OffApexNetConfig,
    StstnetConfig,
    load_params,
)
from attrmer.preprocess.store import ClipStoreWriter
from attrmer.train.data import load_training_table
from stages import baselines as stage
from tests.test_baselines_stage import FRAMES, SIZE, _stage_args, _write_fixture

STORED_FRAMES, STORED_SIZE, CLASSES = 6, 56, 3

# Each network, its config at the papers' 28 px, and the shape `prepare` gives one clip.
NETWORKS = {
    "ststnet": (ststnet, StstnetConfig(), (3, 28, 28)),
    "offapexnet": (offapexnet, OffApexNetConfig(), (2, 28, 28)),
}


def _clip(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (3, STORED_FRAMES, STORED_SIZE, STORED_SIZE), dtype=np.uint8)
    flow = rng.normal(0.0, 0.5, (2, STORED_FRAMES, STORED_SIZE, STORED_SIZE))
    return rgb, flow.astype(np.float16)


def _batch(method: ModuleType, config: object, clips: int = 3) -> torch.Tensor:
    return torch.from_numpy(np.stack([
        method.prepare(*_clip(seed), config, reference="onset", apex=2)
        for seed in range(clips)]))


# --- inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NETWORKS)
def test_prepare_gives_the_papers_28_px_images(name: str) -> None:
    method, config, shape = NETWORKS[name]
    prepared = method.prepare(*_clip(), config, reference="onset", apex=3)
    assert prepared.shape == shape and prepared.dtype == np.float32
    assert np.isfinite(prepared).all()


@pytest.mark.parametrize("name", NETWORKS)
def test_only_the_apex_frames_flow_is_read(name: str) -> None:
    # Every field is still but the apex frame's, which moves a square right by 1 px.
    method, config, _ = NETWORKS[name]
    rgb = np.zeros((3, STORED_FRAMES, STORED_SIZE, STORED_SIZE), np.uint8)
    flow = np.zeros((2, STORED_FRAMES, STORED_SIZE, STORED_SIZE), np.float32)
    flow[0, 4, 20:36, 20:36] = 1.0
    moving = method.prepare(rgb, flow, config, reference="onset", apex=4)
    np.testing.assert_allclose(moving[0].sum(), 16 * 16 / 4, rtol=1e-5)  # 56 -> 28 px
    np.testing.assert_array_equal(moving[1], 0.0)
    for still in (0, 3, 5):
        np.testing.assert_array_equal(
            method.prepare(rgb, flow, config, reference="onset", apex=still), 0.0)
    with pytest.raises(ValueError, match="apex frame 6"):
        method.prepare(rgb, flow, config, reference="onset", apex=STORED_FRAMES)


def test_frame_to_frame_fields_are_summed_up_to_the_apex() -> None:
    rgb = np.zeros((3, STORED_FRAMES, 28, 28), np.uint8)
    flow = np.full((2, STORED_FRAMES, 28, 28), 0.25, np.float32)
    prepared = offapexnet.prepare(rgb, flow, OffApexNetConfig(), reference="consecutive",
                                  apex=3)
    np.testing.assert_allclose(prepared, 1.0)  # four fields of 0.25 px from the onset


def test_ststnet_reads_u_v_and_the_strain_elrcn_reads() -> None:
    rgb, flow = _clip(1)
    apex = 3
    prepared = ststnet.prepare(rgb, flow, StstnetConfig(), reference="onset", apex=apex)
    u, v = flow[:, apex].astype(np.float32)
    np.testing.assert_allclose(prepared[:2], resize_maps(np.stack([u, v]), 28), rtol=1e-6)
    # Strain at the stored 112 px-like resolution, then resized: the same function and scale
    # as ELRCN, and the same values as ELRCN's strain channel at that frame.
    expected = resize_maps(optical_strain(u, v) / STRAIN_SCALE, 28)
    np.testing.assert_allclose(prepared[2], expected, rtol=1e-6)
    every_frame = elrcn.prepare(rgb, flow, ElrcnConfig(size=28, frames=STORED_FRAMES),
                                reference="onset")
    np.testing.assert_allclose(prepared[2], every_frame[apex, 2], rtol=1e-6)
    assert elrcn.optical_strain is optical_strain


def test_a_uniform_stretch_has_the_strain_of_its_gradient() -> None:
    a = 0.02
    x = np.mgrid[0:STORED_SIZE, 0:STORED_SIZE][1].astype(np.float32)
    flow = np.zeros((2, STORED_FRAMES, STORED_SIZE, STORED_SIZE), np.float32)
    flow[0] = a * x  # u = a·x: a pure stretch, |ε| = a
    flow[1] = 0.5  # a uniform shift: no strain
    rgb = np.zeros((3, STORED_FRAMES, STORED_SIZE, STORED_SIZE), np.uint8)
    prepared = ststnet.prepare(rgb, flow, StstnetConfig(), reference="onset", apex=2)
    np.testing.assert_allclose(prepared[1], 0.5, rtol=1e-6)
    np.testing.assert_allclose(prepared[2], a / STRAIN_SCALE, rtol=1e-5)


# --- networks -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NETWORKS)
def test_the_network_gives_logits_and_every_parameter_a_gradient(name: str) -> None:
    method, config, _ = NETWORKS[name]
    torch.manual_seed(0)
    model = method.build(config, CLASSES).train()
    logits = model(_batch(method, config))
    assert logits.shape == (3, CLASSES) and torch.isfinite(logits).all()
    logits.logsumexp(dim=1).sum().backward()
    for key, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, key


@pytest.mark.parametrize("name", NETWORKS)
def test_the_same_seed_builds_the_same_network(name: str) -> None:
    method, config, _ = NETWORKS[name]
    inputs = _batch(method, config)
    outputs = []
    for _ in range(2):
        torch.manual_seed(3)
        with torch.no_grad():
            outputs.append(method.build(config, CLASSES).eval()(inputs))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)


def test_ststnet_has_the_papers_layers() -> None:
    model = ststnet.build(StstnetConfig(), CLASSES)
    # Three streams of 3×3 convolutions on the 3 channels: 3, 5 and 8 filters.
    assert [stream[0].out_channels for stream in model.streams] == [3, 5, 8]
    assert all(stream[0].kernel_size == (3, 3) for stream in model.streams)
    # Each stream: 28×28 after the convolution, 10×10 after the max pooling; 5×5×16 after the
    # average pooling; 400 values into the one fully connected layer.
    images = _batch(ststnet, StstnetConfig())
    assert model.streams[0][0](images).shape[-2:] == (28, 28)
    assert model.streams[0](images).shape[-2:] == (10, 10)
    assert model.classifier.in_features == 400
    convolutions = sum(3 * 9 * n + n for n in (3, 5, 8))
    assert sum(p.numel() for p in model.parameters()) == convolutions + 400 * CLASSES + CLASSES


def test_off_apexnet_has_the_papers_layers() -> None:
    model = offapexnet.build(OffApexNetConfig(), CLASSES)
    assert len(model.streams) == 2  # one per flow component
    convolutions = [m for m in model.streams[0] if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in convolutions] == [(6, (5, 5)), (16, (5, 5))]
    # 28 -> 14 -> 7 per stream: 7·7·16 values each, then 1024, 1024 and the classes.
    linear = [m for m in model.head if isinstance(m, torch.nn.Linear)]
    assert [(f.in_features, f.out_features) for f in linear] == [
        (2 * 7 * 7 * 16, 1024), (1024, 1024), (1024, CLASSES)]
    assert sum(isinstance(m, torch.nn.Dropout) and m.p == 0.5 for m in model.head) == 2


def test_off_apexnet_streams_read_one_component_each() -> None:
    torch.manual_seed(0)
    model = offapexnet.build(OffApexNetConfig(), CLASSES).eval()
    images = _batch(offapexnet, OffApexNetConfig())
    changed = images.clone()
    changed[:, 1] += 1.0  # v only
    with torch.no_grad():
        torch.testing.assert_close(model.streams[0](images[:, :1]),
                                   model.streams[0](changed[:, :1]))
        assert not torch.allclose(model(images), model(changed))


@pytest.mark.parametrize("config, key", [
    (StstnetConfig(lr=0.0), "baselines.ststnet.lr"),
    (StstnetConfig(epochs=0), "baselines.ststnet.epochs"),
    (StstnetConfig(size=4), "baselines.ststnet.size"),
    (OffApexNetConfig(dropout=1.0), "baselines.offapexnet.dropout"),
    (OffApexNetConfig(batch_size=0), "baselines.offapexnet.batch_size"),
    (OffApexNetConfig(weight_decay=-1.0), "baselines.offapexnet.weight_decay"),
])
def test_a_bad_value_names_its_key(config: object, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config.validate()  # type: ignore[attr-defined]


def test_the_defaults_are_the_papers_where_given() -> None:
    assert (StstnetConfig().size, StstnetConfig().lr, StstnetConfig().epochs) == (28, 5e-5, 500)
    assert OffApexNetConfig().size == 28
    # The runner reads one image per clip.
    assert StstnetConfig.frames == OffApexNetConfig.frames == 1


# --- through the runner ---------------------------------------------------------------------


def _apex_frame(key: str) -> int:
    """The stored frame the fixture's manifest puts each clip's apex on (1..4)."""
    return 1 + int(key.split("/c")[1]) % 4 if "/c" in key else 1


def _with_apexes(paths: dict[str, Path]) -> pd.DataFrame:
    """The fixture's manifest with each clip's apex on `_apex_frame`: stored frame k of 6
    shows (k + 1)/6 of the way from onset (0) to offset (60)."""
    manifest = pd.read_csv(paths["manifest"], dtype=str, keep_default_na=False)
    manifest["onset"], manifest["offset"] = "0", "60"
    manifest["apex"] = [str(10 * (_apex_frame(key) + 1)) for key in manifest["key"]]
    manifest.to_csv(paths["manifest"], index=False)
    return manifest


def test_the_runner_hands_the_apex_frame_to_the_methods_that_read_it(tmp_path: Path) -> None:
    paths = _write_fixture(tmp_path, "holdout")
    _with_apexes(paths)
    params = load_params(paths["params"])
    table = load_training_table(paths["manifest"], paths["rgb"], paths["flow"], None,
                                protocol="holdout", validation_fraction=0.2, split_seed=0)

    def reads_apex(rgb: np.ndarray, flow: np.ndarray, config: None, *, reference: str,
                   apex: int) -> np.ndarray:
        return np.array([apex])

    def no_apex(rgb: np.ndarray, flow: np.ndarray, config: None, *,
                reference: str) -> np.ndarray:
        return np.array([-1])

    given = prepare_inputs(SimpleNamespace(prepare=reads_apex), None, params, table,
                           progress=False)
    assert {key: int(value[0]) for key, value in given.items()} == {
        key: _apex_frame(key) for key in table.rows["key"]}
    assert set(np.concatenate(list(given.values()))) == {1, 2, 3, 4}
    others = prepare_inputs(SimpleNamespace(prepare=no_apex), None, params, table,
                            progress=False)
    assert set(others) == set(given)


def _apex_only_flow(paths: dict[str, Path], manifest: pd.DataFrame) -> None:
    """A flow store (onset-referenced) where the class's motion, the fixture's 1 px right, up
    or left around the mouth, is in the apex frame alone; every other frame carries another
    class's motion."""
    rng = np.random.default_rng(5)
    motions = [(1.0, 0.0), (0.0, -1.0), (-1.0, 0.0)]
    clips = manifest[(manifest["status"] == "ok") & (manifest["key"] != "s6/c3")]
    with ClipStoreWriter(paths["flow"], "flow", params={"flow": {"reference": "onset"}},
                         clip_shape=(2, FRAMES, SIZE, SIZE)) as store:
        for row in clips.itertuples():
            label = int(row.label)
            flow = rng.normal(0, 0.2, size=(2, FRAMES, SIZE, SIZE))
            for frame in range(FRAMES):
                u, v = motions[label if frame == _apex_frame(row.key) else (label + 1) % 3]
                flow[0, frame, 32:42, 14:34] += u
                flow[1, frame, 32:42, 14:34] += v
            store.add(flow.astype(np.float16),
                      {"key": row.key, "subject": row.subject, "label": label,
                       "emotion": row.emotion, "landmarks": np.zeros((68, 2), np.float32),
                       "align_matrix": np.eye(2, 3)})


@pytest.mark.parametrize("name, schedule", [
    ("ststnet", {"epochs": 60, "lr": 0.01, "batch_size": 4}),
    ("offapexnet", {"epochs": 20, "lr": 0.001, "batch_size": 4}),
])
def test_each_learns_the_motion_of_the_apex_frame(tmp_path: Path, name: str,
                                                  schedule: dict[str, float]) -> None:
    paths = _write_fixture(tmp_path, "holdout")
    _apex_only_flow(paths, _with_apexes(paths))
    settings = yaml.safe_load(paths["params"].read_text())
    settings["baselines"][name] = schedule
    settings["train"]["seeds"] = [0]
    paths["params"].write_text(yaml.safe_dump(settings))
    assert stage.main([*_stage_args(name, paths), "--no-progress"]) == 0
    summary = json.loads((paths["out"] / f"{name}.json").read_text())
    assert summary["method"] == {"ststnet": "STSTNet", "offapexnet": "Off-ApexNet"}[name]
    assert summary["n_test"] == 7
    # Reading any other frame would give the next class: below chance, not above it.
    assert summary["accuracy"]["mean"] >= 0.85
