"""The attribute branch: loads offline from the bundled model, pools, projects, classifies."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.nn.functional as F

from attrmer.model.text import AttributeNet, TextEncoder, cls_pool, mean_pool


@pytest.fixture(scope="module")
def offline_load() -> tuple[AttributeNet, list[tuple]]:
    """Load the bundled model once, with every socket refused and Hugging Face offline."""
    attempts: list[tuple] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access is disabled in this test")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "socket", refuse)
        patch.setattr(socket, "create_connection", refuse)
        patch.setenv("HF_HUB_OFFLINE", "1")
        torch.manual_seed(0)
        net = AttributeNet(num_classes=5)
    return net.eval(), attempts


@pytest.fixture(scope="module")
def net(offline_load) -> AttributeNet:
    return offline_load[0]


def test_loads_with_networking_disabled(offline_load) -> None:
    net, attempts = offline_load
    assert attempts == []
    assert isinstance(net.encoder, TextEncoder)
    assert net.encoder.hidden_size == 384  # all-MiniLM-L6-v2
    assert net.encoder.pooler_name == "mean"
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # conftest's setting is left as it was


def test_different_sentences_get_different_embeddings(net) -> None:
    sentences = ["inner brow raiser", "lip corner puller", "left lip corner puller",
                 "inner brow raiser"]
    with torch.no_grad():
        pooled = net.encoder(**net.tokenize(sentences))
    assert pooled.shape == (4, 384)
    cosine = F.cosine_similarity(pooled[:, None], pooled[None], dim=-1)
    assert cosine[0, 1] < 0.99 and cosine[1, 2] < 0.99
    assert torch.allclose(pooled[0], pooled[3], atol=1e-5)


def test_mean_pooling_ignores_padding(net) -> None:
    short = "brow lowerer"
    with torch.no_grad():
        alone = net.encoder(**net.tokenize([short]))
        padded = net.encoder(**net.tokenize([short, "inner brow raiser, outer brow raiser, "
                                             "upper lid raiser, lip corner puller"]))
    assert torch.allclose(alone[0], padded[0], atol=1e-4)


def test_tokenize_gives_ids_and_mask(net) -> None:
    tokens = net.tokenize(["lips part", "jaw drop, mouth stretch"], max_length=8)
    assert set(tokens) == {"input_ids", "attention_mask"}
    assert tokens["input_ids"].shape == tokens["attention_mask"].shape
    assert tokens["input_ids"].shape[1] <= 8
    assert tokens["attention_mask"][0].sum() < tokens["attention_mask"][1].sum()
    with pytest.raises(TypeError, match="list of sentences"):
        net.tokenize("lips part")


def test_attribute_net_outputs_and_trains_the_encoder(net) -> None:
    net.train()
    try:
        logits, z_a = net(**net.tokenize(["cheek raiser", "nose wrinkler"]))
        assert logits.shape == (2, 5)
        assert z_a.shape == (2, 256)
        logits.sum().backward()
        encoder_grads = [p.grad for p in net.encoder.parameters() if p.grad is not None]
        assert encoder_grads and any(g.abs().sum() > 0 for g in encoder_grads)
    finally:
        net.zero_grad(set_to_none=True)
        net.eval()


def test_poolers_on_a_known_tensor() -> None:
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.equal(cls_pool(hidden, mask), torch.tensor([[1.0, 2.0]]))
    assert torch.equal(mean_pool(hidden, mask), torch.tensor([[2.0, 3.0]]))


def test_unknown_pooler_is_refused_before_loading() -> None:
    with pytest.raises(ValueError, match="pooler"):
        AttributeNet(num_classes=3, pooler="max")
