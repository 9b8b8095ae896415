"""The results pages (docs/results/) show exactly the figures of the files they are written
from: every figure checked against a fixture's files, and the committed pages against the
workspace's files and dvc.lock."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from attrmer.baselines import REFERENCES, TITLES
from attrmer.report import cli
from attrmer.report.pages import PAGES, parse_sources, render_pages, write_pages

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results"
STALE = "run `attrmer report --pages docs/results` (make repro does) and commit docs/results"


def _write(root: Path, path: str, data) -> None:
    file = root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(data, indent=2) if not isinstance(data, str) else data)


def make_project(root: Path) -> None:
    """A project folder with every file the pages read, each figure distinct."""
    _write(root, "metrics/summary.json", {
        "accuracy": {"mean": 0.81234, "std": 0.04321},
        "uf1": {"mean": 0.7111, "std": 0.0555},
        "uar": {"mean": 0.7222, "std": 0.0666},
        "recall": {"happiness": {"mean": 0.9}, "sadness": {"mean": 0.35, "std": 0.1}},
        "n_seeds": 3, "n_test": 40, "n_folds": 1, "n_classes": 2,
        "best_epoch_on_test": {"accuracy": {"mean": 0.9333, "std": 0.01},
                               "uf1": {"mean": 0.8888, "std": 0.02},
                               "uar": {"mean": 0.8777, "std": 0.03}},
    })
    _write(root, "metrics/summary_by_seed.json", {
        "accuracy": {"0": 0.8, "1": 0.85, "2": 0.7875},
        "uf1": {"0": 0.71, "1": 0.72, "2": 0.7033},
        "uar": {"0": 0.73, "1": 0.74, "2": 0.6966},
        "val_accuracy": {"0": 1.0, "1": 0.9, "2": 0.95},
    })
    _write(root, "metrics/baselines/mdmo.json", {
        "accuracy": {"mean": 0.625}, "uf1": {"mean": 0.5125}, "uar": {"mean": 0.5375},
        "n_seeds": 1, "runs": "one (deterministic)"})
    _write(root, "metrics/baselines/elrcn.json", {
        "accuracy": {"mean": 0.55, "std": 0.061}, "uf1": {"mean": 0.4412, "std": 0.07},
        "uar": {"mean": 0.4567, "std": 0.08}, "n_seeds": 3,
        "best_epoch_on_test": {"accuracy": {"mean": 0.6667}, "uf1": {"mean": 0.5999},
                               "uar": {"mean": 0.61}}})
    _write(root, "metrics/spotting.json", {
        "iou": 0.5, "videos": 4, "videos_not_spotted": 1,
        "intervals_unusable": {"micro": 2, "macro": 0},
        "micro": {"tp": 11, "fp": 3, "fn": 5, "precision": 0.785714, "recall": 0.6875,
                  "f1": 0.733333, "truth": 16, "spotted": 14},
        "macro": {"tp": 7, "fp": 1, "fn": 2, "precision": 0.875, "recall": 0.777778,
                  "f1": 0.823529, "truth": 9, "spotted": 8},
        "overall": {"tp": 18, "fp": 4, "fn": 7, "precision": 0.818182, "recall": 0.72,
                    "f1": 0.765957, "truth": 25, "spotted": 22},
        "blinks_annotated": 12,
        "strs": {kind: {"strs": strs, "f1_spot": 0.0, "f1_analysis": analysis,
                        "analysis": {"pairs": pairs, "right": right},
                        "joint": {"f1": joint}}
                 for kind, strs, analysis, pairs, right, joint in (
                     ("micro", 0.55, 0.75, 11, 9, 0.6), ("macro", 0.7, 0.85, 7, 6, 0.71),
                     ("overall", 0.6, 0.8, 18, 15, 0.65))}})
    _write(root, "metrics/spotting_tuning.json", {
        "iou": 0.5, "videos": 8,
        **{kind: {"tp": 1, "fp": 1, "fn": 1, "precision": 0.5, "recall": 0.5, "f1": f1,
                  "truth": 2, "spotted": 2}
           for kind, f1 in (("micro", 0.76), ("macro", 0.9), ("overall", 0.82))}})
    _write(root, "metrics/calibration.json", {
        "temperature": {"0": 1.0, "1": 1.8765, "2": 2.3},
        "ece": {"validation": {"raw": 0.1234, "calibrated": 0.0456},
                "test": {"raw": 0.0789, "calibrated": 0.0321}}})
    _write(root, "bench/results/threads.json", {
        "machine": "4 CPUs, test machine", "steps": 7,
        "policies": {"passive": {
            "alone": {"train_step_s": 0.25, "forward_s": 0.04},
            "loaded": {"train_step_s": 0.5, "forward_s": 0.06},
            "ratio": {"train_step_s": 2.0, "forward_s": 1.5}}}})
    _write(root, "bench/results/certainty.json", {"default": {
        "built-in test subjects": {"certain": [40, 45], "uncertain": [5, 10],
                                   "reasons": {"models disagree": 7}},
        "model": "models/seeds"}})
    _write(root, "bench/results/real_faces.json", {
        "what": "development checks", "machine": "2 cores, test machine",
        "settings": {"default": "today's"},
        "zeroshot": {"unseen motion": {"default": {
            "pretrained": {"right": {"surprise": 4}, "clips_per_class": 5},
            "seed_0": {"right": {"surprise": 2}, "clips_per_class": 5},
            "seed_1": {"right": {"surprise": 3}, "clips_per_class": 5}}}},
        "smiles": {"default": {"fraction": 0.3, "people": 20, "happiness": 16,
                               "labels": {"happiness": 16, "disgust": 4},
                               "certain": [15, 17], "uncertain": [1, 3]}},
        "learn": {"learn, unseen": {"default": {
            "clips": {"train": 21, "val": 6, "test": 18}, "method_accuracy": [0.9111, 0.0222],
            "method_uf1": [0.9011, 0.0333], "method_validation_accuracy": 1.0,
            "mdmo_accuracy": 0.8333, "mdmo_uf1": 0.8222}}}})
    _write(root, "bench/results/gpu.json", {"machine": "one test GPU",
                                            "epoch_seconds": {"local": 1.25}})
    shutil.copy(REPO / "src/attrmer/paper_results.yaml",
                (root / "src/attrmer").mkdir(parents=True) or root / "src/attrmer")
    lock = {"schema": "2.0", "stages": {
        "prepare": {"params": {"params.yaml": {"data": {"name": "casme2", "classes": "paper"},
                                               "split": {"protocol": "holdout"}}}},
        "train": {"params": {"params.yaml": {"train.alpha": 0.3, "train.seeds": [0, 1, 2]}}},
        "evaluate": {"outs": [{"path": "metrics/summary.json", "md5": "0" * 32}]},
        "long_videos@corpus": {"params": {"params.yaml": {
            "spot.videos": "builtin", "spot.corpus": {"fps": 30, "identities": "real"}}}},
        "long_videos@tuning_corpus": {"params": {"params.yaml": {
            "spot.tuning_corpus": {"fps": 30, "identities": "bundled"}}}},
    }}
    _write(root, "dvc.lock", yaml.safe_dump(lock))


def rows(page: str, first_header: str) -> dict[str, list[str]]:
    """The rows of the table whose first header cell is `first_header`, by first cell."""
    found, inside = {}, False
    for line in page.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_header:
            inside = True
            continue
        if inside and line.startswith("|---"):
            continue
        if inside and line.startswith("|"):
            found[cells[0].strip("`")] = cells[1:]
        elif inside:
            break
    return found


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("project")
    make_project(root)
    return render_pages(root)


def test_the_method_page_shows_the_summary_and_each_seed(pages) -> None:
    page = pages["method.md"]
    figures = rows(page, "metric")
    assert figures["accuracy"] == ["81.23 ± 4.32", "93.33 ± 1.00"]
    assert figures["UF1"] == ["71.11 ± 5.55", "88.88 ± 2.00"]
    assert figures["UAR"] == ["72.22 ± 6.66", "87.77 ± 3.00"]
    assert "3 seeds, 40 test clips, 1 fold, 2 classes." in page
    assert rows(page, "seed") == {"0": ["80.00", "71.00", "73.00", "100.00"],
                                  "1": ["85.00", "72.00", "74.00", "90.00"],
                                  "2": ["78.75", "70.33", "69.66", "95.00"]}
    assert rows(page, "class") == {"happiness": ["90.00"], "sadness": ["35.00 ± 10.00"]}


def test_table3_lists_every_baseline_with_its_file_or_as_missing(pages) -> None:
    table = rows(pages["table3.md"], "method")
    assert table["attrmer (this method)"][1:] == ["81.23 ± 4.32", "71.11 ± 5.55",
                                                 "72.22 ± 6.66", "93.33 / 88.88", "3 seeds"]
    assert table["MDMO"][1:] == ["62.50", "51.25", "53.75", "—", "one (deterministic)"]
    assert table["ELRCN"][1:] == ["55.00 ± 6.10", "44.12 ± 7.00", "45.67 ± 8.00",
                                  "66.67 / 59.99", "3 seeds"]
    references = rows(pages["table3.md"].partition("## References")[2], "method")
    for name, title in TITLES.items():
        row = (references if name in REFERENCES else table)[title]
        if name not in ("mdmo", "elrcn"):
            assert row[1].startswith("not in this project folder"), title
    paper = rows(pages["table3.md"].split("## As the paper published it")[1], "method")
    assert paper["the paper's method"] == ["77.82 ± 3.65", "71.04 ± 4.21"]


def test_the_spotting_page_shows_every_count_and_ratio(pages) -> None:
    page = pages["spotting.md"]
    corpora = rows(page, "corpus")
    assert corpora["spot.corpus"] == [
        "scored once, never tuned on", "4 at 30 fps, real faces", "0.733", "0.824", "0.766",
        "0.550", "0.700", "0.600"]
    assert corpora["spot.corpus_200fps"][0].startswith("not in this project folder")
    assert corpora["spot.tuning_corpus"][1:] == [
        "8 at 30 fps, bundled faces", "0.760", "0.900", "0.820", "—", "—", "—"]
    detail = page.split("## `spot.corpus`")[1].split("## ")[0]
    assert rows(detail, "type") == {
        "micro": ["16", "14", "11", "3", "5", "0.786", "0.688", "0.733", "9 of 11", "0.750",
                  "0.550", "0.600"],
        "macro": ["9", "8", "7", "1", "2", "0.875", "0.778", "0.824", "6 of 7", "0.850",
                  "0.700", "0.710"],
        "overall": ["25", "22", "18", "4", "7", "0.818", "0.720", "0.766", "15 of 18", "0.800",
                    "0.600", "0.650"],
    }
    assert "at least 0.5" in page
    assert "could not be spotted: 1" in page and "2 micro, 0 macro" in page
    assert "Blinks annotated: 12." in page


def test_the_calibration_page_shows_the_errors_temperatures_and_certainty(pages) -> None:
    page = pages["calibration.md"]
    assert rows(page, "predictions") == {"validation": ["0.123", "0.046"],
                                         "test": ["0.079", "0.032"]}
    assert rows(page, "seed") == {"0": ["1.00"], "1": ["1.88"], "2": ["2.30"]}
    assert rows(page, "models")["default"] == [
        "built-in test subjects", "40 of 45 (89%)", "5 of 10 (50%)", "models disagree: 7"]


def test_the_real_faces_page_shows_each_check(pages) -> None:
    page = pages["real-faces.md"]
    assert "Machine: 2 cores, test machine." in page
    assert "| `default` | pretrained | surprise: 4 of 5 |" in page
    assert "| `default` | 2 seeds | surprise: 5 of 10 |" in page
    assert "| `default` | 30% | 16 of 20 | happiness 16, disgust 4 | 15 of 17 (88%) | " \
           "1 of 3 (33%) |" in page
    assert "| `default` | 21 / 6 / 18 | 91.11 ± 2.22 | 90.11 ± 3.33 | 100.00 | " \
           "83.33 / 82.22 |" in page


def test_the_timings_page_names_the_machine_and_lists_any_other_benchmark(pages) -> None:
    page = pages["timings.md"]
    assert "`python bench/threads.py --steps 7`, 4 CPUs, test machine" in page
    assert rows(page, "wait policy")["passive"] == ["0.250", "0.500", "2.00×", "0.040",
                                                   "0.060", "1.50×"]
    assert "Machine: one test GPU." in page
    assert rows(page, "key")["epoch_seconds.local"] == ["1.25"]


def test_the_index_shows_the_run_as_dvc_lock_records_it(pages) -> None:
    run = rows(pages["index.md"], "key")
    assert run["data.name"] == ["`casme2`"] and run["train.alpha"] == ["`0.3`"]
    assert run["train.seeds"] == ["`[0, 1, 2]`"]
    assert "Synthetic data" not in pages["index.md"]
    for name in PAGES:
        if name != "index.md":
            assert f"]({name})" in pages["index.md"]


def test_every_page_lists_its_files_with_their_md5(tmp_path) -> None:
    make_project(tmp_path)
    for name, page in render_pages(tmp_path).items():
        for path, md5 in parse_sources(page).items():
            file = tmp_path / path
            if md5 is None:
                assert not file.exists(), (name, path)
            else:
                assert md5 == hashlib.md5(file.read_bytes()).hexdigest(), (name, path)
    for name in ("spotting", "spotting_tuning"):
        (tmp_path / f"metrics/{name}.json").unlink()
    page = render_pages(tmp_path)["spotting.md"]
    assert "No `metrics/spotting.json` in this project folder" in page
    assert parse_sources(page) == {f"metrics/spotting{suffix}.json": None
                                   for suffix in ("", "_200fps", "_tuning")}


def test_the_command_writes_the_pages_and_keeps_other_folders(tmp_path, capsys) -> None:
    make_project(tmp_path)
    out = tmp_path / "docs" / "results"
    assert cli(["--pages", str(out), "--repo", str(tmp_path)]) == 0
    assert sorted(p.name for p in out.glob("*.md")) == sorted(PAGES)
    assert cli(["--pages", str(out), "--repo", str(tmp_path)]) == 0  # its own folder again
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter.md").write_text("mine")
    assert cli(["--pages", str(mine), "--repo", str(tmp_path)]) == 4
    assert (mine / "chapter.md").read_text() == "mine"


def _lock_md5() -> dict[str, str]:
    stages = yaml.safe_load((REPO / "dvc.lock").read_text())["stages"]
    return {out["path"]: out["md5"] for stage in stages.values()
            for out in stage.get("outs") or [] if "md5" in out}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_the_committed_page_matches_its_files(name) -> None:
    """Each file a committed page read must be the workspace's (or, where `dvc repro` has not
    run here, the one dvc.lock records); with every file here, the page must be the one the
    files give."""
    committed = (RESULTS / name).read_text()
    lock = _lock_md5()
    all_here = True
    for path, md5 in parse_sources(committed).items():
        file = REPO / path
        if md5 is None:
            assert not file.exists(), f"docs/results/{name}: {path} exists now; {STALE}"
            continue
        if file.is_file():
            here = hashlib.md5(file.read_bytes()).hexdigest()
            assert here == md5, f"docs/results/{name}: {path} has changed; {STALE}"
        else:
            all_here = False
            if path in lock:
                assert lock[path] == md5, \
                    f"docs/results/{name}: dvc.lock records other {path}; {STALE}"
    if all_here:
        assert committed == render_pages(REPO)[name], f"docs/results/{name}: {STALE}"


def test_write_pages_replaces_only_pages(tmp_path) -> None:
    make_project(tmp_path)
    out = tmp_path / "pages"
    write_pages(tmp_path, out)
    (out / "old.md").write_text("an earlier page")  # in a folder attrmer marked as its own
    write_pages(tmp_path, out)
    assert not (out / "old.md").exists()
