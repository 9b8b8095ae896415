"""The trained-model directory: `model.safetensors` (video network weights) + `config.json`.

`config.json` holds everything needed to rebuild the network and to preprocess new footage the
same way as the training data (alignment size, TIM frames, flow settings and bound, input size,
class names), so `attrmer predict` needs nothing else. No pickle anywhere.
This module reads and writes that directory; it does not train or predict. Reading what a
model expects of its inputs (`read_model_settings`) needs no torch, so that a command can
start preparing clips while torch loads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrmer import __version__
from attrmer.config import FlowConfig, ModelConfig, Params
from attrmer.errors import AttrmerError
from attrmer.io import atomic_path

if TYPE_CHECKING:
    import torch

FORMAT = "attrmer-video-model"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"


class ModelFileError(AttrmerError, ValueError):
    """A model directory is missing files or was written by an incompatible version."""


@dataclass(frozen=True)
class ModelSettings:
    """What a model directory's network expects: its classes, its architecture, and how its
    clips were prepared (alignment size, TIM frames, flow settings); the whole config.json
    as `info`."""

    classes: list[str]
    model: ModelConfig
    flow: FlowConfig
    size: int
    frames: int
    info: dict[str, Any]


@dataclass(frozen=True)
class ModelBundle(ModelSettings):
    """A loaded model directory: the network in eval mode and what it needs to preprocess."""

    network: torch.nn.Module


def save_model_dir(
    directory: str | Path,
    network: torch.nn.Module,
    *,
    params: Params,
    classes: list[str],
    extra: dict[str, Any] | None = None,
) -> None:
    """Write weights and config to `directory`, replacing it whole and atomically."""
    from safetensors.torch import save_file

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


def read_model_settings(directory: str | Path) -> ModelSettings:
    """A model directory's settings from its config.json, without loading the network."""
    directory = Path(directory)
    config = read_model_config(directory)
    try:
        return ModelSettings(
            classes=list(config["classes"]), model=ModelConfig(**config["model"]),
            flow=FlowConfig(**config["flow"]), size=int(config["preprocess"]["size"]),
            frames=int(config["preprocess"]["frames"]), info=config)
    except (KeyError, TypeError) as exc:
        raise ModelFileError(f"{directory / CONFIG}: incomplete config ({exc})") from None


def load_model_dir(directory: str | Path, *, device: str | torch.device = "cpu",
                   settings: ModelSettings | None = None) -> ModelBundle:
    """Rebuild the video network from a model directory, weights loaded, in eval mode;
    `settings` when the caller has already read them (`read_model_settings`)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from attrmer.model import VideoNet

    directory = Path(directory)
    settings = settings or read_model_settings(directory)
    network = VideoNet.from_config(settings.model, num_classes=len(settings.classes))
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
    return ModelBundle(**vars(settings), network=network)
