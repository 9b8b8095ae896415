"""The contrastive loss against hand-computed values, and the total loss's limits."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from attrmer.config import TrainConfig
from attrmer.model import CrossModalContrastiveLoss, JointLoss

# Three clips and three texts in 2-D, chosen so every cosine is 0, 1/√2 or 1:
#   z_m: (1,0) (0,1) (1,1)        z_a: (1,0) (1,1) (0,2)
Z_M = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
Z_A = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]], dtype=torch.float64)
R = 1.0 / math.sqrt(2.0)
# COS[i][j] = cos(z_m[i], z_a[j]), worked out by hand.
COS = [[1.0, R, 0.0],
       [0.0, R, 1.0],
       [R, 1.0, R]]


def _hand_loss(tau: float, negatives: list[list[int]]) -> float:
    """−mean_i log d_ii / (d_ii + Σ_{j in negatives[i]} d_ij), d = exp(cos/τ)."""
    terms = []
    for i in range(3):
        positive = math.exp(COS[i][i] / tau)
        others = sum(math.exp(COS[i][j] / tau) for j in negatives[i])
        terms.append(-math.log(positive / (positive + others)))
    return sum(terms) / 3


ALL_OTHERS = [[1, 2], [0, 2], [0, 1]]


def test_logits_are_cosines_over_tau() -> None:
    loss = CrossModalContrastiveLoss(tau=0.5)
    logits = loss.get_logits(Z_M, Z_A)
    assert logits.shape == (3, 3)
    assert torch.allclose(logits, torch.tensor(COS, dtype=torch.float64) / 0.5, atol=1e-6)


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_contrastive_loss_equals_hand_computed_value(tau: float) -> None:
    value = CrossModalContrastiveLoss(tau=tau)(Z_M, Z_A).item()
    assert value == pytest.approx(_hand_loss(tau, ALL_OTHERS), rel=1e-6)
    # τ = 1 by hand, written out: rows 0, 1, 2.
    if tau == 1.0:
        e, er = math.e, math.exp(R)
        by_hand = -(math.log(e / (e + er + 1)) + math.log(er / (1 + er + e))
                    + math.log(er / (er + e + er))) / 3
        assert value == pytest.approx(by_hand, rel=1e-6)


def test_masking_drops_negatives_with_the_positives_sentence() -> None:
    # Clips 0 and 2 carry the same sentence (text id 7); clip 1 has its own.
    text_ids = torch.tensor([7, 3, 7])
    masked = CrossModalContrastiveLoss(mask_same_text=True)(Z_M, Z_A, text_ids).item()
    # Row 0 loses negative 2, row 2 loses negative 0, row 1 keeps both.
    assert masked == pytest.approx(_hand_loss(1.0, [[1], [0, 2], [1]]), rel=1e-6)
    e, er = math.e, math.exp(R)
    by_hand = -(math.log(e / (e + er)) + math.log(er / (1 + er + e)) + math.log(er / (er + e))) / 3
    assert masked == pytest.approx(by_hand, rel=1e-6)
    unmasked = CrossModalContrastiveLoss(mask_same_text=False)(Z_M, Z_A, text_ids).item()
    assert unmasked == pytest.approx(_hand_loss(1.0, ALL_OTHERS), rel=1e-6)


def test_masking_with_distinct_sentences_changes_nothing() -> None:
    distinct = torch.tensor([0, 1, 2])
    masked = CrossModalContrastiveLoss(mask_same_text=True)(Z_M, Z_A, distinct)
    assert masked.item() == pytest.approx(CrossModalContrastiveLoss()(Z_M, Z_A).item())


def test_contrastive_loss_properties() -> None:
    loss = CrossModalContrastiveLoss()
    # Cosine similarity ignores the vectors' lengths.
    assert loss(3 * Z_M, 0.1 * Z_A).item() == pytest.approx(loss(Z_M, Z_A).item())
    # One sample has no negative: log(d/d) = 0.
    assert loss(Z_M[:1], Z_A[:1]).item() == pytest.approx(0.0)
    # Large logits stay finite (logsumexp), and low precision inputs work.
    assert torch.isfinite(CrossModalContrastiveLoss(tau=1e-3)(Z_M, Z_A))
    assert torch.isfinite(loss(Z_M.bfloat16(), Z_A.bfloat16()))


def test_contrastive_loss_errors() -> None:
    with pytest.raises(ValueError, match="text_ids"):
        CrossModalContrastiveLoss(mask_same_text=True)(Z_M, Z_A)
    with pytest.raises(ValueError, match="tau"):
        CrossModalContrastiveLoss(tau=0.0)
    with pytest.raises(ValueError, match=r"\(B, D\)"):
        CrossModalContrastiveLoss()(Z_M, Z_A[:2])


# --- the total loss -----------------------------------------------------------------------


@pytest.fixture
def batch() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {
        "video_logits": torch.randn(4, 5),
        "labels": torch.tensor([0, 3, 1, 3]),
        "z_m": torch.randn(4, 8),
        "text_logits": torch.randn(4, 5),
        "z_a": torch.randn(4, 8),
        "text_ids": torch.tensor([0, 1, 2, 1]),
    }


def test_cross_entropy_term_matches_hand_computation(batch) -> None:
    terms = JointLoss(0.5)(**batch)
    logits, labels = batch["video_logits"].tolist(), batch["labels"].tolist()
    by_hand = sum(math.log(sum(math.exp(v) for v in row)) - row[y]
                  for row, y in zip(logits, labels, strict=True)) / len(labels)
    assert terms.video_ce.item() == pytest.approx(by_hand, rel=1e-5)


def test_alpha_zero_is_exactly_video_plus_text_cross_entropy(batch) -> None:
    terms = JointLoss(0.0)(**batch)
    video_ce = F.cross_entropy(batch["video_logits"], batch["labels"])
    text_ce = F.cross_entropy(batch["text_logits"], batch["labels"])
    assert torch.equal(terms.total, video_ce + text_ce)
    assert terms.contrastive.item() > 0  # still computed and reported


def test_alpha_one_is_the_contrastive_loss_alone(batch) -> None:
    terms = JointLoss(1.0)(**batch)
    assert torch.equal(terms.total, terms.contrastive)
    expected = CrossModalContrastiveLoss()(batch["z_m"], batch["z_a"])
    assert terms.contrastive.item() == pytest.approx(expected.item())


def test_total_mixes_the_terms_with_alpha(batch) -> None:
    terms = JointLoss(0.3, tau=0.5, mask_same_text=True)(**batch)
    expected = 0.7 * (terms.video_ce + terms.text_ce) + 0.3 * terms.contrastive
    assert terms.total.item() == pytest.approx(expected.item(), rel=1e-6)
    masked = CrossModalContrastiveLoss(tau=0.5, mask_same_text=True)(
        batch["z_m"], batch["z_a"], batch["text_ids"])
    assert terms.contrastive.item() == pytest.approx(masked.item())


def test_video_only_ablation_is_the_video_cross_entropy(batch) -> None:
    loss = JointLoss(0.5, attribute_branch=False)
    terms = loss(batch["video_logits"], batch["labels"], batch["z_m"])
    assert torch.equal(terms.total, F.cross_entropy(batch["video_logits"], batch["labels"]))
    assert terms.text_ce.item() == 0.0 and terms.contrastive.item() == 0.0


def test_joint_loss_checks_its_inputs(batch) -> None:
    with pytest.raises(ValueError, match="text_logits and z_a"):
        JointLoss(0.5)(batch["video_logits"], batch["labels"], batch["z_m"])
    with pytest.raises(ValueError, match="alpha"):
        JointLoss(1.5)


def test_joint_loss_from_config() -> None:
    loss = JointLoss.from_config(TrainConfig(alpha=0.25, tau=0.1, mask_same_text=True,
                                             attribute_branch=False))
    assert (loss.alpha, loss.contrastive.tau, loss.contrastive.mask_same_text,
            loss.attribute_branch) == (0.25, 0.1, True, False)


# Clips without AU codes ("no action unit coded") leave the attribute losses.

def _batch(seed: int = 0, size: int = 8, dim: int = 6, classes: int = 3):
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(size, classes, generator=generator),
            torch.randint(0, classes, (size,), generator=generator),
            torch.randn(size, dim, generator=generator, requires_grad=True),
            torch.randn(size, classes, generator=generator),
            torch.randn(size, dim, generator=generator),
            torch.arange(size))


def test_a_mixed_batch_keeps_a_contrastive_gradient() -> None:
    video, labels, z_m, text, z_a, ids = _batch()
    coded = torch.tensor([True, False] * 4)
    terms = JointLoss(0.5)(video, labels, z_m, text, z_a, ids, coded)
    terms.contrastive.backward()
    # The coded clips' embeddings are pulled; the uncoded ones take no part in L_θφ.
    assert z_m.grad[coded].abs().sum() > 1e-3
    assert torch.all(z_m.grad[~coded] == 0)


def test_uncoded_clips_do_not_change_the_attribute_losses() -> None:
    video, labels, z_m, text, z_a, ids = _batch()
    coded = torch.tensor([True, True, False, True, False, False, True, True])
    loss = JointLoss(0.5)
    terms = loss(video, labels, z_m, text, z_a, ids, coded)
    # Anything in the uncoded clips' text outputs and embeddings: the same L_φ and L_θφ.
    other_text, other_z_a, other_z_m = text.clone(), z_a.clone(), z_m.detach().clone()
    other_text[~coded] = 50.0 * torch.randn(int((~coded).sum()), text.shape[1])
    other_z_a[~coded] = -z_a[~coded]
    other_z_m[~coded] = 3.0
    changed = loss(video, labels, other_z_m, other_text, other_z_a, ids, coded)
    assert changed.text_ce.item() == pytest.approx(terms.text_ce.item(), rel=1e-6)
    assert changed.contrastive.item() == pytest.approx(terms.contrastive.item(), rel=1e-6)
    # They are the losses of the coded clips alone; the video loss still counts every clip.
    alone = loss(video[coded], labels[coded], z_m[coded], text[coded], z_a[coded], ids[coded])
    assert terms.text_ce.item() == pytest.approx(alone.text_ce.item(), rel=1e-6)
    assert terms.contrastive.item() == pytest.approx(alone.contrastive.item(), rel=1e-6)
    assert terms.video_ce.item() == pytest.approx(F.cross_entropy(video, labels).item())


def test_a_batch_without_codes_trains_the_video_network_alone() -> None:
    video, labels, z_m, text, z_a, ids = _batch()
    terms = JointLoss(0.25)(video, labels, z_m, text, z_a, ids, torch.zeros(8, dtype=torch.bool))
    assert terms.text_ce.item() == 0.0 and terms.contrastive.item() == 0.0
    assert terms.total.item() == pytest.approx(0.75 * F.cross_entropy(video, labels).item())
    terms.total.backward()
    assert torch.all(z_m.grad == 0)
