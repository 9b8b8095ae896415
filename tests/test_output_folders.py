"""No command deletes or overwrites what it did not write: every output folder a user names is
refused when it holds their files, accepted when new, empty or attrmer's own (attrmer.io)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from attrmer import cli as attrmer_cli
from attrmer.config import Params
from attrmer.datasets import DatasetError
from attrmer.datasets.prepare import prepare_dataset
from attrmer.errors import EXIT_INTERRUPTED
from attrmer.io import OWNER_MARKER, FolderNotOwnedError, claim_folder, owned_folder
from attrmer.report.tables import write_report
from attrmer.synth.render import CORPUS_JSON
from tests.fixtures.datasets.builders import shared_casme2_2014

EXIT_OUTPUT = 4


def _user_folder(path: Path) -> Path:
    """A folder holding a user's own work."""
    path.mkdir(parents=True)
    (path / "thesis.tex").write_text("\\chapter{Results}\n")
    (path / "notes.md").write_text("my notes\n")
    return path


def _untouched(path: Path) -> bool:
    return sorted(p.name for p in path.iterdir()) == ["notes.md", "thesis.tex"] and \
        (path / "thesis.tex").read_text() == "\\chapter{Results}\n"


# ------------------------------------------------------------------------------ the helper ---


def test_new_empty_and_own_folders_are_accepted(tmp_path: Path) -> None:
    claim_folder(tmp_path / "new", command="attrmer x")
    (tmp_path / "empty").mkdir()
    claim_folder(tmp_path / "empty", command="attrmer x")
    with owned_folder(tmp_path / "mine", command="attrmer x") as tmp:
        (tmp / "result.txt").write_text("1\n")
    assert (tmp_path / "mine" / OWNER_MARKER).is_file()
    (tmp_path / "mine" / "added-later.txt").write_text("")  # the marker still says it is ours
    with owned_folder(tmp_path / "mine", command="attrmer x") as tmp:
        (tmp / "result.txt").write_text("2\n")
    assert (tmp_path / "mine" / "result.txt").read_text() == "2\n"
    # A folder written before the marker existed: only the command's own entries.
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "result.txt").write_text("0\n")
    claim_folder(legacy, command="attrmer x", own_names=frozenset({"result.txt"}))


def test_a_users_folder_is_refused_in_one_line_naming_it(tmp_path: Path) -> None:
    folder = _user_folder(tmp_path / "work")
    with pytest.raises(FolderNotOwnedError) as caught, \
            owned_folder(folder, command="attrmer x") as tmp:
        (tmp / "result.txt").write_text("1\n")
    message = str(caught.value)
    assert "\n" not in message and str(folder) in message and "notes.md" in message
    assert "--force" in message and "deleting them" in message
    assert _untouched(folder)
    with pytest.raises(FolderNotOwnedError, match="not a folder"):
        claim_folder(folder / "notes.md", command="attrmer x")
    with pytest.raises(FolderNotOwnedError) as caught:
        claim_folder(folder, command="attrmer x", forcible=False)
    assert "--force" not in str(caught.value)


# -------------------------------------------------------------------------------- commands ---


def test_synth_refuses_a_users_folder_and_replaces_its_own(tmp_path: Path, capsys) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("synth:\n  clips: 2\n  min_frames: 6\n  max_frames: 8\n")
    folder = _user_folder(tmp_path / "corpus")
    args = ["synth", str(folder), "--params", str(params), "--workers", "1"]
    assert attrmer_cli.main(args) == EXIT_OUTPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "thesis.tex" in err
    assert _untouched(folder)
    # An empty folder, then the render itself, are accepted; --force replaces a user's folder.
    assert attrmer_cli.main(["synth", str(tmp_path / "fresh"), *args[2:]]) == 0
    assert attrmer_cli.main(["synth", str(tmp_path / "fresh"), *args[2:], "--seed", "4"]) == 0
    assert json.loads((tmp_path / "fresh" / CORPUS_JSON).read_text())["parameters"]["seed"] == 4
    assert attrmer_cli.main([*args, "--force"]) == 0
    assert not (folder / "thesis.tex").exists() and (folder / CORPUS_JSON).is_file()


def test_synth_long_refuses_a_users_folder(tmp_path: Path, capsys) -> None:
    folder = _user_folder(tmp_path / "long")
    assert attrmer_cli.main(["synth", "--long", str(folder), "--videos", "1"]) == EXIT_OUTPUT
    assert "thesis.tex" in capsys.readouterr().err
    assert _untouched(folder)


def test_report_refuses_a_users_folder_and_replaces_an_earlier_report(tmp_path: Path,
                                                                      capsys) -> None:
    exp = tmp_path / "exp.json"
    exp.write_text("[]")
    folder = _user_folder(tmp_path / "thesis")
    assert attrmer_cli.main(["report", "--exp-json", str(exp), "--out", str(folder)]) == \
        EXIT_OUTPUT
    assert "thesis.tex" in capsys.readouterr().err
    assert _untouched(folder)
    reports = tmp_path / "reports"
    for _ in range(2):
        assert attrmer_cli.main(["report", "--exp-json", str(exp), "--out", str(reports)]) == 0
    # A report written before the marker existed holds only the report's own entries.
    (reports / OWNER_MARKER).unlink()
    write_report([], reports, source="a test")
    assert (reports / "tables.md").is_file()


def test_spot_refuses_a_users_folder_before_reading_the_video(tmp_path: Path, capsys) -> None:
    folder = _user_folder(tmp_path / "out")
    # The video does not decode: a refusal that came after reading it would say so instead.
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not a video")
    assert attrmer_cli.main(["spot", str(video), "--out", str(folder)]) == EXIT_OUTPUT
    assert "notes.md" in capsys.readouterr().err
    assert _untouched(folder)


def test_prepare_refuses_a_users_interim_folder(tmp_path: Path, capsys) -> None:
    folder = _user_folder(tmp_path / "interim")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {"name": "casme2",
                                               "root": str(shared_casme2_2014())}}))
    args = ["prepare", "--params", str(params), "--interim-dir", str(folder)]
    assert attrmer_cli.main(args) == EXIT_OUTPUT
    assert "thesis.tex" in capsys.readouterr().err
    assert _untouched(folder)
    assert attrmer_cli.main([*args, "--force"]) == 0
    assert (folder / "manifest.csv").is_file() and (folder / "thesis.tex").is_file()
    assert attrmer_cli.main(args) == 0  # now attrmer's own as well


def test_the_built_in_corpus_is_not_rendered_into_a_missing_folder_elsewhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    synth = {"clips": 2, "min_frames": 6, "max_frames": 8}
    nowhere = tmp_path / "nowhere"
    params = Params.from_dict({"data": {"name": "synthetic", "root": str(nowhere),
                                        "classes": "all"},
                               "synth": synth})
    with pytest.raises(DatasetError, match="nowhere does not exist"):
        prepare_dataset(params, project / "interim")
    assert not nowhere.exists() and not (project / "interim").exists()
    # Someone else's folder, named by mistake, is refused whole, with no --force to suggest.
    theirs = _user_folder(tmp_path / "theirs")
    params = Params.from_dict({"data": {"name": "synthetic", "root": str(theirs),
                                        "classes": "all"},
                               "synth": synth})
    with pytest.raises(FolderNotOwnedError) as caught:
        prepare_dataset(params, project / "interim")
    assert "--force" not in str(caught.value) and _untouched(theirs)
    # Under the project a new folder is fine, and so is an empty one made for it elsewhere.
    params = Params.from_dict({"data": {"name": "synthetic", "root": "data/synthetic",
                                        "classes": "all"},
                               "synth": synth})
    assert len(prepare_dataset(params, project / "interim")) == 2
    (tmp_path / "made-for-it").mkdir()
    params = Params.from_dict({"data": {"name": "synthetic", "root": str(tmp_path / "made-for-it"),
                                        "classes": "all"},
                               "synth": synth})
    assert len(prepare_dataset(params, project / "interim2")) == 2


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_command_says_so_in_one_line_and_leaves_no_half_output(
        tmp_path: Path, signum: int) -> None:
    out = tmp_path / "corpus"
    process = subprocess.Popen(
        [sys.executable, "-m", "attrmer.cli", "synth", str(out), "--clips", "400",
         "--workers", "1"], stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    # Rendering has begun once the temporary folder is there.
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".corpus.*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED
    said = [line for line in err.splitlines() if "interrupted" in line]
    assert len(said) == 1 and said[0].startswith("attrmer synth: interrupted")
    assert "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".corpus.*"))
