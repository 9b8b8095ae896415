"""`attrmer predict` preparing clips in a second process while the networks load: the same
answers as preparing them in-process, and the fallbacks when the child fails or is lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from attrmer.modelfile import read_model_settings
from attrmer.predict import InputError, Predictor, WindowChoice, predict_paths
from attrmer.predict import ahead as ahead_module
from attrmer.predict.ahead import PreparingAhead, can_prepare_ahead
from tests.test_predict import face_clip, make_model_dir, write_frame_folder

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ahead")
    return {"model": make_model_dir(root / "model"),
            "clip": write_frame_folder(root / "clip", face_clip()),
            "missing": root / "missing.mp4"}


def test_the_cli_prepared_ahead_answers_as_in_process(workspace) -> None:
    paths = [workspace["clip"], workspace["missing"]]
    # A fresh interpreter has no torch loaded, so it prepares the clips in a child process.
    command = [sys.executable, "-m", "attrmer.cli", "predict", *map(str, paths), "--json",
               "--model", str(workspace["model"]), "--window", "full"]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert run.returncode == 1, run.stderr  # the missing clip
    from_cli = json.loads(run.stdout)
    here = predict_paths(Predictor(workspace["model"]), paths, window=WindowChoice("full"))
    assert [set(r) for r in from_cli] == [set(r) - {"timings"} for r in here]
    assert from_cli[1]["error"] == here[1]["error"]
    for key in ("label", "probabilities", "window", "frames", "votes", "motion", "reasons"):
        assert from_cli[0][key] == here[0][key]


class _Preparer:
    warmed = False

    def warm_up(self) -> None:
        self.warmed = True


def test_with_torch_loaded_the_work_runs_here(workspace) -> None:
    assert "torch" in sys.modules and not can_prepare_ahead()
    settings = read_model_settings(workspace["model"])
    preparer = _Preparer()
    with PreparingAhead(settings, lambda p: (os.getpid(), p.warmed)) as ahead:
        assert not ahead.running
        # dlib's models are loaded before the work, as in the child.
        assert ahead.result(preparer) == (os.getpid(), True)


def _forced(monkeypatch: pytest.MonkeyPatch) -> None:
    # The child's work in these tests touches neither torch nor OpenCV, so forking is safe.
    if not sys.platform.startswith("linux"):
        pytest.skip("preparing ahead forks, on Linux only")
    monkeypatch.setattr(ahead_module, "can_prepare_ahead", lambda: True)


def test_the_child_does_the_work_and_sends_it_back(workspace, monkeypatch) -> None:
    _forced(monkeypatch)
    settings = read_model_settings(workspace["model"])
    with PreparingAhead(settings, lambda preparer: (os.getpid(), preparer.settings.size)) as ahead:
        assert ahead.running
        pid, size = ahead.result(None)
    assert pid != os.getpid() and size == settings.size


def test_a_failure_in_the_child_is_raised_as_itself(workspace, monkeypatch) -> None:
    _forced(monkeypatch)

    def fails(preparer: object) -> None:
        raise InputError("clip.mp4: no such file or folder")

    with (PreparingAhead(read_model_settings(workspace["model"]), fails) as ahead,
          pytest.raises(InputError, match=r"clip\.mp4: no such file")):
        ahead.result(None)


def test_a_lost_child_leaves_the_work_to_this_process(workspace, monkeypatch) -> None:
    _forced(monkeypatch)
    parent = os.getpid()

    def dies_in_the_child(preparer: object) -> int:
        if os.getpid() != parent:
            os._exit(1)
        return 7

    with PreparingAhead(read_model_settings(workspace["model"]), dies_in_the_child) as ahead:
        assert ahead.result(_Preparer()) == 7
