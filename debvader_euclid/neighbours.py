"""Neighbours: deblend the bright neighbours too, and subtract them before the central galaxy.

The deblender is trained to return the galaxy at the centre of a stamp and to
ignore the rest. When a much brighter neighbour lies within a few pixels, it
sometimes gives part of that neighbour's light to the central galaxy, and the
flux comes out several times too large: a handful of such blends make most of
the std of the flux residuals. The same network, given a stamp *re-centred on the
neighbour*, returns the neighbour alone; subtracting that model from the stamp
leaves the central galaxy nearly isolated. This is the idea of debvader's field
deblending (detect, cut a stamp on each source, deblend, iterate on the
residual), applied inside one stamp.

Neighbour subtraction, for each stamp (:func:`deblend_subtracting_neighbours`):

1. deblend the stamp as it is: the *plain* prediction, flux ``F_plain``;
2. detect sources with sep, as the sep baseline and the quality flag do
   (:func:`debvader_euclid.baselines.sep_photometry.find_central`); every source
   whose barycentre is more than ``max_centre_distance_pix`` (2 pixels) from the
   stamp centre is a neighbour;
3. start from no central model, ``C = 0``; then ``n_passes`` times:

   a. for each neighbour, shift ``stamp - C`` by whole pixels so the neighbour
      lands within half a pixel of the centre (pixels shifted in from outside the
      stamp are Gaussian noise of the stamp's sigma, as in training), deblend it,
      and shift the prediction back: the neighbour model;
   b. ``C`` = the deblended ``stamp - sum of the bright neighbour models``, a
      neighbour being *bright* when its model's flux is more than
      :data:`MIN_NEIGHBOUR_FLUX_RATIO` (3) times ``F_plain``.

Pass 1 models the neighbours with the central galaxy still in the stamp; pass 2
models them from the stamp with pass 1's central galaxy removed, so that light
the neighbour model took from the central galaxy in pass 1 is given back. A
stamp without a bright neighbour keeps its plain prediction.

Only bright neighbours are subtracted because the network's failure is
symmetric: re-centred on a *fainter* neighbour, it takes part of the central
galaxy's light for that neighbour's, and subtracting that model would take the
light away from the central galaxy (on the validation shards, subtracting every
neighbour biased the fluxes low and raised the fraction of catastrophic fluxes;
with the threshold the catastrophic fraction falls below that of the plain
prediction and the median flux moves by a few tenths of a per cent).

The *check* (:func:`check_with_neighbours`) keeps the plain prediction and takes
the neighbour-subtracted one only where the plain flux is more than
:data:`CHECK_FLUX_RATIO` times larger: the blends whose central galaxy took a
neighbour's light. Both thresholds were chosen on the validation shards of the
two training sets; the figures, and how they were chosen, are in
``docs/results.md``.

Cost: one sep detection per stamp and ``1 + n_passes * (neighbours + 1)``
network calls for a stamp with ``neighbours`` detected neighbours (the last
term only when one of them is bright).
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from debvader_euclid.baselines.sep_photometry import (
    DEFAULT_MAX_CENTRE_DISTANCE_PIX,
    find_central,
)

logger = logging.getLogger(__name__)

#: Passes of step 2 (module docstring): chosen on the validation shards of both
#: training sets (``docs/results.md``).
DEFAULT_PASSES = 2

#: A neighbour is subtracted only when its model's flux is more than this many
#: times the plain flux of the central galaxy (module docstring; chosen on the
#: validation shards, ``docs/results.md``).
MIN_NEIGHBOUR_FLUX_RATIO = 3.0

#: The check replaces a plain prediction whose flux is more than this many times
#: the neighbour-subtracted flux (chosen on the validation shards; ``docs/results.md``).
CHECK_FLUX_RATIO = 1.5

#: What :meth:`Deblender.deblend <debvader_euclid.Deblender.deblend>` does with
#: the neighbours: nothing (the network alone), check, or subtract.
NEIGHBOUR_MODES = ("keep", "check", "subtract")


def neighbour_offsets(
    stamp: np.ndarray,
    sigma_uJy: float,
    max_centre_distance_pix: float = DEFAULT_MAX_CENTRE_DISTANCE_PIX,
    thresh_nsigma: float = 1.5,
) -> list[tuple[int, int]]:
    """Whole-pixel offsets from the stamp centre to each detected neighbour.

    Parameters
    ----------
    stamp : numpy.ndarray
        One ``(S, S)`` stamp, uJy/pixel, background subtracted.
    sigma_uJy : float
        Pixel noise standard deviation, uJy/pixel.
    max_centre_distance_pix : float
        Sources whose barycentre lies within this many pixels of the centre are the
        central galaxy, not neighbours.
    thresh_nsigma : float
        Detection threshold, in units of ``sigma_uJy``.

    Returns
    -------
    list of (int, int)
        ``(dy, dx)`` pixels, rows then columns, of each neighbour's barycentre from
        the stamp centre, rounded to whole pixels; empty if none is detected.
    """
    search = find_central(
        np.ascontiguousarray(stamp, dtype=np.float64),
        float(sigma_uJy),
        thresh_nsigma=thresh_nsigma,
        max_centre_distance_pix=max_centre_distance_pix,
    )
    if search.objects is None:
        return []
    centre_y = (stamp.shape[0] - 1) / 2.0
    centre_x = (stamp.shape[1] - 1) / 2.0
    offsets = []
    for obj in search.objects:
        dy, dx = float(obj["y"]) - centre_y, float(obj["x"]) - centre_x
        if math.hypot(dy, dx) > max_centre_distance_pix:
            offsets.append((int(round(dy)), int(round(dx))))
    return offsets


def _overlap(size: int, shift: int) -> tuple[slice, slice]:
    """Slices ``(destination, source)`` with ``dest[i] = src[i + shift]`` inside ``size``."""
    dest = slice(max(0, -shift), min(size, size - shift))
    src = slice(max(0, shift), min(size, size + shift))
    return dest, src


def recentre(stamp: np.ndarray, dy: int, dx: int, fill: np.ndarray) -> np.ndarray:
    """The stamp moved so that the pixel at offset ``(dy, dx)`` from its centre is at the centre.

    ``out[y, x] = stamp[y + dy, x + dx]`` where that pixel exists, ``fill[y, x]``
    elsewhere.

    Parameters
    ----------
    stamp : numpy.ndarray
        ``(S, S)`` stamp, uJy/pixel.
    dy, dx : int
        Offset in pixels (rows, columns) of the new centre from the old one.
    fill : numpy.ndarray
        ``(S, S)`` values for the pixels that come from outside the stamp, uJy/pixel
        (noise, so the network sees what it was trained on).

    Returns
    -------
    numpy.ndarray
        ``(S, S)`` float32.
    """
    out = np.array(fill, dtype=np.float32, copy=True)
    rows, rows_src = _overlap(stamp.shape[0], dy)
    cols, cols_src = _overlap(stamp.shape[1], dx)
    out[rows, cols] = stamp[rows_src, cols_src]
    return out


def place_back(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Inverse of :func:`recentre` for a model: ``out[y + dy, x + dx] = image[y, x]``, else 0."""
    out = np.zeros(image.shape, dtype=np.float32)
    rows, rows_src = _overlap(image.shape[0], dy)
    cols, cols_src = _overlap(image.shape[1], dx)
    out[rows_src, cols_src] = image[rows, cols]
    return out


def deblend_subtracting_neighbours(
    predict: Callable[[np.ndarray], np.ndarray],
    stamps: np.ndarray,
    sigma_uJy: np.ndarray,
    n_passes: int = DEFAULT_PASSES,
    min_flux_ratio: float = MIN_NEIGHBOUR_FLUX_RATIO,
    seed: int = 0,
    max_centre_distance_pix: float = DEFAULT_MAX_CENTRE_DISTANCE_PIX,
    plain: np.ndarray | None = None,
    detections: NeighbourDetections | None = None,
) -> np.ndarray:
    """The central galaxy of each stamp, deblended after its bright neighbours are subtracted.

    Parameters
    ----------
    predict : callable
        ``(M, S, S) float32 -> (M, S, S)``: the deblender's prediction of the galaxy
        at the centre of each stamp, uJy/pixel (one network call).
    stamps : numpy.ndarray
        ``(N, S, S)`` float32 stamps, uJy/pixel, each centred on the galaxy to extract.
    sigma_uJy : numpy.ndarray
        ``(N,)`` pixel noise standard deviation of each stamp, uJy/pixel, > 0.
    n_passes : int
        Passes of neighbour modelling (module docstring), >= 1.
    min_flux_ratio : float
        A neighbour is subtracted when its model's flux is more than this many times
        the plain flux of the stamp's central galaxy; >= 0 (0: every neighbour whose
        model has positive flux).
    seed : int
        Seed of the noise that fills the pixels shifted into a re-centred stamp. A
        stamp's noise comes from the generator seeded with ``seed`` and the CRC-32 of
        the stamp's bytes, so the result does not depend on the other stamps or on
        how they were split into batches.
    max_centre_distance_pix : float
        Detections within this many pixels of the centre are the central galaxy.
    plain : numpy.ndarray, optional
        ``predict(stamps)`` when the caller has it already (the check does), so it is
        not computed twice.
    detections : NeighbourDetections, optional
        ``detect_neighbours(stamps, sigma_uJy, seed, max_centre_distance_pix)`` when
        the caller has it already (refining does), so sep does not run twice.

    Returns
    -------
    numpy.ndarray
        ``(N, S, S)`` float32 central galaxies, uJy/pixel: the plain prediction for
        the stamps without a bright neighbour.
    """
    if n_passes < 1:
        raise ValueError(f"n_passes must be at least 1, got {n_passes}")
    if not min_flux_ratio >= 0:
        raise ValueError(f"min_flux_ratio must be >= 0, got {min_flux_ratio}")
    if plain is None:
        plain = np.asarray(predict(stamps), dtype=np.float32)
    elif plain.shape != stamps.shape:
        raise ValueError(f"plain has shape {plain.shape}, the stamps {stamps.shape}")
    plain_flux = plain.sum(axis=(1, 2), dtype=np.float64)
    if detections is None:
        detections = detect_neighbours(stamps, sigma_uJy, seed, max_centre_distance_pix)
    owners, offsets = detections.owners, detections.offsets
    central = np.array(plain, dtype=np.float32, copy=True)
    if not owners:
        return central

    # Stamps with a neighbour, and each neighbour's row among them.
    with_neighbours = np.unique(owners)
    row_of = {int(i): row for row, i in enumerate(with_neighbours)}
    sub_stamps = stamps[with_neighbours]
    rows = [row_of[i] for i in owners]
    sub_central = np.zeros_like(sub_stamps)
    for _ in range(n_passes):
        models = _model_each(predict, sub_stamps - sub_central, rows, detections)
        model_flux = models.sum(axis=(1, 2), dtype=np.float64)
        bright_total = np.zeros_like(sub_stamps)
        for model, flux, i, (dy, dx) in zip(models, model_flux, owners, offsets, strict=True):
            if flux > min_flux_ratio * plain_flux[i] and flux > 0:
                bright_total[row_of[i]] += place_back(model, dy, dx)
        has_bright = bright_total.any(axis=(1, 2))
        sub_central = np.array(plain[with_neighbours], dtype=np.float32, copy=True)
        if has_bright.any():
            sub_central[has_bright] = np.asarray(
                predict(sub_stamps[has_bright] - bright_total[has_bright]), dtype=np.float32
            )
    central[with_neighbours] = sub_central
    logger.debug(
        "%d stamp(s) with a bright neighbour subtracted in the last pass", int(has_bright.sum())
    )
    return central


class NeighbourDetections(NamedTuple):
    """The neighbours detected in a batch of stamps (:func:`detect_neighbours`).

    Attributes
    ----------
    owners : list of int
        Index of the stamp each neighbour belongs to.
    offsets : list of (int, int)
        ``(dy, dx)`` pixels from the stamp centre to each neighbour.
    fills : list of numpy.ndarray
        ``(S, S)`` float32 noise, uJy/pixel, for the pixels shifted into the stamp
        re-centred on each neighbour.
    """

    owners: list[int]
    offsets: list[tuple[int, int]]
    fills: list[np.ndarray]


def detect_neighbours(
    stamps: np.ndarray,
    sigma_uJy: np.ndarray,
    seed: int = 0,
    max_centre_distance_pix: float = DEFAULT_MAX_CENTRE_DISTANCE_PIX,
) -> NeighbourDetections:
    """Every neighbour sep detects in the stamps, with the noise to re-centre on it.

    Parameters
    ----------
    stamps : numpy.ndarray
        ``(N, S, S)`` float32 stamps, uJy/pixel.
    sigma_uJy : numpy.ndarray
        ``(N,)`` pixel noise standard deviation of each stamp, uJy/pixel, > 0.
    seed : int
        The fill of a stamp's neighbours comes from the generator seeded with
        ``seed`` and the CRC-32 of the stamp's bytes, so it does not depend on the
        other stamps or on how they were split into batches.
    max_centre_distance_pix : float
        Detections within this many pixels of the centre are the central galaxy.

    Returns
    -------
    NeighbourDetections
    """
    size = stamps.shape[-1]
    found = NeighbourDetections([], [], [])
    for i in range(len(stamps)):
        offsets = neighbour_offsets(stamps[i], float(sigma_uJy[i]), max_centre_distance_pix)
        if not offsets:
            continue
        checksum = zlib.crc32(np.ascontiguousarray(stamps[i]).tobytes())
        rng = np.random.default_rng([seed, checksum])
        for offset in offsets:
            found.owners.append(i)
            found.offsets.append(offset)
            found.fills.append(
                rng.normal(0.0, float(sigma_uJy[i]), (size, size)).astype(np.float32)
            )
    logger.debug("%d neighbour(s) detected in %d stamp(s)", len(found.owners), len(stamps))
    return found


def _model_each(
    predict: Callable[[np.ndarray], np.ndarray],
    residual: np.ndarray,
    rows: list[int],
    detections: NeighbourDetections,
) -> np.ndarray:
    """Each neighbour deblended from its ``residual[row]`` re-centred on it (one call)."""
    shifted = np.stack(
        [
            recentre(residual[row], dy, dx, fill)
            for row, (dy, dx), fill in zip(rows, detections.offsets, detections.fills, strict=True)
        ]
    )
    return np.asarray(predict(shifted), dtype=np.float32)


def model_neighbours(
    predict: Callable[[np.ndarray], np.ndarray],
    stamps: np.ndarray,
    sigma_uJy: np.ndarray,
    central: np.ndarray,
    seed: int = 0,
    max_centre_distance_pix: float = DEFAULT_MAX_CENTRE_DISTANCE_PIX,
    detections: NeighbourDetections | None = None,
) -> np.ndarray:
    """The light of every detected neighbour, modelled by the deblender, summed per stamp.

    Each neighbour is deblended from ``stamps - central`` re-centred on it, and its
    model is put back where it lies (step 3a of the module docstring, one pass, all
    neighbours whatever their flux).

    Parameters
    ----------
    predict : callable
        ``(M, S, S) float32 -> (M, S, S)``: the deblender's prediction, uJy/pixel.
    stamps : numpy.ndarray
        ``(N, S, S)`` float32 stamps, uJy/pixel.
    sigma_uJy : numpy.ndarray
        ``(N,)`` pixel noise standard deviation of each stamp, uJy/pixel, > 0.
    central : numpy.ndarray
        ``(N, S, S)`` model of each stamp's central galaxy, uJy/pixel, removed before
        the neighbours are modelled.
    seed : int
        Seed of the noise in the pixels shifted into a re-centred stamp
        (as in :func:`deblend_subtracting_neighbours`).
    max_centre_distance_pix : float
        Detections within this many pixels of the centre are the central galaxy.
    detections : NeighbourDetections, optional
        :func:`detect_neighbours` of these stamps when the caller has it already.

    Returns
    -------
    numpy.ndarray
        ``(N, S, S)`` float32, uJy/pixel: 0 in stamps without a detected neighbour.
    """
    if central.shape != stamps.shape:
        raise ValueError(f"central has shape {central.shape}, the stamps {stamps.shape}")
    if detections is None:
        detections = detect_neighbours(stamps, sigma_uJy, seed, max_centre_distance_pix)
    total = np.zeros(stamps.shape, dtype=np.float32)
    if not detections.owners:
        return total
    models = _model_each(predict, stamps - central, detections.owners, detections)
    for model, i, (dy, dx) in zip(models, detections.owners, detections.offsets, strict=True):
        total[i] += place_back(model, dy, dx)
    return total


def check_with_neighbours(
    plain: np.ndarray, subtracted: np.ndarray, ratio: float = CHECK_FLUX_RATIO
) -> np.ndarray:
    """The plain prediction, or the neighbour-subtracted one where the plain flux is too large.

    Parameters
    ----------
    plain : numpy.ndarray
        ``(N, S, S)`` predictions of the network alone, uJy/pixel.
    subtracted : numpy.ndarray
        ``(N, S, S)`` predictions after neighbour subtraction
        (:func:`deblend_subtracting_neighbours`), uJy/pixel.
    ratio : float
        A stamp takes ``subtracted`` when its positive flux (sum of the pixels) is
        less than ``1 / ratio`` of the plain flux; > 1.

    Returns
    -------
    numpy.ndarray
        ``(N, S, S)`` float32, uJy/pixel.
    """
    if not ratio > 1:
        raise ValueError(f"ratio must be > 1, got {ratio}")
    flux_plain = plain.sum(axis=(1, 2), dtype=np.float64)
    flux_subtracted = subtracted.sum(axis=(1, 2), dtype=np.float64)
    replace = (flux_subtracted > 0) & (flux_plain > ratio * flux_subtracted)
    logger.debug("check: %d of %d prediction(s) replaced", int(replace.sum()), len(plain))
    return np.where(replace[:, None, None], subtracted, plain).astype(np.float32)
