"""`attrmer report` on a stored set of fake experiment results (tests/fixtures/report)."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from attrmer import cli as attrmer_cli
from attrmer.report import (
    ExperimentRecord,
    alpha_sweep,
    depth_sweep,
    headline,
    load_paper_results,
    parse_exp_show,
    protocol_text,
    run_exp_show,
    selection_text,
    write_report,
)
from attrmer.report.records import dataset_cell, flatten
from attrmer.report.selection import group_conditions

FIXTURE = Path(__file__).parent / "fixtures" / "report" / "exp_show.json"


@pytest.fixture(scope="module")
def exp_show() -> list:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "reports"
    assert attrmer_cli.main(["report", "--exp-json", str(FIXTURE), "--out", str(out)]) == 0
    return out


def assert_valid_png(path: Path) -> None:
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), path
    pixels = image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 300
    assert np.ptp(pixels[..., :3]) > 0.5  # something was drawn


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_parse_flattens_params_and_metrics_and_skips_unfinished(exp_show: list) -> None:
    records, skipped = parse_exp_show(exp_show)
    assert skipped == ["alpha-0.9", "depth34-broken"]  # queued, failed
    names = [r.name for r in records]
    assert "workspace" not in names  # the same result as the commit `main`
    assert len(records) == 11
    main = next(r for r in records if r.name == "main")
    assert main.kind == "commit"
    assert main.params["train.alpha"] == 0.5 and main.params["model.depth"] == 10
    assert main.params["train.seeds"] == [0, 1, 2, 3, 4]
    assert main.params["data.name"] == "synthetic"
    assert main.metrics["accuracy.mean"] == 0.6425
    assert main.metrics["recall.happiness.mean"] == 0.578
    assert set(main.baselines) == {"lbptop", "mdmo"}
    assert main.baselines["lbptop"]["accuracy.mean"] == 0.3125
    alpha0 = next(r for r in records if r.name == "alpha-0")
    assert alpha0.kind == "experiment" and alpha0.baselines == {}  # its lbptop entry is an error


def test_sweeps_are_found_among_runs_that_differ_only_in_the_swept_keys(exp_show: list) -> None:
    records, _ = parse_exp_show(exp_show)
    synthetic = [r for r in records if r.params["data.name"] == "synthetic"]
    main = headline(synthetic)
    assert main is not None and main.name == "main"
    alphas = alpha_sweep(synthetic, main)
    assert {a: r.name for a, r in alphas.items()} == {
        0.0: "alpha-0", 0.25: "alpha-0.25", 0.5: "main", 0.75: "alpha-0.75", 1.0: "alpha-1"}
    depths = depth_sweep(synthetic, main)
    assert {d: r.name for d, r in depths[True].items()} == {
        10: "main", 18: "depth18-with", 34: "depth34-with"}
    assert {d: r.name for d, r in depths[False].items()} == {
        10: "depth10-without", 18: "depth18-without", 34: "depth34-without"}
    casme2 = [r for r in records if r.params["data.name"] == "casme2"]
    assert alpha_sweep(casme2, None) == {} and depth_sweep(casme2, None) == {}


def test_tables_show_our_rows_the_baselines_and_the_papers_with_protocols(report: Path) -> None:
    tables = (report / "tables.md").read_text()
    protocol = "holdout 3:2 by subject"
    synthetic_row = ("| built-in synthetic data ⚠ | attrmer, 3D-ResNet-10, full loss (α = 0.5) | "
                     "this implementation | `main` | 64.25 ± 3.12 | 60.10 ± 3.74 | 61.80 ± 3.43 "
                     "| — | " + protocol +
                     " | paper: happiness, disgust, repression, surprise, sadness | 5 | "
                     "last epoch of 20 |")
    assert synthetic_row in tables
    assert "| CASME II | attrmer, 3D-ResNet-10, full loss (α = 0.5) | this implementation | " \
           "`casme2-main` | " \
           "72.10 ± 3.88 |" in tables
    assert "| LBP-TOP (baseline) | faithful: uniform LBP-TOP histograms on a 5×5 grid; " \
           "linear SVM | `main` | 31.25 ± 0.00 |" in tables
    assert "| MDMO (baseline) | faithful: " in tables and "| `main` | 33.75 ± 0.00 |" in tables
    # The paper's numbers beside ours, with their protocol and source.
    assert "| CASME II | paper (published) | — | arXiv:2205.14643 (v1, 29 May 2022) | " \
           "77.82 ± 3.65 | — | — | — | holdout 3:2 by subject |" in tables
    assert "| MMEW | paper (published) |" in tables and "71.04 ± 4.21" in tables
    # Table IV: our L_θ-only run next to the full loss, and the paper's 66.74 / 65.83.
    table4 = tables.split("## Table IV")[1].split("## Fig. 2")[0]
    assert "| built-in synthetic data ⚠ | attrmer, 3D-ResNet-10 only (L_θ) | — | " \
           "`depth10-without` | 54.75 ± 3.77 |" in table4
    assert "| 66.74 |" in table4 and "| 65.83 |" in table4
    assert "not comparable to the paper's numbers" in tables
    assert "Skipped 2" in tables and "`depth34-broken`" in tables


def test_missing_experiment_sets_are_reported_not_faked(report: Path) -> None:
    tables = (report / "tables.md").read_text()
    casme2_sections = [s for s in tables.split("### ") if s.startswith("CASME II")]
    assert len(casme2_sections) == 2  # Fig. 2/3 and Fig. 4
    assert all("Not available" in s for s in casme2_sections)
    assert "dvc exp run --queue -S model.depth=$depth" in casme2_sections[0]
    assert "dvc exp run --queue -S train.alpha=$alpha" in casme2_sections[1]
    assert "CASME II, holdout 3:2 by subject, classes: paper: needs two runs that differ only " \
           "in `train.attribute_branch`" in tables
    assert not list((report / "figures").glob("*casme2*"))


def test_figure_data_tables_and_dvc_plot_files(report: Path) -> None:
    tables = (report / "tables.md").read_text()
    assert "| 18 | 51.50 ± 4.55 (UF1 47.50 ± 5.46; `depth18-without`) | " \
           "60.12 ± 4.10 (UF1 56.12 ± 4.92; `depth18-with`) |" in tables
    assert "| 1 | 47.20 ± 5.15 | 41.02 ± 6.18 | 43.88 ± 5.66 | `alpha-1` |" in tables
    depth = read_csv(report / "plots" / "depth" / "synthetic_holdout_paper.csv")
    assert [row["depth"] for row in depth] == ["10", "18", "34"]
    assert float(depth[0]["with_attribute_branch"]) == pytest.approx(64.25)
    assert float(depth[2]["without_attribute_branch_std"]) == pytest.approx(5.01)
    alpha = read_csv(report / "plots" / "alpha" / "synthetic_holdout_paper.csv")
    assert [float(row["alpha"]) for row in alpha] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert float(alpha[4]["accuracy"]) == pytest.approx(47.2)
    assert set(alpha[0]) == {"alpha", "accuracy", "accuracy_std", "uf1", "uar"}


def test_figures_are_valid_pngs(report: Path) -> None:
    figures = sorted(p.name for p in (report / "figures").iterdir())
    assert figures == ["alpha_synthetic_holdout_paper.png", "depth_synthetic_holdout_paper.png"]
    for name in figures:
        assert_valid_png(report / "figures" / name)


def test_records_are_saved_beside_the_report(report: Path) -> None:
    saved = json.loads((report / "experiments.json").read_text())
    assert len(saved) == 11
    assert {"name", "kind", "rev", "timestamp", "params", "metrics", "baselines"} <= set(saved[0])


def test_report_without_experiments_still_renders_the_papers_rows(tmp_path: Path) -> None:
    tables = write_report([], tmp_path / "reports", paper=load_paper_results()).read_text()
    assert "No finished experiments" in tables
    assert "77.82 ± 3.65" in tables and "66.74" in tables


def test_protocol_and_selection_are_spelled_out() -> None:
    loso = ExperimentRecord(
        name="x", kind="experiment", rev="r", timestamp=None,
        params={"split.protocol": "loso", "split.validation_fraction": 0.2, "train.epochs": 50},
        metrics={"n_folds": 26},
    )
    assert protocol_text(loso) == "LOSO (26 folds pooled)"
    assert selection_text(loso).startswith("best validation epoch of 50 (20% of training")
    holdout = ExperimentRecord(name="y", kind="commit", rev="r", timestamp=None,
                               params={"split.test_fraction": 0.5, "train.epochs": 200},
                               metrics={})
    assert protocol_text(holdout) == "holdout 1:1 by subject"
    assert selection_text(holdout) == "last epoch of 200"


def _composite_record(name: str, roots: dict, adapters: dict | None = None,
                      test_datasets: list | None = None) -> ExperimentRecord:
    data = {"name": "composite", "classes": "megc2019", "roots": roots,
            "adapters": adapters or {}}
    split = {"protocol": "lodo", "validation_fraction": 0.2}
    if test_datasets is not None:
        split["test_datasets"] = test_datasets
    return ExperimentRecord(name=name, kind="experiment", rev=name, timestamp=None,
                            params=flatten({"data": data, "split": split}),
                            metrics={"n_folds": 1, "accuracy.mean": 0.5})


def test_composites_and_lodo_test_datasets_get_a_table_block_each() -> None:
    roots = {"casme2": "/d/CASME2", "samm": "/d/SAMM"}
    on_samm = _composite_record("on-samm", roots, test_datasets=["samm"])
    on_casme2 = _composite_record("on-casme2", roots, test_datasets=["casme2"])
    elsewhere = _composite_record("elsewhere", {"casme2": "/e/CASME2", "samm": "/e/SAMM"},
                                  test_datasets=["samm"])
    with_mmew = _composite_record("with-mmew", {"casme2": "/d/CASME2", "mmew": "/d/MMEW"},
                                  test_datasets=["mmew"])
    # A run recorded before split.test_datasets existed, beside one that tests every dataset.
    older = _composite_record("older", roots)
    each = _composite_record("each", roots, test_datasets=[])
    blocks = group_conditions([on_samm, on_casme2, elsewhere, with_mmew, older, each])
    assert sorted(sorted(r.name for r in c.records) for c in blocks) == [
        ["each", "older"], ["elsewhere", "on-samm"], ["on-casme2"], ["with-mmew"]]
    titles = {c.records[0].name: c.title for c in blocks}
    assert titles["on-samm"].startswith(
        "CASME II + SAMM, leave one dataset out (tested on samm; 1 fold pooled)")
    assert titles["with-mmew"].startswith("CASME II + MMEW, leave one dataset out")
    assert dataset_cell(with_mmew) == "CASME II + MMEW"
    takes = _composite_record("takes", {"a": "/d/a", "b": "/d/b"},
                              {"a": "synthetic", "b": "synthetic"})
    assert dataset_cell(takes) == "built-in synthetic data + built-in synthetic data ⚠"


def test_cli_reports_an_unreadable_experiment_file(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "exp.json"
    bad.write_text("{not json")
    assert attrmer_cli.main(["report", "--exp-json", str(bad), "--out",
                             str(tmp_path / "r")]) == 1
    assert "exp.json: cannot read experiments" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_paper_results_name_their_source() -> None:
    paper = load_paper_results()
    assert "2205.14643" in paper["source"]["reference"]
    assert paper["datasets"]["casme2"]["table3"] == {"accuracy_mean": 77.82, "accuracy_std": 3.65}
    assert paper["datasets"]["mmew"]["table3"] == {"accuracy_mean": 71.04, "accuracy_std": 4.21}
    assert paper["datasets"]["casme2"]["table4"]["l_theta_only_accuracy"] == 66.74
    assert paper["datasets"]["mmew"]["table4"]["l_theta_only_accuracy"] == 65.83


SUMMARY_WRITER = """\
import json, sys, yaml
params = yaml.safe_load(open("params.yaml"))
alpha = params["train"]["alpha"]
json.dump({"accuracy": {"mean": 0.5 + alpha / 10, "std": 0.01}, "uf1": {"mean": 0.4, "std": 0.0},
           "n_seeds": 1}, open("summary.json", "w"))
"""

DVC_YAML = """\
stages:
  evaluate:
    cmd: {python} write.py
    deps: [write.py]
    params: [train.alpha, model.depth, data.name]
    metrics:
      - summary.json:
          cache: false
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dvc") is None or shutil.which("git") is None,
                    reason="needs dvc and git")
def test_real_dvc_exp_show_output_is_understood(tmp_path: Path) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
           "DVC_NO_ANALYTICS": "1"}

    def run(*command: str) -> None:
        subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True)

    (tmp_path / "params.yaml").write_text(
        "data:\n  name: synthetic\nmodel:\n  depth: 10\ntrain:\n  alpha: 0.5\n")
    (tmp_path / "write.py").write_text(SUMMARY_WRITER)
    (tmp_path / "dvc.yaml").write_text(DVC_YAML.format(python=sys.executable))
    run("git", "init", "-q")
    run("dvc", "init", "-q")
    run("dvc", "repro", "-q")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "baseline")
    run("dvc", "exp", "run", "-q", "-n", "alpha-0.2", "-S", "train.alpha=0.2")
    records, skipped = parse_exp_show(run_exp_show(tmp_path), summary_path="summary.json")
    assert skipped == []
    by_alpha = {r.params["train.alpha"]: r for r in records}
    assert set(by_alpha) == {0.5, 0.2}
    assert by_alpha[0.2].name == "alpha-0.2" and by_alpha[0.2].kind == "experiment"
    assert by_alpha[0.2].metrics["accuracy.mean"] == pytest.approx(0.52)
    assert by_alpha[0.5].kind == "commit"


def test_best_epoch_on_test_stands_beside_the_honest_figure_and_references_get_a_table(
        exp_show: list, tmp_path: Path) -> None:
    records, _ = parse_exp_show(exp_show)
    inflated = {"best_epoch_on_test.accuracy.mean": 0.9, "best_epoch_on_test.accuracy.std": 0.01,
                "best_epoch_on_test.uf1.mean": 0.85, "best_epoch_on_test.uf1.std": 0.02}
    deep = {"accuracy.mean": 0.5, "accuracy.std": 0.1, "uf1.mean": 0.4, "uf1.std": 0.1,
            "n_seeds": 5}
    main = next(r for r in records if r.name == "main")
    coded = {"attribute_branch.clips_with_au_codes": 60.0,
             "attribute_branch.training_clips": 96.0}
    main = dataclasses.replace(main, metrics=main.metrics | inflated | coded, baselines={
        **main.baselines, "tlcnn": deep | inflated, "ststnet": deep})
    records = [main if r.name == "main" else r for r in records]
    tables = write_report(records, tmp_path / "report").read_text()
    table3 = tables.split("## Table III")[1].split("## Table IV")[0]
    # The honest figure first, the inflated one in its own labelled column.
    assert "best epoch on test (as many papers report)" in table3
    assert "| 64.25 ± 3.12 | 60.10 ± 3.74 | 61.80 ± 3.43 | 90.00 / 85.00 |" in table3
    assert "| TLCNN (baseline) | reduced: " in table3
    assert "| 50.00 ± 10.00 | 40.00 ± 10.00 | — | 90.00 / 85.00 |" in table3
    # Today's references in a table of their own, with the published figures marked copied.
    assert "STSTNet" not in table3
    references = tables.split("## References")[1].split("## Fig. 2")[0]
    assert "| STSTNet (baseline) | faithful: " in references
    assert "| STSTNet (copied) | — | Liong, Gan, See, Khor, Huang, FG 2019 | — | 73.53 | 76.05 |" \
        in references
    assert "| 83.9 | — | — | LOSO |" in references
    # Clips without AU codes: how many trained the attribute branch.
    assert "`main` trained the attribute branch on 60 of its 96 training clips" in table3
