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

import numpy as np
import pandas as pd

from data_generation.io_utils import atomic_path
from data_generation.manifest import load_manifest, psf_label
from debvader_euclid.evaluation.tables import markdown_table

#: Columns of :func:`compare_reports`.
COMPARE_COLUMNS = (
    "model",
    "options",
    "data",
    "psf",
    "noise_sigma_uJy",
    "kind",
    "n",
    "std",
    "paper_std",
    "bias",
    "sigma_mad",
    "fraction_catastrophic",
    "largest_bin_bias",
    "std_central_detected",
    "sep_auto_std",
    "sep_auto_n_failed",
    "report",
)


def model_label(evaluation: dict) -> str:
    """Short name of the evaluated model: the last part of the ``--model`` argument.

    An ensemble (``--ensemble-with``) is labelled ``"a + b"`` with its members' names.
    """
    model = evaluation.get("model", {})
    arguments = [str(model.get("argument", "?")), *map(str, model.get("ensemble_with", []))]
    return " + ".join(Path(a.rstrip("/")).name or a for a in arguments)


#: Magnitude bins fainter than this (AB) are left out of ``largest_bin_bias``: the bias aim
#: of the issue tracker holds for the bins brighter than VIS 25.
BIN_BIAS_MAG_LIMIT = 25.0

#: Fewest galaxies a magnitude bin needs to count in ``largest_bin_bias``.
BIN_BIAS_MIN_N = 5


def evaluation_options(evaluation: dict) -> str:
    """How the model was run: ``"keep"``, ``"check + symmetrize + refine"``, ...

    The ``neighbours`` mode (``"keep"`` for reports written before it existed), then
    ``symmetrize``, ``refine`` and ``estimated noise`` where they were on, and for a
    PSF-conditioned deblender ``PSF given`` (told the data set's PSF) or ``reference
    PSF`` (not told).
    """
    model = evaluation.get("model", {})
    words = [str(model.get("neighbours") or "keep")]
    if model.get("symmetrize"):
        words.append("symmetrize")
    if model.get("refine"):
        words.append("refine")
    if model.get("noise_sigma_estimated_uJy") is not None:
        words.append("estimated noise")
    psf = model.get("psf")
    if psf is not None:
        words.append("PSF given" if psf == "data" else "reference PSF")
    return " + ".join(words)


def report_instrument(evaluation: dict) -> dict:
    """The PSF and noise of a report's test set (``data.instrument`` of ``evaluation.json``).

    Reports written before the instrument was recorded fall back on the manifest of
    the data folder they name, when that folder is still there; else ``{}``.
    """
    data = evaluation.get("data", {})
    if data.get("instrument"):
        return dict(data["instrument"])
    folder = data.get("folder")
    if folder and (Path(folder) / "manifest.json").is_file():
        return load_manifest(folder).instrument_summary()
    return {}


def largest_bin_bias(folder: Path) -> float:
    """The median bias largest in size among a report's magnitude bins brighter than VIS 25.

    Read from ``per_magnitude.csv`` (the network's rows); bins with fewer than
    :data:`BIN_BIAS_MIN_N` galaxies are skipped. Signed (positive: flux
    underestimated); NaN if the report has no such bin.
    """
    path = folder / "per_magnitude.csv"
    if not path.is_file():
        return float("nan")
    row = largest_bias_bin(pd.read_csv(path))
    return float("nan") if row is None else float(row["bias"])


def largest_bias_bin(per_magnitude: pd.DataFrame) -> pd.Series | None:
    """The row of the bin brighter than VIS 25 whose median bias is largest in size.

    Parameters
    ----------
    per_magnitude : pandas.DataFrame
        The content of a report's ``per_magnitude.csv`` (only the ``method == "ours"``
        rows are read when there is a ``method`` column).

    Returns
    -------
    pandas.Series or None
        That bin's row (``mag_lo``, ``mag_hi``, ``n``, ``bias``, ...); None when no bin
        ending at or before :data:`BIN_BIAS_MAG_LIMIT` holds :data:`BIN_BIAS_MIN_N`
        galaxies.
    """
    bins = per_magnitude
    if "method" in bins:
        bins = bins[bins["method"] == "ours"]
    bins = bins[(bins["mag_hi"] <= BIN_BIAS_MAG_LIMIT) & (bins["n"] >= BIN_BIAS_MIN_N)]
    bins = bins.dropna(subset=["bias"])
    if bins.empty:
        return None
    return bins.loc[bins["bias"].abs().idxmax()]


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
        ``options`` (:func:`evaluation_options`), ``data`` (the data set's
        morphology, the paper's Table 1 row), ``psf`` and ``noise_sigma_uJy`` (uJy
        per pixel) it was simulated with (empty / NaN for reports written before
        they were recorded), ``kind`` (isolated or blended), ``n``, the statistics
        of the normalised flux residuals (fractions; ``F_true`` = sum of the
        noiseless central stamp), ``largest_bin_bias`` (:func:`largest_bin_bias`),
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
        info = json.loads(info_path.read_text())
        instrument = report_instrument(info)
        rows.append(
            {
                "model": model_label(info),
                "options": evaluation_options(info),
                "data": ours["dataset"],
                "psf": _psf_label(instrument),
                "noise_sigma_uJy": float(instrument.get("noise_sigma_uJy") or float("nan")),
                "kind": ours["kind"],
                "n": int(ours["n"]),
                "std": float(ours["std"]),
                "paper_std": float(ours["paper_std"]),
                "bias": float(ours["bias"]),
                "sigma_mad": float(ours["sigma_mad"]),
                "fraction_catastrophic": float(ours["fraction_catastrophic"]),
                "largest_bin_bias": largest_bin_bias(folder),
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


def _psf_label(instrument: dict) -> str:
    """``"moffat 0.17\""`` from a report's ``data.instrument``; empty if unrecorded."""
    return "" if instrument.get("psf") is None else psf_label(instrument)


def compare_markdown(table: pd.DataFrame) -> str:
    """:func:`compare_reports` as Markdown, statistics in percent."""
    shown = table.copy()
    percent = [
        "std",
        "paper_std",
        "bias",
        "sigma_mad",
        "fraction_catastrophic",
        "largest_bin_bias",
        "std_central_detected",
        "sep_auto_std",
    ]
    for column in percent:
        shown[column] = 100.0 * shown[column]
    shown["noise_sigma_uJy"] = [
        "" if np.isnan(value) else f"{value:.4g}" for value in shown["noise_sigma_uJy"]
    ]
    shown = shown.rename(
        columns={
            "std": "std %",
            "paper_std": "paper %",
            "bias": "median bias %",
            "sigma_mad": "sigma_MAD %",
            "fraction_catastrophic": "|r|>50 % (%)",
            "largest_bin_bias": "largest bin bias, VIS < 25 %",
            "noise_sigma_uJy": "noise uJy/pixel",
            "std_central_detected": "std, central detected %",
            "sep_auto_std": "sep AUTO std %",
            "sep_auto_n_failed": "sep failed",
        }
    )
    intro = (
        "Normalised flux residuals (F_true - F_pred) / F_true, F_true the sum of the noiseless "
        "central stamp; `model` is the evaluated model, `data` the morphology of the test set. "
        "`options` says how the model was run (`neighbours` mode, symmetrize, refine; "
        "for a PSF-conditioned deblender, whether it was given the test set's PSF); "
        "`psf` and `noise` are those the test set was simulated with. `largest bin bias` is "
        "the median bias largest in absolute value among the 0.5-mag bins brighter than "
        "VIS 25 that hold at least 5 galaxies. `std, central detected` is ours on the "
        "stamps whose central galaxy sep detects as its own source (the quality flag "
        "`central_detection`), the stamps sep AUTO is measured on; `sep failed` counts "
        "the others.\n\n"
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
