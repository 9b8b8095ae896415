"""Every stage script reports a user's mistake on one line naming the file, and exits 1."""

from __future__ import annotations

import pytest

from stages import align, attributes, baselines, evaluate, flow, interpolate, prepare, train


@pytest.mark.parametrize(
    ("stage", "argv", "name"),
    [
        (prepare, ["--params", "{tmp}/absent.yaml"], "prepare"),
        (align, ["--manifest", "{tmp}/absent.csv"], "align"),
        (interpolate, ["--aligned", "{tmp}/absent.h5", "--out", "{tmp}/rgb.h5"], "interpolate"),
        (flow, ["--aligned", "{tmp}/absent.h5", "--out", "{tmp}/flow.h5"], "flow"),
        (attributes, ["--manifest", "{tmp}/absent.csv", "--out", "{tmp}/a.csv"], "attributes"),
        (evaluate, ["--predictions", "{tmp}/absent"], "evaluate"),
        (baselines, ["mdmo", "--manifest", "{tmp}/absent.csv", "--rgb", "{tmp}/absent.h5",
                     "--flow", "{tmp}/absent.h5", "--out", "{tmp}/metrics"], "baselines mdmo"),
        (train, ["--seed", "0", "--root", "{tmp}"], "train"),
    ],
)
def test_stage_reports_a_missing_input_without_a_traceback(stage, argv, name, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert stage.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{name}: ")
    assert str(tmp_path) in err
    assert "Traceback" not in err
    assert not list(tmp_path.glob("*.h5")) and not list(tmp_path.glob("*.csv"))


def test_an_interrupted_stage_says_so_in_one_line_on_exit_130(capsys) -> None:
    from attrmer.errors import EXIT_INTERRUPTED, run_reporting_errors

    def stopped() -> None:
        raise KeyboardInterrupt

    assert run_reporting_errors("train", stopped) == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("train: interrupted")
    assert "checkpoints/" in err
    assert run_reporting_errors("align", stopped) == EXIT_INTERRUPTED
    assert "checkpoints" not in capsys.readouterr().err
