"""The parameters reference (docs/parameters.md) is generated from the configuration and kept
current; the Python example runs."""

from __future__ import annotations

import dataclasses
import runpy
import sys
from pathlib import Path

from attrmer.config import Params
from attrmer.config.reference import entries, render

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "parameters.md"


def _leaf_keys(obj, prefix=""):
    for spec in dataclasses.fields(obj):
        value = getattr(obj, spec.name)
        if dataclasses.is_dataclass(value):
            yield from _leaf_keys(value, f"{prefix}{spec.name}.")
        else:
            yield f"{prefix}{spec.name}"


def test_the_page_is_what_the_configuration_writes() -> None:
    assert PAGE.read_text() == render(REPO / "params.yaml"), (
        "docs/parameters.md is out of date: python -m attrmer.config.reference "
        "docs/parameters.md")


def test_every_key_is_documented_with_what_it_does() -> None:
    page = PAGE.read_text()
    documented = {entry.key: entry for entry in entries()}
    assert set(documented) == set(_leaf_keys(Params()))
    for key in documented:
        row = next(line for line in page.splitlines() if line.startswith(f"| `{key}` |"))
        assert row.split(" | ")[-1].strip(" |"), f"{key}: no description"


def test_the_python_example_runs(tmp_path, monkeypatch, capsys) -> None:
    from tests.test_predict import face_clip, make_model_dir, write_video

    model = make_model_dir(tmp_path / "model")
    video = write_video(tmp_path / "clip.avi", face_clip())
    monkeypatch.setattr(sys, "argv", ["predict_from_python.py", str(video), "--model",
                                      str(model)])
    try:
        runpy.run_path(str(REPO / "examples" / "predict_from_python.py"), run_name="__main__")
    except SystemExit as done:
        assert done.code == 0
    out = capsys.readouterr().out
    assert "1 model(s)" in out and f"{video}: " in out and "as frames in memory" in out
