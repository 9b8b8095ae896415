"""The attribute branch: a local BERT encoder, a pooler, a projection to z_a and a classifier.

`TextEncoder` is a thin wrapper over a Hugging Face `AutoModel` / `AutoTokenizer` loaded from a
local directory only: the bundled all-MiniLM-L6-v2 (`model.text_model: bundled`) or any BERT
directory on disk. Nothing is ever downloaded. `AttributeNet` adds the paper's projection to a
256-d z_a and its own classifier; it is trained jointly with the video network and is not needed
at inference. Sentences come from `attrmer.attributes`; this module does not build them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from torch import Tensor, nn

from attrmer.config import ModelConfig
from attrmer.resources import text_model_dir


def cls_pool(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """The [CLS] token's last hidden state."""
    return hidden[:, 0]


def mean_pool(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """Mean of the last hidden states over real tokens (padding excluded)."""
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


POOLERS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"cls": cls_pool, "mean": mean_pool}


@contextmanager
def _offline() -> Iterator[None]:
    """Hugging Face offline mode for the duration of a load (restored afterwards)."""
    saved = {name: os.environ.get(name) for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({name: "1" for name in saved})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class TextEncoder(nn.Module):
    """A local Hugging Face encoder plus a pooler: token ids → one vector per sentence."""

    def __init__(self, model_dir: str | Path, *, pooler: str = "mean") -> None:
        super().__init__()
        if pooler not in POOLERS:
            raise ValueError(f"pooler: {pooler!r} is not one of {', '.join(POOLERS)}")
        self.model_dir = Path(model_dir)
        with _offline():
            # Imported here, so that the video-only path (predict, export) never pays for it,
            # and inside the offline block, as huggingface_hub reads the setting on import.
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            # A local load needs no "Loading weights" progress bar in every training log.
            hf_logging.disable_progress_bar()
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
            self.transformer = AutoModel.from_pretrained(self.model_dir, local_files_only=True)
        self.pooler_name = pooler
        self.pool = POOLERS[pooler]
        self.hidden_size: int = int(self.transformer.config.hidden_size)

    def tokenize(self, sentences: list[str], max_length: int = 64) -> dict[str, Tensor]:
        if isinstance(sentences, str):
            raise TypeError("tokenize: pass a list of sentences, not one string")
        batch = self.tokenizer(list(sentences), padding=True, truncation=True,
                               max_length=max_length, return_tensors="pt")
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        hidden = self.transformer(input_ids=input_ids,
                                  attention_mask=attention_mask).last_hidden_state
        return self.pool(hidden, attention_mask)


class AttributeNet(nn.Module):
    """TextEncoder → linear projection to z_a (embed_dim) → linear classifier."""

    def __init__(
        self,
        *,
        num_classes: int,
        text_model: str = "bundled",
        pooler: str = "mean",
        embed_dim: int = 256,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes: {num_classes} must be at least 2")
        self.encoder = TextEncoder(text_model_dir(text_model), pooler=pooler)
        self.projection = nn.Linear(self.encoder.hidden_size, embed_dim)
        self.classifier = nn.Linear(embed_dim, num_classes)
        self.embed_dim = embed_dim

    @classmethod
    def from_config(cls, cfg: ModelConfig, num_classes: int) -> AttributeNet:
        # z_a must match z_m = concat(z_rgb, z_flow) for the cosine of the contrastive loss.
        return cls(num_classes=num_classes, text_model=cfg.text_model, pooler=cfg.text_pooler,
                   embed_dim=2 * cfg.feature_dim)

    def tokenize(self, sentences: list[str], max_length: int = 64) -> dict[str, Tensor]:
        return self.encoder.tokenize(sentences, max_length=max_length)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor, Tensor]:
        """(logits (B, num_classes), z_a (B, embed_dim))."""
        z_a = self.projection(self.encoder(input_ids, attention_mask))
        return self.classifier(z_a), z_a
