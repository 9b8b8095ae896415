"""The trained-model directory: `model.safetensors` (video network weights) + `config.json`.

`config.json` holds everything needed to rebuild the network and to preprocess new footage the
same way as the training data (alignment size, TIM frames, flow settings and bound, input size,
class names), so `attrmer predict` needs nothing else. No pickle anywhere.
This module reads and writes that directory; it does not train or predict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from attrmer import __version__
from attrmer.config import FlowConfig, ModelConfig, Params
from attrmer.errors import AttrmerError
from attrmer.io import atomic_path

FORMAT = "attrmer-video-model"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"


class ModelFileError(AttrmerError, ValueError):
    """A model directory is missing files or was written by an incompatible version."""


@dataclass(frozen=True)
class ModelBundle:
    """A loaded model directory: the network in eval mode and what it needs to preprocess."""

    network: torch.nn.Module
    classes: list[str]
    model: ModelConfig
    flow: FlowConfig
    size: int
    frames: int
    info: dict[str, Any]


def save_model_dir(
    directory: str | Path,
    network: torch.nn.Module,
    *,
    params: Params,
    classes: list[str],
    extra: dict[str, Any] | None = None,
) -> None:
    """Write weights and config to `directory`, replacing it whole and atomically."""
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "attrmer_version": __version__,
        "classes": list(classes),
        "model": params.model.__dict__ | {"pool_stride": list(params.model.pool_stride)},
        "preprocess": {"size": params.preprocess.size, "frames": params.preprocess.frames},
        "flow": params.flow.__dict__,
        "data": {"name": params.data.name, "classes": params.data.classes},
        **(extra or {}),
    }
    state = {k: v.detach().to("cpu").contiguous() for k, v in network.state_dict().items()}
    with atomic_path(directory, directory=True) as tmp:
        save_file(state, str(tmp / WEIGHTS), metadata={"format": FORMAT})
        (tmp / CONFIG).write_text(json.dumps(config, indent=2) + "\n")


def read_model_config(directory: str | Path) -> dict[str, Any]:
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelFileError(f"{directory}: no such model directory (run `dvc repro` first)")
    missing = [name for name in (WEIGHTS, CONFIG) if not (directory / name).is_file()]
    if missing:
        raise ModelFileError(f"{directory}: missing {', '.join(missing)}")
    try:
        config = json.loads((directory / CONFIG).read_text())
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{directory / CONFIG}: not valid JSON ({exc})") from None
    if config.get("format") != FORMAT:
        raise ModelFileError(f"{directory / CONFIG}: not an attrmer video model")
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{directory / CONFIG}: model format version {config.get('format_version')!r}, "
            f"this attrmer ({__version__}) reads version {FORMAT_VERSION}"
        )
    return config


def load_model_dir(directory: str | Path, *, device: str | torch.device = "cpu") -> ModelBundle:
    """Rebuild the video network from a model directory, weights loaded, in eval mode."""
    from attrmer.model import VideoNet

    directory = Path(directory)
    config = read_model_config(directory)
    try:
        model_cfg = ModelConfig(**config["model"])
        flow_cfg = FlowConfig(**config["flow"])
        classes = list(config["classes"])
        size = int(config["preprocess"]["size"])
        frames = int(config["preprocess"]["frames"])
    except (KeyError, TypeError) as exc:
        raise ModelFileError(f"{directory / CONFIG}: incomplete config ({exc})") from None
    network = VideoNet.from_config(model_cfg, num_classes=len(classes))
    try:
        state = load_file(str(directory / WEIGHTS), device="cpu")
    except SafetensorError as exc:
        raise ModelFileError(f"{directory / WEIGHTS}: unreadable weights file ({exc})") from None
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelFileError(
            f"{directory / WEIGHTS}: weights do not fit the config: {exc}"
        ) from None
    network.to(device).eval()
    return ModelBundle(network, classes, model_cfg, flow_cfg, size, frames, config)
