"""Dataset adapters: each micro-expression dataset, read as delivered, into one manifest.

`get_adapter(name, root)` returns the reader for data.name; `prepare_dataset` (in
`attrmer.datasets.prepare`) turns it, or several datasets read as one
(`attrmer.datasets.composite`), into data/interim/manifest.csv. Importing this package
registers every adapter.
"""

from attrmer.datasets import (  # noqa: F401  (registration)
    casme,
    casme2,
    casme3,
    casme3c,
    mmew,
    samm,
    smic,
    synthetic,
)
from attrmer.datasets.base import (
    ADAPTERS,
    ClipRecord,
    DatasetAdapter,
    DatasetError,
    Located,
    get_adapter,
)
from attrmer.datasets.classes import ClassSet, resolve_class_set
from attrmer.datasets.splits import (
    leave_one_dataset_out,
    loso_folds,
    subject_independent_split,
)

__all__ = [
    "ADAPTERS",
    "ClassSet",
    "ClipRecord",
    "DatasetAdapter",
    "DatasetError",
    "Located",
    "get_adapter",
    "leave_one_dataset_out",
    "loso_folds",
    "resolve_class_set",
    "subject_independent_split",
]
