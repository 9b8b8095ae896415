"""Classic micro-expression baselines run on the method's own data, split and seeds.

`lbptop` (LBP-TOP texture histograms) and `mdmo` (main directional mean optical flow) compute
the features; `run` fits their SVMs and writes predictions in the training's format. Not for the
method itself (`attrmer.model`, `attrmer.train`).
"""
