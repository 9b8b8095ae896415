"""The paper's losses: cross-entropy per branch, the cross-modal contrastive loss, their mix.

Equations (3)–(5) of the paper: with d(v, t) = exp(cos(z_m(v), z_a(t)) / τ),

    L_θφ = −mean_i log[ d(v_i, t_i) / (d(v_i, t_i) + Σ_{j≠i} d(v_i, t_j)) ]

and the total L = (1 − α)(L_θ + L_φ) + α·L_θφ, where L_θ and L_φ are the video and text
classifiers' cross-entropies. The negatives of a clip are the other texts in the batch (one
direction, video → text, as in the paper). Each loss is a module of its own; no model code here.

Clips without AU codes (all of SMIC, for one) carry the one sentence "no action unit coded":
it says nothing of the clip, and a batch of such clips only would make L_θφ the constant
log B and teach the text classifier the class prior. `JointLoss` therefore takes a per-clip
`coded` mask: the uncoded clips leave L_φ and L_θφ (neither anchor nor negative), which are
means over the coded clips alone, and still count in L_θ. Under DDP each process takes the
mean over its own coded clips, and the processes' gradients are averaged with equal weight.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attrmer.config import TrainConfig


class CrossModalContrastiveLoss(nn.Module):
    """Video → text InfoNCE on cosine similarity, with temperature τ (the paper: τ = 1).

    mask_same_text: two clips with the same AUs share one sentence, so the paper's form pushes a
    clip away from its own sentence carried by another sample. With this on, a negative j whose
    text id equals the positive's is left out of the denominator.
    """

    def __init__(self, tau: float = 1.0, mask_same_text: bool = False) -> None:
        super().__init__()
        if tau <= 0:
            raise ValueError(f"tau: {tau} must be positive")
        self.tau = tau
        self.mask_same_text = mask_same_text

    def get_logits(self, z_m: Tensor, z_a: Tensor) -> Tensor:
        """(B, B) matrix of cos(z_m[i], z_a[j]) / τ; row i is clip i against every text."""
        if z_m.ndim != 2 or z_a.ndim != 2 or z_m.shape != z_a.shape:
            raise ValueError(
                f"z_m and z_a must both be (B, D), got {tuple(z_m.shape)} and {tuple(z_a.shape)}"
            )
        # At least fp32 even under autocast: the exp/log of the loss needs the range.
        dtype = torch.promote_types(torch.promote_types(z_m.dtype, z_a.dtype), torch.float32)
        with torch.autocast(z_m.device.type, enabled=False):
            z_m = F.normalize(z_m.to(dtype), dim=1)
            z_a = F.normalize(z_a.to(dtype), dim=1)
            return z_m @ z_a.T / self.tau

    def forward(self, z_m: Tensor, z_a: Tensor, text_ids: Tensor | None = None) -> Tensor:
        logits = self.get_logits(z_m, z_a)
        if self.mask_same_text:
            if text_ids is None:
                raise ValueError("mask_same_text needs text_ids (one integer id per sentence)")
            if text_ids.shape != (logits.shape[0],):
                raise ValueError(
                    f"text_ids: expected shape ({logits.shape[0]},), got {tuple(text_ids.shape)}"
                )
            same = text_ids.view(-1, 1) == text_ids.view(1, -1)
            same.fill_diagonal_(False)
            logits = logits.masked_fill(same.to(logits.device), float("-inf"))
        # log d_ii/(Σ_j d_ij) = logit_ii − logsumexp_j logit_ij; the diagonal is never masked,
        # so every row keeps at least one finite term.
        positives = logits.diagonal()
        return (torch.logsumexp(logits, dim=1) - positives).mean()


class LossTerms(NamedTuple):
    """The total loss and its parts (unused parts are zero tensors), for logging."""

    total: Tensor
    video_ce: Tensor
    text_ce: Tensor
    contrastive: Tensor


class JointLoss(nn.Module):
    """L = (1 − α)(L_θ + L_φ) + α·L_θφ; with attribute_branch=False, L = L_θ alone.

    attribute_branch=False is the paper's "3D-ResNet only" ablation: no text model, α unused.
    """

    def __init__(
        self,
        alpha: float,
        *,
        tau: float = 1.0,
        mask_same_text: bool = False,
        attribute_branch: bool = True,
    ) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha: {alpha} is not in [0, 1]")
        self.alpha = alpha
        self.attribute_branch = attribute_branch
        self.contrastive = CrossModalContrastiveLoss(tau=tau, mask_same_text=mask_same_text)

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> JointLoss:
        return cls(cfg.alpha, tau=cfg.tau, mask_same_text=cfg.mask_same_text,
                   attribute_branch=cfg.attribute_branch)

    def forward(
        self,
        video_logits: Tensor,
        labels: Tensor,
        z_m: Tensor,
        text_logits: Tensor | None = None,
        z_a: Tensor | None = None,
        text_ids: Tensor | None = None,
        coded: Tensor | None = None,
    ) -> LossTerms:
        """`coded` (B,) bool: which clips have AU codes (default: all). The others enter the
        video cross-entropy only; with none coded, L_φ and L_θφ are zero."""
        video_ce = F.cross_entropy(video_logits.float(), labels)
        zero = video_ce.new_zeros(())
        if not self.attribute_branch:
            return LossTerms(video_ce, video_ce, zero, zero)
        if text_logits is None or z_a is None:
            raise ValueError("the attribute branch is on: text_logits and z_a are required")
        if coded is not None and not bool(coded.all()):
            if coded.shape != labels.shape:
                raise ValueError(f"coded: expected shape {tuple(labels.shape)}, got "
                                 f"{tuple(coded.shape)}")
            if not bool(coded.any()):
                # Zero terms still tied to the graph, so every process of a distributed run
                # sees the text model's parameters take part in the step.
                unused = 0.0 * (text_logits.sum() + z_a.sum() + z_m.sum())
                return LossTerms((1.0 - self.alpha) * video_ce + unused, video_ce, zero, zero)
            labels, z_m = labels[coded], z_m[coded]
            text_logits, z_a = text_logits[coded], z_a[coded]
            text_ids = None if text_ids is None else text_ids[coded]
        text_ce = F.cross_entropy(text_logits.float(), labels)
        contrastive = self.contrastive(z_m, z_a, text_ids)
        total = (1.0 - self.alpha) * (video_ce + text_ce) + self.alpha * contrastive
        return LossTerms(total, video_ce, text_ce, contrastive)
