"""One exit-code table for every attrmer command: in each command's --help, in `attrmer
--help`, in the README and the getting-started page, and what the commands return."""

from __future__ import annotations

from pathlib import Path

import pytest

from attrmer.cli import COMMANDS, main
from attrmer.errors import (
    EXIT_CODES_HELP,
    EXIT_DATA,
    EXIT_INTERRUPTED,
    EXIT_MODEL,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
)

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
GETTING_STARTED = REPO / "docs" / "getting-started.md"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_prints_the_one_table(command, capsys) -> None:
    try:
        code = main([command, "--help"])
    except SystemExit as done:  # argparse's --help, in the commands that let it exit
        code = done.code
    assert code == EXIT_OK
    assert EXIT_CODES_HELP.strip() in capsys.readouterr().out


def _table(text: str) -> list[str]:
    """The rows of the exit-code table: those that start with a code."""
    return [line for line in text.splitlines() if line.split("|")[1:2]
            and line.split("|")[1].strip().isdigit()]


def test_attrmer_help_the_readme_and_the_docs_show_it(capsys) -> None:
    assert main(["--help"]) == EXIT_OK
    assert EXIT_CODES_HELP.strip() in capsys.readouterr().out
    readme = README.read_text()
    for code in (EXIT_OK, EXIT_DATA, EXIT_USAGE, EXIT_MODEL, EXIT_OUTPUT, EXIT_INTERRUPTED):
        assert f"| {code} |" in readme, code
    assert _table(readme) == _table(GETTING_STARTED.read_text())


def test_each_kind_of_failure_returns_its_code(tmp_path, capsys) -> None:
    bad_params = tmp_path / "params.yaml"
    bad_params.write_text("train:\n  alpha: 7\n")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "thesis.tex").write_text("mine")
    cases = [
        (["no-such-command"], EXIT_USAGE),
        (["check-params", str(bad_params)], EXIT_DATA),
        (["predict", str(tmp_path / "absent.mp4")], EXIT_DATA),
        (["predict", str(tmp_path), "--batch-size", "0"], EXIT_USAGE),
        (["export", "--format", "onnx", "--model", str(tmp_path / "no-model"), "--out",
          str(tmp_path / "net.onnx")], EXIT_MODEL),
        (["synth", str(tmp_path / "taken"), "--clips", "2"], EXIT_OUTPUT),
        (["synth", str(tmp_path / "new"), "--clips", "0"], EXIT_USAGE),
        (["prepare", "--params", str(bad_params), "--interim-dir", str(tmp_path / "i")],
         EXIT_DATA),
    ]
    for argv, code in cases:
        assert main(argv) == code, argv
        assert (tmp_path / "taken" / "thesis.tex").read_text() == "mine"
    capsys.readouterr()
