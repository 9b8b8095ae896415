"""The faces the renderer draws on: the bundled and the real ones, and real smiles replayed on
any face through the same warp as every other expression."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from attrmer.config import ConfigError, Params, SynthConfig
from attrmer.pretrain import pretraining_faces, pretraining_params
from attrmer.synth.identities import (
    BUNDLED_FACES,
    chosen_faces,
    load_corpus_faces,
    load_faces,
    real_smile_moves,
    real_smile_patterns,
    real_subjects,
)
from attrmer.synth.motion import FIXED_POINTS, FaceFrame, control_points
from attrmer.synth.render import (
    MAX_APEX_ALIGNED_PX,
    MERGE_SEPARATION_IOD,
    au_cell,
    expression_field,
    plan_corpus,
    render_clip,
)
from attrmer.synth.warp import thin_plate_field
from tests.test_pretrain import _manifest

REAL = SynthConfig(clips=40, identities="all", real_smiles=1.0, min_frames=8, max_frames=12)


@pytest.fixture(scope="module")
def faces():
    return load_faces(120, real=True)


def test_the_real_faces_follow_the_bundled_ones(faces) -> None:
    assert [f.subject for f in faces] == list(range(1, len(faces) + 1))
    assert len(faces) == BUNDLED_FACES + 82 and real_subjects() == list(range(12, 94))
    assert all(f.still.startswith("real/") for f in faces[BUNDLED_FACES:])
    assert len(real_smile_patterns()) == 42
    # The built-in corpus keeps its eleven faces.
    assert len(load_corpus_faces(SynthConfig())) == BUNDLED_FACES
    assert [f.subject for f in chosen_faces(SynthConfig(identities="real"), faces)] == \
        real_subjects()
    with pytest.raises(ConfigError, match=r"synth\.identities"):
        Params.from_dict({"synth": {"identities": "celebrities"}})


def test_a_real_smile_pulls_the_lip_corners_up_and_out_and_leaves_the_brows() -> None:
    for still, pattern in real_smile_patterns().items():
        across, down = pattern[:, 0], pattern[:, 1]
        size = np.linalg.norm(pattern, axis=1)
        assert size.max() == pytest.approx(1.0)
        assert np.all(size[list(FIXED_POINTS)] == 0.0) and np.all(size[17:31] == 0.0), still
        # Lip corners (48: the subject's right, image left; 54) rise, and the mouth widens.
        assert (down[48] < 0 and down[54] < 0) or down[48] + down[54] < -0.2, still
        assert across[54] - across[48] > 0.2, still


def test_real_smiles_move_happiness_clips_only_and_are_coded_as_smiles(faces) -> None:
    specs = plan_corpus(REAL, faces)
    happy = [s for s in specs if s.emotion == "happiness"]
    assert happy and all(s.smile in real_smile_patterns() for s in happy)
    assert all(au_cell(s.aus) == "6+12" for s in happy)
    assert all(s.smile is None for s in specs if s.emotion != "happiness")
    assert {s.subject for s in specs} <= set(range(1, len(faces) + 1))
    assert any(s.subject > BUNDLED_FACES for s in specs)
    clip = render_clip(happy[0], faces[happy[0].subject - 1], REAL)
    assert clip.truth["real_smile_of"] == happy[0].smile
    assert 0 < clip.truth["apex_displacement_aligned_px"] <= MAX_APEX_ALIGNED_PX + 1e-6


def test_a_real_smile_and_a_modelled_one_are_made_the_same_way(faces) -> None:
    """Classes must not be told apart by how their motion was made: a real smile is carried
    onto the face's control points and spread by the same thin-plate spline, at the same
    amplitudes, as the AU model's smile, and rendered with the same noise and drift."""
    face = faces[20]
    spec = next(s for s in plan_corpus(REAL, faces) if s.emotion == "happiness")
    aus = list(spec.aus)
    real = expression_field(face, aus, MAX_APEX_ALIGNED_PX, smile=spec.smile)
    model = expression_field(face, aus, MAX_APEX_ALIGNED_PX)
    for apex in (real, model):
        assert apex.peak_px <= MAX_APEX_ALIGNED_PX * face.pixels_per_aligned_pixel + 1e-4
        spline = thin_plate_field(control_points(face.frame), apex.moves, face.image.shape[:2],
                                  min_separation=MERGE_SEPARATION_IOD * face.frame.interocular)
        np.testing.assert_allclose(spline, apex.field, atol=1e-4)
    # The same clip under either motion: the same camera (noise, drift, light), so the onset
    # frame, where the expression has not begun, is the same to the bit; the apex differs.
    modelled = render_clip(dataclasses.replace(spec, smile=None), face, REAL).frames
    replayed = render_clip(spec, face, REAL).frames
    assert np.array_equal(modelled[0], replayed[0])
    assert not np.array_equal(modelled[spec.apex_index], replayed[spec.apex_index])


def test_real_smile_moves_follow_the_target_faces_axes(faces) -> None:
    pattern = next(iter(real_smile_patterns().values()))
    upright = faces[12].frame
    turned = np.array([[0.0, -1.0], [1.0, 0.0]])  # the same face rotated by 90°
    rotated = FaceFrame.from_landmarks(upright.landmarks @ turned.T)
    np.testing.assert_allclose(real_smile_moves(rotated, pattern, 2.0),
                               real_smile_moves(upright, pattern, 2.0) @ turned.T, atol=1e-9)


def test_pretraining_draws_on_real_faces_as_pretrain_identities_says(tmp_path) -> None:
    manifest = _manifest(tmp_path / "manifest.csv", {
        "sub01": "train", "sub02": "test", "sub03": "val", "sub04": "train"})
    both = Params.from_dict({"pretrain": {"identities": "all", "real_smiles": 0.5}})
    assert pretraining_faces(both, manifest) == [1, 4, *real_subjects()]
    corpus = pretraining_params(both, tmp_path, pretraining_faces(both, manifest)).synth
    assert (corpus.identities, corpus.real_smiles) == ("all", 0.5)
    real = Params.from_dict({"pretrain": {"identities": "real"}})
    assert pretraining_faces(real, manifest) == []
    corpus = pretraining_params(real, tmp_path, []).synth
    subjects = {s.subject for s in plan_corpus(dataclasses.replace(corpus, clips=60),
                                               load_corpus_faces(corpus))}
    assert subjects <= set(real_subjects())
    with pytest.raises(ConfigError, match=r"pretrain\.real_smiles"):
        Params.from_dict({"pretrain": {"real_smiles": 2}})


def test_prototypes_move_every_region_of_the_expression_at_once(faces) -> None:
    """synth.prototypes: full EMFACS prototypes, a surprise's jaw opening further than its
    brows rise; none for CASME II's repression; nothing else of the corpus changes."""
    from attrmer.synth.render import EMOTIONS, PROTOTYPE_STRENGTH, parse_combination

    plain = SynthConfig(clips=80, min_frames=8, max_frames=12)
    prototyped = dataclasses.replace(plain, prototypes=1.0)
    by_emotion = {e.name: e for e in EMOTIONS}
    specs = plan_corpus(prototyped, faces)
    for spec in specs:
        codes = {code for code, _ in by_emotion[spec.emotion].prototypes}
        if codes:
            assert au_cell(spec.aus) in codes | {int(c) for c in codes if c.isdigit()}, spec
    assert not by_emotion["repression"].prototypes and not by_emotion["others"].prototypes
    surprises = [s for s in specs if s.emotion == "surprise"]
    assert surprises
    for spec in surprises:
        amplitude = {a.number: a.amplitude for a in spec.aus}
        jaw = amplitude.get(27, amplitude.get(26))
        if jaw is not None and 1 in amplitude:
            # Drawn at PROTOTYPE_STRENGTH times a brow's base, spread ±50 %.
            assert jaw > amplitude[1] * 0.5 * PROTOTYPE_STRENGTH[26] / 1.5
    # The same people and emotions as without prototypes (drawn before any clip).
    for with_, without in zip(specs, plan_corpus(plain, faces), strict=True):
        assert (with_.subject, with_.emotion) == (without.subject, without.emotion)
    assert all(parse_combination(code) for e in EMOTIONS for code, _ in e.prototypes)
    with pytest.raises(ConfigError, match=r"pretrain\.prototypes"):
        Params.from_dict({"pretrain": {"prototypes": 2}})


def test_a_mouth_stretch_takes_the_chin_outline_down_and_no_other_au_does(faces) -> None:
    from attrmer.synth.motion import JAW_OUTLINE, SUPPORTED_AUS, pattern_displacement

    frame = faces[0].frame
    for number in SUPPORTED_AUS:
        moves = pattern_displacement(frame, number)
        if number == 27:
            assert np.linalg.norm(moves[8]) > 0.8 and (moves[8] @ frame.down) > 0
            assert np.all(moves[[0, 1, 2, 3, 13, 14, 15, 16]] == 0.0)
        else:
            assert np.all(moves[list(JAW_OUTLINE)] == 0.0), number
