"""`Params`, the whole of params.yaml, and how a file is read into it: every key checked
against its section's annotations, unknown keys an error."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from attrmer.config.baselines import BaselinesConfig
from attrmer.config.data import (
    COMPOSITES,
    AttributesConfig,
    DataConfig,
    FlowConfig,
    PreprocessConfig,
    SplitConfig,
    SynthConfig,
)
from attrmer.config.errors import ConfigError
from attrmer.config.spot import SpotConfig
from attrmer.config.training import ModelConfig, PretrainConfig, TrainConfig


@dataclass(frozen=True)
class Params:
    data: DataConfig = field(default_factory=DataConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    attributes: AttributesConfig = field(default_factory=AttributesConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)
    spot: SpotConfig = field(default_factory=SpotConfig)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Params:
        params = _build(cls, raw or {}, prefix="")
        params.validate()
        return params

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            getattr(self, f.name).validate()
        self._validate_split_against_data()

    def _validate_split_against_data(self) -> None:
        split, data = self.split, self.data
        if split.protocol == "lodo" and data.name not in COMPOSITES:
            raise ConfigError(f"split.protocol: lodo leaves one dataset out of several; set "
                              f"data.name to {' or '.join(COMPOSITES)} (not {data.name!r})")
        if split.test_datasets and split.protocol != "lodo":
            raise ConfigError(f"split.test_datasets: only read under split.protocol lodo, not "
                              f"{split.protocol}")
        unknown = [d for d in split.test_datasets if d not in data.datasets]
        if unknown:
            raise ConfigError(f"split.test_datasets: {unknown[0]!r} is not a dataset of "
                              f"data.roots ({', '.join(data.datasets)})")
        if len(set(split.test_datasets)) != len(split.test_datasets):
            raise ConfigError("split.test_datasets: a dataset is listed twice")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_params_if_present(path: str | Path = "params.yaml") -> Params:
    """The params file at `path` when there is one, else the built-in defaults: what a
    command run from a checkout reads (`dvc exp run -S …` included) and one run elsewhere
    does without."""
    path = Path(path)
    return load_params(path) if path.is_file() else Params()


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate a params file; errors name the file and the key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such params file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    try:
        return Params.from_dict(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _build(cls: type, raw: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "params"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"{prefix}{unknown[0]}: unknown key (known keys here: {', '.join(sorted(known))})"
        )
    values = {}
    for name, value in raw.items():
        values[name] = _coerce(hints[name], value, f"{prefix}{name}")
    return cls(**values)


def _coerce(hint: Any, value: Any, key: str) -> Any:
    """Check `value` against the annotation `hint`; return it (ints widen to floats)."""
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key + ".")
    origin = typing.get_origin(hint)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(str, allowed))}")
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return _coerce(option, value, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: {value!r} has the wrong type (expected {_describe(hint)})")
    if origin is dict:
        key_hint, value_hint = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return {_coerce(key_hint, k, f"{key}.{k}"): _coerce(value_hint, v, f"{key}.{k}")
                for k, v in value.items()}
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_coerce(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported parameter type {hint!r}")  # pragma: no cover


def _describe(hint: Any) -> str:
    args = typing.get_args(hint)
    return " or ".join(getattr(a, "__name__", str(a)) for a in args) if args else str(hint)
