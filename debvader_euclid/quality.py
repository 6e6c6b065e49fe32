"""Quality flag: is the galaxy at the stamp centre seen as a source of its own?

:meth:`Deblender.deblend <debvader_euclid.Deblender.deblend>` returns the galaxy
at the centre of each stamp whatever the stamp holds. When that galaxy is not
detected as a separate source, for example a VIS 25 galaxy 0.3-0.8 arcsec from a
neighbour 4-5 magnitudes brighter, the image does not say how much of the light
near the centre is its own, and the deblended flux can be several times the true
one. On the 5,000-blend test sets the flag is raised on 8 % of the blends, which
hold 9 of the 9 analytic and 17 of the 20 realistic blends whose flux the
deblender more than doubles and about two thirds of those off by more than 50 %
(the ``report.md`` that ``debvader-euclid evaluate`` writes for each test set, in
``reports/``): survey pipelines should carry it with every deblended flux.

The check is the detection step of the sep baseline
(:func:`debvader_euclid.baselines.sep_photometry.find_central`): SExtractor's
defaults (1.5 sigma above the smoothed image, 5 pixels, DEBLEND_NTHRESH 32,
DEBLEND_MINCONT 0.005), then the detection nearest the stamp centre must lie within
``max_offset_pixels`` (default 2 pixels = 0.2 arcsec). It depends on the stamp
and the noise level only, not on a model.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from debvader_euclid.baselines.sep_photometry import (
    DEFAULT_MAX_CENTRE_DISTANCE_PIX,
    find_central,
)
from debvader_euclid.metrics import as_stamps
from debvader_euclid.noise import noise_sigma_for

logger = logging.getLogger(__name__)

#: Columns of :func:`central_detection`'s table, in order.
DETECTION_COLUMNS = ("central_detected", "offset_pixels", "n_sources")


def central_detection(
    images: np.ndarray,
    noise_sigma_uJy: float | np.ndarray | str,
    max_offset_pixels: float = DEFAULT_MAX_CENTRE_DISTANCE_PIX,
    thresh_nsigma: float = 1.5,
) -> pd.DataFrame:
    """Whether the galaxy at the centre of each stamp is detected as its own source.

    Parameters
    ----------
    images : array_like
        VIS stamps in uJy/pixel, shape ``(N, S, S)`` or ``(N, S, S, 1)``, each
        centred on the galaxy to deblend (the stamps given to
        :meth:`Deblender.deblend <debvader_euclid.Deblender.deblend>`), background
        subtracted.
    noise_sigma_uJy : float, array_like or "estimate"
        Standard deviation of the pixel noise, uJy/pixel: one value, or one per
        stamp, shape ``(N,)``; > 0. ``"estimate"``: measured from the stamps
        (:func:`debvader_euclid.noise.estimate_noise_sigma`).
    max_offset_pixels : float
        Largest distance, pixels (0.1 arcsec), from the stamp centre to the
        barycentre of the detection taken as the central galaxy (default 2).
    thresh_nsigma : float
        Detection threshold in units of ``noise_sigma_uJy`` (default 1.5,
        SExtractor's DETECT_THRESH).

    Returns
    -------
    pandas.DataFrame
        One row per stamp, in input order: ``central_detected`` (bool; False
        flags a deblended flux not to be trusted), ``offset_pixels`` (distance,
        pixels, from the stamp centre to the nearest detection's barycentre; NaN
        when nothing is detected) and ``n_sources`` (detections in the stamp).

    Raises
    ------
    ValueError
        A bad stamp shape, or a noise level that is not finite and positive, or
        one array of noise levels whose length is not the number of stamps, or a
        negative ``max_offset_pixels``.

    Examples
    --------
    >>> flags = central_detection(stamps_uJy, noise_sigma_uJy=0.00277)  # doctest: +SKIP
    >>> trusted = flags["central_detected"].to_numpy()  # doctest: +SKIP
    """
    stamps = as_stamps(images)
    n = stamps.shape[0]
    sigma = noise_sigma_for(noise_sigma_uJy, stamps)
    if not (math.isfinite(max_offset_pixels) and max_offset_pixels >= 0):
        raise ValueError(f"max_offset_pixels must be finite and >= 0; got {max_offset_pixels}")
    if not (math.isfinite(thresh_nsigma) and thresh_nsigma > 0):
        raise ValueError(f"thresh_nsigma must be finite and > 0; got {thresh_nsigma}")

    detected = np.zeros(n, dtype=bool)
    offset = np.full(n, np.nan)
    n_sources = np.zeros(n, dtype=np.int64)
    for i in range(n):
        search = find_central(
            np.ascontiguousarray(stamps[i], dtype=np.float64),
            float(sigma[i]),
            thresh_nsigma=thresh_nsigma,
            max_centre_distance_pix=max_offset_pixels,
        )
        detected[i] = search.index is not None
        offset[i] = search.distance_pix
        n_sources[i] = search.n_objects
    if n and not detected.all():
        missed = int((~detected).sum())
        logger.debug("central galaxy not detected on its own in %d of %d stamps", missed, n)
    return pd.DataFrame(
        {"central_detected": detected, "offset_pixels": offset, "n_sources": n_sources},
        columns=list(DETECTION_COLUMNS),
    )
