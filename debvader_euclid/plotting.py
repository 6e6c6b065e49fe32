"""Figures of stamps and results, written to files.

Uses matplotlib's object-oriented :class:`~matplotlib.figure.Figure` directly (no
pyplot), so importing this module never changes the user's matplotlib backend.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
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
