"""The pixel noise of VIS stamps, estimated from the stamps themselves.

Neighbour handling (:mod:`debvader_euclid.neighbours`), refining
(:mod:`debvader_euclid.refine`) and the quality flag
(:func:`debvader_euclid.central_detection`) need the standard deviation of the
pixel noise. A survey pipeline knows it from its weight maps and should pass it;
for a set of stamps cut from one image, :func:`estimate_noise_sigma` measures it,
stamp by stamp (:func:`stamp_noise_rms`), and takes the median over the stamps:

1. a first guess, sep's clipped background rms with one box covering the stamp;
2. the sources sep detects above 1.5 times that guess, each grown by
   :data:`MASK_GROW_PIX` pixels, are masked;
3. the normalised median absolute deviation of the remaining pixels
   (``astropy.stats.mad_std``), when at least 10 % of the stamp remains.

The galaxies' wings inflate the first guess on crowded stamps; the masked
estimate is within 0.25 % of the truth on the test sets (``docs/results.md``).
The estimate assumes uncorrelated pixel noise at one level over the stamp.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

#: Pixels by which each detected source is grown before the noise is measured
#: around it.
MASK_GROW_PIX = 3

#: The value of ``noise_sigma_uJy`` that asks :meth:`Deblender.deblend
#: <debvader_euclid.Deblender.deblend>` to estimate the noise from the stamps.
ESTIMATE = "estimate"


def stamp_noise_rms(stamps: np.ndarray) -> np.ndarray:
    """The pixel noise of each stamp, measured around its sources, uJy/pixel.

    Parameters
    ----------
    stamps : numpy.ndarray
        ``(N, S, S)`` stamps, uJy/pixel, background subtracted, finite.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` float64, uJy/pixel; NaN for a stamp without noise (all pixels equal).
    """
    import sep
    from astropy.stats import mad_std
    from scipy import ndimage

    stamps = np.asarray(stamps)
    if stamps.ndim != 3:
        raise ValueError(f"need (N, S, S) stamps, got shape {stamps.shape}")
    if not np.all(np.isfinite(stamps)):
        raise ValueError(
            f"{int(np.sum(~np.isfinite(stamps)))} non-finite pixel(s): the noise cannot be "
            "estimated from them; replace them (nonfinite='zero') or give the noise level"
        )
    box_y, box_x = stamps.shape[1:]
    out = np.empty(len(stamps), dtype=np.float64)
    for i, stamp in enumerate(stamps):
        data = np.ascontiguousarray(stamp, dtype=np.float64)
        if np.ptp(data) == 0:
            out[i] = np.nan
            continue
        guess = sep.Background(data, bw=box_x, bh=box_y, fw=1, fh=1).globalrms
        out[i] = guess
        try:
            _, segmap = sep.extract(data, 1.5, err=guess, minarea=5, segmentation_map=True)
        except Exception as exc:  # sep's C errors are plain Exception subclasses
            logger.debug("sep.extract failed on stamp %d (%s): first guess kept", i, exc)
            continue
        mask = ndimage.binary_dilation(segmap > 0, iterations=MASK_GROW_PIX)
        rest = data[~mask]
        if rest.size >= 0.1 * data.size:
            out[i] = float(mad_std(rest))
    return out


def estimate_noise_sigma(stamps: np.ndarray) -> float:
    """One pixel-noise standard deviation for a set of stamps, uJy/pixel.

    The median over the stamps of :func:`stamp_noise_rms`: the stamps are
    assumed to share one noise level (cut from one image, or images of one depth).

    Parameters
    ----------
    stamps : numpy.ndarray
        ``(N, S, S)`` stamps, uJy/pixel, background subtracted, finite; the more,
        the better (the estimate of a stamp filled by a bright galaxy is poor).

    Returns
    -------
    float
        uJy/pixel, > 0.

    Raises
    ------
    ValueError
        No stamps, non-finite pixels, or no noise in them (noiseless stamps: give
        the noise level instead).
    """
    stamps = np.asarray(stamps)
    if stamps.ndim != 3 or len(stamps) == 0:
        raise ValueError(
            f"need at least one (S, S) stamp to estimate the noise, got {stamps.shape}"
        )
    per_stamp = stamp_noise_rms(stamps)
    sigma = (
        float(np.median(per_stamp[np.isfinite(per_stamp)])) if np.isfinite(per_stamp).any() else 0.0
    )
    if not sigma > 0:
        raise ValueError(
            "the stamps show no pixel noise (every pixel of a stamp equal): give noise_sigma_uJy "
            "instead of estimating it"
        )
    logger.info("pixel noise estimated from %d stamp(s): %.6g uJy/pixel", len(stamps), sigma)
    return sigma


def noise_sigma_for(noise_sigma_uJy: float | np.ndarray | str, stamps: np.ndarray) -> np.ndarray:
    """One noise sigma per stamp, uJy/pixel, from a value, one per stamp, or ``"estimate"``.

    Parameters
    ----------
    noise_sigma_uJy : float, array_like or "estimate"
        One value for all stamps, one per stamp (``(N,)``), or :data:`ESTIMATE`
        (:func:`estimate_noise_sigma` of ``stamps``).
    stamps : numpy.ndarray
        ``(N, S, S)`` stamps, uJy/pixel.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` float64, uJy/pixel, finite and > 0.

    Raises
    ------
    ValueError
        Another string, a wrong number of values, a value not finite and > 0, or
        stamps the noise cannot be estimated from.
    """
    from debvader_euclid.baselines.sep_photometry import noise_sigma_per_stamp

    if isinstance(noise_sigma_uJy, str):
        if noise_sigma_uJy != ESTIMATE:
            raise ValueError(
                f"noise_sigma_uJy must be a number, one per stamp, or {ESTIMATE!r}; "
                f"got {noise_sigma_uJy!r}"
            )
        if len(stamps) == 0:
            return np.empty(0, dtype=np.float64)
        noise_sigma_uJy = estimate_noise_sigma(stamps)
    return noise_sigma_per_stamp(noise_sigma_uJy, len(stamps))
