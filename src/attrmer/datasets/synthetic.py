"""The built-in synthetic corpus, read by the CASME II code path.

`attrmer.synth.render_corpus` writes the corpus in exactly the CASME II layout (a coding sheet
`CASME2-coding-synthetic.xlsx` in the 2014 format and `CASME2_RAW_selected/subXX/<clip>/img<N>.jpg`
frames), so the only differences from CASME II are the sheet's name, the `dataset` column and the
frame rate. Rendering is the prepare stage's job (`attrmer.datasets.prepare`); this module only
reads what was rendered. A corpus rendered beforehand (`attrmer synth`, read as one dataset of a
composite) gives its frame rate in its `corpus.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

from attrmer.datasets.base import register
from attrmer.datasets.casme2 import Casme2Adapter

# What the renderer writes beside the sheet: the parameters it rendered with, among others.
# Repeated from attrmer.synth.render, not imported: that module imports cv2 and the renderer,
# which reading a rendered corpus does not need (a test keeps the two equal).
CORPUS_JSON = "corpus.json"


@register
class SyntheticAdapter(Casme2Adapter):
    name = "synthetic"
    # The corpus draws its emotions from CASME II's, so it uses CASME II's class sets.
    class_sets_key = "casme2"
    sheet_patterns = ("CASME2-coding-synthetic.xlsx",)

    def __init__(self, root: str | Path, *, fps: float | None = None) -> None:
        super().__init__(root, fps=fps if fps is not None else _rendered_fps(Path(root)))


def _rendered_fps(root: Path) -> float | None:
    """The frame rate a rendered corpus under `root` records, or None (CASME II's then)."""
    try:
        corpus = json.loads((root / CORPUS_JSON).read_text())
        return float(corpus["parameters"]["fps"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
