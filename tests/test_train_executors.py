"""Where the (seed, fold) trainings run: finished folds taken up after an interruption, a
local Ray giving the local executor's outputs to the bit, a killed Ray task retried."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from attrmer.config import ConfigError, Params
from attrmer.manifest import write_manifest
from attrmer.train import TrainingLayout, train_seeds
from attrmer.train.executors import LocalExecutor, TrainingTaskError
from tests.test_train import _params, make_project


def _loso_project(root: Path, subjects: int = 4) -> TrainingLayout:
    layout = make_project(root, subjects=subjects, per_subject=3)
    manifest = pd.read_csv(layout.inputs.manifest, dtype=str, keep_default_na=False)
    manifest["split"] = "fold" + (manifest["subject"].astype(int) - 1).astype(str)
    write_manifest(manifest, layout.inputs.manifest)
    return layout


def _outputs(layout: TrainingLayout, name: str) -> TrainingLayout:
    root = layout.inputs.manifest.parents[2] / name
    return dataclasses.replace(layout, models=root / "models", metrics=root / "metrics",
                               checkpoints=root / "checkpoints", live=root / "dvclive")


def _loso(**train) -> Params:
    return _params(split={"protocol": "loso", "validation_fraction": 0.3},
                   train={"epochs": 2, "seeds": [0, 1], "threads": 1,
                          "ray": {"cpus_per_task": 1}} | train)


def _written(layout: TrainingLayout, seeds=(0, 1)) -> dict[str, bytes]:
    files = {}
    for seed in seeds:
        for name in (f"seed_{seed}_predictions.csv", f"seed_{seed}_validation.csv",
                     f"seed_{seed}.json"):
            files[name] = (layout.metrics / name).read_bytes()
        files[f"model_{seed}"] = (layout.seed(seed).model_dir / "model.safetensors").read_bytes()
    return files


class _StopAfter(LocalExecutor):
    """The local executor, interrupted after `count` finished trainings."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.trained: list[str] = []

    def run(self, tasks, params, inputs, **kwargs):
        for task, outcome in super().run(tasks, params, inputs, **kwargs):
            self.trained.append(str(task))
            yield task, outcome
            if len(self.trained) == self.count:
                raise KeyboardInterrupt


def test_an_interrupted_run_trains_no_finished_fold_twice(tmp_path):
    layout = _loso_project(tmp_path)
    params = _loso()
    straight = _outputs(layout, "straight")
    train_seeds(params, straight, progress=False)

    interrupted = _outputs(layout, "interrupted")
    first = _StopAfter(3)
    with pytest.raises(KeyboardInterrupt):
        train_seeds(params, interrupted, progress=False, executor=first)
    again = _StopAfter(-1)
    train_seeds(params, interrupted, progress=False, executor=again)
    assert first.trained == ["seed 0, fold fold0", "seed 0, fold fold1", "seed 0, fold fold2"]
    assert len(again.trained) == 8 - 3
    assert not set(first.trained) & set(again.trained)
    assert _written(interrupted) == _written(straight)
    # The finished run keeps neither checkpoints nor finished folds.
    assert [p.name for p in interrupted.checkpoint_dir(0).iterdir()] == ["status.json"]

    # Under other settings a kept fold is not taken up.
    changed = _StopAfter(1)
    with pytest.raises(KeyboardInterrupt):
        train_seeds(params, interrupted, progress=False, executor=changed)
    other = _StopAfter(-1)
    train_seeds(_loso(lr=0.02), interrupted, progress=False, executor=other)
    assert len(other.trained) == 8


def test_ray_settings_are_checked():
    with pytest.raises(ConfigError, match=r"train\.ray\.cpus_per_task"):
        _params(train={"ray": {"cpus_per_task": 0}})
    with pytest.raises(ConfigError, match=r"train\.ray\.gpus_per_task"):
        _params(train={"ray": {"gpus_per_task": "many"}})
    with pytest.raises(ConfigError, match=r"train\.executor"):
        _params(train={"executor": "slurm"})
    assert _params(train={"ray": {"gpus_per_task": 0.25}}).train.ray.gpus_per_task == 0.25


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False,
             log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_gives_the_local_executors_outputs_to_the_bit(tmp_path, local_ray):
    layout = _loso_project(tmp_path)
    local = _outputs(layout, "local")
    train_seeds(_loso(), local, progress=False)
    on_ray = _outputs(layout, "ray")
    train_seeds(_loso(executor="ray"), on_ray, progress=False)
    assert _written(on_ray) == _written(local)
    curves = sorted(p.relative_to(on_ray.live).as_posix()
                    for p in (on_ray.live / "plots").rglob("*.tsv"))
    assert curves == sorted(p.relative_to(local.live).as_posix()
                            for p in (local.live / "plots").rglob("*.tsv"))
    assert "plots/metrics/seed_1/fold3/val_accuracy.tsv" in curves


def _ray_training_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if title.startswith("ray::train seed"):
            pids.append(int(entry.name))
    return pids


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds Ray's workers through /proc")
def test_a_killed_ray_training_is_retried_and_resumed(tmp_path, local_ray):
    layout = _loso_project(tmp_path, subjects=3)
    params = _loso(epochs=30, seeds=[0], checkpoint_interval_s=0.0)
    local = _outputs(layout, "local")
    train_seeds(params, local, progress=False)
    on_ray = _outputs(layout, "ray")
    ray_params = dataclasses.replace(
        params, train=dataclasses.replace(params.train, executor="ray"))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            train_seeds(ray_params, on_ray, progress=False)
        except BaseException as exc:
            errors.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and runner.is_alive() and time.monotonic() < deadline:
        # A checkpoint shows a training under way: kill its worker mid-run.
        if any(on_ray.checkpoint_dir(0).glob("fold*.json")) and _ray_training_pids():
            killed = _ray_training_pids()[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.02)
    runner.join(timeout=300)
    assert killed is not None, "no Ray training was seen running"
    assert not errors, errors
    assert _written(on_ray, seeds=(0,)) == _written(local, seeds=(0,))


@pytest.mark.slow
def test_failed_trainings_are_reported_with_their_seed_and_fold(tmp_path, local_ray):
    from attrmer.train.distributed import DistributedContext
    from attrmer.train.executors import RayExecutor
    from attrmer.train.tasks import TrainingTask, load_table

    layout = _loso_project(tmp_path, subjects=3)
    params = _loso(executor="ray", seeds=[0], ray={"cpus_per_task": 1, "max_retries": 1},
                   checkpoint_interval_s=0.0)
    # A checkpoint folder that is a file: no checkpoint can be written (even by root).
    unwritable = tmp_path / "a-file"
    unwritable.write_text("")
    tasks = [
        TrainingTask(0, "fold0", keep_model=False, checkpoint=None),
        # A data error is the same on every attempt: reported at once.
        TrainingTask(0, "fold9", keep_model=False, checkpoint=None),
        # Anything else is tried again (max_retries), then reported.
        TrainingTask(0, "fold1", keep_model=False, checkpoint=unwritable / "fold1"),
    ]
    finished = []
    with pytest.raises(TrainingTaskError) as caught:
        for task, _ in RayExecutor().run(tasks, params, layout.inputs,
                                         table=load_table(params, layout.inputs),
                                         dist=DistributedContext.single(), progress=False):
            finished.append(str(task))
    message = str(caught.value)
    assert finished == ["seed 0, fold fold0"]
    assert "seed 0, fold fold9: " in message and "has no fold 'fold9'" in message
    assert "seed 0, fold fold1: failed after 2 attempts" in message

    # A request the cluster could never meet is refused, not left waiting.
    for key, value in (("gpus_per_task", 0.5), ("cpus_per_task", 3.0)):
        impossible = _loso(executor="ray", seeds=[0], ray={key: value})
        with pytest.raises(TrainingTaskError, match=rf"train\.ray\.{key}: .* Ray cluster has"):
            list(RayExecutor().run(tasks[:1], impossible, layout.inputs,
                                   table=load_table(impossible, layout.inputs),
                                   dist=DistributedContext.single(), progress=False))
