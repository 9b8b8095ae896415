"""Choosing records for the report: the headline run of a condition, its ablation partner,
the depth and α sweeps, and the grouping of runs into comparable conditions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from attrmer.report.records import (
    DEFAULT_ALPHA,
    KIND_RANK,
    PAPER_DEPTH,
    TEXT_BRANCH_KEYS,
    ExperimentRecord,
    condition_key,
    dataset_text,
    on_synthetic_data,
    protocol_text,
    signature,
)

# --------------------------------------------------------------------------------------------
# Choosing records


def _preference(record: ExperimentRecord) -> tuple:
    """Sort key: the committed run first, then the workspace, then the newest experiment."""
    try:
        age = -datetime.fromisoformat(record.timestamp).timestamp() if record.timestamp else 0.0
    except ValueError:
        age = 0.0
    return (KIND_RANK[record.kind], age, record.name)


def headline(records: Sequence[ExperimentRecord]) -> ExperimentRecord | None:
    """The method's row of a condition: attribute branch on, the paper's depth, and among those
    the committed run, else the one at the default α, else the newest experiment."""
    full = [r for r in records if r.attribute_branch]
    if not full:
        return None
    def rank(record: ExperimentRecord) -> tuple:
        is_experiment = record.kind == "experiment"
        off_default = is_experiment and record.get("train.alpha") != DEFAULT_ALPHA
        return (record.get("model.depth") != PAPER_DEPTH, off_default, _preference(record))

    return min(full, key=rank)


def ablation_partner(records: Sequence[ExperimentRecord],
                     full: ExperimentRecord) -> ExperimentRecord | None:
    """The run without the attribute branch that equals `full` in everything else."""
    drop = TEXT_BRANCH_KEYS | {"train.attribute_branch"}
    target = signature(full, drop)
    matches = [r for r in records if not r.attribute_branch and signature(r, drop) == target]
    return min(matches, key=_preference) if matches else None


@dataclass
class Sweep:
    """One series of a figure: swept value -> the preferred run at that value."""

    points: dict[Any, ExperimentRecord] = field(default_factory=dict)

    def offer(self, key: Any, record: ExperimentRecord) -> None:
        if key not in self.points or _preference(record) < _preference(self.points[key]):
            self.points[key] = record


def depth_sweep(records: Sequence[ExperimentRecord],
                prefer: ExperimentRecord | None) -> dict[bool, dict[int, ExperimentRecord]]:
    """{attribute_branch: {depth: record}} of the largest set of runs that differ only in depth
    and attribute branch (runs without the branch ignore the text-branch keys)."""
    swept = {"model.depth", "train.attribute_branch"}
    # Each group: runs with the branch that agree on every other key, plus every run without
    # the branch that agrees with them on the keys a run without the branch has any use for.
    groups: dict[str, tuple[str, dict[bool, Sweep]]] = {}
    for record in sorted(records, key=lambda r: not r.attribute_branch):
        if record.get("model.depth") is None:
            continue
        reduced = signature(record, swept | TEXT_BRANCH_KEYS)
        if record.attribute_branch:
            key = signature(record, swept)
            groups.setdefault(key, (reduced, {True: Sweep(), False: Sweep()}))
            groups[key][1][True].offer(record.get("model.depth"), record)
            continue
        homes = [sweeps for r, sweeps in groups.values() if r == reduced]
        if not homes:
            homes = [groups.setdefault(f"without branch {reduced}",
                                       (reduced, {True: Sweep(), False: Sweep()}))[1]]
        for sweeps in homes:
            sweeps[False].offer(record.get("model.depth"), record)
    candidates = [{b: s.points for b, s in sweeps.items()} for _, sweeps in groups.values()]
    return _largest(
        candidates,
        spread=lambda g: len(set(g[True]) | set(g[False])),
        size=lambda g: len(g[True]) + len(g[False]),
        members=lambda g: [*g[True].values(), *g[False].values()],
        prefer=prefer,
    )


def alpha_sweep(records: Sequence[ExperimentRecord],
                prefer: ExperimentRecord | None) -> dict[float, ExperimentRecord]:
    """{alpha: record} of the largest set of runs with the branch that differ only in α."""
    groups: dict[str, Sweep] = {}
    for record in records:
        if record.attribute_branch and record.get("train.alpha") is not None:
            key = signature(record, {"train.alpha"})
            groups.setdefault(key, Sweep()).offer(float(record.get("train.alpha")), record)
    return _largest([g.points for g in groups.values()], spread=len, size=len,
                    members=lambda g: list(g.values()), prefer=prefer)


def _largest(groups: list, *, spread, size, members,
             prefer: ExperimentRecord | None) -> Any:
    """The group with the most distinct sweep values, then the most runs, then the one holding
    `prefer` (the headline run); empty when no group spans two values."""
    candidates = [g for g in groups if spread(g) >= 2]
    if not candidates:
        return {}
    return max(candidates, key=lambda g: (spread(g), size(g),
                                          any(r is prefer for r in members(g))))



@dataclass
class Condition:
    """Runs whose numbers may share a table: same dataset, classes, protocol and selection."""

    slug: str
    records: list[ExperimentRecord]

    @property
    def sample(self) -> ExperimentRecord:
        return self.records[0]

    @property
    def dataset(self) -> str:
        return self.sample.get("data.name", "?")

    @property
    def synthetic(self) -> bool:
        return on_synthetic_data(self.sample)

    @property
    def title(self) -> str:
        text = f"{dataset_text(self.sample)}, {protocol_text(self.sample)}"
        classes = self.sample.get("data.classes", "paper")
        text += f", classes: {classes if isinstance(classes, str) else ', '.join(classes)}"
        return text


def group_conditions(records: Sequence[ExperimentRecord]) -> list[Condition]:
    grouped: dict[str, list[ExperimentRecord]] = {}
    for record in records:
        grouped.setdefault(condition_key(record), []).append(record)
    conditions, used = [], set()
    for members in sorted(grouped.values(), key=lambda m: condition_key(m[0])):
        first = members[0]
        classes = first.get("data.classes", "paper")
        parts = [first.get("data.name", "unknown"), first.get("split.protocol", "holdout"),
                 classes if isinstance(classes, str) else "custom"]
        if float(first.get("split.validation_fraction", 0) or 0) > 0:
            parts.append("val")
        slug = "_".join(str(p) for p in parts)
        base, n = slug, 2
        while slug in used:
            slug, n = f"{base}_{n}", n + 1
        used.add(slug)
        conditions.append(Condition(slug, list(members)))
    return conditions
