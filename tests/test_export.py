"""`attrmer export`: TorchScript and ONNX files that agree with the eager video network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from attrmer.config import Params
from attrmer.export import (
    EXIT_MODEL,
    EXIT_OK,
    EXIT_OUTPUT,
    INPUT_NAMES,
    OUTPUT_NAMES,
    cli,
    example_inputs,
    export_onnx,
    export_torchscript,
)
from attrmer.model import VideoNet
from attrmer.modelfile import save_model_dir

# TorchScript is deprecated in torch 2.x, and the tests load files with torch.jit.load.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.:DeprecationWarning")

CLASSES = ["happiness", "disgust", "repression", "surprise", "sadness"]
# A tiny network and input keep the ONNX reference evaluator (pure numpy) fast.
TINY = {"frames": 16, "input_size": 32}


def tiny_network(seed: int = 0) -> VideoNet:
    torch.manual_seed(seed)
    network = VideoNet(num_classes=len(CLASSES), depth=10, width=4)
    # Non-trivial batch-norm statistics, so the parity test covers the folded eval-mode norm.
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return network.eval()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("export") / "seed_0"
    params = Params.from_dict({"model": {"width": 4, "input_size": 32}})
    torch.manual_seed(0)
    save_model_dir(directory, VideoNet.from_config(params.model, len(CLASSES)), params=params,
                   classes=CLASSES)
    return directory


def test_torchscript_matches_eager_at_another_batch_size(tmp_path):
    network = tiny_network()
    path = export_torchscript(network, tmp_path / "net.pt", config={"classes": CLASSES}, **TINY)
    extra = {"config.json": ""}
    loaded = torch.jit.load(str(path), _extra_files=extra)
    assert json.loads(extra["config.json"])["classes"] == CLASSES
    rgb, flow = example_inputs(batch=3, seed=5, **TINY)
    with torch.no_grad():
        expected_logits, expected_z = network(rgb, flow)
        logits, z_m = loaded(rgb, flow)
    assert logits.shape == (3, len(CLASSES))
    torch.testing.assert_close(logits, expected_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(z_m, expected_z, atol=1e-5, rtol=1e-5)


def test_onnx_is_valid_and_matches_eager_with_a_dynamic_batch(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    network = tiny_network()
    path = export_onnx(network, tmp_path / "net.onnx", config={"classes": CLASSES}, **TINY)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == INPUT_NAMES
    assert [o.name for o in model.graph.output] == OUTPUT_NAMES
    batch_dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param == "batch"
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    assert json.loads(metadata["attrmer_config"])["classes"] == CLASSES

    rgb, flow = example_inputs(batch=3, seed=7, **TINY)
    logits, z_m = ReferenceEvaluator(model).run(None, {"rgb": rgb.numpy(), "flow": flow.numpy()})
    with torch.no_grad():
        expected_logits, expected_z = network(rgb, flow)
    np.testing.assert_allclose(logits, expected_logits.numpy(), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(z_m, expected_z.numpy(), atol=1e-4, rtol=1e-4)


def test_cli_exports_torchscript_from_a_model_dir(model_dir, tmp_path, capsys):
    out = tmp_path / "exported" / "video.pt"
    assert cli(["--format", "torchscript", "--model", str(model_dir), "--out", str(out)]) == 0
    assert "max |logit difference|" in capsys.readouterr().out
    extra = {"config.json": ""}
    loaded = torch.jit.load(str(out), _extra_files=extra)
    config = json.loads(extra["config.json"])
    assert config["classes"] == CLASSES
    assert config["exported_inputs"]["rgb"].startswith("float32 (B, 3, 16, 32, 32)")
    rgb, flow = example_inputs(frames=16, input_size=32, batch=1)
    assert loaded(rgb, flow)[0].shape == (1, len(CLASSES))
    assert [p.name for p in out.parent.iterdir()] == ["video.pt"]


def test_cli_default_out_is_outside_the_model_dir(model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli(["--format", "torchscript", "--model", str(model_dir), "--no-check"]) == EXIT_OK
    assert (tmp_path / "exports" / "seed_0.pt").is_file()
    assert sorted(p.name for p in model_dir.iterdir()) == ["config.json", "model.safetensors"]


def test_cli_model_errors_exit_3(tmp_path, capsys):
    out = tmp_path / "video.onnx"
    assert cli(["--format", "onnx", "--model", str(tmp_path / "absent"), "--out",
                str(out)]) == EXIT_MODEL
    assert "absent" in capsys.readouterr().err
    assert not out.exists()


def test_cli_corrupt_weights_exit_3(model_dir, tmp_path, capsys):
    corrupt = tmp_path / "model"
    corrupt.mkdir()
    (corrupt / "config.json").write_text((model_dir / "config.json").read_text())
    (corrupt / "model.safetensors").write_bytes(b"\x00" * 64)
    assert cli(["--format", "torchscript", "--model", str(corrupt), "--out",
                str(tmp_path / "x.pt")]) == EXIT_MODEL
    assert "unreadable weights" in capsys.readouterr().err


def test_cli_rejects_an_unknown_format(model_dir):
    assert cli(["--format", "tflite", "--model", str(model_dir)]) == 2


def test_a_failed_export_leaves_nothing(model_dir, tmp_path, monkeypatch, capsys):
    def broken_save(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch.jit, "save", broken_save)
    out = tmp_path / "video.pt"
    assert cli(["--format", "torchscript", "--model", str(model_dir), "--out",
                str(out)]) == EXIT_OUTPUT
    assert "disk full" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_exports_onnx_with_the_model_config(model_dir, tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    out = tmp_path / "video.onnx"
    assert cli(["--format", "onnx", "--model", str(model_dir), "--out", str(out)]) == EXIT_OK
    assert f"wrote {out}" in capsys.readouterr().out
    model = onnx.load(str(out))
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    config = json.loads(metadata["attrmer_config"])
    assert config["classes"] == CLASSES and config["preprocess"]["frames"] == 16
    shape = [d.dim_param or d.dim_value for d in model.graph.input[1].type.tensor_type.shape.dim]
    assert shape == ["batch", 2, 16, 32, 32]
