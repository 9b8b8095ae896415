"""Evaluation: metrics of micro-expression recognition, the multi-seed summary and its plots.

- `metrics`: accuracy, UF1, UAR, per-class recall and F1, confusion matrix (numpy only);
- `calibration`: temperature scaling and the expected calibration error (numpy only);
- `summary`: per-seed prediction CSVs -> `metrics/summary.json`, confusion data and PNG;
- `reliability`: the reliability diagram of validation and test predictions;
- `plots`: the PNG figures shared by the summary and `attrmer report`.

The paper's tables and figures across experiments are `attrmer.report`, not this package.
Names are imported on first use: `attrmer predict` needs `calibration`, not pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "accuracy": "metrics", "confusion_matrix": "metrics", "per_class_f1": "metrics",
    "per_class_recall": "metrics", "uar": "metrics", "uf1": "metrics",
    "evaluate_seeds": "summary", "summarize_runs": "summary", "write_summary": "summary",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'attrmer.evaluate' has no attribute {name!r}")
    return getattr(importlib.import_module(f"attrmer.evaluate.{_WHERE[name]}"), name)
