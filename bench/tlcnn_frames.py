"""Why TLCNN stays at the majority class on the built-in data: what its single frames show.

TLCNN (attrmer.baselines.deep.tlcnn) classifies each frame on its own and lets an LSTM read
the sequence of per-frame features. This measures, on the built-in holdout split as the deep
baselines read it (`baselines.tlcnn`'s frames and size), how much of the class a linear model
finds in one frame (the clip's middle frame) and in the change from the first frame to it
(the same pixels, differenced), beside the majority class; and how well TLCNN's step 1 learns
its source stills, the training accuracy of its frame CNN after `source_epochs`. Logistic
regression (C = 0.1) on standardised pixels, fitted on the training subjects, scored on the
test subjects.

    python bench/tlcnn_frames.py [--params params.yaml] [--json bench/results/tlcnn_frames.json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from attrmer.baselines.deep.fit import Schedule, fit_classifier, predict_probabilities
from attrmer.baselines.deep.run import fold_inputs, prepare_inputs
from attrmer.baselines.deep.transfer import source_stills
from attrmer.config import load_params
from attrmer.cpus import machine_description
from attrmer.preprocess.store import ClipStore
from attrmer.train.data import load_training_table


def probe_accuracy(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray,
                   test_labels: np.ndarray) -> float:
    """Test accuracy of a logistic regression on the flattened inputs."""
    model = LogisticRegression(max_iter=2000, C=0.1)
    model.fit(train.reshape(len(train), -1), train_labels)
    return float((model.predict(test.reshape(len(test), -1)) == test_labels).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--manifest", default="data/interim/manifest.csv")
    parser.add_argument("--rgb", default="data/processed/rgb.h5")
    parser.add_argument("--flow", default="data/processed/flow.h5")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    config = params.baselines.tlcnn
    module = importlib.import_module("attrmer.baselines.deep.tlcnn")
    table = load_training_table(args.manifest, args.rgb, args.flow, None, protocol="holdout",
                                validation_fraction=params.split.validation_fraction,
                                split_seed=params.split.seed)
    inputs = prepare_inputs(module, config, params, table, progress=False)
    with ClipStore(table.rgb_path) as rgb:
        stored = rgb.read(0).shape[1]
    data = fold_inputs(inputs, table.folds[0], stored_frames=stored, frames=config.frames)
    middle = config.frames // 2
    train, test = data.train.numpy(), data.test.numpy()
    labels, test_labels = data.train_labels.numpy(), data.test_labels
    results = {
        "majority_class": float(np.bincount(test_labels).max() / len(test_labels)),
        "middle_frame": probe_accuracy(train[:, middle], labels, test[:, middle], test_labels),
        "middle_minus_first_frame": probe_accuracy(train[:, middle] - train[:, 0], labels,
                                                   test[:, middle] - test[:, 0], test_labels),
        "n_train": len(train), "n_test": len(test), "size": config.size,
    }
    if config.source != "training" and config.source_epochs:
        torch.manual_seed(0)
        stills, still_labels = source_stills(module, config, data)
        cnn = module.build_frame_cnn(config, int(still_labels.max()) + 1)
        fit_classifier(cnn, stills, still_labels, seed=0, schedule=Schedule(
            config.source_epochs, config.lr, config.frame_batch_size, config.weight_decay))
        predicted = predict_probabilities(cnn, stills).argmax(axis=1)
        results["step1_stills"] = len(stills)
        results["step1_training_accuracy"] = float((predicted == still_labels.numpy()).mean())
    results["machine"] = machine_description()
    for name, value in results.items():
        print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
