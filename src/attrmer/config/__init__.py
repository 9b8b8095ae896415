"""Typed configuration: `params.yaml` read into one dataclass per section.

Every stage, the CLI and the tests build their settings through `load_params` /
`Params.from_dict`, so a misspelt key, a wrong type or an out-of-range value fails before any
work starts, with the offending key named (`train.alpha`, not "invalid value").

The sections live by subject: `data` (what is read and how it is prepared), `training` (the
network, its training and pretraining), `baselines`, `spot`; `params` holds `Params` and the
reading. This package only validates and holds values; it does not know how they are used.
"""

from attrmer.config.baselines import (
    SVM_C_GRID,
    BaselinesConfig,
    ElrcnConfig,
    FdmConfig,
    LbpTopConfig,
    MdmoConfig,
    NetabConfig,
    OffApexNetConfig,
    SparseMdmoConfig,
    StstnetConfig,
    TlcnnConfig,
)
from attrmer.config.data import (
    COMPOSITES,
    DATASET_NAME,
    DATASETS,
    MEGC2019_DATASETS,
    AttributesConfig,
    DataConfig,
    FlowConfig,
    PreprocessConfig,
    SplitConfig,
    SynthConfig,
)
from attrmer.config.errors import ConfigError
from attrmer.config.params import Params, load_params, load_params_if_present
from attrmer.config.spot import SpotConfig, SpotCorpusConfig
from attrmer.config.training import (
    DEPTHS,
    AugmentConfig,
    ModelConfig,
    PretrainConfig,
    RayConfig,
    TrainConfig,
)

__all__ = [
    "COMPOSITES",
    "DATASETS",
    "DATASET_NAME",
    "DEPTHS",
    "MEGC2019_DATASETS",
    "SVM_C_GRID",
    "AttributesConfig",
    "AugmentConfig",
    "BaselinesConfig",
    "ConfigError",
    "DataConfig",
    "ElrcnConfig",
    "FdmConfig",
    "FlowConfig",
    "LbpTopConfig",
    "MdmoConfig",
    "ModelConfig",
    "NetabConfig",
    "OffApexNetConfig",
    "Params",
    "PreprocessConfig",
    "PretrainConfig",
    "RayConfig",
    "SparseMdmoConfig",
    "SplitConfig",
    "SpotConfig",
    "SpotCorpusConfig",
    "StstnetConfig",
    "SynthConfig",
    "TlcnnConfig",
    "TrainConfig",
    "load_params",
    "load_params_if_present",
]
