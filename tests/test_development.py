"""The real-face development set: held-out people only, a corpus the casme2 adapter reads, a
measured smile that moves the mouth and cheeks, and subtle smiles as videos."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from attrmer.config import Params
from attrmer.datasets.prepare import prepare_dataset
from attrmer.synth.identities import real_smile_patterns
from attrmer.synth.make_stills import FACES_DIR, _Landmarker
from attrmer.synth.real_stills import REAL_INDEX, development_people, people, training_people

STILLS = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces-stills"
needs_stills = pytest.mark.skipif(not STILLS.is_dir(), reason=f"{STILLS} is absent")


@needs_stills
def test_no_development_person_is_committed_or_lends_a_smile() -> None:
    everyone = people(STILLS)
    held_out = development_people(everyone)
    assert len(held_out) == 20 and all(p.set == "london" and p.smiling for p in held_out)
    committed = {r["still"] for r in json.loads((FACES_DIR / REAL_INDEX).read_text())["faces"]}
    assert committed == {p.still for p in training_people(everyone)}
    assert not committed & {p.still for p in held_out}
    assert not set(real_smile_patterns()) & {p.still for p in held_out}
    assert not any((FACES_DIR / p.still).exists() for p in held_out)


@needs_stills
def test_the_development_corpus_is_read_by_the_casme2_adapter(tmp_path: Path) -> None:
    from attrmer.synth.development import build_development_corpus

    corpus = build_development_corpus(tmp_path / "corpus", STILLS, people_count=2)
    params = Params.from_dict({"data": {"name": "casme2", "root": str(corpus),
                                        "classes": ["happiness", "sadness", "surprise"]},
                               "split": {"test_fraction": 0.5, "validation_fraction": 0.0}})
    manifest = prepare_dataset(params, tmp_path / "interim")
    assert (manifest["status"] == "ok").sum() == 6
    assert sorted(manifest["emotion"]) == ["happiness"] * 2 + ["sadness"] * 2 + ["surprise"] * 2
    truths = json.loads((corpus / "corpus.json").read_text())["clips"]
    assert {t["motion"] for t in truths if t["emotion"] == "happiness"} == {"measured real smile"}
    assert all(0 < t["apex_displacement_aligned_px"] <= 2.0 + 1e-6 for t in truths)


@needs_stills
def test_a_measured_smile_moves_the_lower_face_most(tmp_path: Path) -> None:
    from attrmer.synth.development import load_pair, measured_smile_field, write_smile_video

    person = development_people(people(STILLS))[0]
    pair = load_pair(person, _Landmarker(), side=240, crop=True)
    field = measured_smile_field(pair)
    magnitude = np.linalg.norm(field, axis=2)
    landmarks = pair.landmarks
    eyes_y = landmarks[36:48, 1].mean()
    mouth_y = landmarks[48:68, 1].mean()
    # Nothing moves outside the face; below the eyes more than above them.
    assert magnitude[0].max() == 0 and magnitude[:, 0].max() == 0
    upper = magnitude[: int(eyes_y) - 10].mean()
    lower = magnitude[int(eyes_y) + 10: int(mouth_y) + 15].mean()
    assert lower > 2 * upper
    video = write_smile_video(tmp_path / "smile.mp4", pair, fraction=0.3)
    capture = cv2.VideoCapture(str(video))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, first = capture.read()
    capture.release()
    assert ok and first.shape[:2] == (240, 240) and count == 70
