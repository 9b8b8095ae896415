"""The whole pipeline: `dvc repro` in a temporary copy of the repository on a tiny setting."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

TINY = {
    "synth": {"clips": 70, "min_frames": 12, "max_frames": 20, "frame_height": 180},
    "preprocess": {"frames": 8, "workers": 2},
    "model": {"width": 4, "input_size": 32, "feature_dim": 16},
    "train": {"epochs": 1, "batch_size": 8, "seeds": [0, 1]},
}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_dvc_repro_runs_every_stage_on_a_tiny_setting(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    work = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, work / name)
    (work / "dvc.lock").unlink(missing_ok=True)
    params = yaml.safe_load((work / "params.yaml").read_text())
    for section, values in TINY.items():
        params[section].update(values)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run(["git", "init", "-q"], work)
    _run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A"], work)
    _run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "tiny"], work)

    dag = _run([sys.executable, "-m", "dvc", "dag", "--md"], work).stdout
    for stage in ("prepare", "align", "interpolate", "flow", "attributes", "train@0",
                  "train@1", "evaluate", "baselines@lbptop", "baselines@mdmo"):
        assert stage in dag

    _run([sys.executable, "-m", "dvc", "repro"], work)
    summary = json.loads((work / "metrics/summary.json").read_text())
    assert summary["n_seeds"] == 2
    assert 0.0 <= summary["accuracy"]["mean"] <= 1.0
    for seed in (0, 1):
        assert (work / f"models/seed_{seed}/model.safetensors").is_file()
    for name in ("lbptop", "mdmo"):
        assert json.loads((work / f"metrics/baselines/{name}.json").read_text())["n_seeds"] == 2
    assert (work / "metrics/confusion.png").stat().st_size > 0

    status = _run([sys.executable, "-m", "dvc", "status"], work).stdout
    assert "up to date" in status.lower()
    shown = _run([sys.executable, "-m", "dvc", "metrics", "show", "--json"], work).stdout
    assert "accuracy" in shown
