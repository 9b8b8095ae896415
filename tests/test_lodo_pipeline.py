"""Leave one dataset out, end to end: the built-in corpus rendered twice (two "datasets" of
different frame sizes, seeds and lengths) read as one composite, through every stage's `main`:
prepare, align, interpolate, flow, attributes, train, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from attrmer.config import SynthConfig
from attrmer.manifest import read_manifest, usable
from stages import align, attributes, evaluate, flow, interpolate, prepare, train

CLASSES = ["happiness", "disgust", "surprise"]
# Two renders of the built-in corpus: 240 px frames at 200 fps, and 180 px at 100 fps.
CORPORA = {
    "large": SynthConfig(seed=3, clips=16, frame_height=240, min_frames=12, max_frames=20),
    "small": SynthConfig(seed=4, clips=12, fps=100, frame_height=180, min_frames=10,
                         max_frames=16),
}
TINY = {
    "preprocess": {"size": 32, "frames": 4, "workers": 1},
    "model": {"width": 4, "input_size": 32, "feature_dim": 8},
    "train": {"epochs": 1, "batch_size": 8, "seeds": [0], "attribute_branch": False,
              "amp": "off", "checkpoint_interval_s": 0.0},
}


@pytest.mark.slow
def test_lodo_runs_every_stage_on_two_renders_of_the_builtin_corpus(tmp_path):
    from attrmer.synth import render_corpus

    roots = {}
    for name, cfg in CORPORA.items():
        roots[name] = str(render_corpus(tmp_path / "corpora" / name, cfg, workers=1,
                                        progress=False))
    params = {
        "data": {"name": "composite", "classes": CLASSES, "roots": roots,
                 "adapters": {name: "synthetic" for name in roots}},
        "split": {"protocol": "lodo"},
        **TINY,
    }
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    interim, processed = tmp_path / "data/interim", tmp_path / "data/processed"
    metrics = tmp_path / "metrics"
    common = ["--params", str(params_file)]

    assert prepare.main([*common, "--interim-dir", str(interim)]) == 0
    manifest = read_manifest(interim / "manifest.csv")
    ok = usable(manifest)
    assert ok.groupby("dataset", sort=False)["split"].unique().map(list).to_dict() == {
        "large": ["fold0"], "small": ["fold1"]}
    assert set(ok["class_name"]) == set(CLASSES)
    # The renders share face numbers; prefixed, their subjects never meet in one fold.
    assert ok["subject"].str.match(r"^(large|small)/sub\d\d$").all()
    assert not set(ok.loc[ok["dataset"] == "large", "subject"]) & set(
        ok.loc[ok["dataset"] == "small", "subject"])
    summary = (interim / "summary.txt").read_text()
    assert "split     lodo (2 folds: fold0 tests large, fold1 tests small)" in summary

    manifest_path = str(interim / "manifest.csv")
    assert align.main([*common, "--manifest", manifest_path, "--out",
                       str(processed / "aligned.h5"), "--no-progress"]) == 0
    for stage, name in ((interpolate, "rgb.h5"), (flow, "flow.h5")):
        assert stage.main([*common, "--aligned", str(processed / "aligned.h5"), "--out",
                           str(processed / name), "--no-progress"]) == 0
    assert attributes.main([*common, "--manifest", manifest_path, "--out",
                            str(processed / "attributes.csv")]) == 0
    assert train.main(["--seed", "0", *common, "--root", str(tmp_path), "--no-progress"]) == 0

    predictions = pd.read_csv(metrics / "seeds/seed_0_predictions.csv", dtype=str)
    assert predictions.groupby("fold")["subject"].agg(
        lambda s: sorted({x.split("/")[0] for x in s})).to_dict() == {
        "fold0": ["large"], "fold1": ["small"]}
    assert evaluate.main([*common, "--predictions", str(metrics / "seeds"),
                          "--summary", str(metrics / "summary.json"),
                          "--confusion", str(metrics / "confusion.csv"),
                          "--png", str(metrics / "confusion.png")]) == 0
    result = json.loads((metrics / "summary.json").read_text())
    assert result["n_folds"] == 2 and result["n_test"] == len(predictions)
    assert list(result["datasets"]) == ["large", "small"]
    for name in ("large", "small"):
        scores = result["datasets"][name]
        assert scores["n_test"] == int(predictions["subject"].str.startswith(f"{name}/").sum())
        assert 0.0 <= scores["uf1"]["mean"] <= 1.0 and 0.0 <= scores["uar"]["mean"] <= 1.0
    assert sum(s["n_test"] for s in result["datasets"].values()) == result["n_test"]
    assert (metrics / "confusion.png").stat().st_size > 0
    assert Path(metrics / "summary_by_seed.json").is_file()
