"""The wheel carries what the CLI and the built-in data need: built from this checkout,
installed (without its dependencies, which this environment has) into a folder outside the
repository, and run from there, where the checkout's own sources cannot be reached."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    # Built from a copy of what the build reads, so that no build folder of the checkout's
    # (stale, or written into it) takes part.
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(work / "dist"), str(source)],
                   check=True, cwd=work)
    (wheel,) = (work / "dist").glob("attrmer-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(work / "site"), str(wheel)], check=True, cwd=work)
    return work


def _run(work: Path, *args: str) -> subprocess.CompletedProcess:
    # The installed copy first on the path; run outside the repository.
    env = os.environ | {"PYTHONPATH": str(work / "site")}
    return subprocess.run([sys.executable, *args], cwd=work, env=env, capture_output=True,
                          text=True, timeout=600)


def test_the_installed_package_is_the_wheel_and_holds_its_resources(installed: Path) -> None:
    probe = _run(installed, "-c", """
import attrmer
from importlib import resources
root = resources.files("attrmer")
print(attrmer.__file__)
for name in ("experiments.yaml", "paper_results.yaml", "datasets/class_sets.yaml",
             "synth/faces/landmarks.json", "synth/faces/real.json",
             "synth/faces/NOTICE.md", "synth/long_video/speech_tracks.json"):
    assert root.joinpath(name).is_file(), name
print(len(list(root.joinpath("synth/faces/real").iterdir())))
""")
    assert probe.returncode == 0, probe.stderr
    location, real_faces = probe.stdout.split()
    assert Path(location).is_relative_to(installed / "site")
    # Every real face the pretraining corpus and TLCNN's stills are drawn on.
    assert int(real_faces) == len(list((REPO / "src/attrmer/synth/faces/real").glob("*.jpg")))


def test_the_installed_cli_renders_the_built_in_data(installed: Path) -> None:
    assert _run(installed, "-m", "attrmer.cli", "--help").returncode == 0
    out = installed / "corpus"
    rendered = _run(installed, "-m", "attrmer.cli", "synth", str(out), "--clips", "3",
                    "--workers", "1")
    assert rendered.returncode == 0, rendered.stderr
    assert (out / "CASME2-coding-synthetic.xlsx").is_file()
    assert len(list((out / "CASME2_RAW_selected").glob("sub*/*/*.jpg"))) > 0


def test_the_installed_cli_predicts_with_a_model_directory(installed: Path) -> None:
    from tests.test_predict import CLASSES, face_clip, make_model_dir, write_video

    model = make_model_dir(installed / "model")
    clip = write_video(installed / "clip.avi", face_clip())
    answered = _run(installed, "-m", "attrmer.cli", "predict", str(clip), "--model", str(model),
                    "--json")
    assert answered.returncode == 0, answered.stderr
    labels = re.findall(r'"label": "([^"]+)"', answered.stdout)
    assert labels and set(labels) <= set(CLASSES), answered.stdout
