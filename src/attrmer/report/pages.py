"""The results pages of the documentation (`docs/results/`), written from the files that hold
the figures, so that no figure is typed by hand.

Each page reads its files from a project folder: the metrics `dvc repro` writes
(`metrics/summary.json`, `metrics/summary_by_seed.json`, `metrics/baselines/<name>.json`,
`metrics/spotting.json`, `metrics/calibration.json`), the deep baselines' files when
`dvc repro baselines/dvc.yaml` has run, the benchmarks' `bench/results/*.json`, the paper's
published numbers (`attrmer/paper_results.yaml`) and the settings of the run as `dvc.lock`
records them. Each page ends with the files it read and their MD5, and the files it looked for
and did not find: `tests/test_results_pages.py` compares those with the workspace and
`dvc.lock`, and a page with the same files with a page written again.

`PAGES` is the one list of pages (file name -> title and the function that writes its body).
`attrmer report --pages docs/results` writes them all (`write_pages`). Not for the paper's
tables from experiments (`attrmer report` without `--pages`, `attrmer.report.tables`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from attrmer.baselines import DEEP, REFERENCES, TITLES
from attrmer.evaluate.summary import BEST_EPOCH_ON_TEST, BEST_ON_TEST_KEY
from attrmer.io import owned_folder, write_text
from attrmer.report.records import (
    BY_SEED_METRICS,
    SUMMARY_METRICS,
    baseline_metrics_path,
    flatten,
    markdown_table,
    percent_cell,
)
from attrmer.report.tables import (
    best_on_test_cell,
    figure_cell,
    implementation_cell,
    other_split,
    published_references,
)

LOCK_FILE = "dvc.lock"
SPOTTING_METRICS = "metrics/spotting.json"
CALIBRATION_METRICS = "metrics/calibration.json"
BENCH_RESULTS = "bench/results"
PAPER_RESULTS = "src/attrmer/paper_results.yaml"
COMMAND = "attrmer report --pages docs/results"
# How a page names a file it looked for and did not find, in its sources table.
ABSENT = "absent"

# The settings the index shows, each as the stage that reads it records it in dvc.lock.
RUN_KEYS = (
    "data.name", "data.classes", "split.protocol", "split.test_fraction",
    "split.validation_fraction", "split.seed", "train.seeds", "train.init", "train.epochs",
    "train.min_steps", "train.lr", "train.alpha", "train.attribute_branch", "model.depth",
    "model.width", "model.input_size", "flow.reference", "flow.scale", "flow.head_motion",
    "flow.region", "spot.videos", "spot.corpus.seed", "spot.iou",
)


# --------------------------------------------------------------------------------------------
# Reading a project folder


@dataclass
class Sources:
    """The files one page reads from `root`, in the order it reads them: their MD5, or None
    for a file looked for and not found."""

    root: Path
    read: dict[str, str | None] = field(default_factory=dict)

    def json(self, path: str) -> Any:
        """The parsed JSON file at `path` (relative to the root), or None when it is absent."""
        text = self._text(path)
        return None if text is None else json.loads(text)

    def yaml(self, path: str) -> Any:
        text = self._text(path)
        return None if text is None else yaml.safe_load(text)

    def _text(self, path: str) -> str | None:
        file = self.root / path
        if not file.is_file():
            self.read[path] = None
            return None
        data = file.read_bytes()
        self.read[path] = hashlib.md5(data).hexdigest()
        return data.decode()


@dataclass(frozen=True)
class Lock:
    """What `dvc.lock` records: every output's MD5 and the settings each stage ran with."""

    md5: dict[str, str]
    settings: dict[str, Any]

    @classmethod
    def read(cls, root: Path) -> Lock:
        path = root / LOCK_FILE
        if not path.is_file():
            return cls({}, {})
        stages = (yaml.safe_load(path.read_text()) or {}).get("stages") or {}
        md5, settings = {}, {}
        for stage in stages.values():
            for out in stage.get("outs") or []:
                if "md5" in out:
                    md5[out["path"]] = out["md5"]
            for values in (stage.get("params") or {}).values():
                settings.update(flatten(values))
        return cls(md5, settings)


# --------------------------------------------------------------------------------------------
# Formatting


def percent(value: float) -> str:
    """0.8633 -> "86.33", as `attrmer report` prints percentages."""
    return f"{100 * value:.2f}"


def fraction(value: float) -> str:
    return f"{value:.3f}"


def right_of(pair: Sequence[int]) -> str:
    """[right, total] -> "48 of 51 (94 %)"."""
    right, total = pair
    return f"{right} of {total} ({right / total:.0%})" if total else "0 of 0"


def setting_text(value: Any) -> str:
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def missing(path: str, how: str) -> list[str]:
    return [f"No `{path}` in this project folder: {how} writes it.", ""]


# --------------------------------------------------------------------------------------------
# The pages


def index_page(sources: Sources, lock: Lock) -> list[str]:
    rows = [[f"`{key}`", f"`{setting_text(lock.settings[key])}`"]
            for key in RUN_KEYS if key in lock.settings]
    lines = [
        "The figures of the last run, each page written from the files that hold them (listed "
        "at its end) by one command:",
        "",
        "```bash",
        COMMAND,
        "```",
        "",
        "`make repro` runs it after `dvc repro`; after `dvc repro baselines/dvc.yaml` or a "
        "benchmark, run it again. Do not edit these pages by hand: a test fails when a figure "
        "here differs from its file. How the figures changed over time is in the "
        "[changelog](../changelog.md).",
        "",
        "| page | what |",
        "|---|---|",
        *(f"| [{title}]({name}) | {what} |" for name, (title, what, _) in PAGES.items()
          if name != "index.md"),
        "",
    ]
    if lock.settings.get("data.name") == "synthetic":
        lines += [
            "!!! warning \"Synthetic data\"",
            "    These runs are on the built-in synthetic dataset. They show that the pipeline "
            "works; they say nothing about the paper's claims and must not be compared with "
            "its tables.",
            "",
        ]
    lines += ["## The run", "", "The settings as `dvc.lock` records them:", ""]
    lines += markdown_table(["key", "value"], rows) if rows else ["No `dvc.lock`.", ""]
    return lines


def method_page(sources: Sources, lock: Lock) -> list[str]:
    summary = sources.json(SUMMARY_METRICS)
    if summary is None:
        return missing(SUMMARY_METRICS, "`dvc repro` (the evaluate stage)")
    flat = flatten(summary)
    best = BEST_ON_TEST_KEY in summary
    header = ["metric", "mean ± std over seeds (%)"] + ([BEST_EPOCH_ON_TEST + " (%)"] if best
                                                       else [])
    rows = []
    for metric, name in (("accuracy", "accuracy"), ("uf1", "UF1"), ("uar", "UAR")):
        row = [name, percent_cell(flat, metric)]
        if best:
            row.append(percent_cell(flatten(summary[BEST_ON_TEST_KEY]), metric))
        rows.append(row)
    counts = ", ".join(f"{int(flat[key])} {word if int(flat[key]) != 1 else word[:-1]}"
                       for key, word in (("n_seeds", "seeds"), ("n_test", "test clips"),
                                         ("n_folds", "folds"), ("n_classes", "classes"))
                       if key in flat)
    lines = ["The method's figures on the test subjects, the epoch of each seed chosen on the "
             "validation subjects.", ""]
    lines += markdown_table(header, rows)
    lines += ["", f"{counts}.", ""]
    if best:
        lines += [f"The last column is the {BEST_EPOCH_ON_TEST}: each fold's epoch picked on "
                  "its test subjects themselves. It is shown for comparison with such papers "
                  "and never chosen on.", ""]
    by_seed = sources.json(BY_SEED_METRICS)
    if by_seed:
        seeds = sorted({seed for values in by_seed.values() for seed in values}, key=int)
        columns = [m for m in ("accuracy", "uf1", "uar", "val_accuracy") if m in by_seed]
        names = {"accuracy": "accuracy", "uf1": "UF1", "uar": "UAR",
                 "val_accuracy": "validation accuracy"}
        lines += ["## Each seed", ""]
        lines += markdown_table(["seed"] + [f"{names[m]} (%)" for m in columns], [
            [seed] + [percent(by_seed[m][seed]) if seed in by_seed[m] else "—" for m in columns]
            for seed in seeds])
        lines += [""]
    recall = summary.get("recall") or {}
    if recall:
        lines += ["## Recall per class", ""]
        lines += markdown_table(["class", "recall (%)"], [
            [name, _mean_std_cell(values)]
            for name, values in recall.items()])
        lines += [""]
    datasets = summary.get("datasets") or {}
    if datasets:
        lines += ["## Per dataset", ""]
        lines += markdown_table(["dataset", "accuracy (%)", "UF1 (%)", "UAR (%)"], [
            [name] + [percent_cell(flatten(values), m) for m in ("accuracy", "uf1", "uar")]
            for name, values in datasets.items()])
        lines += [""]
    return lines


def _mean_std_cell(values: Mapping[str, float]) -> str:
    """{"mean": 0.5, "std": 0.1} -> "50.00 ± 10.00"; {"mean": 0.5} -> "50.00"."""
    if "std" in values:
        return f"{percent(values['mean'])} ± {percent(values['std'])}"
    return percent(values["mean"])


def _method_row(title: str, implementation: str, metrics: Mapping[str, Any] | None,
                absent: str) -> list[str]:
    if metrics is None:
        return [title, implementation, absent, "—", "—", "—", "—"]
    flat = flatten(metrics)
    seeds = flat.get("n_seeds")
    runs = metrics.get("runs") or (f"{int(seeds)} seeds" if seeds is not None else "?")
    return [title, implementation, percent_cell(flat, "accuracy"), percent_cell(flat, "uf1"),
            percent_cell(flat, "uar"), best_on_test_cell(flat), str(runs)]


def table3_page(sources: Sources, lock: Lock) -> list[str]:
    header = ["method", "implementation", "accuracy (%)", "UF1 (%)", "UAR (%)",
              f"accuracy / UF1 (%), {BEST_EPOCH_ON_TEST}", "runs"]
    method = sources.json(SUMMARY_METRICS)
    rows = [_method_row("attrmer (this method)", "the paper's method", method,
                        "not run: `dvc repro`")]
    references = []
    for name, title in TITLES.items():
        command = "dvc repro baselines/dvc.yaml" if name in DEEP else "dvc repro"
        metrics = sources.json(baseline_metrics_path(name))
        absent = f"not in this project folder: `{command}`"
        if metrics is not None and method is not None:
            # A file left from a run on another split is not a figure of this one.
            other = other_split(flatten(metrics), flatten(method))
            if other:
                metrics, absent = None, f"measured on another split ({other}): `{command}`"
        row = _method_row(title, implementation_cell(name), metrics, absent)
        (references if name in REFERENCES else rows).append(row)
    lines = [
        "The method and every method of the paper's Table III, run by attrmer on the same "
        "split (the baselines also on the same seeds and validation subjects). What each "
        "baseline implements and leaves out: [Table III and the baselines](../baselines.md). "
        "Accuracy, UF1 and UAR are mean ± std over seeds; a classic baseline is one "
        "deterministic run.",
        "",
    ]
    lines += markdown_table(header, rows)
    lines += [""]
    if references:
        lines += ["## References", "",
                  "Methods outside the paper's Table III, run the same way as reference "
                  "points.", ""]
        lines += markdown_table(header, references)
        lines += [""]
    paper = sources.yaml(PAPER_RESULTS)
    if paper and published_references(paper):
        lines += ["Their published figures on the MEGC 2019 composite (LOSO, three classes), "
                  "copied, not runs of attrmer, and not comparable with the built-in data's:",
                  ""]
        lines += markdown_table(
            ["method", "source", "UF1 (%)", "UAR (%)", "epoch chosen"],
            [[entry["method"], figure["source"], figure_cell(figure, "uf1"),
              figure_cell(figure, "uar"), figure["selection"]]
             for entry, figure in published_references(paper)])
        lines += [""]
    if paper:
        lines += _published_section(paper)
    return lines


def _published_section(paper: Mapping[str, Any]) -> list[str]:
    datasets = paper.get("datasets") or {}
    keys = [key for key, values in datasets.items() if "table3" in values]

    def cell(values: Mapping[str, Any] | None) -> str:
        if not values:
            return "—"
        return f"{values['accuracy_mean']:.2f} ± {values['accuracy_std']:.2f}"

    rows = [["the paper's method"] + [cell(datasets[key]["table3"]) for key in keys]]
    rows += [[f"{entry['method']} (copied by the paper)"] + [cell(entry.get(key)) for key in keys]
             for entry in paper.get("table3_compared") or []]
    protocol = paper.get("protocol") or {}
    return [
        "## As the paper published it", "",
        f"Accuracy (%), mean ± std over {protocol.get('runs', '?')} runs, "
        f"{protocol.get('split', 'split not stated')} "
        f"({paper['source']['reference']}, Table III). The paper copied the other rows from "
        f"other work, under other splits; its model selection is "
        f"{protocol.get('model_selection', 'not stated')}. None of these is comparable with "
        "a figure on synthetic data.",
        "",
        *markdown_table(["method"] + [f"{datasets[key]['label']} accuracy (%)" for key in keys],
                        rows),
        "",
    ]


# The spotting figures of each long-video corpus (dvc.yaml's evaluate_spotting@<corpus>), in
# the order the page shows them, and what each one is.
SPOTTING_CORPORA = (
    ("corpus", SPOTTING_METRICS, "scored once, never tuned on"),
    ("corpus_200fps", "metrics/spotting_200fps.json", "never tuned on"),
    ("tuning_corpus", "metrics/spotting_tuning.json",
     "tuned on: scored after each change of the spotter"),
)


def spotting_page(sources: Sources, lock: Lock) -> list[str]:
    found = [(name, path, role, sources.json(path)) for name, path, role in SPOTTING_CORPORA]
    if all(spotting is None for *_, spotting in found):
        return missing(SPOTTING_METRICS, "`dvc repro` (the evaluate_spotting stage)")
    iou = next(s.get("iou", "?") for *_, s in found if s is not None)
    summary = []
    for name, path, role, spotting in found:
        if spotting is None:
            command = "dvc repro" if name == "corpus" else "dvc repro spotting/dvc.yaml"
            summary.append([f"`spot.{name}`", f"not in this project folder: `{command}` "
                                             f"writes {path}"] + [""] * 7)
            continue
        strs = spotting.get("strs") or {}
        summary.append([f"`spot.{name}`", role, _corpus_text(name, lock, spotting)]
                       + [fraction(spotting[k]["f1"]) for k in ("micro", "macro", "overall")]
                       + [fraction(strs[k]["strs"]) if k in strs else "—"
                          for k in ("micro", "macro", "overall")])
    lines = [
        "Spotting in long videos, scored by the MEGC protocol: a spotted interval is a true "
        "positive when its IoU with an annotated interval of the same video and type is at "
        f"least {iou}, and every annotated interval counts (one the reader could not use, or in "
        "a video that could not be spotted, as missed). STRS, MEGC's spot-then-recognise score "
        "since 2023, is that F1 times the F1 of classifying the spotted expressions (negative, "
        "positive, surprise) with the trained models. How spotting works and how the figures "
        "are computed: [spotting](../spotting.md).",
        "",
        *markdown_table(["corpus", "role", "videos", "micro F1", "macro F1", "overall F1",
                         "micro STRS", "macro STRS", "overall STRS"], summary),
        "",
    ]
    for name, _, _, spotting in found:
        if spotting is not None:
            lines += _spotting_detail(name, spotting)
    return lines


def _corpus_text(name: str, lock: Lock, spotting: dict[str, Any]) -> str:
    """"8 at 30 fps, real faces" for a built-in corpus; the delivery's path for spot.videos."""
    videos = spotting.get("videos", "?")
    where = lock.settings.get("spot.videos", "builtin")
    if name == "corpus" and where != "builtin":
        return f"{videos} of `{where}`"
    fps = lock.settings.get(f"spot.{name}.fps", "?")
    faces = lock.settings.get(f"spot.{name}.identities", "bundled")
    return f"{videos} at {fps} fps, {faces} faces"


def _spotting_detail(name: str, spotting: dict[str, Any]) -> list[str]:
    strs = spotting.get("strs") or {}
    rows = []
    for kind in ("micro", "macro", "overall"):
        values = spotting.get(kind)
        if not values:
            continue
        row = ([kind] + [str(values[k]) for k in ("truth", "spotted", "tp", "fp", "fn")]
               + [fraction(values[k]) for k in ("precision", "recall", "f1")])
        if kind in strs:
            analysis = strs[kind]["analysis"]
            row += [f"{analysis['right']} of {analysis['pairs']}",
                    fraction(strs[kind]["f1_analysis"]), fraction(strs[kind]["strs"]),
                    fraction(strs[kind]["joint"]["f1"])]
        else:
            row += ["—"] * 4
        rows.append(row)
    unusable = spotting.get("intervals_unusable") or {}
    return [
        f"## `spot.{name}`",
        "",
        *markdown_table(["type", "annotated", "spotted", "TP", "FP", "FN", "precision",
                         "recall", "F1", "classified right", "F1 analysis", "STRS",
                         "joint F1"], rows),
        "",
        f"Videos that could not be spotted: {spotting.get('videos_not_spotted', 0)}; "
        "annotated intervals the reader could not use: "
        + (", ".join(f"{count} {kind}" for kind, count in unusable.items()) or "0")
        + " (both count as missed)."
        + (f" Blinks annotated: {spotting['blinks_annotated']}."
           if "blinks_annotated" in spotting else ""),
        "",
    ]


def calibration_page(sources: Sources, lock: Lock) -> list[str]:
    calibration = sources.json(CALIBRATION_METRICS)
    lines = []
    if calibration is None:
        lines += missing(CALIBRATION_METRICS, "`dvc repro` (the evaluate stage)")
    else:
        ece = calibration.get("ece") or {}
        lines += [
            "Expected calibration error (ECE) of the validation and test predictions, every "
            "seed pooled, before and after each seed's temperature. The temperatures are "
            "fitted on cross-fitted validation predictions (each validation clip as predicted "
            "at the epoch chosen on the others). What the probabilities are used for: "
            "[predicting](../predict.md).",
            "",
            *markdown_table(["predictions", "raw ECE", "calibrated ECE"], [
                [side, fraction(values["raw"]), fraction(values["calibrated"])]
                for side, values in ece.items()]),
            "",
            "## Temperatures", "",
            *markdown_table(["seed", "temperature"], [
                [seed, f"{value:.2f}"] for seed, value in
                sorted((calibration.get("temperature") or {}).items(), key=lambda s: int(s[0]))]),
            "",
        ]
    certainty = sources.json(f"{BENCH_RESULTS}/certainty.json")
    if certainty:
        lines += [
            "## Answers marked uncertain", "",
            "`python bench/certainty.py`: how often an answer of `attrmer predict` is right "
            "when it is marked certain and when it is marked uncertain.", "",
        ]
        rows = []
        for setting, sets in certainty.items():
            for name, values in sets.items():
                if not isinstance(values, Mapping):
                    continue
                reasons = "; ".join(f"{why}: {count}"
                                    for why, count in (values.get("reasons") or {}).items())
                rows.append([setting, name, right_of(values["certain"]),
                             right_of(values["uncertain"]), reasons or "—"])
        lines += markdown_table(["models", "clips", "certain: right", "uncertain: right",
                                 "reasons given"], rows)
        models = [f"{setting}: {sets['model']}" for setting, sets in certainty.items()
                  if "model" in sets]
        lines += ["", "Models: " + "; ".join(models) + ".", ""] if models else [""]
    return lines


def real_faces_page(sources: Sources, lock: Lock) -> list[str]:
    data = sources.json(f"{BENCH_RESULTS}/real_faces.json")
    if data is None:
        return missing(f"{BENCH_RESULTS}/real_faces.json",
                       "`python bench/real_faces.py` with `--json`")
    settings = data.get("settings") or {}
    lines = [
        f"{data.get('what', '`python bench/real_faces.py`')}. Machine: "
        f"{data.get('machine', 'not recorded')}. What the default models saw and what to "
        "make of these figures: [on real faces](../predict.md#on-real-faces).",
        "",
        "## Settings compared", "",
        *markdown_table(["name", "setting"], [[f"`{k}`", v] for k, v in settings.items()]),
        "",
    ]
    for design, by_setting in (data.get("zeroshot") or {}).items():
        if not isinstance(by_setting, Mapping):
            continue
        lines += [f"## Networks as they come: {design}", "",
                  "Development clips read right, per class: the pretrained network, and the "
                  "trained seeds together.", ""]
        rows = []
        for setting, models in by_setting.items():
            for who in ("pretrained", "seeds"):
                chosen = [m for name, m in models.items()
                          if (name == "pretrained") == (who == "pretrained")]
                if not chosen:
                    continue
                classes = list(chosen[0]["right"])
                cells = [f"{name}: {sum(m['right'][name] for m in chosen)} of "
                         f"{sum(m['clips_per_class'] for m in chosen)}" for name in classes]
                rows.append([f"`{setting}`", who if who == "pretrained"
                             else f"{len(chosen)} seeds", "; ".join(cells)])
        lines += markdown_table(["setting", "network", "read right"], rows)
        lines += [""]
    smiles = data.get("smiles") or {}
    if smiles:
        lines += ["## Subtle real smiles", "",
                  "Each development person's measured smile at a fraction of its strength, "
                  "classified by every trained seed with `--window auto`.", ""]
        lines += markdown_table(
            ["setting", "strength", "read as happiness", "all answers", "certain: right",
             "uncertain: right"],
            [[f"`{s}`", f"{v['fraction']:.0%}", f"{v['happiness']} of {v['people']}",
              ", ".join(f"{k} {n}" for k, n in v["labels"].items()), right_of(v["certain"]),
              right_of(v["uncertain"])] for s, v in smiles.items()])
        lines += [""]
    for condition, by_setting in (data.get("learn") or {}).items():
        lines += [f"## Learning from the development clips: {condition}", ""]
        rows = []
        for setting, v in by_setting.items():
            clips = v["clips"]
            accuracy, uf1 = v["method_accuracy"], v["method_uf1"]
            rows.append([
                f"`{setting}`", f"{clips['train']} / {clips['val']} / {clips['test']}",
                f"{percent(accuracy[0])} ± {percent(accuracy[1])}",
                f"{percent(uf1[0])} ± {percent(uf1[1])}",
                percent(v["method_validation_accuracy"]),
                f"{percent(v['mdmo_accuracy'])} / {percent(v['mdmo_uf1'])}",
            ])
        lines += markdown_table(["setting", "clips train / val / test",
                                 "method accuracy (%)", "method UF1 (%)",
                                 "validation accuracy (%)", "MDMO + SVM accuracy / UF1 (%)"],
                                rows)
        lines += [""]
    return lines


def timings_page(sources: Sources, lock: Lock) -> list[str]:
    lines = ["Timings from the benchmarks under `bench/`, each with the machine it ran on. "
             "A benchmark writes its file with `--json bench/results/<name>.json`; files "
             "no other page shows are listed here whole.", ""]
    threads = sources.json(f"{BENCH_RESULTS}/threads.json")
    if threads:
        lines += [
            "## Threads beside another job", "",
            f"`python bench/threads.py --steps {threads.get('steps', '?')}`, "
            f"{threads.get('machine', 'machine not recorded')}: a training step and a "
            "one-clip forward pass, alone and beside a competing PyTorch job, under each "
            "OpenMP wait policy.", "",
        ]
        rows = []
        for policy, values in (threads.get("policies") or {}).items():
            alone, loaded, ratio = values["alone"], values["loaded"], values["ratio"]
            rows.append([policy, f"{alone['train_step_s']:.3f}", f"{loaded['train_step_s']:.3f}",
                         f"{ratio['train_step_s']:.2f}×", f"{alone['forward_s']:.3f}",
                         f"{loaded['forward_s']:.3f}", f"{ratio['forward_s']:.2f}×"])
        lines += markdown_table(["wait policy", "train step alone (s)", "beside a job (s)",
                                 "loaded / alone", "forward alone (s)", "beside a job (s)",
                                 "loaded / alone"], rows)
        lines += [""]
    shown = {"threads.json", "certainty.json", "real_faces.json"}
    folder = sources.root / BENCH_RESULTS
    others = sorted(p.name for p in folder.glob("*.json") if p.name not in shown) \
        if folder.is_dir() else []
    for name in others:
        values = sources.json(f"{BENCH_RESULTS}/{name}")
        flat = flatten(values) if isinstance(values, Mapping) else {"value": values}
        lines += [f"## `{name}`", "",
                  f"Machine: {flat.pop('machine', 'not recorded')}.", ""]
        lines += markdown_table(["key", "value"], [[f"`{k}`", setting_text(v)]
                                                   for k, v in flat.items()])
        lines += [""]
    return lines


# file name -> (title, what it shows, the function that writes its body)
PAGES: dict[str, tuple[str, str, Callable[[Sources, Lock], list[str]]]] = {
    "index.md": ("Results", "the run these pages describe", index_page),
    "method.md": ("The method's results", "accuracy, UF1 and UAR over seeds, each seed, "
                  "recall per class", method_page),
    "table3.md": ("Table III", "the method beside every baseline on the same split, and the "
                  "paper's published figures", table3_page),
    "spotting.md": ("Spotting", "MEGC precision, recall and F1 on the long videos",
                    spotting_page),
    "calibration.md": ("Calibration and certainty", "calibration error, temperatures, how "
                       "often certain and uncertain answers are right", calibration_page),
    "real-faces.md": ("Real faces", "the real-face development checks", real_faces_page),
    "timings.md": ("Timings", "the benchmarks' timings with their machine", timings_page),
}


# --------------------------------------------------------------------------------------------
# Writing


def sources_table(read: Mapping[str, str | None]) -> list[str]:
    """The table every page ends with: each file it read and its MD5, or `absent`."""
    return markdown_table(["file", "MD5"], [
        [f"`{path}`", f"`{md5}`" if md5 else ABSENT] for path, md5 in read.items()])


def parse_sources(page: str) -> dict[str, str | None]:
    """The inverse of `sources_table` on a written page: {path: MD5 or None}."""
    _, _, tail = page.partition("\n## Sources\n")
    found: dict[str, str | None] = {}
    for line in tail.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`"):
            found[cells[0].strip("`")] = None if cells[1] == ABSENT else cells[1].strip("`")
    return found


def render_page(name: str, root: str | Path, lock: Lock | None = None) -> str:
    """The text of page `name` of `PAGES`, from the files under `root`."""
    root = Path(root)
    lock = Lock.read(root) if lock is None else lock
    title, _, body = PAGES[name]
    sources = Sources(root)
    lines = [f"# {title}", "",
             f"*Written by `{COMMAND}` from the files listed at the end; do not edit.*", ""]
    lines += body(sources, lock)
    if sources.read:
        lines += ["## Sources", "", *sources_table(sources.read)]
    return "\n".join(lines).rstrip("\n") + "\n"


def render_pages(root: str | Path) -> dict[str, str]:
    """Every page of `PAGES`, file name -> text."""
    lock = Lock.read(Path(root))
    return {name: render_page(name, root, lock) for name in PAGES}


def write_pages(root: str | Path, out_dir: str | Path, *, force: bool = False) -> list[Path]:
    """Write every page into `out_dir` (replaced whole: a folder of earlier pages, new or
    empty; any other folder is refused unless `force`). Returns the pages' paths."""
    pages = render_pages(root)
    with owned_folder(out_dir, command="attrmer report --pages", force=force,
                      own_names=frozenset(pages)) as tmp:
        for name, text in pages.items():
            write_text(tmp / name, text)
    return [Path(out_dir) / name for name in pages]

