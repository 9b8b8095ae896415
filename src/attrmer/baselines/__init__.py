"""The micro-expression methods that the paper's Table III compares with, run on the method's
own data, split and seeds.

Classic ones, each a feature and an SVM: `lbptop` (LBP-TOP texture histograms), `mdmo` (main
directional mean optical flow), `fdm` (facial dynamics map), `sparse_mdmo` (MDMO re-coded over
a learnt dictionary); `run` fits them and writes predictions in the training's format. Deep
ones, each a network trained per seed and selected on validation subjects: `deep` (ELRCN,
NetAB, TLCNN). Not for the method itself (`attrmer.model`, `attrmer.train`).

`TITLES` is the one list of the baselines: their names (the `baselines@<name>` stages and
`metrics/baselines/<name>.json`) in Table III's order, and how the tables print them.
"""

TITLES: dict[str, str] = {
    "lbptop": "LBP-TOP",
    "mdmo": "MDMO",
    "fdm": "FDM",
    "sparse_mdmo": "Sparse MDMO",
    "elrcn": "ELRCN",
    "netab": "NetAB",
    "tlcnn": "TLCNN",
}
# The networks: trained per seed, so their figures have a spread; a second DVC target
# (baselines/dvc.yaml), since at their CPU size they take minutes each.
DEEP = ("elrcn", "netab", "tlcnn")
