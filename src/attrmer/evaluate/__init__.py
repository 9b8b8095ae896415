"""Evaluation: metrics of micro-expression recognition, the multi-seed summary and its plots.

- `metrics`: accuracy, UF1, UAR, per-class recall and F1, confusion matrix (numpy only);
- `summary`: per-seed prediction CSVs -> `metrics/summary.json`, confusion data and PNG;
- `plots`: the PNG figures shared by the summary and `attrmer report`.

The paper's tables and figures across experiments are `attrmer.report`, not this package.
"""

from attrmer.evaluate.metrics import (
    accuracy,
    confusion_matrix,
    per_class_f1,
    per_class_recall,
    uar,
    uf1,
)
from attrmer.evaluate.summary import evaluate_seeds, summarize_runs, write_summary

__all__ = [
    "accuracy",
    "confusion_matrix",
    "evaluate_seeds",
    "per_class_f1",
    "per_class_recall",
    "summarize_runs",
    "uar",
    "uf1",
    "write_summary",
]
