"""Starting the video network from a trained model directory (`train.init`).

`train.init: pretrained` names the pretrain stage's `models/pretrained`; any other value but
`scratch` is read as the path of an attrmer model directory (another dataset's model, say).
Every weight of both streams is copied; the classifier's rows are copied by class name, so a
class the source never saw starts from its fresh initialisation. The source must have been
trained on the same network and the same inputs (alignment size, TIM frames, flow settings):
anything else is refused with the key that differs.
Not for resuming an interrupted training (`attrmer.train.checkpoint`).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from attrmer.config import Params
from attrmer.modelfile import ModelFileError, read_model_config

# The model keys that shape the video network's weights or what they see.
_MODEL_KEYS = ("depth", "width", "pool_stride", "input_size", "feature_dim")
CLASSIFIER = "classifier"


def init_source(params: Params, pretrained_dir: Path) -> Path | None:
    """The model directory `train.init` names, or None for a random start."""
    init = params.train.init
    if init == "scratch":
        return None
    return Path(pretrained_dir) if init == "pretrained" else Path(init)


def source_fingerprint(source: Path | None) -> str:
    """Identity of the starting weights, for the checkpoint's settings."""
    if source is None:
        return "scratch"
    weights = Path(source) / "model.safetensors"
    stat = weights.stat()
    return _file_digest(weights.resolve(), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    # Size and time are part of the key so that a rewritten file is read again; a run of
    # many folds reads the same weights once.
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def check_compatible(config: dict[str, Any], params: Params, source: Path) -> None:
    """Raise ModelFileError naming the first setting in which `source` differs."""
    theirs, ours = config.get("model", {}), params.model.__dict__
    pairs = [(f"model.{k}", theirs.get(k), ours[k]) for k in _MODEL_KEYS]
    pre = config.get("preprocess", {})
    pairs += [(f"preprocess.{k}", pre.get(k), getattr(params.preprocess, k))
              for k in ("size", "frames")]
    flow = config.get("flow", {})
    pairs += [(f"flow.{k}", flow.get(k), v) for k, v in params.flow.__dict__.items()]
    for key, source_value, own in pairs:
        if _normal(source_value) != _normal(own):
            raise ModelFileError(
                f"{source}: train.init model was trained with {key} {source_value!r}, this "
                f"training uses {own!r}; re-run the pretrain stage or set train.init: scratch")


def _normal(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def warm_start(video: torch.nn.Module, source: Path, classes: list[str],
               params: Params) -> dict[str, Any]:
    """Copy `source`'s weights into `video` in place; return what was copied."""
    config = read_model_config(source)
    check_compatible(config, params, source)
    state = load_file(str(source / "model.safetensors"), device="cpu")
    own = video.state_dict()
    their_classes = list(config["classes"])
    shared = [c for c in classes if c in their_classes]
    merged = {}
    for name, tensor in own.items():
        if name.startswith(f"{CLASSIFIER}."):
            value = tensor.clone()
            for row, cls in enumerate(classes):
                if cls in their_classes:
                    value[row] = state[name][their_classes.index(cls)]
            merged[name] = value
        elif name in state and state[name].shape == tensor.shape:
            merged[name] = state[name]
        else:
            raise ModelFileError(f"{source}: weight {name} missing or of another shape")
    video.load_state_dict(merged)
    return {"source": str(source), "classes_from_source": shared,
            "pretraining": config.get("pretraining")}
