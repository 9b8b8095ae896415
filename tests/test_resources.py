"""The bundled models are found on disk and load with the network unreachable."""

from __future__ import annotations

import socket

import pytest

from attrmer.resources import (
    MissingResourceError,
    bundled_text_model_dir,
    landmark_model_path,
    text_model_dir,
)


def test_dlib_landmark_model_is_found():
    path = landmark_model_path()
    assert path.name == "shape_predictor_68_face_landmarks.dat"
    assert path.stat().st_size > 50_000_000


def test_bundled_bert_loads_with_network_disabled(monkeypatch):
    import transformers

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    directory = bundled_text_model_dir()
    config = transformers.AutoConfig.from_pretrained(directory, local_files_only=True)
    assert config.model_type == "bert"
    model = transformers.AutoModel.from_pretrained(directory, local_files_only=True)
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory, local_files_only=True)
    out = model(**tokenizer(["lip corner puller"], return_tensors="pt"))
    assert out.last_hidden_state.shape[-1] == config.hidden_size


def test_text_model_dir_rejects_a_non_model_folder(tmp_path):
    assert text_model_dir("bundled") == bundled_text_model_dir()
    with pytest.raises(MissingResourceError, match=r"config\.json"):
        text_model_dir(str(tmp_path))
