"""`attrmer predict`: the micro-expression of new footage, from trained video networks.

- `clips`: what a command-line path stands for, decoding, frame rate, the window option;
- `predictor`: `Predictor`, one model or a run's seeds loaded once, preprocessing exactly as
  in training, calibrated probabilities averaged over the models;
- `confidence`: the reasons a prediction is marked uncertain;
- `command`: the command itself (`cli`), its records, table and JSON.
The expression window is found by `attrmer.spot`. Not for training, evaluation on a labelled
dataset (see `attrmer.evaluate`) or export (see `attrmer.export`).
"""

from attrmer.predict.clips import (
    VIDEO_SUFFIXES,
    ClipSource,
    InputError,
    WindowChoice,
    find_clips,
    parse_window,
    read_clip,
)
from attrmer.predict.command import (
    EXIT_INPUT,
    EXIT_MODEL,
    EXIT_OK,
    EXIT_OUTPUT,
    cli,
    format_table,
    predict_paths,
)
from attrmer.predict.predictor import (
    STEPS,
    Prediction,
    Predictor,
    PreparedClip,
    check_device,
    default_model_dirs,
    model_dirs,
)

__all__ = [
    "EXIT_INPUT",
    "EXIT_MODEL",
    "EXIT_OK",
    "EXIT_OUTPUT",
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
