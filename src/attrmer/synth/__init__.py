"""The built-in dataset: synthetic micro-expression clips rendered on real faces from FACS.

`render_corpus(out_dir, cfg)` writes a corpus in the CASME II layout (see `render.py`);
`attrmer synth OUT_DIR` does the same from the command line.
"""

from attrmer.synth.render import render_corpus

__all__ = ["render_corpus"]
