"""`attrmer sweep`: the experiment sets as `dvc exp run` command lines, on Ray with --ray."""

from __future__ import annotations

from pathlib import Path

from attrmer.sweep import cli, queue_commands, ray_address

REPO = Path(__file__).resolve().parents[1]


def test_each_point_is_one_validated_experiment():
    commands = queue_commands("table4", REPO / "params.yaml")
    assert commands == [
        ["dvc", "exp", "run", "--queue", "-n", "table4-0", "-S", "train.attribute_branch=false"],
        ["dvc", "exp", "run", "--queue", "-n", "table4-1", "-S", "train.attribute_branch=true"],
    ]
    on_ray = queue_commands("table4", REPO / "params.yaml", queue=False, ray=True)
    assert all(command[-2:] == ["-S", "train.executor=ray"] for command in on_ray)
    assert all("--queue" not in command for command in on_ray)


def test_ray_sweeps_start_the_queue_with_every_point_at_once(capsys):
    assert cli(["table4", "--params", str(REPO / "params.yaml"), "--ray", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "dvc queue start --jobs 2"
    assert cli(["table4", "--params", str(REPO / "params.yaml"), "--ray", "--jobs", "1",
                "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "dvc queue start --jobs 1"
    # --jobs counts experiments side by side on Ray; without --ray it means nothing.
    assert cli(["table4", "--params", str(REPO / "params.yaml"), "--jobs", "2"]) == 2
    assert "--jobs needs --ray" in capsys.readouterr().err


def test_the_shared_cluster_is_the_one_the_trainings_join(tmp_path, monkeypatch):
    # train.ray.address, else RAY_ADDRESS: the order in which each training looks.
    params = tmp_path / "params.yaml"
    params.write_text("train:\n  ray:\n    address: head:6379\n")
    monkeypatch.setenv("RAY_ADDRESS", "ray://other:10001")
    assert ray_address(params) == "head:6379"
    params.write_text("train:\n  epochs: 3\n")
    assert ray_address(params) == "ray://other:10001"
    monkeypatch.delenv("RAY_ADDRESS")
    assert ray_address(params) is None


def test_override_values_read_back_as_written():
    from attrmer.sweep import _override_value

    assert _override_value("ray") == "ray"
    assert _override_value("true") == '"true"'  # the string, not the boolean
    assert _override_value(False) == "false"
    assert _override_value(0.3) == "0.3"
    assert _override_value([10, 18]) == "[10, 18]"
    assert _override_value("données") == '"données"'
