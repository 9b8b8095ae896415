"""Several datasets read as one: the MEGC 2019 composite (442 clips), other composites, the
leave-one-dataset-out split and its train-on-A / test-on-B form; SAMM v2's counts and the
sheet errors that name the file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attrmer.attributes import NO_AU_SENTENCE, build_attributes
from attrmer.config import AttributesConfig, ConfigError, Params, SplitConfig
from attrmer.datasets import DatasetError, get_adapter
from attrmer.datasets.composite import Member
from attrmer.datasets.fingerprint import dataset_fingerprint
from attrmer.datasets.prepare import build_composite_manifest, build_manifest, prepare_dataset
from attrmer.evaluate.summary import (
    evaluate_seeds,
    protocol_label,
    read_predictions,
    summarize_runs,
)
from attrmer.manifest import read_manifest, usable
from tests.fixtures.datasets.builders import (
    CASME2_MEGC_COUNTS,
    SAMM_MEGC_COUNTS,
    SAMM_V2_EMOTIONS,
    SMIC_HS_COUNTS,
    samm,
    samm_v2,
    shared_casme2_2014,
    smic,
    write_casme2,
)


@pytest.fixture(scope="module")
def megc_roots(tmp_path_factory) -> dict[str, str]:
    """SMIC-HS, CASME II (2014 sheet) and SAMM v2 trees as delivered, in their full sizes."""
    base = tmp_path_factory.mktemp("megc")
    smic(base / "SMIC")
    samm_v2(base / "SAMM")
    return {"smic": str(base / "SMIC"), "casme2": str(shared_casme2_2014()),
            "samm": str(base / "SAMM")}


def _params(data: dict, split: dict | None = None) -> Params:
    return Params.from_dict({"data": data, "split": split or {}})


# -- SAMM v2 on its own --------------------------------------------------------------------


def test_samm_v2_sheet_counts(megc_roots):
    adapter = get_adapter("samm", megc_roots["samm"])
    manifest, _ = build_manifest(adapter, "all", Params().split)
    assert len(manifest) == 159 and manifest["subject"].nunique() == 29
    assert (manifest["status"] == "ok").all()
    assert manifest["emotion"].value_counts().to_dict() == {
        e.lower(): n for e, n in SAMM_V2_EMOTIONS.items()}
    # Two apexes before their onset become the middle frame.
    assert manifest["reason"].str.contains("before onset").sum() == 2
    megc, _ = build_manifest(adapter, "megc2019", Params().split)
    ok = usable(megc)
    assert ok["class_name"].value_counts().to_dict() == SAMM_MEGC_COUNTS
    assert ok["subject"].nunique() == 28
    # Flagged AU cells keep their action units in the sentences, flags beside them.
    sentences = build_attributes(manifest, AttributesConfig()).set_index("key")
    cells = manifest.set_index("key")["action_units"]
    referenced = sentences.loc[cells[cells == "ref(L10)+A12B"].index]
    assert len(referenced) == 20
    assert set(referenced["sentence"]) == {"left upper lip raiser, lip corner puller"}
    assert set(referenced["flag"]) == {"reference:ref(L10); unknown-prefix:A12B"}
    doubted = sentences.loc[cells[cells == "12?"].index]
    assert set(doubted["sentence"]) == {"lip corner puller"}
    assert NO_AU_SENTENCE not in set(sentences["sentence"])
    assert '"flag":"reference"' in manifest.set_index("key").loc[referenced.index[0], "aus"]


def test_samm_subject_that_is_not_a_number(tmp_path):
    rows = [[6, "006_1_2", "1", 10, 12, 14, 5, "Micro", "12", "Anger", "I", ""],
            ["six", "006_1_3", "1", 20, 22, 24, 5, "Micro", "12", "Anger", "I", ""],
            [7, "007_1_1", "1", 20, 22, 24, 5, "Micro", "12", "Anger", "I", ""]]
    samm(tmp_path, [r for r in rows if r[0] != "six"])
    samm(tmp_path, rows, frames=False)  # the sheet with the bad row, frames of the others
    manifest = build_manifest(get_adapter("samm", tmp_path), "all", Params().split)[0]
    bad = manifest.set_index("key").loc["six/006_1_3"]
    assert bad["status"] == "failed"
    # The header is on row 14: the second row below it is sheet row 16.
    assert bad["reason"] == ("sheet row 16: Subject 'six' is not a number (SAMM numbers its "
                             "subjects: 6 -> frame folder 006); correct the cell")


def test_text_file_named_xlsx(tmp_path):
    sheet = tmp_path / "CASME2-coding-20140508.xlsx"
    sheet.write_text("Subject,Filename,OnsetFrame\n1,EP02_01f,46\n")
    with pytest.raises(DatasetError) as error:
        build_manifest(get_adapter("casme2", tmp_path), "paper", Params().split)
    message = str(error.value)
    assert message.startswith(f"{sheet}: cannot read it as a spreadsheet: it is a text file")
    assert "save it as an Excel workbook (.xlsx)" in message
    assert "\n" not in message and "engine" not in message


# -- the MEGC 2019 composite ---------------------------------------------------------------


def test_megc2019_composite_gives_442_clips(megc_roots, tmp_path, capsys):
    params = _params({"name": "megc2019", "roots": megc_roots, "classes": "megc2019"},
                     {"protocol": "loso"})
    manifest = prepare_dataset(params, tmp_path)
    assert manifest.equals(read_manifest(tmp_path / "manifest.csv"))
    ok = usable(manifest)
    assert len(ok) == 442
    per_dataset = ok.groupby("dataset", sort=False)
    assert per_dataset.size().to_dict() == {"smic": 164, "casme2": 145, "samm": 133}
    for name, counts in (("smic", SMIC_HS_COUNTS), ("casme2", CASME2_MEGC_COUNTS),
                         ("samm", SAMM_MEGC_COUNTS)):
        of_dataset = ok[ok["dataset"] == name]
        assert of_dataset["class_name"].value_counts().to_dict() == counts, name
    assert per_dataset["subject"].nunique().to_dict() == {"smic": 16, "casme2": 24, "samm": 28}
    # Subjects and keys carry their dataset: 68 subjects, 68 LOSO folds, none shared.
    assert ok["subject"].nunique() == 68 and ok["split"].nunique() == 68
    assert ok.groupby("split")["subject"].nunique().max() == 1
    assert (ok["subject"].str.split("/").str[0] == ok["dataset"]).all()
    assert all(k.startswith(f"{s}/") for k, s in zip(ok["key"], ok["subject"], strict=True))
    assert {"casme2/sub01/EP01_01f", "samm/006/006_1_1", "smic/s01/s01_ne_01"} <= set(ok["key"])
    assert manifest.loc[manifest["dataset"] == "casme2"].shape[0] == 255
    assert manifest.loc[manifest["dataset"] == "samm"].shape[0] == 159
    assert list(ok["class_name"].drop_duplicates()) == ["negative", "positive", "surprise"]

    summary = (tmp_path / "summary.txt").read_text()
    assert capsys.readouterr().out == summary
    assert summary.startswith("dataset   megc2019: smic, casme2, samm\n")
    assert "split     loso (68 folds)" in summary
    assert "rows      578: ok 442, excluded 136, failed 0" in summary
    table = summary.split("usable clips per dataset\n")[1].split("\n\n")[0].splitlines()
    assert [line.split() for line in table] == [
        ["dataset", "subjects", "negative", "positive", "surprise", "total"],
        ["smic", "16", "70", "51", "43", "164"],
        ["casme2", "24", "88", "32", "25", "145"],
        ["samm", "28", "92", "26", "15", "133"],
        ["total", "68", "250", "109", "83", "442"],
    ]
    # The two CASME II clips left out for their apex are listed with their reason.
    assert re.search(r"\n  casme2/sub04/EP12_01f +excluded  apex '/' not annotated", summary)


def test_megc2019_checks_its_roots_and_classes(megc_roots):
    roots = dict(megc_roots)
    del roots["samm"]
    with pytest.raises(ConfigError, match=r"^data.roots: megc2019 reads exactly smic, casme2, "
                                          "samm"):
        _params({"name": "megc2019", "roots": roots})
    with pytest.raises(ConfigError, match=r"^data.classes: megc2019 has MEGC's three classes"):
        _params({"name": "megc2019", "roots": megc_roots, "classes": "all"})
    with pytest.raises(ConfigError, match=r"^data.roots: only read for a composite"):
        _params({"name": "casme2", "roots": megc_roots})
    with pytest.raises(ConfigError, match=r"^split.protocol: lodo leaves one dataset out"):
        _params({"name": "casme2"}, {"protocol": "lodo"})
    with pytest.raises(ConfigError, match=r"^split.test_datasets: 'mmew' is not a dataset"):
        _params({"name": "megc2019", "roots": megc_roots},
                {"protocol": "lodo", "test_datasets": ["mmew"]})
    with pytest.raises(ConfigError, match=r"^data.roots.smic: expected a string"):
        _params({"name": "megc2019", "roots": megc_roots | {"smic": 3}})


# -- leave one dataset out -----------------------------------------------------------------


def test_lodo_one_fold_per_dataset(megc_roots, tmp_path):
    params = _params({"name": "megc2019", "roots": megc_roots}, {"protocol": "lodo"})
    ok = usable(prepare_dataset(params, tmp_path))
    assert ok.groupby("dataset", sort=False)["split"].unique().map(list).to_dict() == {
        "smic": ["fold0"], "casme2": ["fold1"], "samm": ["fold2"]}
    summary = (tmp_path / "summary.txt").read_text()
    assert "split     lodo (3 folds: fold0 tests smic, fold1 tests casme2, fold2 tests samm)" \
        in summary
    table = summary.split("usable clips per dataset\n")[1].split("\n\n")[0].splitlines()
    assert table[1].split() == ["smic", "fold0", "16", "70", "51", "43", "164"]


def test_train_on_one_dataset_test_on_another(megc_roots, tmp_path, capsys):
    params = _params({"name": "composite", "classes": "megc2019",
                      "roots": {"casme2": megc_roots["casme2"], "samm": megc_roots["samm"]}},
                     {"protocol": "lodo", "test_datasets": ["samm"]})
    ok = usable(prepare_dataset(params, tmp_path))
    assert ok.groupby("dataset")["split"].unique().map(list).to_dict() == {
        "casme2": ["train"], "samm": ["fold0"]}
    assert len(ok) == 145 + 133
    assert "lodo (1 fold: fold0 tests samm; trained on only: casme2)" in capsys.readouterr().out


def test_composite_needs_one_class_list(megc_roots, tmp_path):
    params = _params({"name": "composite", "classes": "paper",
                      "roots": {"casme2": megc_roots["casme2"], "samm": megc_roots["samm"]}})
    with pytest.raises(DatasetError) as error:
        prepare_dataset(params, tmp_path)
    message = str(error.value)
    assert message.startswith("data.classes: 'paper' gives casme2 the classes happiness, ")
    assert "but samm anger, contempt, happiness, surprise, other" in message
    assert not (tmp_path / "manifest.csv").exists()


def test_two_copies_of_one_dataset_stay_apart(tmp_path):
    def rows(subjects):
        return [{"Subject": s, "Filename": f"EP0{i}", "OnsetFrame": 10, "ApexFrame": 12,
                 "OffsetFrame": 14, "Action Units": "12", "Estimated Emotion": emotion}
                for s in subjects for i, emotion in enumerate(["happiness", "surprise"])]

    write_casme2(tmp_path / "a", rows([1, 2]))
    write_casme2(tmp_path / "b", rows([1, 2, 3]))
    data = {"name": "composite", "classes": ["happiness", "surprise"],
            "roots": {"take1": str(tmp_path / "a"), "take2": str(tmp_path / "b")},
            "adapters": {"take1": "casme2", "take2": "casme2"}}
    manifest = prepare_dataset(_params(data, {"protocol": "loso"}), tmp_path / "interim")
    assert manifest["subject"].nunique() == 5 and manifest["split"].nunique() == 5
    assert list(manifest["key"][:2]) == ["take1/sub01/EP00", "take1/sub01/EP01"]
    record = dataset_fingerprint(_params(data).data)
    assert record["dataset"] == "composite" and list(record["datasets"]) == ["take1", "take2"]
    assert record["datasets"]["take2"]["frame_files"] == 3 * 2 * 5
    with pytest.raises(ConfigError, match=r"^data.roots.take1: 'take1' is not a dataset adapter"):
        _params({**data, "adapters": {}})
    with pytest.raises(ConfigError, match=r"^data.adapters.take3: not a name of data.roots"):
        _params({**data, "adapters": {**data["adapters"], "take3": "casme2"}})


def _casme2_rows(subjects: list[int]) -> list[dict]:
    return [{"Subject": s, "Filename": f"EP0{i}", "OnsetFrame": 10, "ApexFrame": 12,
             "OffsetFrame": 14, "Action Units": "12", "Estimated Emotion": emotion}
            for s in subjects for i, emotion in enumerate(["happiness", "surprise"])]


def _casme2_members(tmp_path: Path, first: list[dict], second: list[dict], *,
                    second_frames: str | None = "raw") -> list[Member]:
    write_casme2(tmp_path / "a", first)
    write_casme2(tmp_path / "b", second, frames=second_frames)
    return [Member("take1", get_adapter("casme2", tmp_path / "a")),
            Member("take2", get_adapter("casme2", tmp_path / "b"))]


def test_a_repeated_row_of_a_composite_is_named_with_its_dataset(tmp_path):
    rows = _casme2_rows([1, 2])
    members = _casme2_members(tmp_path, [*rows, rows[0]], _casme2_rows([1, 2]))
    manifest, _ = build_composite_manifest(members, ["happiness", "surprise"], SplitConfig())
    repeated = manifest.iloc[4]
    assert repeated["key"] == "take1/sub01/EP00#2"
    assert repeated["reason"] == "take1/sub01/EP00 repeats an earlier row; kept as " \
                                 "take1/sub01/EP00#2"
    assert manifest["key"].is_unique


def test_lodo_test_datasets_are_checked_before_the_split(tmp_path):
    classes = ["happiness", "surprise"]
    members = _casme2_members(tmp_path, _casme2_rows([1, 2]), _casme2_rows([1, 2]),
                              second_frames=None)
    with pytest.raises(DatasetError) as error:
        build_composite_manifest(members, classes,
                                 SplitConfig(protocol="lodo", test_datasets=["take3"]))
    assert str(error.value) == ("split.test_datasets: 'take3' is not a dataset of the composite "
                                "(its datasets: take1, take2)")
    # take2 has no usable clip: the error says why, not only that lodo cannot test it.
    with pytest.raises(DatasetError) as error:
        build_composite_manifest(members, classes,
                                 SplitConfig(protocol="lodo", test_datasets=["take2"]))
    sheet = tmp_path / "b" / "CASME2-coding-20140508.xlsx"
    assert str(error.value).startswith(f"{sheet.as_posix()}: no usable clip among 4 rows "
                                       "(most common: frames missing (4 rows)); no frame folder")


def test_megc2019_fingerprint_covers_every_dataset(megc_roots):
    record = dataset_fingerprint(_params({"name": "megc2019", "roots": megc_roots}).data)
    smic_record = record["datasets"]["smic"]
    assert smic_record["sheet"] is None and smic_record["frame_files"] == 164 * 5
    assert record["datasets"]["samm"]["sheet"] == "SAMM_Micro_FACS_Codes_v2.xlsx"


# -- the evaluate summary, per dataset -----------------------------------------------------


def _predictions(path: Path, rows: list[tuple[str, str, int, int]]) -> Path:
    frame = pd.DataFrame(rows, columns=["subject", "fold", "y_true", "y_pred"])
    frame.insert(0, "key", frame["subject"] + "/clip" + frame.index.astype(str))
    for k, name in enumerate(("negative", "positive", "surprise")):
        frame[f"prob_{name}"] = (frame["y_pred"] == k).astype(float)
    frame.to_csv(path, index=False)
    return path


def test_summary_scores_each_dataset_of_a_composite(tmp_path):
    rows = [("smic/s01", "fold0", 0, 0), ("smic/s02", "fold0", 1, 1), ("smic/s02", "fold0", 2, 0),
            ("samm/006", "fold1", 0, 0), ("samm/007", "fold1", 1, 0), ("samm/007", "fold1", 0, 0)]
    first = _predictions(tmp_path / "a.csv", rows)
    second = _predictions(tmp_path / "b.csv", [(*r[:3], r[2]) for r in rows])
    summary = summarize_runs([first, second])
    smic_scores, samm_scores = summary["datasets"]["smic"], summary["datasets"]["samm"]
    assert list(summary["datasets"]) == ["smic", "samm"]
    assert smic_scores["n_test"] == 3 and samm_scores["n_test"] == 3
    # smic, run a: F1 negative 2/3, positive 1, surprise 0 -> 5/9; recalls 1, 1, 0 -> 2/3.
    assert smic_scores["uf1"]["mean"] == pytest.approx((5 / 9 + 1) / 2, abs=1e-6)
    assert smic_scores["uar"]["mean"] == pytest.approx((2 / 3 + 1) / 2, abs=1e-6)
    # samm, run a: negative F1 4/5, positive 0 (surprise neither true nor predicted).
    assert samm_scores["uf1"]["mean"] == pytest.approx((0.4 + 1) / 2, abs=1e-6)
    assert samm_scores["accuracy"]["std"] == pytest.approx(np.std([2 / 3, 1], ddof=1), abs=1e-6)
    assert protocol_label([read_predictions(first)]) == "leave one dataset out, 2 folds pooled"
    json.dumps(summary)  # scalar leaves only, as DVC reads them


def test_summary_of_one_dataset_has_no_per_dataset_scores(tmp_path):
    path = _predictions(tmp_path / "p.csv", [("sub01", "fold0", 0, 0), ("sub02", "fold1", 1, 0)])
    assert "datasets" not in summarize_runs([path])
    assert protocol_label([read_predictions(path)]) == "LOSO, 2 folds pooled"


def test_evaluate_names_the_configured_protocol(tmp_path, monkeypatch):
    # Train on CASME II, test on SAMM, whose one subject makes the fold look like LOSO's.
    path = _predictions(tmp_path / "seed_0_predictions.csv",
                        [("samm/006", "fold0", 0, 0), ("samm/006", "fold0", 1, 0)])
    assert protocol_label([read_predictions(path)]) == "LOSO, 1 fold pooled"
    assert protocol_label([read_predictions(path)], "lodo") == \
        "leave one dataset out, 1 fold pooled"
    titles = []
    monkeypatch.setattr("attrmer.evaluate.plots.plot_confusion",
                        lambda matrix, classes, png, *, title: titles.append(title))
    params = Params.from_dict({
        "data": {"name": "composite", "classes": "megc2019",
                 "roots": {"casme2": "/d/CASME2", "samm": "/d/SAMM"}},
        "split": {"protocol": "lodo", "test_datasets": ["samm"]}, "train": {"seeds": [0]}})
    evaluate_seeds(params, tmp_path, tmp_path / "summary.json",
                   confusion_png_path=tmp_path / "confusion.png")
    assert titles == ["CASME II + SAMM, classes: megc2019\n"
                      "leave one dataset out, 1 fold pooled, summed over 1 run"]


def test_baselines_train_on_every_other_dataset_under_lodo():
    from attrmer.baselines.run import baseline_folds

    rows = pd.DataFrame({"split": ["fold0", "fold0", "train", "train", "fold1", "fold1"],
                         "label": [0, 1, 0, 1, 0, 1]})
    folds = {f.name: f for f in baseline_folds(rows, "lodo")}
    assert list(folds) == ["fold0", "fold1"]
    assert folds["fold0"].train.tolist() == [False, False, True, True, True, True]
    assert folds["fold0"].test.tolist() == [True, True, False, False, False, False]
    assert folds["fold1"].train.tolist() == [True, True, True, True, False, False]


def test_names_repeated_to_keep_imports_light_agree():
    from attrmer.datasets import composite, synthetic
    from attrmer.evaluate import summary
    from attrmer.synth import render

    # The evaluate stage splits subjects on the separator the composite writes them with.
    assert summary.DATASET_SEPARATOR == composite.SEPARATOR
    # The synthetic adapter reads the frame rate from the file the renderer writes.
    assert synthetic.CORPUS_JSON == render.CORPUS_JSON


def test_config_and_evaluation_name_every_registered_adapter():
    from attrmer.config import COMPOSITES, DATASETS
    from attrmer.datasets import ADAPTERS
    from attrmer.evaluate.summary import DATASET_LABELS

    assert sorted(DATASETS) == sorted(ADAPTERS)
    assert set(DATASET_LABELS) == set(DATASETS) | set(COMPOSITES)
