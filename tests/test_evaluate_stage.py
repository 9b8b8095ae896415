"""The five-seed summary and the `evaluate` stage on small prediction files written here."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn import metrics as sk

from attrmer.evaluate.summary import read_predictions, summarize_runs, write_summary
from attrmer.report import flatten
from stages import evaluate as evaluate_stage

CLASSES = ("happiness", "disgust", "repression", "surprise", "sadness")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_predictions(path: Path, y_true, y_pred, *, folds=None, classes=CLASSES) -> Path:
    """A predictions CSV in the training stage's format (one-hot probabilities)."""
    folds = folds if folds is not None else ["holdout"] * len(y_true)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "subject", "fold", "y_true", "y_pred",
                         *(f"prob_{c}" for c in classes)])
        for i, (t, p, f) in enumerate(zip(y_true, y_pred, folds, strict=True)):
            probs = [1.0 if k == p else 0.0 for k in range(len(classes))]
            writer.writerow([f"clip{i:03d}", f"sub{i % 4:02d}", f, t, p, *probs])
    return path


def seed_predictions(seed: int, n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # Class 4 ("sadness") never occurs in the test set, as with a rare class in a small split.
    y_true = np.arange(n) % 4
    y_pred = np.where(rng.random(n) < 0.6 + 0.05 * seed, y_true, rng.integers(0, 5, n))
    return y_true, y_pred


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "metrics" / "seeds"
    directory.mkdir(parents=True)
    for seed in range(3):
        write_predictions(directory / f"seed_{seed}_predictions.csv", *seed_predictions(seed))
        (directory / f"seed_{seed}.json").write_text(json.dumps({"seed": seed}))
    return directory


def test_summary_has_scalar_leaves_with_the_documented_names(seed_dir: Path) -> None:
    paths = sorted(seed_dir.glob("seed_*_predictions.csv"))
    flat = flatten(summarize_runs(paths))
    expected = {
        "accuracy.mean", "accuracy.std", "uf1.mean", "uf1.std", "uar.mean", "uar.std",
        "recall.happiness.mean", "recall.disgust.mean", "recall.repression.mean",
        "recall.surprise.mean", "n_seeds", "n_test", "n_folds", "n_classes",
    }
    assert set(flat) == expected  # no recall for "sadness": it has no test sample
    assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in flat.values())
    assert flat["n_seeds"] == 3 and flat["n_test"] == 30 and flat["n_folds"] == 1
    assert flat["n_classes"] == 5


def test_summary_is_mean_and_sample_std_of_per_seed_sklearn_scores(seed_dir: Path) -> None:
    paths = sorted(seed_dir.glob("seed_*_predictions.csv"))
    summary = summarize_runs(paths)
    runs = [seed_predictions(s) for s in range(3)]
    f1 = [sk.f1_score(t, p, average="macro") for t, p in runs]
    recall = [sk.recall_score(t, p, average="macro", labels=[0, 1, 2, 3]) for t, p in runs]
    acc = [sk.accuracy_score(t, p) for t, p in runs]
    assert summary["uf1"]["mean"] == pytest.approx(np.mean(f1), abs=1e-6)
    assert summary["uf1"]["std"] == pytest.approx(np.std(f1, ddof=1), abs=1e-6)
    assert summary["uar"]["mean"] == pytest.approx(np.mean(recall), abs=1e-6)
    assert summary["accuracy"]["mean"] == pytest.approx(np.mean(acc), abs=1e-6)
    assert summary["accuracy"]["std"] == pytest.approx(np.std(acc, ddof=1), abs=1e-6)
    happiness = [sk.recall_score(t, p, labels=[0], average=None)[0] for t, p in runs]
    assert summary["recall"]["happiness"]["mean"] == pytest.approx(np.mean(happiness), abs=1e-6)


def test_loso_scores_pool_all_folds_of_a_seed(tmp_path: Path) -> None:
    # Two folds; per-fold UF1 averaged would differ from the pooled UF1 (the MEGC convention).
    y_true = [0, 0, 1, 1, 2, 0, 1, 2]
    y_pred = [0, 1, 1, 1, 2, 0, 0, 0]
    folds = ["fold0"] * 5 + ["fold1"] * 3
    path = write_predictions(tmp_path / "seed_0_predictions.csv", y_true, y_pred, folds=folds)
    summary = summarize_runs([path])
    assert summary["uf1"]["mean"] == pytest.approx(sk.f1_score(y_true, y_pred, average="macro"),
                                                   abs=1e-6)
    assert summary["n_folds"] == 2 and summary["n_test"] == 8
    assert summary["uf1"]["std"] == 0.0  # one seed: no spread


def test_write_summary_writes_json_dvc_confusion_rows_and_png(seed_dir: Path,
                                                              tmp_path: Path) -> None:
    paths = sorted(seed_dir.glob("seed_*_predictions.csv"))
    out = tmp_path / "out"
    summary = write_summary(paths, out / "summary.json", out / "confusion.csv",
                            out / "confusion.png", title="test data")
    assert json.loads((out / "summary.json").read_text()) == summary
    with (out / "confusion.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 * 30
    assert set(rows[0]) == {"actual", "predicted"}
    assert {r["actual"] for r in rows} <= set(CLASSES)
    truth, predicted = seed_predictions(0)
    assert [r["actual"] for r in rows[:30]] == [CLASSES[i] for i in truth]
    assert [r["predicted"] for r in rows[:30]] == [CLASSES[i] for i in predicted]
    assert (out / "confusion.png").read_bytes().startswith(PNG_SIGNATURE)


def params_file(tmp_path: Path, seeds: list[int]) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"train": {"seeds": seeds}}))
    return path


def test_stage_main_writes_declared_outputs(seed_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "metrics"
    code = evaluate_stage.main([
        "--params", str(params_file(tmp_path, [0, 1, 2])), "--predictions", str(seed_dir),
        "--summary", str(out / "summary.json"), "--confusion", str(out / "confusion.csv"),
        "--png", str(out / "confusion.png"),
    ])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_seeds"] == 3
    assert (out / "confusion.csv").read_text().startswith("actual,predicted\n")
    assert (out / "confusion.png").read_bytes().startswith(PNG_SIGNATURE)
    # Written beside the summary unless named: the per-seed scores and the calibration.
    assert set(json.loads((out / "summary_by_seed.json").read_text())["accuracy"]) == \
        {"0", "1", "2"}
    assert (out / "reliability.png").read_bytes().startswith(PNG_SIGNATURE)
    assert json.loads((out / "calibration.json").read_text())["temperature"]["0"] == 1.0
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_stage_uses_only_the_seeds_in_params(seed_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    evaluate_stage.main(["--params", str(params_file(tmp_path, [2, 0])), "--predictions",
                         str(seed_dir), "--summary", str(out), "--confusion",
                         str(tmp_path / "c.csv"), "--png", str(tmp_path / "c.png")])
    assert json.loads(out.read_text())["n_seeds"] == 2


def test_stage_names_a_missing_seed_file(seed_dir: Path, tmp_path: Path, capsys) -> None:
    assert evaluate_stage.main(["--params", str(params_file(tmp_path, [0, 7])),
                                "--predictions", str(seed_dir),
                                "--summary", str(tmp_path / "s.json")]) == 1
    assert "seed_7_predictions.csv" in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()


def test_bad_prediction_files_are_refused_naming_file_and_row(tmp_path: Path) -> None:
    bad_label = write_predictions(tmp_path / "a.csv", [0, 1, 9], [0, 1, 1])
    with pytest.raises(ValueError, match=r"a\.csv: row 4: y_true = 9 is not a class index"):
        read_predictions(bad_label)
    no_probs = tmp_path / "b.csv"
    no_probs.write_text("key,subject,fold,y_true,y_pred\nc1,s1,holdout,0,0\n")
    with pytest.raises(ValueError, match=r"b\.csv: needs one prob_<class> column"):
        read_predictions(no_probs)
    missing = tmp_path / "c.csv"
    missing.write_text("key,subject,y_true,y_pred,prob_a,prob_b\nc1,s1,0,0,1,0\n")
    with pytest.raises(ValueError, match=r"c\.csv: missing column\(s\) fold"):
        read_predictions(missing)


def test_seeds_with_different_class_sets_are_refused(tmp_path: Path) -> None:
    first = write_predictions(tmp_path / "seed_0.csv", [0, 1], [0, 1])
    other = write_predictions(tmp_path / "seed_1.csv", [0, 1], [0, 1], classes=("a", "b"))
    with pytest.raises(ValueError, match=r"classes .* differ"):
        summarize_runs([first, other])


def test_per_seed_scores_are_written_under_their_seed_numbers(seed_dir: Path,
                                                              tmp_path: Path) -> None:
    seeds = [0, 1, 2]
    paths = [seed_dir / f"seed_{s}_predictions.csv" for s in seeds]
    by_seed = tmp_path / "by_seed.json"
    write_summary(paths, tmp_path / "summary.json", seeds=[7, 8, 9], by_seed_path=by_seed)
    scores = json.loads(by_seed.read_text())
    assert set(scores) == {"accuracy", "uf1", "uar"}
    assert set(scores["accuracy"]) == {"7", "8", "9"}  # keys, so DVC keeps them as metrics
    for seed, (y_true, y_pred) in zip(["7", "8", "9"], map(seed_predictions, seeds),
                                      strict=True):
        assert scores["accuracy"][seed] == pytest.approx(sk.accuracy_score(y_true, y_pred),
                                                         abs=1e-6)


def test_reliability_diagram_of_validation_and_test(seed_dir: Path, tmp_path: Path) -> None:
    from matplotlib import image

    from attrmer.evaluate.reliability import write_reliability

    for seed in range(3):
        write_predictions(seed_dir / f"seed_{seed}_validation.csv", *seed_predictions(2 - seed))
        (seed_dir / f"seed_{seed}.json").write_text(json.dumps({"temperature": 20.0 + seed}))
    png, numbers = tmp_path / "reliability.png", tmp_path / "calibration.json"
    summary = write_reliability(seed_dir, [0, 1, 2], png, numbers)
    assert summary == json.loads(numbers.read_text())
    assert summary["temperature"] == {"0": 20.0, "1": 21.0, "2": 22.0}
    assert set(summary["ece"]) == {"validation", "test"}
    for side in summary["ece"].values():
        assert set(side) == {"raw", "calibrated"}
        # One-hot probabilities are as sure as can be: softening them lowers the error.
        assert side["calibrated"] < side["raw"]
    assert image.imread(png).shape[1] > image.imread(png).shape[0]  # two panels side by side


def test_per_seed_scores_carry_the_validation_accuracy(seed_dir: Path, tmp_path: Path) -> None:
    y_true, y_pred = seed_predictions(5, n=10)
    write_predictions(seed_dir / "seed_1_validation.csv", y_true, y_pred)
    paths = [seed_dir / f"seed_{s}_predictions.csv" for s in range(3)]
    by_seed = tmp_path / "by_seed.json"
    write_summary(paths, tmp_path / "summary.json", seeds=[0, 1, 2], by_seed_path=by_seed)
    scores = json.loads(by_seed.read_text())
    # Only seed 1 has validation predictions here.
    assert scores["val_accuracy"] == {"1": pytest.approx(sk.accuracy_score(y_true, y_pred))}


def test_under_loso_only_the_saved_models_fold_is_calibrated(tmp_path: Path) -> None:
    from attrmer.evaluate.reliability import calibration_report

    y_true, y_pred = seed_predictions(0, n=20)
    folds = ["fold0"] * 12 + ["fold1"] * 8
    write_predictions(tmp_path / "seed_0_predictions.csv", y_true, y_pred, folds=folds)
    (tmp_path / "seed_0.json").write_text(json.dumps(
        {"temperature": 2.0, "folds": {"fold0": {}, "fold1": {}}}))
    report = calibration_report(tmp_path, [0])
    for kind in ("raw", "calibrated"):
        bins, _ = report["panels"]["test"][kind]
        assert sum(n for _, _, n in bins) == 8  # fold1's clips: its model was saved
