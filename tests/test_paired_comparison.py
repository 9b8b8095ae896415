"""Paired comparisons in `attrmer report`: seed-by-seed differences with a t interval."""

from __future__ import annotations

import json
import math

import pytest
from scipy import stats

from attrmer.report import cli as report_cli
from attrmer.report import comparison_text
from attrmer.report.records import ExperimentRecord, flatten
from attrmer.report.statistics import compare, paired_difference, unpaired_reason
from attrmer.report.tables import write_report

PARAMS = {"data.name": "synthetic", "data.classes": "paper", "split.protocol": "holdout",
          "split.test_fraction": 0.4, "split.validation_fraction": 0.2, "split.seed": 0,
          "model.depth": 10, "train.alpha": 0.5, "train.attribute_branch": True,
          "train.epochs": 20}


def record(name: str, accuracies: list[float], kind: str = "experiment",
           **params) -> ExperimentRecord:
    scores = {str(seed): value for seed, value in enumerate(accuracies)}
    mean = sum(accuracies) / len(accuracies)
    return ExperimentRecord(
        name=name, kind=kind, rev=f"{name}0000", timestamp=None, params={**PARAMS, **params},
        metrics={"accuracy.mean": mean, "accuracy.std": 0.01, "n_seeds": len(accuracies),
                 "n_test": 60},
        by_seed={m: {int(s): v for s, v in scores.items()} for m in ("accuracy", "uf1")},
    )


def test_interval_is_the_student_t_interval_of_the_differences() -> None:
    difference = paired_difference({0: 0.70, 1: 0.80, 2: 0.75}, {0: 0.60, 1: 0.70, 2: 0.70},
                                   "accuracy")
    values = [10.0, 10.0, 5.0]
    half = stats.t.ppf(0.975, 2) * stats.tstd(values) / math.sqrt(3)
    assert difference.mean == pytest.approx(25 / 3)
    assert difference.interval == pytest.approx((25 / 3 - half, 25 / 3 + half))
    assert difference.verdict == "first higher"


def test_a_difference_within_retraining_noise_is_not_distinguishable() -> None:
    difference = paired_difference({0: 0.70, 1: 0.80, 2: 0.72}, {0: 0.75, 1: 0.70, 2: 0.70},
                                   "accuracy")
    low, high = difference.interval
    assert low < 0 < high
    assert difference.verdict == "not distinguishable"
    assert "not distinguishable" in difference.text()


def test_only_common_seeds_are_paired() -> None:
    difference = paired_difference({0: 0.5, 1: 0.6, 5: 0.9}, {0: 0.4, 1: 0.4, 2: 0.1},
                                   "accuracy")
    assert difference.seeds == (0, 1)
    assert difference.differences == pytest.approx((10.0, 20.0))


def test_runs_on_different_splits_are_not_paired() -> None:
    a = record("a", [0.7, 0.8, 0.75])
    b = record("b", [0.6, 0.7, 0.7], **{"split.seed": 1})
    assert "split.seed" in unpaired_reason(a, b)
    with pytest.raises(ValueError, match="cannot pair"):
        compare(a, b)


def test_report_lists_the_attribute_branch_comparison_with_its_verdict(tmp_path) -> None:
    full = record("full", [0.80, 0.85, 0.78, 0.82, 0.84], kind="commit")
    without = record("without", [0.70, 0.74, 0.69, 0.72, 0.75],
                     **{"train.attribute_branch": False})
    tables = write_report([full, without], tmp_path / "report").read_text()
    section = tables[tables.index("## Paired comparisons"):]
    row = next(line for line in section.splitlines() if "attribute branch" in line)
    assert "`full`" in row and "`without`" in row and "first higher" in row
    assert "+9.8 [" in row  # mean of the five differences, in points


def test_compare_option_prints_the_paired_difference(tmp_path, capsys) -> None:
    def entry(name: str, accuracies: list[float], **params) -> dict:
        scores = {str(s): v for s, v in enumerate(accuracies)}
        flat = {**PARAMS, **params}
        tree: dict = {}
        for key, value in flat.items():
            section, leaf = key.split(".")
            tree.setdefault(section, {})[leaf] = value
        return {"rev": f"{name}0000", "name": name, "data": {
            "rev": f"{name}0000", "timestamp": None,
            "params": {"params.yaml": {"data": tree}},
            "metrics": {
                "metrics/summary.json": {"data": {"accuracy": {"mean": 0.7, "std": 0.01},
                                                  "n_test": 60}},
                "metrics/summary_by_seed.json": {"data": {"accuracy": scores}},
            }}}

    exp_show = [{**entry("base", [0.70, 0.80, 0.72]), "rev": "workspace",
                 "experiments": [{"revs": [entry("alpha03", [0.75, 0.70, 0.70],
                                                 **{"train.alpha": 0.3})]}]}]
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(exp_show))
    assert report_cli(["--exp-json", str(path), "--compare", "alpha03", "workspace"]) == 0
    out = capsys.readouterr().out
    assert "alpha03 vs base" in out and "not distinguishable" in out
    # Both values, the difference, and the settings that make the two runs differ.
    assert "settings that differ: train.alpha 0.3 vs 0.5" in out
    assert "accuracy: 71.7 % vs 74.0 %, difference -2.3 points" in out
    assert report_cli(["--exp-json", str(path), "--compare", "nope", "workspace"]) == 1
    assert "no finished experiment named 'nope'" in capsys.readouterr().err


def test_main_and_head_name_the_commit_and_a_commit_without_results_says_why(
        tmp_path, capsys) -> None:
    """`main` is the commit's branch and `HEAD` the commit the workspace starts from; a
    commit whose outputs this machine never made (another CPU wrote dvc.lock) has no
    metrics, and the error says to commit dvc.lock; a run is never compared with itself."""
    def entry(rev: str, name: str | None, accuracies: list[float] | None, **params) -> dict:
        flat = {**PARAMS, **params}
        tree: dict = {}
        for key, value in flat.items():
            section, leaf = key.split(".")
            tree.setdefault(section, {})[leaf] = value
        metrics = {} if accuracies is None else {
            "metrics/summary.json": {"data": {"accuracy": {"mean": 0.7}, "n_test": 60}},
            "metrics/summary_by_seed.json": {"data": {"accuracy": {
                str(s): v for s, v in enumerate(accuracies)}}}}
        return {"rev": rev, "name": name, "data": {
            "rev": rev, "timestamp": None, "params": {"params.yaml": {"data": tree}},
            "metrics": metrics}}

    experiment = {"revs": [entry("e" * 40, "alpha03", [0.75, 0.70, 0.70],
                                 **{"train.alpha": 0.3})]}
    with_results = [entry("workspace", None, [0.70, 0.80, 0.72]),
                    {**entry("c" * 40, "main", [0.70, 0.80, 0.72]),
                     "experiments": [experiment]}]
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(with_results))
    for name in ("main", "HEAD", "workspace"):
        assert report_cli(["--exp-json", str(path), "--compare", "alpha03", name]) == 0, name
        assert "alpha03 vs main" in capsys.readouterr().out
    without = [with_results[0], {**entry("c" * 40, "main", None), "experiments": [experiment]}]
    path.write_text(json.dumps(without))
    assert report_cli(["--exp-json", str(path), "--compare", "alpha03", "main"]) == 1
    assert "commit dvc.lock" in capsys.readouterr().err
    assert report_cli(["--exp-json", str(path), "--compare", "alpha03", "workspace"]) == 0
    capsys.readouterr()
    # After `dvc exp run` the workspace holds the experiment's own result.
    same = [{**entry("workspace", None, [0.75, 0.70, 0.70], **{"train.alpha": 0.3}),
             "experiments": []}, {**entry("c" * 40, "main", None), "experiments": [experiment]}]
    path.write_text(json.dumps(same))
    assert report_cli(["--exp-json", str(path), "--compare", "alpha03", "workspace"]) == 1
    assert "are one result" in capsys.readouterr().err


def test_comparison_text_names_unknown_experiments() -> None:
    with pytest.raises(ValueError, match="finished: a"):
        comparison_text([record("a", [0.1, 0.2])], "a", "b")


def composite(name: str, accuracies: list[float], data: dict, split: dict) -> ExperimentRecord:
    """A composite run with its params flattened as `attrmer report` flattens params.yaml."""
    params = flatten({"data": {"name": "composite", "classes": "megc2019", **data},
                      "split": {"protocol": "lodo", **split}})
    return record(name, accuracies, **params)


def test_lodo_runs_tested_on_other_datasets_are_not_paired() -> None:
    roots = {"roots": {"casme2": "/d/CASME2", "samm": "/d/SAMM"}}
    on_samm = composite("a", [0.7, 0.8, 0.75], roots, {"test_datasets": ["samm"]})
    on_casme2 = composite("b", [0.6, 0.7, 0.7], roots, {"test_datasets": ["casme2"]})
    assert unpaired_reason(on_samm, on_casme2) == (
        "they differ in `split.test_datasets` (['samm'] vs ['casme2']): another split")
    # A run recorded before split.test_datasets existed tested on every dataset, as [] does.
    each = composite("c", [0.6, 0.7, 0.7], roots, {"test_datasets": []})
    older = record("d", [0.6, 0.7, 0.7],
                   **{k: v for k, v in each.params.items() if k != "split.test_datasets"})
    assert unpaired_reason(each, older) is None


def test_composites_of_other_datasets_are_not_paired() -> None:
    casme2_samm = composite("a", [0.7, 0.8, 0.75],
                            {"roots": {"casme2": "/d/CASME2", "samm": "/d/SAMM"}}, {})
    assert casme2_samm.params["data.roots.samm"] == "/d/SAMM"
    casme2_mmew = composite("b", [0.6, 0.7, 0.7],
                            {"roots": {"casme2": "/d/CASME2", "mmew": "/d/MMEW"}}, {})
    assert unpaired_reason(casme2_samm, casme2_mmew) == (
        "they differ in `data.roots.mmew` (None vs '/d/MMEW'): another split")
    two_takes = {"take1": "/d/a", "take2": "/d/b"}
    synthetic = composite("c", [0.7, 0.8, 0.75], {"roots": two_takes, "adapters": {
        "take1": "synthetic", "take2": "synthetic"}}, {})
    casme2 = composite("d", [0.6, 0.7, 0.7], {"roots": two_takes, "adapters": {
        "take1": "casme2", "take2": "casme2"}}, {})
    assert "`data.adapters.take1` ('synthetic' vs 'casme2')" in unpaired_reason(synthetic, casme2)
    again = composite("e", [0.6, 0.7, 0.7], {"roots": two_takes, "adapters": {
        "take1": "synthetic", "take2": "synthetic"}}, {})
    assert unpaired_reason(synthetic, again) is None


def test_the_deep_baselines_files_join_the_workspaces_result(tmp_path) -> None:
    """The deep baselines are not DVC metrics (their target is not part of `dvc repro`, and
    declared metrics that were never built make every `dvc metrics show` warn): the report
    reads their files from the workspace, for the workspace's result only."""
    from attrmer.report.records import with_workspace_baselines

    (tmp_path / "metrics" / "baselines").mkdir(parents=True)
    (tmp_path / "metrics" / "baselines" / "elrcn.json").write_text(
        json.dumps({"accuracy": {"mean": 0.5}, "n_test": 60}))
    head = record("main", [0.7, 0.8], kind="commit")
    head = type(head)(**{**head.__dict__, "aliases": ("HEAD", "workspace")})
    other = record("alpha03", [0.6, 0.7])
    records = with_workspace_baselines([head, other], tmp_path, ["elrcn", "netab"])
    assert records[0].baselines == {"elrcn": {"accuracy.mean": 0.5, "n_test": 60}}
    assert records[1].baselines == {}
