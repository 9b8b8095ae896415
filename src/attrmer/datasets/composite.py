"""Several datasets read as one: the MEGC 2019 composite and any other combination.

- `data.name: megc2019` with `data.roots: {smic: …, casme2: …, samm: …}`: SMIC-HS, CASME II and
  SAMM, each read by its own adapter with its MEGC 2019 class set and sample selection
  (`class_sets.yaml`, key megc2019): 164 + 145 + 133 = 442 clips of 16 + 24 + 28 = 68 subjects
  in three classes (negative, positive, surprise), as See et al. (2019) composed it.
- `data.name: composite` with two or more `data.roots`: each dataset read by the adapter its name
  says (or `data.adapters` names, for two copies of one dataset), `data.classes` resolved for
  each; the class lists must agree, since one network learns them all.

In the manifest the `dataset` column holds the dataset's name in `data.roots`, and its subjects
and keys start with that name and a "/" (`casme2/sub01`, `casme2/sub01/EP02_01f`): subjects stay
distinct across datasets (SAMM's `006` and SMIC's `s06` never share a LOSO fold), and the
evaluate stage scores each dataset apart from the prefix. This module says what is read and
how it is named; judging the rows and splitting them is `attrmer.datasets.prepare`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

from attrmer.config import DataConfig
from attrmer.datasets.base import DatasetAdapter, get_adapter

# Between a composite's dataset name and the dataset's own subject or key.
SEPARATOR = "/"
# The class set megc2019 reads its datasets with.
MEGC2019_CLASSES = "megc2019"


@dataclass(frozen=True)
class Member:
    """One dataset of a composite: its name in data.roots and the adapter reading it."""

    name: str
    adapter: DatasetAdapter


def composite_members(data: DataConfig) -> list[Member]:
    """The datasets of a composite data.name, in `data.datasets` order (MEGC's for megc2019)."""
    return [Member(name, get_adapter(data.adapters.get(name, name), data.roots[name]))
            for name in data.datasets]


def composite_classes(data: DataConfig) -> str | list[str]:
    """The class set each dataset of the composite is read with."""
    return MEGC2019_CLASSES if data.name == "megc2019" else data.classes


def prefixed(dataset: str, name: str) -> str:
    """A subject or key of `dataset` as the composite names it: `casme2/sub01`."""
    return f"{dataset}{SEPARATOR}{name}"
