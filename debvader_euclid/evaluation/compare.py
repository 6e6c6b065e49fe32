"""``debvader-euclid compare``: one table from several evaluation reports.

Each report folder written by ``debvader-euclid evaluate`` holds ``metrics.csv``
(one row per method and definition of ``F_true``) and ``evaluation.json`` (which
model, which data). :func:`compare_reports` puts the rows of the network ("ours",
``F_true`` = the noiseless stamp sum) of every report side by side, with the sep
baseline of the same stamps and the paper's figure, which makes the cross table
of the issue tracker (analytic model on realistic data and the reverse) a single
command::

    debvader-euclid compare reports/*/* --out reports/cross_table.md

Nothing here loads TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from data_generation.io_utils import atomic_path
from debvader_euclid.evaluation.tables import markdown_table

#: Columns of :func:`compare_reports`.
COMPARE_COLUMNS = (
    "model",
    "data",
    "kind",
    "n",
    "std",
    "paper_std",
    "bias",
    "sigma_mad",
    "fraction_catastrophic",
    "std_central_detected",
    "sep_auto_std",
    "sep_auto_n_failed",
    "report",
)


def model_label(evaluation: dict) -> str:
    """Short name of the evaluated model: the last part of the ``--model`` argument."""
    argument = str(evaluation.get("model", {}).get("argument", "?"))
    return Path(argument.rstrip("/")).name or argument


def compare_reports(folders: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """The network's flux statistics of several reports, one row per report.

    Parameters
    ----------
    folders : sequence of path-like
        Report folders written by ``debvader-euclid evaluate``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARE_COLUMNS`: ``model`` (the ``--model`` name),
        ``data`` (the data set's morphology, the paper's Table 1 row), ``kind``
        (isolated or blended), ``n``, the statistics of the normalised flux
        residuals (fractions; ``F_true`` = sum of the noiseless central stamp),
        ``paper_std``, ``std_central_detected`` (ours on the stamps whose central
        galaxy sep detects), sep FLUX_AUTO's std and failures on the same stamps
        (both NaN when the report ran without sep) and the report folder.

    Raises
    ------
    FileNotFoundError
        If a folder lacks ``metrics.csv`` or ``evaluation.json`` (not a report).
    """
    rows = []
    for folder in map(Path, folders):
        metrics_path, info_path = folder / "metrics.csv", folder / "evaluation.json"
        for path in (metrics_path, info_path):
            if not path.is_file():
                raise FileNotFoundError(
                    f"{folder} is not an evaluation report: {path.name} is missing "
                    "(write one with `debvader-euclid evaluate --out DIR`)"
                )
        metrics = pd.read_csv(metrics_path)
        metrics = metrics[metrics["flux_true"] == "stamp"].set_index("method")
        ours = metrics.loc["ours"]
        sep = metrics.loc["sep_auto"] if "sep_auto" in metrics.index else None
        detected = (
            metrics.loc["ours_central_detected"]
            if "ours_central_detected" in metrics.index
            else None
        )
        rows.append(
            {
                "model": model_label(json.loads(info_path.read_text())),
                "data": ours["dataset"],
                "kind": ours["kind"],
                "n": int(ours["n"]),
                "std": float(ours["std"]),
                "paper_std": float(ours["paper_std"]),
                "bias": float(ours["bias"]),
                "sigma_mad": float(ours["sigma_mad"]),
                "fraction_catastrophic": float(ours["fraction_catastrophic"]),
                "std_central_detected": (
                    float(detected["std"]) if detected is not None else float("nan")
                ),
                "sep_auto_std": float(sep["std"]) if sep is not None else float("nan"),
                "sep_auto_n_failed": int(sep["n_failed"]) if sep is not None else 0,
                "report": str(folder),
            }
        )
    table = pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))
    return table.sort_values(["kind", "data", "model"], kind="stable").reset_index(drop=True)


def compare_markdown(table: pd.DataFrame) -> str:
    """:func:`compare_reports` as Markdown, statistics in percent."""
    shown = table.copy()
    percent = [
        "std",
        "paper_std",
        "bias",
        "sigma_mad",
        "fraction_catastrophic",
        "std_central_detected",
        "sep_auto_std",
    ]
    for column in percent:
        shown[column] = 100.0 * shown[column]
    shown = shown.rename(
        columns={
            "std": "std %",
            "paper_std": "paper %",
            "bias": "median bias %",
            "sigma_mad": "sigma_MAD %",
            "fraction_catastrophic": "|r|>50 % (%)",
            "std_central_detected": "std, central detected %",
            "sep_auto_std": "sep AUTO std %",
            "sep_auto_n_failed": "sep failed",
        }
    )
    intro = (
        "Normalised flux residuals (F_true - F_pred) / F_true, F_true the sum of the noiseless "
        "central stamp; `model` is the evaluated model, `data` the morphology of the test set. "
        "`std, central detected` is ours on the stamps whose central galaxy sep detects as "
        "its own source (the quality flag `central_detection`), the stamps sep AUTO is "
        "measured on; `sep failed` counts the others.\n\n"
    )
    return intro + markdown_table(shown, float_format="{:.2f}")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``compare`` subcommand to the CLI."""
    parser = subparsers.add_parser(
        "compare",
        help="one table from several evaluation reports (e.g. the model x data cross table)",
        description=(
            "Collect the flux statistics of several `debvader-euclid evaluate` report "
            "folders into one Markdown table (model, data set, kind, std, bias, sigma_MAD, "
            "catastrophic fraction, sep FLUX_AUTO on the same stamps, the paper's figure)."
        ),
    )
    parser.add_argument("reports", nargs="+", metavar="REPORT_DIR", help="report folders")
    parser.add_argument(
        "--out", metavar="FILE", help="write the Markdown table here too (.md; CSV beside it)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the comparison table; write it when ``--out`` is given."""
    table = compare_reports(args.reports)
    text = compare_markdown(table)
    if args.out:
        out = Path(args.out)
        csv_path = out.with_suffix(".csv")
        for path in (out, csv_path):
            if path.exists() and not args.overwrite:
                raise FileExistsError(f"{path} exists: pass --overwrite to replace it")
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out) as tmp:
            Path(tmp).write_text(text)
        with atomic_path(csv_path) as tmp:
            table.to_csv(tmp, index=False)
    sys.stdout.write(text)
    return 0
