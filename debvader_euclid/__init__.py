"""debvader_euclid: deblending Euclid VIS galaxy stamps with variational autoencoders.

The main entry point is :class:`Deblender`::

    from debvader_euclid import Deblender
    central_uJy = Deblender.load("analytic").deblend(stamps_uJy)

Images are microJansky per 0.1 arcsec VIS pixel (AB zero point 23.9).
:class:`Deblender` is imported on first use, so ``import debvader_euclid`` (and
the command line's ``--help``) does not load TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Deblender": "debvader_euclid.deblender",
    "DeblendSamples": "debvader_euclid.deblender",
    "FluxEstimate": "debvader_euclid.deblender",
    "available_models": "debvader_euclid.deblender",
    "central_detection": "debvader_euclid.quality",
    "estimate_noise_sigma": "debvader_euclid.noise",
}

__all__ = [
    "DeblendSamples",
    "Deblender",
    "FluxEstimate",
    "__version__",
    "available_models",
    "central_detection",
    "estimate_noise_sigma",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'debvader_euclid' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
