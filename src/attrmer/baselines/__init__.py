"""Classic micro-expression baselines run on the method's own data, split and seeds.

`lbptop` (LBP-TOP texture histograms), `mdmo` (main directional mean optical flow) and `fdm`
(facial dynamics map) compute the features, `sparse_mdmo` re-codes MDMO over a learnt
dictionary; `run` holds the registry of baselines (`BASELINES`), fits their SVMs and writes
predictions in the training's format. Not for the method itself (`attrmer.model`,
`attrmer.train`).
"""
