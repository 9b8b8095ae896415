"""`attrmer predict`: the micro-expression of new footage, from trained video networks.

- `clips`: what a command-line path stands for, decoding, frame rate, the window option;
- `predictor`: `ClipPreparer`, preprocessing exactly as in training (no torch needed), and
  `Predictor`, one model or a run's seeds loaded once, calibrated probabilities averaged over
  the models;
- `ahead`: the clips prepared in a second process while torch and the networks load;
- `confidence`: the reasons a prediction is marked uncertain;
- `long_video`: a long clip spotted first (`attrmer.spot`), each micro-expression classified;
- `command`: the command itself (`cli`), its records, table and JSON.
The expression window is found by `attrmer.spot`. Not for training, evaluation on a labelled
dataset (see `attrmer.evaluate`) or export (see `attrmer.export`).
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> the submodule that defines it. Imported on first use: `attrmer spot` reads clips as
# predict does (`attrmer.predict.clips`), and importing this package must not load torch and
# the networks (~1.3 s) for that.
_EXPORTS: dict[str, str] = {
    "VIDEO_SUFFIXES": "clips",
    "ClipSource": "clips",
    "InputError": "clips",
    "WindowChoice": "clips",
    "find_clips": "clips",
    "parse_window": "clips",
    "read_clip": "clips",
    "EXIT_INPUT": "clips",
    "EXIT_MODEL": "clips",
    "EXIT_OK": "clips",
    "EXIT_OUTPUT": "clips",
    "EXIT_USAGE": "clips",
    "cli": "command",
    "format_table": "command",
    "predict_paths": "command",
    "STEPS": "predictor",
    "Prediction": "predictor",
    "Predictor": "predictor",
    "ClipPreparer": "predictor",
    "PreparedClip": "predictor",
    "check_device": "predictor",
    "default_model_dirs": "predictor",
    "model_dirs": "predictor",
}

__all__ = [
    "EXIT_INPUT",
    "EXIT_MODEL",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "EXIT_USAGE",
    "STEPS",
    "VIDEO_SUFFIXES",
    "ClipSource",
    "InputError",
    "Prediction",
    "Predictor",
    "PreparedClip",
    "WindowChoice",
    "check_device",
    "cli",
    "default_model_dirs",
    "find_clips",
    "format_table",
    "model_dirs",
    "parse_window",
    "predict_paths",
    "read_clip",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
