"""Evaluate a trained model on a data set: metrics tables, figures and a report.

``debvader-euclid evaluate --model NAME|DIR --data DIR --out DIR`` or, from Python::

    from debvader_euclid.evaluation import evaluate
    result = evaluate("analytic", "data/blended-test", "reports/blended")
    result.metrics          # the Table 1 comparison as a pandas DataFrame

Modules: :mod:`.predictors` (which network a data set is evaluated with),
:mod:`.tables` (metrics tables from arrays, pandas only), :mod:`.report`
(:func:`evaluate`: run everything and write the report folder) and :mod:`.command`
(the subcommand). The heavy modules are imported on first use, so that the command
line's ``--help`` does not load TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "evaluate": "debvader_euclid.evaluation.report",
    "EvaluationResult": "debvader_euclid.evaluation.report",
    "REPORT_FILES": "debvader_euclid.evaluation.report",
    "Predictor": "debvader_euclid.evaluation.predictors",
    "load_predictor": "debvader_euclid.evaluation.predictors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'debvader_euclid.evaluation' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
