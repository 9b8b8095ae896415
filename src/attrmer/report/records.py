"""Experiment records for `attrmer report`: reading `dvc exp show --json` into flat records,
and the words that describe a record's protocol, classes and model selection."""


from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from attrmer.baselines import TITLES
from attrmer.evaluate.summary import dataset_label

SUMMARY_METRICS = "metrics/summary.json"
BY_SEED_METRICS = "metrics/summary_by_seed.json"
# Each baseline stage writes metrics/baselines/<name>.json; the names are those of the
# list `attrmer.baselines.TITLES`, which also says how the tables name them.
BASELINE_METRICS_DIR = "metrics/baselines"
_BASELINE_METRICS = re.compile(rf"^{re.escape(BASELINE_METRICS_DIR)}/([^/]+)\.json$")
PARAMS_FILE = "params.yaml"
DEPTHS = (10, 18, 34)
PAPER_DEPTH = 10
DEFAULT_ALPHA = 0.5

# Keys that say where or how fast a run happened, not what it computed.
NOT_RESULT_KEYS = frozenset({
    "data.root", "preprocess.workers", "preprocess.gzip_level", "preprocess.aligned_gzip_level",
    "train.num_workers", "train.checkpoint", "train.channels_last",
    # Where and how the trainings ran: the same results (to the bit where each training
    # gets as many threads, within float rounding otherwise).
    "train.executor", "train.threads", "train.ray.address", "train.ray.cpus_per_task",
    "train.ray.gpus_per_task", "train.ray.max_retries",
})
# Keys that only matter to the attribute (text) branch: without it they change nothing.
TEXT_BRANCH_KEYS = frozenset({
    "train.alpha", "train.tau", "train.mask_same_text", "train.text_lr_scale",
    "model.text_model", "model.text_pooler", "attributes.intensity_words",
})
# The keys that make two results comparable at all: one table block per combination (and, for
# a composite data.name, per set of datasets read: `composite_datasets`).
CONDITION_KEYS = (
    "data.name", "data.classes", "split.protocol", "split.test_fraction",
    "split.validation_fraction", "split.test_datasets",
)
# What a key was before it existed: a run recorded without it ran with this value.
PARAM_DEFAULTS: dict[str, Any] = {"split.test_datasets": []}
# A composite's datasets, flattened from data.roots / data.adapters: `data.roots.<name>`.
ROOTS_PREFIX, ADAPTERS_PREFIX = "data.roots.", "data.adapters."
KIND_RANK = {"commit": 0, "workspace": 1, "experiment": 2}


@dataclass(frozen=True)
class ExperimentRecord:
    """One finished experiment: flat params, flat summary metrics, baselines' flat metrics."""

    name: str
    kind: str  # "commit", "workspace" or "experiment"
    rev: str
    timestamp: str | None
    params: dict[str, Any]
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    # {metric: {seed: value}} from the evaluate stage's per-seed file; empty for runs made
    # before it existed, which then cannot be paired.
    by_seed: dict[str, dict[int, float]] = field(default_factory=dict)
    # Other names of the same result: the branch of a commit (`main`), `HEAD` for the
    # workspace's commit, `workspace` when the workspace holds this result.
    aliases: tuple[str, ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    def setting(self, key: str) -> Any:
        """The value of `key` this run ran with, its default (`PARAM_DEFAULTS`) for a run
        recorded before the key existed: what comparisons of two runs should read."""
        return self.params.get(key, PARAM_DEFAULTS.get(key))

    @property
    def attribute_branch(self) -> bool:
        return bool(self.params.get("train.attribute_branch", True))


# --------------------------------------------------------------------------------------------
# Collecting experiments


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"train": {"alpha": 0.5}} -> {"train.alpha": 0.5}; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _file_data(files: Mapping[str, Any] | None, path: str) -> dict[str, Any] | None:
    entry = (files or {}).get(path)
    if not isinstance(entry, Mapping) or entry.get("error") or "data" not in entry:
        return None
    return entry["data"]


def _rev_entries(exp_show: Sequence[Mapping[str, Any]]) -> Iterable[tuple[str, Mapping]]:
    """(kind, entry) for the workspace, each commit and each experiment under a commit."""
    for top in exp_show:
        kind = "workspace" if top.get("rev") == "workspace" else "commit"
        yield kind, top
        for experiment in top.get("experiments") or []:
            # DVC 3 keeps one rev per experiment; older checkpoint runs list several, newest
            # first, and the newest is the result.
            revs = experiment.get("revs") or []
            if revs:
                yield "experiment", revs[0]


def parse_exp_show(
    exp_show: Sequence[Mapping[str, Any]],
    *,
    summary_path: str = SUMMARY_METRICS,
    by_seed_path: str = BY_SEED_METRICS,
    params_file: str = PARAMS_FILE,
) -> tuple[list[ExperimentRecord], list[str]]:
    """Records of the finished experiments in `dvc exp show --json` output, and the names of
    those skipped because they have no summary metrics (queued, running or failed)."""
    if not isinstance(exp_show, list):
        raise ValueError("dvc exp show --json: expected a list of revisions at the top level")
    records, skipped = [], []
    head_seen = False
    for kind, entry in _rev_entries(exp_show):
        data = entry.get("data") or {}
        rev = str(entry.get("rev") or data.get("rev") or "")
        name = entry.get("name") or (rev[:7] if kind != "workspace" else "workspace")
        summary = _file_data(data.get("metrics"), summary_path)
        params = _file_data(data.get("params"), params_file)
        # The first commit listed is the one the workspace and its experiments start from.
        aliases = ("HEAD",) if kind == "commit" and not head_seen else \
            ("workspace",) if kind == "workspace" and name != "workspace" else ()
        head_seen = head_seen or kind == "commit"
        if summary is None or params is None or entry.get("error"):
            skipped.append(name)
            continue
        baselines = {}
        for baseline in baseline_names(data.get("metrics")):
            values = _file_data(data.get("metrics"), baseline_metrics_path(baseline))
            if values is not None:
                baselines[baseline] = flatten(values)
        records.append(ExperimentRecord(
            name=name, kind=kind, rev=rev, timestamp=data.get("timestamp"), aliases=aliases,
            params=flatten(params), metrics=flatten(summary), baselines=baselines,
            by_seed=_by_seed(_file_data(data.get("metrics"), by_seed_path)),
        ))
    return _deduplicate(records), skipped


def with_workspace_baselines(records: list[ExperimentRecord], root: Path,
                             names: Sequence[str]) -> list[ExperimentRecord]:
    """`records` with the baselines of `names` that the workspace holds as files but DVC does
    not track as metrics (the deep ones, `dvc repro baselines/dvc.yaml`) added to the record
    of the workspace's result."""
    found = {}
    for name in names:
        path = root / baseline_metrics_path(name)
        try:
            found[name] = flatten(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    if not found:
        return records
    return [dataclasses.replace(r, baselines={**found, **r.baselines})
            if r.kind == "workspace" or "workspace" in r.aliases else r for r in records]


def baseline_metrics_path(name: str) -> str:
    return f"{BASELINE_METRICS_DIR}/{name}.json"


def baseline_names(metrics: Mapping[str, Any] | None) -> list[str]:
    """The baselines with a metrics/baselines/<name>.json among a revision's metrics files:
    in the registry's order, then any the registry no longer has, by name."""
    present = {m.group(1) for path in (metrics or {}) if (m := _BASELINE_METRICS.match(path))}
    return [n for n in TITLES if n in present] + sorted(present - set(TITLES))


def baseline_title(name: str) -> str:
    """How Table III names a baseline's row: the registry's title, "(baseline)" after it."""
    return f"{TITLES.get(name, name)} (baseline)"


def _by_seed(data: Mapping[str, Any] | None) -> dict[str, dict[int, float]]:
    """{"accuracy": {"0": 0.7}} -> {"accuracy": {0: 0.7}}; entries that are not numbers are
    left out rather than guessed."""
    result: dict[str, dict[int, float]] = {}
    for metric, values in (data or {}).items():
        if not isinstance(values, Mapping):
            continue
        seeds = {}
        for seed, value in values.items():
            try:
                seeds[int(seed)] = float(value)
            except (TypeError, ValueError):
                continue
        if seeds:
            result[metric] = seeds
    return result


def _deduplicate(records: Sequence[ExperimentRecord]) -> list[ExperimentRecord]:
    """Drop repeats of one result (the workspace after `dvc exp apply`, for example), keeping
    the commit, else the experiment, over the workspace."""
    # Unlike KIND_RANK, a named experiment beats the workspace here: after `dvc exp run` the
    # workspace holds a copy of the experiment's result, and its name is the informative one.
    order = {"commit": 0, "experiment": 1, "workspace": 2}
    groups: dict[str, list[ExperimentRecord]] = {}
    for record in records:
        groups.setdefault(_result_key(record), []).append(record)
    kept: dict[int, ExperimentRecord] = {}  # id of the record kept -> it, with the aliases
    for group in groups.values():
        keep = min(group, key=lambda r: order[r.kind])  # the first of the best kind
        names = [n for r in group for n in (r.name, *r.aliases) if n != keep.name]
        kept[id(keep)] = dataclasses.replace(keep, aliases=tuple(dict.fromkeys(names)))
    return [kept[id(r)] for r in records if id(r) in kept]


def _result_key(record: ExperimentRecord) -> str:
    return json.dumps([record.params, record.metrics, record.baselines], sort_keys=True)


def run_exp_show(repo: str | Path = ".", *, all_commits: bool = False) -> list[dict[str, Any]]:
    """`dvc exp show --json` in `repo`, parsed."""
    command = ["dvc", "exp", "show", "--json"] + (["--all-commits"] if all_commits else [])
    try:
        result = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise RuntimeError("dvc is not installed: pass --exp-json FILE instead") from None
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` failed in {repo}:\n{result.stderr.strip()}")
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"`{' '.join(command)}` printed no JSON: {exc}") from None


def load_paper_results() -> dict[str, Any]:
    """The paper's published numbers and their source (`attrmer/paper_results.yaml`)."""
    text = resources.files("attrmer").joinpath("paper_results.yaml").read_text()
    return yaml.safe_load(text)


# --------------------------------------------------------------------------------------------
# Describing a record's protocol


def signature(record: ExperimentRecord, drop: Iterable[str] = ()) -> str:
    dropped = NOT_RESULT_KEYS | set(drop)
    kept = {k: v for k, v in record.params.items()
            if k not in dropped and not k.startswith("baselines.")}
    return json.dumps(kept, sort_keys=True)


def condition_key(record: ExperimentRecord) -> str:
    return json.dumps([*(record.setting(k) for k in CONDITION_KEYS),
                       composite_datasets(record)])


def composite_datasets(record: ExperimentRecord) -> list[tuple[str, str]]:
    """(name, adapter) of each dataset a composite data.name read, in data.roots order; [] for
    one dataset. Where the datasets lie (the roots' paths) is not part of it."""
    names = [k[len(ROOTS_PREFIX):] for k in record.params if k.startswith(ROOTS_PREFIX)]
    return [(name, str(record.get(f"{ADAPTERS_PREFIX}{name}", name))) for name in names]


def protocol_text(record: ExperimentRecord) -> str:
    if record.get("split.protocol") == "loso":
        folds = record.metrics.get("n_folds")
        return f"LOSO ({int(folds)} folds pooled)" if folds else "LOSO"
    if record.get("split.protocol") == "lodo":
        folds = record.metrics.get("n_folds")
        details = [f"{int(folds)} fold{'s' if int(folds) != 1 else ''} pooled"] if folds else []
        tested = record.setting("split.test_datasets")
        if tested:
            details.insert(0, f"tested on {', '.join(map(str, tested))}")
        return "leave one dataset out" + (f" ({'; '.join(details)})" if details else "")
    test = float(record.get("split.test_fraction", 0.4))
    ratio = Fraction((1 - test) / test).limit_denominator(20)
    return f"holdout {ratio.numerator}:{ratio.denominator} by subject"


def classes_text(record: ExperimentRecord, metrics: Mapping[str, float] | None = None) -> str:
    metrics = record.metrics if metrics is None else metrics
    classes = record.get("data.classes", "paper")
    if not isinstance(classes, str):
        return f"custom: {', '.join(map(str, classes))}"
    label = classes
    names = [k[len("recall."):-len(".mean")] for k in metrics
             if k.startswith("recall.") and k.endswith(".mean")]
    count = metrics.get("n_classes")
    if count and len(names) == int(count):
        return f"{label}: {', '.join(names)}"
    return f"{label} ({int(count)} classes)" if count else label


def selection_text(record: ExperimentRecord) -> str:
    epochs = record.get("train.epochs")
    of_epochs = f" of {epochs}" if epochs is not None else ""
    validation = float(record.get("split.validation_fraction", 0.0) or 0.0)
    if validation > 0:
        return (f"best validation epoch{of_epochs} ({validation:.0%} of training subjects "
                "held out for validation)")
    return f"last epoch{of_epochs}"


def dataset_text(record: ExperimentRecord) -> str:
    """The data a run read: "CASME II"; a composite by its datasets, "CASME II + SAMM", as
    the evaluate stage's figures name it (`attrmer.evaluate.summary.dataset_title`)."""
    name = record.get("data.name", "?")
    members = composite_datasets(record)
    if name == "composite" and members:
        return " + ".join(dataset_label(adapter) for _, adapter in members)
    return dataset_label(name)


def on_synthetic_data(record: ExperimentRecord) -> bool:
    """Whether the run read the built-in synthetic data, alone or in a composite."""
    return record.get("data.name") == "synthetic" or any(
        adapter == "synthetic" for _, adapter in composite_datasets(record))


def dataset_cell(record: ExperimentRecord) -> str:
    text = dataset_text(record)
    return f"{text} ⚠" if on_synthetic_data(record) else text


def percent_cell(metrics: Mapping[str, float], metric: str) -> str:
    mean, std = metrics.get(f"{metric}.mean"), metrics.get(f"{metric}.std")
    if mean is None:
        return "—"
    return f"{100 * mean:.2f} ± {100 * std:.2f}" if std is not None else f"{100 * mean:.2f}"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines

