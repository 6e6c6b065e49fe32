"""The tables of an evaluation report, computed from plain arrays.

numpy arrays in, :class:`pandas.DataFrame` out; every statistic comes from
:mod:`debvader_euclid.metrics`, so a table can be recomputed from the per-example
``predictions.csv`` of a report with those functions. Nothing here loads
TensorFlow or writes files.

Conventions: residuals are the paper's normalised flux residuals
``(F_true - F_pred) / F_true`` (dimensionless; positive = flux underestimated).
Non-finite residuals (a sep detection failure) are left out of the statistics and
counted (``n_failed`` / ``n_nonfinite``), never dropped silently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from debvader_euclid.metrics import (
    CATASTROPHIC_THRESHOLD,
    PAPER_TABLE1,
    per_magnitude_bins,
    summary_statistics,
)

#: Human-readable names of the methods of a report.
METHOD_LABELS: dict[str, str] = {
    "ours": "ours",
    "ours_central_detected": "ours, central detected",
    "sep_auto": "sep FLUX_AUTO",
    "sep_iso": "sep FLUX_ISO",
}

#: What ``F_true`` is in each flavour of the flux table.
FLUX_TRUE_LABELS: dict[str, str] = {
    "stamp": "sum of the noiseless central stamp (central_stamp_flux_uJy)",
    "catalogue": "catalogue flux (central_flux_uJy)",
}

#: Columns of :func:`flux_metrics_table`, in order.
METRIC_COLUMNS = (
    "dataset",
    "kind",
    "method",
    "flux_true",
    "std",
    "paper_std",
    "ratio_to_paper",
    "bias",
    "mean",
    "sigma_mad",
    "fraction_catastrophic",
    "n",
    "n_failed",
    "n_total",
)

#: Bin edges of blendedness (dimensionless) for :func:`binned_table`.
BLENDEDNESS_EDGES: tuple[float, ...] = (0.0, 0.001, 0.01, 0.03, 0.1, 0.3, 1.0)

#: Bin edges of the neighbour contrast, neighbour VIS magnitude minus central VIS
#: magnitude (mag; negative: the neighbour is brighter), for :func:`binned_table`. The
#: outer edges cover any pair of galaxies of VIS 17.5-26.5.
NEIGHBOUR_CONTRAST_EDGES_MAG: tuple[float, ...] = (-9.0, -5.0, -3.0, -1.0, 1.0, 3.0, 9.0)


def flux_metrics_table(
    residuals: Mapping[tuple[str, str], np.ndarray],
    dataset: str,
    kind: str,
    catastrophic_threshold: float = CATASTROPHIC_THRESHOLD,
) -> pd.DataFrame:
    """The Table 1 comparison: residual statistics per method and definition of F_true.

    Parameters
    ----------
    residuals : mapping
        ``(method, flux_true) -> (N,)`` normalised residuals, e.g.
        ``("ours", "stamp")`` or ``("sep_auto", "catalogue")``.
    dataset : str
        Row of the paper's Table 1: ``"analytic"`` or ``"realistic"``.
    kind : {"isolated", "blended"}
        Column of the paper's Table 1.
    catastrophic_threshold : float
        A residual is catastrophic when ``|r|`` exceeds it (default 0.5).

    Returns
    -------
    pandas.DataFrame
        One row per key, columns :data:`METRIC_COLUMNS`: ``std`` (population
        standard deviation, the paper's number), ``paper_std``
        (:data:`debvader_euclid.metrics.PAPER_TABLE1`, the paper's VAE, NaN when
        the paper has no such cell), ``ratio_to_paper`` (``std / paper_std``),
        ``bias`` (median), ``mean``, ``sigma_mad``, ``fraction_catastrophic``
        (among finite residuals), ``n`` (finite residuals used), ``n_failed``
        (non-finite: failed measurements) and ``n_total``. All fractions.
    """
    paper = PAPER_TABLE1.get((dataset, kind), math.nan)
    rows = []
    for (method, flux_true), values in residuals.items():
        stats = summary_statistics(values, catastrophic_threshold)
        std = float(stats["std"])
        rows.append(
            {
                "dataset": dataset,
                "kind": kind,
                "method": method,
                "flux_true": flux_true,
                "std": std,
                "paper_std": paper,
                "ratio_to_paper": std / paper if paper > 0 else math.nan,
                "bias": stats["median"],
                "mean": stats["mean"],
                "sigma_mad": stats["sigma_mad"],
                "fraction_catastrophic": stats["fraction_catastrophic"],
                "n": int(stats["n"]),
                "n_failed": int(stats["n_nonfinite"]),
                "n_total": int(stats["n"]) + int(stats["n_nonfinite"]),
            }
        )
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))


def per_magnitude_table(
    mag: np.ndarray,
    residuals: Mapping[str, np.ndarray],
    noise_floor: np.ndarray | None = None,
    bins: Sequence[float] | np.ndarray | None = None,
    catastrophic_threshold: float = CATASTROPHIC_THRESHOLD,
) -> pd.DataFrame:
    """:func:`debvader_euclid.metrics.per_magnitude_bins` for each method, stacked.

    Parameters
    ----------
    mag : numpy.ndarray
        ``(N,)`` true AB magnitudes.
    residuals : mapping of str to numpy.ndarray
        Method -> ``(N,)`` normalised residuals.
    noise_floor : numpy.ndarray, optional
        ``(N,)`` fractional noise floors (adds ``noise_floor_median`` and
        ``sigma_mad_over_floor``).
    bins : array_like, optional
        Magnitude bin edges (default :data:`debvader_euclid.metrics.DEFAULT_MAG_BINS`).
    catastrophic_threshold : float
        As in :func:`flux_metrics_table`.

    Returns
    -------
    pandas.DataFrame
        A ``method`` column followed by the columns of ``per_magnitude_bins``; one
        row per method and bin (empty bins included). ``attrs["n_outside"]`` is the
        number of galaxies outside all bins.
    """
    tables = []
    n_outside = 0
    for method, values in residuals.items():
        table = per_magnitude_bins(mag, values, bins, noise_floor, catastrophic_threshold)
        n_outside = int(table.attrs.get("n_outside", 0))
        table.insert(0, "method", method)
        tables.append(table)
    out = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    out.attrs["n_outside"] = n_outside
    return out


def distance_edges(distance_arcsec: np.ndarray, step_arcsec: float = 0.2) -> np.ndarray:
    """Bin edges of neighbour distance, arcsec: multiples of ``step_arcsec`` covering the data."""
    d = np.asarray(distance_arcsec, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return np.array([0.0, step_arcsec])
    lo = math.floor(d.min() / step_arcsec) * step_arcsec
    hi = max(math.ceil(d.max() / step_arcsec) * step_arcsec, lo + step_arcsec)
    return np.round(np.arange(lo, hi + 0.5 * step_arcsec, step_arcsec), 6)


def binned_table(
    x: np.ndarray,
    residuals: Mapping[str, np.ndarray],
    edges: Sequence[float] | np.ndarray,
    variable: str,
    catastrophic_threshold: float = CATASTROPHIC_THRESHOLD,
) -> pd.DataFrame:
    """Residual statistics in bins of any variable (blendedness, neighbour distance...).

    Bins are ``[lo, hi)``, the last one ``[lo, hi]``, as in
    :func:`debvader_euclid.metrics.per_magnitude_bins`, which does the work.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N,)`` values of the variable.
    residuals : mapping of str to numpy.ndarray
        Method -> ``(N,)`` normalised residuals.
    edges : array_like
        Increasing bin edges, units of ``x``.
    variable : str
        Name of ``x``, stored in the ``variable`` column.
    catastrophic_threshold : float
        As in :func:`flux_metrics_table`.

    Returns
    -------
    pandas.DataFrame
        Columns ``variable``, ``method``, ``lo``, ``hi``, ``n``, ``n_nonfinite``,
        ``bias`` (median), ``mean``, ``std``, ``sigma_mad``,
        ``fraction_catastrophic``; one row per method and bin.
    """
    tables = []
    for method, values in residuals.items():
        table = per_magnitude_bins(
            x, values, bins=edges, catastrophic_threshold=catastrophic_threshold
        )
        table = table.rename(columns={"mag_lo": "lo", "mag_hi": "hi"})
        table.insert(0, "method", method)
        table.insert(0, "variable", variable)
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def morphology_table(
    e1_true: np.ndarray,
    e2_true: np.ndarray,
    e1_pred: np.ndarray,
    e2_pred: np.ndarray,
    hlr_true_arcsec: np.ndarray,
    hlr_pred_arcsec: np.ndarray,
) -> pd.DataFrame:
    """Shape and size residuals of the predictions against the true central galaxies.

    Parameters
    ----------
    e1_true, e2_true, e1_pred, e2_pred : numpy.ndarray
        ``(N,)`` HSM ellipticities (reduced-shear convention), NaN where HSM failed.
    hlr_true_arcsec, hlr_pred_arcsec : numpy.ndarray
        ``(N,)`` half-light radii, arcsec, NaN where undefined.

    Returns
    -------
    pandas.DataFrame
        Rows ``e1`` (``e1_pred - e1_true``), ``e2`` (``e2_pred - e2_true``),
        ``|e|`` (``|e_pred| - |e_true|``, dimensionless) and ``hlr``
        (``(hlr_pred - hlr_true) / hlr_true``, a fraction); columns ``quantity``,
        ``definition``, ``n`` (pairs measured), ``n_failed`` (a measurement
        failed), ``median`` (bias), ``mean``, ``std`` and ``sigma_mad``.
    """
    t1, t2, p1, p2 = (np.asarray(a, dtype=np.float64) for a in (e1_true, e2_true, e1_pred, e2_pred))
    ht = np.asarray(hlr_true_arcsec, dtype=np.float64)
    hp = np.asarray(hlr_pred_arcsec, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        hlr_rel = np.where(ht > 0, (hp - ht) / ht, np.nan)
    quantities = (
        ("e1", "e1_pred - e1_true", p1 - t1),
        ("e2", "e2_pred - e2_true", p2 - t2),
        ("|e|", "|e_pred| - |e_true|", np.hypot(p1, p2) - np.hypot(t1, t2)),
        ("hlr", "(hlr_pred - hlr_true) / hlr_true", hlr_rel),
    )
    rows = []
    for name, definition, values in quantities:
        stats = summary_statistics(values)
        rows.append(
            {
                "quantity": name,
                "definition": definition,
                "n": int(stats["n"]),
                "n_failed": int(stats["n_nonfinite"]),
                "median": stats["median"],
                "mean": stats["mean"],
                "std": stats["std"],
                "sigma_mad": stats["sigma_mad"],
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- Markdown


def _format_cell(value: object, float_format: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return "n/a" if not math.isfinite(float(value)) else float_format.format(float(value))
    return str(value).replace("|", "\\|")


def markdown_table(
    table: pd.DataFrame,
    float_format: str = "{:.4g}",
    formats: Mapping[str, str] | None = None,
) -> str:
    """A DataFrame as a GitHub-flavoured Markdown table (no extra dependency).

    Parameters
    ----------
    table : pandas.DataFrame
        Its columns become the header; the index is not written.
    float_format : str
        :meth:`str.format` pattern of float cells; NaN is written ``n/a``.
    formats : mapping of str to str, optional
        Per-column patterns overriding ``float_format``.

    Returns
    -------
    str
        The table, one line per row, ending with a newline.
    """
    formats = dict(formats or {})
    header = [str(c) for c in table.columns]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for row in table.itertuples(index=False):
        cells = [
            _format_cell(value, formats.get(column, float_format))
            for column, value in zip(header, row, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _percent(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{100.0 * value:.2f}%"


def table1_markdown(metrics: pd.DataFrame) -> str:
    """The paper's Table 1 layout: std of the normalised residuals, paper next to ours.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Output of :func:`flux_metrics_table`.

    Returns
    -------
    str
        A Markdown table with one row per (data set, kind, definition of ``F_true``)
        and one column per method (percent), the paper's VAE first; ``metrics``
        may concatenate the tables of several evaluations.
    """
    methods = [m for m in METHOD_LABELS if m in set(metrics["method"])]
    header = ["data set", "kind", "F_true", "paper (VAE)"] + [METHOD_LABELS[m] for m in methods]
    rows = []
    for (dataset, kind, flux_true), group in metrics.groupby(
        ["dataset", "kind", "flux_true"], sort=False
    ):
        first = group.iloc[0]
        by_method = {r.method: r for r in group.itertuples(index=False)}
        cells = [dataset, kind, str(flux_true), _percent(first["paper_std"])]
        for method in methods:
            row = by_method.get(method)
            text = _percent(row.std) if row is not None else "n/a"
            if row is not None and method == "ours_central_detected":
                text += f" (n = {row.n})"
            elif row is not None and row.n_failed:
                text += f" ({row.n_failed} failed)"
            cells.append(text)
        rows.append(cells)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in cells) + " |" for cells in rows]
    return "\n".join(lines) + "\n"
