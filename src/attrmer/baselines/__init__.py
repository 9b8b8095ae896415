"""The micro-expression methods that the paper's Table III compares with, run on the method's
own data, split and seeds.

Classic ones, each a feature and an SVM: `lbptop` (LBP-TOP texture histograms), `mdmo` (main
directional mean optical flow), `fdm` (facial dynamics map), `sparse_mdmo` (MDMO re-coded over
a learnt dictionary); `run` fits them and writes predictions in the training's format. Deep
ones, each a network trained per seed and selected on validation subjects: `deep` (ELRCN,
NetAB, TLCNN, and the reference points STSTNet and Off-ApexNet). Not for the method itself
(`attrmer.model`, `attrmer.train`).

`TITLES` is the one list of the baselines: their names (the `baselines@<name>` stages, TLCNN's
`tlcnn`, and `metrics/baselines/<name>.json`) in Table III's order, and how the tables print
them.
"""

TITLES: dict[str, str] = {
    "lbptop": "LBP-TOP",
    "mdmo": "MDMO",
    "fdm": "FDM",
    "sparse_mdmo": "Sparse MDMO",
    "elrcn": "ELRCN",
    "netab": "NetAB",
    "tlcnn": "TLCNN",
    "ststnet": "STSTNet",
    "offapexnet": "Off-ApexNet",
}
# The networks: trained per seed, so their figures have a spread; a second DVC target
# (baselines/dvc.yaml), since at their CPU size they take minutes each.
DEEP = ("elrcn", "netab", "tlcnn", "ststnet", "offapexnet")
# Today's reference points, outside the paper's Table III: the report gives them a table of
# their own ("References") so that Table III keeps the paper's rows.
REFERENCES = ("ststnet", "offapexnet")


# How closely each baseline follows its source, and the one line of what differs: every
# row of Table III and of the references says it, so that a stand-in is not read as the
# published method. "faithful": the published method, details the paper leaves open chosen
# and documented in the module; "reduced": the published design at a smaller size or with a
# part replaced; "from an outline": built from a description too short to follow.
FIDELITY: dict[str, tuple[str, str]] = {
    "lbptop": ("faithful", "uniform LBP-TOP histograms on a 5×5 grid; linear SVM"),
    "mdmo": ("faithful", "36 ROIs on dlib's 68 landmarks instead of the paper's 66"),
    "fdm": ("faithful", "principal directions of flow cuboids by the paper's iterative search; "
                        "linear SVM"),
    "sparse_mdmo": ("reduced", "per-frame MDMO coded by GraphSC on a graph of the paper's "
                                "sparsity-based distance, pooled; K, w_g, λ, v fixed rather "
                                "than cross-validated; linear SVM for polynomial"),
    "elrcn": ("reduced", "a small CNN from scratch for VGG-Face, 64 LSTM units for 3000, "
                         "48 px frames"),
    "netab": ("from an outline", "built from the paper's one-sentence description of Wang, "
                                 "Jia & Mao (CCC 2020): layers, inputs and fusion are "
                                 "attrmer's"),
    "tlcnn": ("reduced", "the small CNN of the other deep baselines for the paper's deep "
                         "one; step 1 on full expressions rendered on real faces. Near the "
                         "majority class on the built-in data, whose single frames barely "
                         "show the class (bench/tlcnn_frames.py)"),
    "ststnet": ("faithful", "the paper's layers, 28×28 onset→apex u, v and strain, lr and 500 "
                            "epochs; batches of 16; epoch chosen on validation subjects"),
    "offapexnet": ("reduced", "the paper's layers on 28×28 onset→apex u, v; padding, dropout "
                              "and schedule this implementation's, not the paper's; epoch "
                              "chosen on validation subjects"),
}
