"""The built-in synthetic corpus, read by the CASME II code path.

`attrmer.synth.render_corpus` writes the corpus in exactly the CASME II layout (a coding sheet
`CASME2-coding-synthetic.xlsx` in the 2014 format and `CASME2_RAW_selected/subXX/<clip>/img<N>.jpg`
frames), so the only differences from CASME II are the sheet's name, the `dataset` column and the
frame rate. Rendering is the prepare stage's job (`attrmer.datasets.prepare`); this module only
reads what was rendered.
"""

from __future__ import annotations

from attrmer.datasets.base import register
from attrmer.datasets.casme2 import Casme2Adapter


@register
class SyntheticAdapter(Casme2Adapter):
    name = "synthetic"
    # The corpus draws its emotions from CASME II's, so it uses CASME II's class sets.
    class_sets_key = "casme2"
    sheet_patterns = ("CASME2-coding-synthetic.xlsx",)
