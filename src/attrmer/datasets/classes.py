"""Class sets: which emotions a run classifies, and the label index of each.

The sets live in `class_sets.yaml` beside this module (data, not code): per dataset a "paper"
set and the MEGC 2019 three-class mapping. "all" (every emotion in the sheet) and an explicit
list from `data.classes` are built here. This module only maps emotions to labels; whether a
clip is usable is decided elsewhere (`attrmer.datasets.rules`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from attrmer.datasets.base import DatasetError

ALL = "all"


@dataclass(frozen=True)
class ClassSet:
    """Named classes in label order, and which emotions belong to each."""

    name: str
    classes: tuple[str, ...]
    # emotion (lower-case, as in the manifest) -> label index
    members: dict[str, int]
    # Only clips whose sheet gives a usable apex belong to the set (MEGC 2019 on CASME II).
    annotated_apex_only: bool = False

    def label_of(self, emotion: str) -> int | None:
        return self.members.get(emotion.strip().lower())

    def describe(self) -> str:
        return f"{self.name} ({len(self.classes)} classes: {', '.join(self.classes)})"


@cache
def load_class_sets() -> dict[str, dict[str, object]]:
    """class_sets.yaml as a mapping dataset -> set name -> classes."""
    text = resources.files("attrmer.datasets").joinpath("class_sets.yaml").read_text()
    return yaml.safe_load(text)


def class_set_names(dataset_key: str) -> list[str]:
    return [*load_class_sets().get(dataset_key, {}), ALL]


def resolve_class_set(
    spec: str | list[str], dataset_key: str, emotions_found: Iterable[str]
) -> ClassSet:
    """The class set `spec` (a set name or an explicit list of emotions) for a dataset.

    `emotions_found` are the sheet's emotions; "all" uses them, and an explicit list must name
    only emotions that occur (a misspelt class would otherwise train on nothing).
    """
    found = sorted({e.strip().lower() for e in emotions_found if e and e.strip()})
    if isinstance(spec, list):
        classes = [c.strip().lower() for c in spec]
        if len(set(classes)) != len(classes):
            raise DatasetError(f"data.classes: a class is listed twice in {spec}")
        absent = [c for c in classes if c not in found]
        if absent:
            raise DatasetError(
                f"data.classes: {', '.join(absent)} not found in the {dataset_key} sheet "
                f"(its emotions: {', '.join(found)})"
            )
        return ClassSet("explicit", tuple(classes), {c: i for i, c in enumerate(classes)})
    if spec == ALL:
        return ClassSet(ALL, tuple(found), {c: i for i, c in enumerate(found)})
    sets = load_class_sets().get(dataset_key, {})
    if spec not in sets:
        raise DatasetError(
            f"data.classes: no class set {spec!r} for {dataset_key} "
            f"(known: {', '.join(class_set_names(dataset_key))}, or a list of emotions)"
        )
    definition = sets[spec]
    annotated_apex_only = False
    if isinstance(definition, dict) and "classes" in definition:
        annotated_apex_only = bool(definition.get("annotated_apex_only", False))
        definition = definition["classes"]
    if isinstance(definition, list):
        classes = [str(c).lower() for c in definition]
        return ClassSet(spec, tuple(classes), {c: i for i, c in enumerate(classes)},
                        annotated_apex_only)
    members: dict[str, int] = {}
    for label, emotions in enumerate(definition.values()):
        for emotion in emotions:
            members[str(emotion).lower()] = label
    return ClassSet(spec, tuple(str(c) for c in definition), members, annotated_apex_only)
