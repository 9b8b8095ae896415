"""The FDM and Sparse MDMO baselines in the baselines machinery, and the report's Table III
reading every baseline from the registry."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attrmer.baselines import DEEP, FIDELITY, TITLES, sparse_mdmo
from attrmer.baselines.run import BASELINES, _polar_to_cartesian, extract_features
from attrmer.config import Params, load_params
from attrmer.report import parse_exp_show, write_report
from attrmer.report.records import baseline_names, baseline_title
from stages import baselines as stage
from tests.test_baselines_stage import _stage_args, _write_fixture

REPORT_FIXTURE = Path(__file__).parent / "fixtures" / "report" / "exp_show.json"


def test_sparse_mdmo_learns_its_dictionary_on_training_clips_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _write_fixture(tmp_path, "holdout")
    seen: list[np.ndarray] = []
    fit = sparse_mdmo.GraphSparseCoder.fit

    def recording_fit(self: sparse_mdmo.GraphSparseCoder, X: np.ndarray,
                      y: np.ndarray | None = None) -> sparse_mdmo.GraphSparseCoder:
        seen.append(np.array(X))
        return fit(self, X, y)

    monkeypatch.setattr(sparse_mdmo.GraphSparseCoder, "fit", recording_fit)
    assert stage.main(_stage_args("sparse_mdmo", paths)) == 0

    manifest = pd.read_csv(paths["manifest"])
    test_keys = [k for k in manifest.loc[manifest["split"] == "test", "key"] if k != "s6/c3"]
    train_keys = list(manifest.loc[manifest["split"].isin(["train", "val"]), "key"])
    params = load_params(paths["params"])
    test_rows = _polar_to_cartesian(
        extract_features("sparse_mdmo", params, paths["flow"], test_keys).astype(np.float64))
    # The C grid's inner splits, then the fold's own fit on all its training clips.
    assert len(seen) > 1
    assert len(seen[-1]) == len(train_keys) == 16
    assert all(len(x) < len(train_keys) for x in seen[:-1])
    for matrix in seen:
        distances = np.abs(matrix[:, None, :] - test_rows[None, :, :]).max(axis=2)
        assert distances.min() > 1e-6  # no test clip among the rows a dictionary was learnt on


def test_fdm_runs_every_loso_fold(tmp_path: Path) -> None:
    paths = _write_fixture(tmp_path, "loso")
    assert stage.main(_stage_args("fdm", paths)) == 0
    predictions = pd.read_csv(paths["out"] / "fdm" / "predictions.csv")
    assert len(predictions) == 23 and predictions["key"].is_unique
    summary = json.loads((paths["out"] / "fdm.json").read_text())
    assert summary["n_folds"] == 6
    assert set(summary["svm_c"]) == {f"fold{i}" for i in range(6)}


def test_every_baseline_has_a_title_a_config_section_and_one_runner() -> None:
    from attrmer.baselines.deep.run import DEEP_BASELINES

    params = Params()
    assert set(BASELINES) | set(DEEP_BASELINES) == set(TITLES)
    assert not set(BASELINES) & set(DEEP_BASELINES)
    assert tuple(DEEP_BASELINES) == DEEP
    for name, title in TITLES.items():
        assert baseline_title(name) == f"{title} (baseline)"
        assert hasattr(params.baselines, name)
    for name, baseline in BASELINES.items():
        assert baseline.svm_c(params) == getattr(params.baselines, name).svm_c


def _with_baselines(names: list[str]) -> list[dict]:
    """The report fixture's workspace entry alone, with a metrics file for each name."""
    entry = copy.deepcopy(json.loads(REPORT_FIXTURE.read_text())[0])
    template = entry["data"]["metrics"]["metrics/baselines/lbptop.json"]
    for k, name in enumerate(names):
        metrics = copy.deepcopy(template)
        metrics["data"]["accuracy"]["mean"] = 0.40 + k / 100
        entry["data"]["metrics"][f"metrics/baselines/{name}.json"] = metrics
    entry["experiments"] = None
    return [entry]


def test_table3_lists_every_baseline_present_beside_the_copied_figures(tmp_path: Path) -> None:
    exp_show = _with_baselines(["sparse_mdmo", "hog", "fdm"])
    records, _ = parse_exp_show(exp_show)
    (record,) = records
    # Registry order first, then what the registry does not know, by name.
    assert list(record.baselines) == ["lbptop", "mdmo", "fdm", "sparse_mdmo", "hog"]
    assert baseline_names({"metrics/baselines/fdm.json": {}, "metrics/summary.json": {},
                           "metrics/baselines/fdm/predictions.csv": {}}) == ["fdm"]
    tables = write_report(records, tmp_path / "reports").read_text()
    table3 = tables.split("## Table III")[1].split("## Table IV")[0]
    # Each row says how closely it follows its source; one the registry does not know, so.
    for name, title in (("lbptop", "LBP-TOP"), ("mdmo", "MDMO"), ("fdm", "FDM"),
                        ("sparse_mdmo", "Sparse MDMO")):
        kind, differs = FIDELITY[name]
        assert f"| {title} (baseline) | {kind}: {differs} | `workspace` |" in table3
    assert "| hog (baseline) | not described | `workspace` |" in table3
    assert "| FDM (baseline) | faithful: " in table3 and "| `workspace` | 42.00 ± 0.00 |" in table3
    # The paper's figures for the methods it compares with, marked as copied.
    assert ("| CASME II | FDM (copied by the paper) | — | arXiv:2205.14643 (v1, 29 May 2022), "
            "Table III; from Xu, Zhang, Wang") in table3
    for figure in ("40.03 ± 2.33", "34.62 ± 2.54", "64.46 ± 3.64", "60.07 ± 4.32",
                   "70.44 ± 3.25", "69.46 ± 4.01"):
        assert figure in table3
    assert "| MMEW | TLCNN (copied by the paper) |" in table3
    assert "copied by the paper” are the figures the paper gives" in table3


def test_table3_says_how_each_kind_of_baseline_was_selected(tmp_path: Path) -> None:
    records, _ = parse_exp_show(_with_baselines(["mdmo", "elrcn", "netab", "tlcnn"]))
    assert list(records[0].baselines) == ["lbptop", "mdmo", "elrcn", "netab", "tlcnn"]
    table3 = write_report(records, tmp_path / "reports").read_text().split("## Table IV")[0]
    rows = {line.split(" | ")[1]: line for line in table3.splitlines()
            if "(baseline) |" in line}
    for name in ("ELRCN", "NetAB", "TLCNN"):
        assert rows[f"{name} (baseline)"].rstrip(" |").endswith(
            "the epoch of best UF1 on the validation subjects")
    assert rows["MDMO (baseline)"].rstrip(" |").endswith(
        "SVM C by cross-validation on the training subjects")


def test_a_baseline_measured_on_another_split_is_left_out_and_named(tmp_path: Path) -> None:
    exp_show = _with_baselines(["elrcn"])
    metrics = exp_show[0]["data"]["metrics"]
    metrics["metrics/baselines/elrcn.json"]["data"]["n_test"] = 999
    records, _ = parse_exp_show(exp_show)
    tables = write_report(records, tmp_path / "reports").read_text()
    table3 = tables.split("## Table III")[1].split("## Table IV")[0]
    assert "| ELRCN (baseline) |" not in table3 and "| MDMO (baseline) |" in table3
    assert ("ELRCN (baseline) in `workspace` was measured on another split (n_test 999, not"
            in table3)


def test_every_baseline_says_how_closely_it_follows_its_source() -> None:
    assert set(FIDELITY) == set(TITLES)
    for name, (kind, differs) in FIDELITY.items():
        assert kind in ("faithful", "reduced", "from an outline"), name
        assert differs, f"{name}: what differs from the source is not said"
