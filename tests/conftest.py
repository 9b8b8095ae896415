"""Shared fixtures: where the real data of ../shared lies, and an offline network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

# The tests never reach the network: every model is bundled.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip the test with the reason when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: real-data checks need the shared data folder")
    return SHARED
