"""Figures of stamps and results, written to files.

Uses matplotlib's object-oriented :class:`~matplotlib.figure.Figure` directly (no
pyplot), so importing this module never changes the user's matplotlib backend.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.colors import Colormap
from matplotlib.figure import Figure

from data_generation.io_utils import atomic_path

#: Columns of :func:`plot_blend_examples`: (field, title).
BLEND_PANELS = (
    ("blend_noisy", "noisy blend"),
    ("central_noiseless", "central (truth)"),
    ("neighbour_noiseless", "neighbour"),
    ("central_noisy", "central + same noise"),
)


def arcsinh_stretch(image: np.ndarray, scale_uJy: float) -> np.ndarray:
    """``arcsinh(image / scale)``: linear below ``scale_uJy``, logarithmic above."""
    return np.arcsinh(np.asarray(image, dtype=np.float64) / scale_uJy)


def plot_blend_examples(
    examples: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    indices: Sequence[int] = (0, 1, 2, 3),
    noise_sigma_uJy: float | None = None,
) -> Path:
    """Save a grid of blended examples: one row per example, one column per image.

    Parameters
    ----------
    examples : mapping of str to numpy.ndarray
        Arrays as returned by :func:`data_generation.tfrecords.read_numpy` for a
        blended data set (images ``(N, S, S)`` in uJy per pixel, truth ``(N,)``).
    path : path-like
        Output image (PNG or PDF), written atomically.
    indices : sequence of int
        Which examples to show.
    noise_sigma_uJy : float, optional
        Stretch scale (default: the data set's ``noise_sigma_uJy``).

    Returns
    -------
    pathlib.Path
    """
    indices = [i for i in indices if i < len(examples["blend_noisy"])]
    sigma = noise_sigma_uJy or float(examples["noise_sigma_uJy"][0])
    fig = Figure()
    axes = fig.subplots(
        len(indices),
        len(BLEND_PANELS),
        squeeze=False,
    )
    for row, index in enumerate(indices):
        vmax = arcsinh_stretch(examples["blend_noisy"][index], sigma).max()
        for col, (name, title) in enumerate(BLEND_PANELS):
            ax = axes[row, col]
            ax.imshow(
                arcsinh_stretch(examples[name][index], sigma),
                origin="lower",
                cmap="magma",
                vmin=-1,
                vmax=vmax,
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(title, fontsize=10)
        axes[row, 0].set_ylabel(
            f"VIS {examples['central_mag_vis'][index]:.1f} + "
            f"{examples['neighbour_mag_vis'][index]:.1f}\n"
            f'd = {examples["neighbour_distance_arcsec"][index]:.2f}", '
            f"blendedness {examples['blendedness'][index]:.2f}",
            fontsize=8,
        )
    fig.set_size_inches(2.6 * len(BLEND_PANELS), 2.6 * len(indices))
    fig.suptitle(f"arcsinh stretch, scale = noise sigma = {sigma:.4f} uJy/pixel", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format=path.suffix.lstrip(".") or "png")
    return path


# --------------------------------------------------------------------------- evaluation figures

#: Colours of the paper's Figs 4 and 5: running/data-set mean black, median yellow,
#: zero line red.
MEAN_COLOUR = "black"
MEDIAN_COLOUR = "gold"
ZERO_COLOUR = "red"
FLOOR_COLOUR = "tab:blue"

#: Colour range of the percentage-error map of :func:`plot_deblending_panels`, percent.
PERCENT_ERROR_RANGE = 50.0


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` atomically; the format follows the suffix (PNG default).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : path-like
        Output file (``.png``, ``.pdf``, ``.svg``...).
    dpi : int
        Resolution of raster formats, dots per inch.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    return path


def percent_error_map(
    truth: np.ndarray, prediction: np.ndarray, min_truth_uJy: float
) -> np.ma.MaskedArray:
    """Per-pixel error of a prediction in percent of the true pixel value.

    ``100 (prediction - truth) / truth``, masked where ``truth < min_truth_uJy``:
    far from the galaxy the true pixels tend to zero and a relative error there says
    nothing (it diverges), so only pixels whose true value is at least
    ``min_truth_uJy`` (the noise sigma per pixel in the evaluation report) are kept.

    Parameters
    ----------
    truth, prediction : numpy.ndarray
        ``(S, S)`` noiseless true and predicted stamps, uJy/pixel.
    min_truth_uJy : float
        Smallest true pixel value, uJy/pixel, at which the error is shown.

    Returns
    -------
    numpy.ma.MaskedArray
        ``(S, S)`` float64, percent; masked pixels are those below the threshold.
    """
    t = np.asarray(truth, dtype=np.float64)
    p = np.asarray(prediction, dtype=np.float64)
    keep = t >= min_truth_uJy
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(keep, 100.0 * (p - t) / np.where(keep, t, 1.0), 0.0)
    return np.ma.masked_array(pct, mask=~keep)


def plot_deblending_panels(
    inputs: np.ndarray,
    truth: np.ndarray,
    predictions: np.ndarray,
    path: str | os.PathLike,
    indices: Sequence[int],
    noise_sigma_uJy: float | np.ndarray,
    row_labels: Sequence[str] | None = None,
    input_title: str = "input (noisy blend)",
    prediction_title: str = "prediction",
) -> Path:
    """Figs 2/3 of the paper: input, true central galaxy, prediction, percentage error.

    One row per example. The three images share an arcsinh stretch whose linear
    scale is the noise sigma (so the noise is visible and bright cores are not
    saturated); the fourth panel is :func:`percent_error_map`, the per-pixel error
    ``100 (pred - true) / true`` in percent, on a diverging scale of
    :data:`PERCENT_ERROR_RANGE` percent either way, grey where the true pixel is
    below the noise sigma (there a relative error diverges and means nothing).

    Parameters
    ----------
    inputs, truth, predictions : numpy.ndarray
        ``(N, S, S)`` input stamps (what the network saw), noiseless true central
        galaxies and predictions, uJy/pixel.
    path : path-like
        Output image, written atomically.
    indices : sequence of int
        Examples to show, one row each.
    noise_sigma_uJy : float or numpy.ndarray
        Noise sigma per pixel, uJy/pixel: a scalar or ``(N,)``.
    row_labels : sequence of str, optional
        One label per shown example (e.g. magnitude and flux residual).
    input_title, prediction_title : str
        Titles of the first and third columns.

    Returns
    -------
    pathlib.Path
    """
    indices = [int(i) for i in indices]
    if not indices:
        raise ValueError("indices is empty: give at least one example to show")
    sigma = np.broadcast_to(np.asarray(noise_sigma_uJy, dtype=np.float64), (len(inputs),))
    titles = (input_title, "true central galaxy", prediction_title, "error [% of true pixel]")
    fig = Figure(figsize=(2.7 * 4 + 1.4, 2.6 * len(indices) + 0.4))
    axes = fig.subplots(len(indices), 4, squeeze=False)
    error_image = None
    for row, index in enumerate(indices):
        s = float(sigma[index])
        stretched = [arcsinh_stretch(a[index], s) for a in (inputs, truth, predictions)]
        vmax = max(float(stretched[0].max()), float(stretched[1].max()), 1.0)
        for col, image in enumerate(stretched):
            axes[row, col].imshow(image, origin="lower", cmap="magma", vmin=-1.0, vmax=vmax)
        error = percent_error_map(truth[index], predictions[index], s)
        cmap = _cmap_with_bad("RdBu_r", "0.75")
        error_image = axes[row, 3].imshow(
            error,
            origin="lower",
            cmap=cmap,
            vmin=-PERCENT_ERROR_RANGE,
            vmax=PERCENT_ERROR_RANGE,
        )
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
        if row_labels is not None:
            axes[row, 0].set_ylabel(row_labels[row], fontsize=8)
    for col, title in enumerate(titles):
        axes[0, col].set_title(title, fontsize=10)
    fig.suptitle(
        "arcsinh stretch, scale = noise sigma; error map grey where the truth is below "
        "the noise sigma",
        fontsize=9,
    )
    fig.tight_layout(rect=(0.0, 0.0, 0.88, 0.96))
    if error_image is not None:
        cax = fig.add_axes((0.89, 0.1, 0.015, 0.8))
        fig.colorbar(error_image, cax=cax, label="100 (pred - true) / true [%]")
    return save_figure(fig, path)


def _cmap_with_bad(name: str, bad: str) -> Colormap:
    """A copy of colormap ``name`` that draws masked pixels in colour ``bad``."""
    from matplotlib import colormaps

    cmap = colormaps[name].copy()
    cmap.set_bad(bad)
    return cmap


def _symmetric_limit(values: Sequence[np.ndarray], floor: float = 0.2, cap: float = 2.0) -> float:
    """Half-range of a y axis centred on 0: the 99th percentile of |y|, within [floor, cap]."""
    finite = [np.abs(v[np.isfinite(v)]) for v in values]
    finite = [v for v in finite if v.size]
    if not finite:
        return 1.0
    q = float(np.percentile(np.concatenate(finite), 99))
    return float(min(cap, max(floor, 1.15 * q)))


def _running_settings(n: int) -> dict[str, float | int]:
    """Window (mag) and minimum count of the running curves for ``n`` points."""
    return {"window": 0.25, "min_count": 10 if n >= 400 else 3}


def plot_residuals_vs_magnitude(
    mag: np.ndarray,
    residuals: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    noise_floor: np.ndarray | None = None,
    suptitle: str | None = None,
    window_mag: float | None = None,
    min_count: int | None = None,
) -> Path:
    """Figs 4/5 of the paper: normalised flux residual against true magnitude.

    One panel per method, side by side and sharing the axes. Each shows the
    residuals ``(F_true - F_pred) / F_true`` as points (positive = flux
    underestimated), the running mean (black) and running median (yellow) in bins
    of ``window_mag`` magnitudes, the data set's mean and median as dashed lines of
    the same colours, the zero line (red) and, when given, the band ``±`` the
    running median of the noise floor (:func:`debvader_euclid.metrics.noise_floor_fractional`,
    the scatter an ideal matched filter would reach). Failed measurements (NaN)
    cannot be drawn: their number is written in the panel title. Points beyond
    the y range are drawn on its edge as triangles.

    Parameters
    ----------
    mag : numpy.ndarray
        ``(N,)`` true AB magnitudes.
    residuals : mapping of str to numpy.ndarray
        Panel title -> ``(N,)`` normalised residuals (dimensionless).
    path : path-like
        Output image, written atomically.
    noise_floor : numpy.ndarray, optional
        ``(N,)`` fractional noise floors.
    suptitle : str, optional
        Figure title.
    window_mag : float, optional
        Width of the running bins, mag (default 0.25).
    min_count : int, optional
        Fewest points for a running bin to be drawn (default 10, or 3 below 400
        points).

    Returns
    -------
    pathlib.Path
    """
    from debvader_euclid.metrics import running_statistic

    mag = np.asarray(mag, dtype=np.float64)
    settings = _running_settings(int(np.isfinite(mag).sum()))
    window = float(window_mag if window_mag is not None else settings["window"])
    min_n = int(min_count if min_count is not None else settings["min_count"])
    finite_mag = mag[np.isfinite(mag)]
    x_range = (float(finite_mag.min()), float(finite_mag.max())) if finite_mag.size else None
    limit = _symmetric_limit([np.asarray(r, dtype=np.float64) for r in residuals.values()])
    n_panels = max(1, len(residuals))
    fig = Figure(figsize=(5.2 * n_panels, 4.4))
    axes = fig.subplots(1, n_panels, squeeze=False, sharex=True, sharey=True)[0]
    for ax, (title, values) in zip(axes, residuals.items(), strict=False):
        r = np.asarray(values, dtype=np.float64)
        ok = np.isfinite(r) & np.isfinite(mag)
        inside = ok & (np.abs(r) <= limit)
        ax.scatter(mag[inside], r[inside], s=3, alpha=0.35, color="0.35", lw=0, rasterized=True)
        above, below = ok & (r > limit), ok & (r < -limit)
        ax.scatter(mag[above], np.full(above.sum(), limit), marker="^", s=12, color="0.35")
        ax.scatter(mag[below], np.full(below.sum(), -limit), marker="v", s=12, color="0.35")
        if noise_floor is not None:
            floor = np.asarray(noise_floor, dtype=np.float64)
            fx, fy = running_statistic(
                mag, floor, "median", window=window, min_count=1, x_range=x_range
            )
            if fx.size:
                ax.fill_between(
                    fx, -fy, fy, color=FLOOR_COLOUR, alpha=0.18, lw=0, label="± noise floor"
                )
        ax.axhline(0.0, color=ZERO_COLOUR, lw=1.0, label="zero")
        for stat, colour in (("mean", MEAN_COLOUR), ("median", MEDIAN_COLOUR)):
            rx, ry = running_statistic(
                mag[ok], r[ok], stat, window=window, min_count=min_n, x_range=x_range
            )
            ax.plot(rx, ry, color=colour, lw=2.0, label=f"running {stat}")
            if ok.any():
                level = float(np.mean(r[ok]) if stat == "mean" else np.median(r[ok]))
                ax.axhline(level, color=colour, lw=1.2, ls="--", label=f"data set {stat}")
        n_failed = int((~np.isfinite(r)).sum())
        label = f"{title}\n{int(ok.sum())} galaxies"
        if n_failed:
            label += f", {n_failed} failed (not drawn)"
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("true VIS magnitude (AB)")
        ax.set_ylim(-limit, limit)
    axes[0].set_ylabel("(F_true - F_pred) / F_true")
    axes[0].legend(fontsize=7, loc="lower left")
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_morphology(
    mag: np.ndarray,
    e1_true: np.ndarray,
    e2_true: np.ndarray,
    e1_pred: np.ndarray,
    e2_pred: np.ndarray,
    hlr_true_arcsec: np.ndarray,
    hlr_pred_arcsec: np.ndarray,
    path: str | os.PathLike,
    suptitle: str | None = None,
) -> Path:
    """Shapes and sizes of the predictions against the true central galaxies.

    Three panels: predicted against true ellipticity ``e1`` and ``e2`` (GalSim HSM
    adaptive moments, reduced-shear convention, with the 1:1 line) coloured by true
    magnitude, and the relative half-light-radius residual
    ``(hlr_pred - hlr_true) / hlr_true`` against true magnitude with its running
    median (yellow) and mean (black). Failed measurements (NaN) are left out and
    counted in the titles.

    Parameters
    ----------
    mag : numpy.ndarray
        ``(N,)`` true AB magnitudes.
    e1_true, e2_true, e1_pred, e2_pred : numpy.ndarray
        ``(N,)`` ellipticity components (dimensionless), NaN where HSM failed.
    hlr_true_arcsec, hlr_pred_arcsec : numpy.ndarray
        ``(N,)`` half-light radii, arcsec.
    path : path-like
        Output image, written atomically.
    suptitle : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
    """
    from debvader_euclid.metrics import running_statistic

    mag = np.asarray(mag, dtype=np.float64)
    fig = Figure(figsize=(15.5, 4.6))
    axes = fig.subplots(1, 3)
    scatter = None
    for ax, name, true, pred in (
        (axes[0], "e1", e1_true, e1_pred),
        (axes[1], "e2", e2_true, e2_pred),
    ):
        t = np.asarray(true, dtype=np.float64)
        p = np.asarray(pred, dtype=np.float64)
        ok = np.isfinite(t) & np.isfinite(p)
        scatter = ax.scatter(t[ok], p[ok], c=mag[ok], s=4, cmap="viridis", lw=0, rasterized=True)
        ax.plot([-1, 1], [-1, 1], color=ZERO_COLOUR, lw=1.0, zorder=0)
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1, 1)
        ax.set_aspect("equal")
        ax.set_xlabel(f"true {name} (HSM)")
        ax.set_ylabel(f"predicted {name} (HSM)")
        ax.set_title(f"{name}: {int(ok.sum())} pairs, {int((~ok).sum())} failed", fontsize=10)
    if scatter is not None:
        fig.colorbar(scatter, ax=axes[1], label="true VIS magnitude")
    ht = np.asarray(hlr_true_arcsec, dtype=np.float64)
    hp = np.asarray(hlr_pred_arcsec, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = (hp - ht) / ht
    ok = np.isfinite(rel) & np.isfinite(mag)
    ax = axes[2]
    limit = _symmetric_limit([rel[ok]], floor=0.2, cap=3.0)
    ax.scatter(mag[ok], np.clip(rel[ok], -limit, limit), s=3, alpha=0.35, color="0.35", lw=0)
    ax.axhline(0.0, color=ZERO_COLOUR, lw=1.0)
    settings = _running_settings(int(ok.sum()))
    for stat, colour in (("mean", MEAN_COLOUR), ("median", MEDIAN_COLOUR)):
        rx, ry = running_statistic(mag[ok], rel[ok], stat, **settings)
        ax.plot(rx, ry, color=colour, lw=2.0, label=f"running {stat}")
    ax.set_ylim(-limit, limit)
    ax.set_xlabel("true VIS magnitude (AB)")
    ax.set_ylabel("(hlr_pred - hlr_true) / hlr_true")
    ax.set_title(
        f"half-light radius: {int(ok.sum())} pairs, {int((~ok).sum())} failed", fontsize=10
    )
    ax.legend(fontsize=7, loc="lower left")
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_blending_dependence(
    blendedness: np.ndarray,
    distance_arcsec: np.ndarray,
    residuals: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    suptitle: str | None = None,
) -> Path:
    """Flux residuals against blendedness and against the neighbour's distance.

    Two panels; each method of ``residuals`` is a colour: its points and its
    running median (12 bins in log blendedness, or in distance, with at least 10
    points each, 5 below 400 galaxies). Blendedness is drawn on a log axis from
    1e-4 to 1, values below 1e-4 at 1e-4.

    Parameters
    ----------
    blendedness : numpy.ndarray
        ``(N,)`` blendedness of the central galaxy (dimensionless, 0 to 1).
    distance_arcsec : numpy.ndarray
        ``(N,)`` centre-to-centre separation, arcsec.
    residuals : mapping of str to numpy.ndarray
        Method name -> ``(N,)`` normalised residuals.
    path : path-like
        Output image, written atomically.
    suptitle : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
    """
    from debvader_euclid.metrics import running_statistic

    b = np.maximum(np.asarray(blendedness, dtype=np.float64), 1e-4)
    min_n = 10 if np.isfinite(b).sum() >= 400 else 5
    d = np.asarray(distance_arcsec, dtype=np.float64)
    limit = _symmetric_limit([np.asarray(r, dtype=np.float64) for r in residuals.values()])
    fig = Figure(figsize=(11.5, 4.6))
    axes = fig.subplots(1, 2, sharey=True)
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:purple")
    for (name, values), colour in zip(residuals.items(), colours, strict=False):
        r = np.asarray(values, dtype=np.float64)
        n_failed = int((~np.isfinite(r)).sum())
        label = f"{name}" + (f" ({n_failed} failed)" if n_failed else "")
        for ax, x, logx in ((axes[0], np.log10(b), True), (axes[1], d, False)):
            ok = np.isfinite(r) & np.isfinite(x)
            shown = 10**x if logx else x
            ax.scatter(
                shown[ok], np.clip(r[ok], -limit, limit), s=3, alpha=0.25, color=colour, lw=0
            )
            rx, ry = running_statistic(x[ok], r[ok], "median", n_bins=12, min_count=min_n)
            ax.plot(10**rx if logx else rx, ry, color=colour, lw=2.0, label=f"{label}: median")
    for ax in axes:
        ax.axhline(0.0, color=ZERO_COLOUR, lw=1.0)
    axes[0].set_xscale("log")
    axes[0].set_xlim(1e-4, 1.0)
    axes[0].set_xlabel("blendedness 1 - c.c / c.(c + n)")
    axes[1].set_xlabel("neighbour distance [arcsec]")
    axes[0].set_ylabel("(F_true - F_pred) / F_true")
    axes[0].set_ylim(-limit, limit)
    axes[0].legend(fontsize=7, loc="lower left")
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
