"""Build the examples stored in a data set: isolated stamps and blended pairs.

Each function takes catalogue rows (see :mod:`data_generation.catalog`), a
:class:`~data_generation.render.StampRenderer` and a numpy random generator, and
returns a dictionary with exactly the fields of :mod:`data_generation.schema`.

Randomness, in the order it is drawn (so that a seed fixes every example):

1. the central galaxy's offset from the stamp centre, uniform in
   ``[-max_offset_pix, max_offset_pix]`` on each axis (sub-pixel jitter, so a
   model does not learn one centring convention);
2. for blends, the neighbour's position: uniform in **area** over the annulus
   ``r_min <= r < r_max`` arcsec around the central galaxy, uniform in angle;
3. the morphology's draws for the central galaxy, then for the neighbour (none for
   the analytic morphology, whose examples are therefore those of earlier versions;
   see :mod:`data_generation.morphology`);
4. the Gaussian noise field.

In a blend the noisy isolated central (``central_noisy``) carries the *same* noise
field as the blend, so ``blend_noisy - neighbour_noiseless == central_noisy`` up
to float32 rounding: comparing a method on the two isolates the neighbour's effect.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from data_generation.render import StampRenderer


def blendedness(central: np.ndarray, neighbour: np.ndarray) -> float:
    """How much of the central galaxy's light is shared with the neighbour.

    ``1 - sum(c**2) / sum(c * (c + n))`` for the noiseless central ``c`` and
    neighbour ``n`` stamps (the BlendingToolKit definition): 0 for no overlap,
    approaching 1 when the neighbour dominates the central galaxy's pixels.

    Parameters
    ----------
    central, neighbour : numpy.ndarray
        Noiseless stamps of the same shape, uJy per pixel.

    Returns
    -------
    float
    """
    c = np.asarray(central, dtype=np.float64)
    n = np.asarray(neighbour, dtype=np.float64)
    return float(1.0 - np.sum(c * c) / np.sum(c * (c + n)))


def sample_annulus_offset(
    rng: np.random.Generator, r_min_arcsec: float, r_max_arcsec: float
) -> tuple[float, float]:
    """A position uniform in area over an annulus, arcsec (dx, dy)."""
    r = math.sqrt(rng.uniform(r_min_arcsec**2, r_max_arcsec**2))
    theta = rng.uniform(0.0, 2.0 * math.pi)
    return r * math.cos(theta), r * math.sin(theta)


def galaxy_truth(
    role: str, row: Mapping[str, float], stamp: np.ndarray, offset_pix: tuple[float, float]
) -> dict[str, float | int]:
    """The truth fields of one galaxy, prefixed by its role (``central``/``neighbour``)."""
    truth = {
        "id": int(row["id"]),
        "redshift": float(row["redshift"]),
        "flux_uJy": float(row["flux_uJy"]),
        "stamp_flux_uJy": float(np.sum(stamp, dtype=np.float64)),
        "mag_vis": float(row["mag_vis"]),
        "bt_flux": float(row["bt_flux"]),
        "disk_hlr_arcsec": float(row["disk_hlr_arcsec"]),
        "bulge_hlr_arcsec": float(row["bulge_hlr_arcsec"]),
        "disk_q": float(row["disk_q"]),
        "bulge_q": float(row["bulge_q"]),
        "angle_deg": float(row["disk_angle_deg"]),
        "offset_x_pix": float(offset_pix[0]),
        "offset_y_pix": float(offset_pix[1]),
    }
    return {f"{role}_{name}": value for name, value in truth.items()}


def make_isolated_example(
    central: Mapping[str, float],
    renderer: StampRenderer,
    rng: np.random.Generator,
    noise_sigma_uJy: float,
    max_offset_pix: float = 0.5,
) -> dict[str, np.ndarray | float | int]:
    """One isolated-galaxy example: noisy and noiseless stamp plus truth.

    Parameters
    ----------
    central : mapping
        Catalogue row of the galaxy.
    renderer : StampRenderer
        Draws the galaxies with its morphology.
    rng : numpy.random.Generator
        Source of every random draw (module docstring).
    noise_sigma_uJy : float
        Per-pixel noise standard deviation, uJy.
    max_offset_pix : float
        Largest offset of the galaxy from the stamp centre on each axis, pixels.

    Returns
    -------
    dict
        The ``isolated`` fields of :mod:`data_generation.schema`; images float32 uJy/pixel.
    """
    offset = _centre_offset(rng, max_offset_pix)
    clean, truth = renderer.render_row(central, offset, rng)
    noise = rng.normal(0.0, noise_sigma_uJy, clean.shape)
    example: dict[str, np.ndarray | float | int] = {
        "central_noisy": (clean + noise).astype(np.float32),
        "central_noiseless": clean.astype(np.float32),
        "noise_sigma_uJy": float(noise_sigma_uJy),
    }
    example.update(galaxy_truth("central", {**central, **truth}, clean, offset))
    return example


def make_blended_example(
    central: Mapping[str, float],
    neighbour: Mapping[str, float],
    renderer: StampRenderer,
    rng: np.random.Generator,
    noise_sigma_uJy: float,
    annulus_arcsec: tuple[float, float] = (0.3, 1.6),
    max_offset_pix: float = 0.5,
) -> dict[str, np.ndarray | float | int]:
    """One blended pair: the central galaxy plus a neighbour in an annulus around it.

    Parameters
    ----------
    central, neighbour : mapping
        Catalogue rows.
    renderer : StampRenderer
        Draws the galaxies with its morphology.
    rng : numpy.random.Generator
        Source of every random draw (module docstring).
    noise_sigma_uJy : float
        Per-pixel noise standard deviation, uJy.
    annulus_arcsec : (float, float)
        Inner and outer radius of the neighbour's annulus around the central galaxy, arcsec.
    max_offset_pix : float
        Largest offset of the central galaxy from the stamp centre on each axis, pixels.

    Returns
    -------
    dict
        The ``blended`` fields of :mod:`data_generation.schema`; images float32 uJy/pixel.
    """
    offset = _centre_offset(rng, max_offset_pix)
    dx_arcsec, dy_arcsec = sample_annulus_offset(rng, *annulus_arcsec)
    scale = renderer.instrument.pixel_scale_arcsec
    neighbour_offset = (offset[0] + dx_arcsec / scale, offset[1] + dy_arcsec / scale)
    central_clean, central_truth = renderer.render_row(central, offset, rng)
    neighbour_clean, neighbour_truth = renderer.render_row(neighbour, neighbour_offset, rng)
    noise = rng.normal(0.0, noise_sigma_uJy, central_clean.shape)
    example: dict[str, np.ndarray | float | int] = {
        "blend_noisy": (central_clean + neighbour_clean + noise).astype(np.float32),
        "central_noiseless": central_clean.astype(np.float32),
        "neighbour_noiseless": neighbour_clean.astype(np.float32),
        "central_noisy": (central_clean + noise).astype(np.float32),
        "noise_sigma_uJy": float(noise_sigma_uJy),
        "neighbour_distance_arcsec": math.hypot(dx_arcsec, dy_arcsec),
        "blendedness": blendedness(central_clean, neighbour_clean),
    }
    central = {**central, **central_truth}
    neighbour = {**neighbour, **neighbour_truth}
    example.update(galaxy_truth("central", central, central_clean, offset))
    example.update(galaxy_truth("neighbour", neighbour, neighbour_clean, neighbour_offset))
    return example


def _centre_offset(rng: np.random.Generator, max_offset_pix: float) -> tuple[float, float]:
    dx, dy = rng.uniform(-max_offset_pix, max_offset_pix, size=2)
    return float(dx), float(dy)
