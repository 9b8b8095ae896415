"""The whole pipeline: `dvc repro` in a temporary copy of the repository on a tiny setting."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.repo import dvc, repo_copy

TINY = {
    "synth": {"clips": 70, "min_frames": 12, "max_frames": 20, "frame_height": 180},
    "preprocess": {"frames": 8, "workers": 2},
    "model": {"width": 4, "input_size": 32, "feature_dim": 16},
    # One thread per training, so that the Ray run below (a CPU per task) computes the same.
    "train": {"epochs": 1, "batch_size": 8, "seeds": [0, 1], "threads": 1},
    "pretrain": {"clips": 24, "steps": 2, "batch_size": 8},
    "spot": {"corpus": {"videos": 1, "min_seconds": 12.0, "max_seconds": 12.0,
                        "identities": "real", "yaw_deg": 5.0}},
}


@pytest.mark.slow
def test_dvc_repro_runs_every_stage_on_a_tiny_setting(tmp_path):
    work = repo_copy(tmp_path / "repo", TINY)
    dag = dvc(["dag", "--md"], work)
    for stage in ("dataset", "prepare", "align", "interpolate", "flow", "attributes", "pretrain",
                  "train", "evaluate", "baselines@lbptop", "baselines@mdmo", "long_videos",
                  "spot", "recognise_spotted", "evaluate_spotting"):
        assert stage in dag

    dvc(["repro"], work)
    summary = json.loads((work / "metrics/summary.json").read_text())
    assert summary["n_seeds"] == 2
    assert 0.0 <= summary["accuracy"]["mean"] <= 1.0
    for seed in (0, 1):
        assert (work / f"models/seeds/seed_{seed}/model.safetensors").is_file()
    for name in ("lbptop", "mdmo"):
        assert json.loads((work / f"metrics/baselines/{name}.json").read_text())["n_seeds"] == 1
    assert (work / "metrics/confusion.png").stat().st_size > 0
    spotting = json.loads((work / "metrics/spotting.json").read_text())
    assert spotting["videos"] == 1 and 0.0 <= spotting["overall"]["f1"] <= 1.0
    assert spotting["overall"]["truth"] > 0
    assert 0.0 <= spotting["strs"]["overall"]["strs"] <= spotting["overall"]["f1"]
    assert len(list((work / "metrics/spotting_timelines").glob("*.png"))) == 1

    # Only the dataset fingerprint, which runs on every repro by design, reports a change.
    # The default pipeline (dvc.yaml): the deep baselines' file is a second target.
    status = dvc(["status", "--json", "dvc.yaml"], work)
    assert json.loads(status) == {"dataset": ["always changed"]}, status
    shown = dvc(["metrics", "show", "--json"], work)
    assert "accuracy" in shown

    # The same trainings as Ray tasks, on a Ray started for the run: the same outputs.
    written = {name: (work / name).read_bytes() for name in (
        "metrics/summary.json", "metrics/seeds/seed_0_predictions.csv",
        "metrics/seeds/seed_1_predictions.csv", "models/seeds/seed_1/model.safetensors")}
    dvc(["exp", "run", "-S", "train.executor=ray", "-S", "train.ray.cpus_per_task=1"], work)
    assert "executor: ray" in (work / "params.yaml").read_text()
    assert {name: (work / name).read_bytes() for name in written} == written
