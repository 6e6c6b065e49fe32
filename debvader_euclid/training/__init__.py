"""Two-stage training of the deblending VAEs, and loading trained stages.

Stage 1 (:func:`train_vae`) learns noisy -> noiseless isolated stamps; stage 2
(:func:`train_deblender`) trains a fresh encoder on blends into the frozen stage-1
decoder. :func:`load_stage` rebuilds a trained stage from its output folder.
The ``debvader-euclid train`` subcommands are in :mod:`.command`.

The names below are imported on first use, so that importing
:mod:`debvader_euclid.training.command` (for ``debvader-euclid --help``) does not
load TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_stage": "debvader_euclid.training.artifacts",
    "ConfigFile": "debvader_euclid.training.config",
    "TrainingConfig": "debvader_euclid.training.config",
    "read_config_file": "debvader_euclid.training.config",
    "TrainResult": "debvader_euclid.training.trainer",
    "default_strategy": "debvader_euclid.training.trainer",
    "train_deblender": "debvader_euclid.training.trainer",
    "train_stage": "debvader_euclid.training.trainer",
    "train_vae": "debvader_euclid.training.trainer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
