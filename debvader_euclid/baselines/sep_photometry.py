"""SExtractor-style photometry of the central galaxy of each stamp, with sep.

This is the classical baseline the deblender is measured against: the method
paper quotes SExtractor apertures underestimating fluxes by ~12 % (Boucaud et al.
2020, MNRAS 491, 2481). It follows sep's documented recipe for SExtractor's
FLUX_AUTO (the SExtractor recipe as used by BlendingToolKit).

Per stamp
---------
1. **Detection**: ``sep.extract(data, thresh_nsigma, err=sigma, minarea,
   deblend_nthresh, deblend_cont, segmentation_map=True)`` with SExtractor's
   defaults (DETECT_THRESH 1.5 sigma, DETECT_MINAREA 5, DEBLEND_NTHRESH 32,
   DEBLEND_MINCONT 0.005, sep's default 3x3 smoothing kernel, cleaning on). ``err``
   is the **true** per-pixel noise sigma of the simulation (constant over the
   stamp), as BlendingToolKit's maintainers advise, rather than a level
   re-estimated on a 64x64 stamp dominated by one or two galaxies. No background is
   subtracted: the simulated stamps have zero-mean noise on a zero background.
   ``filter_type="conv"`` makes SExtractor's convention explicit: the threshold
   ``thresh_nsigma * sigma`` is applied to the *smoothed* image in units of the
   *unsmoothed* pixel sigma. (The smoothed noise is ~0.375 sigma for the 3x3
   kernel, so 1.5 sigma is ~4 sigma of the smoothed noise: on sep 1.4.1, 0 spurious
   detections in 20 blank 64x64 stamps, against ~5 per stamp with sep's "matched"
   filtering of a noise *array*, which thresholds the smoothed image in units of
   its own noise. A scalar ``err`` already takes the "conv" path.)
2. **Central object**: the detected object whose barycentre is nearest the
   stamp's true centre, ``((S - 1) / 2, (S - 1) / 2)`` in 0-based pixel
   coordinates (31.5 for a 64-pixel stamp: the corner shared by the four central
   pixels, where ``data_generation`` puts an un-offset galaxy). If no object lies
   within ``max_centre_distance_pix`` (default
   :data:`DEFAULT_MAX_CENTRE_DISTANCE_PIX` = 2 pixels = 0.2 arcsec) the stamp is
   a **detection failure**: a row with ``detected = False``, NaN fluxes and the
   :data:`FLAG_NOT_DETECTED` bit, counted and logged, never dropped. The true
   centre of a simulated central galaxy is within 0.5 pixel of the stamp centre,
   so an object whose barycentre is 2 pixels or more away is a neighbour, or the
   central merged with a brighter neighbour into one detection pulled towards it,
   rather than a detection of the central (the default was 3 pixels before the
   quality flag :func:`debvader_euclid.quality.central_detection`, which uses this
   same step).
3. **Masking the other objects**: sep's segmentation map assigns each pixel
   above the threshold to one object (segment ``k + 1`` is catalogue row ``k``).
   Pixels of the *other* segments are masked for both the Kron radius and the
   aperture sums. ``neighbour_mask="zero"`` (default) passes ``seg_id`` and
   ``segmap`` to sep, which then **counts masked pixels as zero** (checked on sep
   1.4.1: it does not rescale by the unmasked area as it does for ``mask=``).
   ``neighbour_mask="correct"`` reproduces SExtractor's default MASK_TYPE CORRECT
   instead: each masked pixel is replaced by the pixel symmetric to it about the
   object's barycentre (zero if that one is masked too or off the stamp), which
   gives back the central galaxy's light hidden under the neighbour's segment for
   a roughly point-symmetric galaxy.
4. **FLUX_AUTO**: ``kronrad = sep.kron_radius(data, x, y, a, b, theta, 6.0)``
   (the first moment of the light inside 6 isophotal radii, SExtractor's fixed
   value, in units of ``a`` and ``b``), then
   ``sep.sum_ellipse(data, x, y, a, b, theta, r=kron_factor * kronrad)``: an
   ellipse of semi-axes ``kron_factor * kronrad * (a, b)``. Minimum aperture:
   when ``kron_factor * kronrad * sqrt(a b)`` (the Kron ellipse's geometric-mean
   radius) is below ``min_radius`` pixels, or the Kron radius is undefined, the
   flux is summed in a **circle of radius min_radius pixels** instead
   (:data:`FLAG_CIRCULAR_APERTURE`). With the defaults 2.5 and 3.5 this uses the
   numbers of SExtractor's ``PHOT_AUTOPARAMS 2.5, 3.5``, but note the difference:
   SExtractor clips the Kron factor at 3.5 and keeps the ellipse (semi-axes
   ``3.5 a, 3.5 b``), while this uses a circle (0.35 arcsec radius at the VIS pixel
   scale) as sep's documentation example does (that example tests
   ``kronrad * sqrt(a b) < 1.75`` and uses a 1.75-pixel circle), which is less
   sensitive to the poorly measured ``a, b`` of faint, small detections.
   The error ``flux_auto_err_uJy`` is sep's, from the true sigma: ``sigma sqrt(A)``
   for an aperture of ``A`` unmasked pixels (it ignores the correlation that
   ``"correct"`` introduces between a pixel and its mirror).
   An exponential profile has ~96 % of its light within 2.5 Kron radii measured to
   infinity; with the Kron radius measured within 6 isophotal radii on a noisy
   image, FLUX_AUTO typically misses a few per cent of an exponential disc and more
   of a de Vaucouleurs bulge: it is biased low by construction.
5. **Isophotal flux** ``flux_iso_uJy``: the sum of the pixels of the object's
   segment (pixels above ``thresh_nsigma * sigma`` in the smoothed image, after
   deblending), SExtractor's FLUX_ISO; it misses the light below the isophote.

Flags
-----
``flag`` is the bitwise OR of sep's flags for the object (``sep.OBJ_MERGED`` 1,
``OBJ_TRUNC`` 2, ``OBJ_DOVERFLOW`` 4, ``OBJ_SINGU`` 8), the Kron radius and the
aperture (``APER_TRUNC`` 16, ``APER_HASMASKED`` 32, ``APER_ALLMASKED`` 64,
``APER_NONPOSITIVE`` 128) and this module's bits :data:`FLAG_CIRCULAR_APERTURE`,
:data:`FLAG_NOT_DETECTED`, :data:`FLAG_EXTRACT_ERROR`, :data:`FLAG_KRON_UNDEFINED`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import sep

from debvader_euclid.metrics import as_stamps

logger = logging.getLogger(__name__)

#: The flux was summed in the minimum circular aperture (Kron ellipse too small or
#: Kron radius undefined).
FLAG_CIRCULAR_APERTURE = 0x0100
#: No object within ``max_centre_distance_pix`` of the stamp centre: fluxes are NaN.
FLAG_NOT_DETECTED = 0x0200
#: ``sep.extract`` raised (e.g. deblending overflow): treated as not detected.
FLAG_EXTRACT_ERROR = 0x0400
#: ``sep.kron_radius`` gave a non-finite or non-positive radius, or the object's
#: ``a, b`` were not positive: the circular aperture was used.
FLAG_KRON_UNDEFINED = 0x0800

#: Largest distance, pixels, from the stamp centre to the barycentre of the object
#: taken as the central galaxy (0.2 arcsec at the VIS pixel scale).
DEFAULT_MAX_CENTRE_DISTANCE_PIX = 2.0

#: Columns of :func:`sep_central_photometry`'s table, in order.
COLUMNS = (
    "flux_auto_uJy",
    "flux_auto_err_uJy",
    "flux_iso_uJy",
    "kron_radius",
    "detected",
    "n_objects",
    "distance_pix",
    "flag",
    "x_pix",
    "y_pix",
    "a_pix",
    "b_pix",
    "theta_rad",
    "aperture_radius_pix",
)


def _symmetric_correction(
    data: np.ndarray, segmap: np.ndarray, seg_id: int, x: float, y: float
) -> np.ndarray:
    """SExtractor's MASK_TYPE CORRECT: replace other objects' pixels by their mirror.

    Each pixel of another segment is replaced by the pixel at ``(2x - i, 2y - j)``
    (rounded) about the object's barycentre ``(x, y)``, or by 0 if that pixel is off
    the stamp or itself in another segment.
    """
    other = (segmap != 0) & (segmap != seg_id)
    if not other.any():
        return data
    rows, cols = np.nonzero(other)
    mirror_rows = np.rint(2.0 * y - rows).astype(np.int64)
    mirror_cols = np.rint(2.0 * x - cols).astype(np.int64)
    size_y, size_x = data.shape
    usable = (
        (mirror_rows >= 0) & (mirror_rows < size_y) & (mirror_cols >= 0) & (mirror_cols < size_x)
    )
    usable[usable] &= ~other[mirror_rows[usable], mirror_cols[usable]]
    values = np.zeros(rows.size, dtype=np.float64)
    values[usable] = data[mirror_rows[usable], mirror_cols[usable]]
    corrected = data.copy()
    corrected[rows, cols] = values
    return corrected


def _empty_row(n_objects: int, distance: float, flag: int) -> dict[str, float | int | bool]:
    row: dict[str, float | int | bool] = dict.fromkeys(COLUMNS, math.nan)
    row.update(detected=False, n_objects=n_objects, distance_pix=distance, flag=flag)
    return row


def noise_sigma_per_stamp(noise_sigma_uJy: float | np.ndarray, n: int) -> np.ndarray:
    """One pixel-noise sigma per stamp, float64 ``(n,)``, uJy/pixel, from one or ``n``.

    Raises
    ------
    ValueError
        An array whose length is not ``n``, or a value that is not finite and > 0.
    """
    sigma = np.asarray(noise_sigma_uJy, dtype=np.float64)
    if sigma.ndim == 0:
        sigma = np.full(n, float(sigma))
    if sigma.shape != (n,):
        raise ValueError(
            f"noise_sigma_uJy must be one value or one per stamp, shape ({n},); "
            f"got shape {sigma.shape}"
        )
    if not np.all(np.isfinite(sigma) & (sigma > 0)):
        raise ValueError("noise_sigma_uJy must be finite and > 0 (uJy/pixel)")
    return sigma


@dataclass(frozen=True)
class CentralSearch:
    """Result of :func:`find_central` on one stamp.

    Attributes
    ----------
    objects : numpy.ndarray or None
        sep's catalogue of the stamp (None if sep.extract failed).
    segmap : numpy.ndarray or None
        sep's segmentation map (segment ``k + 1`` is catalogue row ``k``).
    index : int or None
        Row of the central galaxy in ``objects``; None if no object lies within the
        allowed distance of the centre.
    distance_pix : float
        Distance, pixels, from the stamp centre to the nearest object's barycentre
        (NaN if there is no object).
    flag : int
        :data:`FLAG_NOT_DETECTED` and/or :data:`FLAG_EXTRACT_ERROR` bits, else 0.
    """

    objects: np.ndarray | None
    segmap: np.ndarray | None
    index: int | None
    distance_pix: float
    flag: int

    @property
    def n_objects(self) -> int:
        """Number of objects sep detected in the stamp."""
        return 0 if self.objects is None else len(self.objects)


def find_central(
    data: np.ndarray,
    sigma: float,
    *,
    thresh_nsigma: float = 1.5,
    minarea: int = 5,
    deblend_nthresh: int = 32,
    deblend_cont: float = 0.005,
    max_centre_distance_pix: float = DEFAULT_MAX_CENTRE_DISTANCE_PIX,
) -> CentralSearch:
    """Steps 1 and 2 of the module docstring on one stamp: detect, pick the central.

    Parameters
    ----------
    data : numpy.ndarray
        One ``(S, S)`` C-contiguous native float64 stamp, uJy/pixel.
    sigma : float
        Noise standard deviation per pixel, uJy/pixel.
    thresh_nsigma, minarea, deblend_nthresh, deblend_cont, max_centre_distance_pix
        As in :func:`sep_central_photometry`.

    Returns
    -------
    CentralSearch
    """
    try:
        objects, segmap = sep.extract(
            data,
            thresh_nsigma,
            err=sigma,
            minarea=minarea,
            deblend_nthresh=deblend_nthresh,
            deblend_cont=deblend_cont,
            filter_type="conv",
            segmentation_map=True,
        )
    except Exception as exc:  # sep raises plain Exception subclasses for its C errors
        logger.warning("sep.extract failed on a stamp: %s", exc)
        return CentralSearch(None, None, None, math.nan, FLAG_NOT_DETECTED | FLAG_EXTRACT_ERROR)
    if len(objects) == 0:
        return CentralSearch(objects, segmap, None, math.nan, FLAG_NOT_DETECTED)
    centre = (data.shape[0] - 1) / 2.0
    distances = np.hypot(objects["x"] - centre, objects["y"] - centre)
    k = int(np.argmin(distances))
    distance = float(distances[k])
    if distance > max_centre_distance_pix:
        return CentralSearch(objects, segmap, None, distance, FLAG_NOT_DETECTED)
    return CentralSearch(objects, segmap, k, distance, 0)


def _measure_one(
    data: np.ndarray,
    sigma: float,
    *,
    thresh_nsigma: float,
    minarea: int,
    deblend_nthresh: int,
    deblend_cont: float,
    kron_factor: float,
    min_radius: float,
    max_centre_distance_pix: float,
    kron_window: float,
    neighbour_mask: str,
    subpix: int,
) -> dict[str, float | int | bool]:
    search = find_central(
        data,
        sigma,
        thresh_nsigma=thresh_nsigma,
        minarea=minarea,
        deblend_nthresh=deblend_nthresh,
        deblend_cont=deblend_cont,
        max_centre_distance_pix=max_centre_distance_pix,
    )
    if search.index is None:
        return _empty_row(search.n_objects, search.distance_pix, search.flag)
    objects, segmap, k = search.objects, search.segmap, search.index
    n_objects, distance = search.n_objects, search.distance_pix

    obj = objects[k]
    seg_id = k + 1
    x = np.array([obj["x"]], dtype=np.float64)
    y = np.array([obj["y"]], dtype=np.float64)
    a = np.array([obj["a"]], dtype=np.float64)
    b = np.array([obj["b"]], dtype=np.float64)
    theta = np.array([obj["theta"]], dtype=np.float64)
    flag = int(obj["flag"])

    if neighbour_mask == "zero":
        work = data
        seg_kwargs = {"segmap": segmap, "seg_id": np.array([seg_id], dtype=np.int32)}
    else:
        work = _symmetric_correction(data, segmap, seg_id, float(x[0]), float(y[0]))
        seg_kwargs = {}

    kronrad = math.nan
    use_circle = True
    if np.all(np.isfinite(a)) and a[0] > 0 and b[0] > 0:
        kr, kr_flag = sep.kron_radius(work, x, y, a, b, theta, kron_window, **seg_kwargs)
        kronrad = float(kr[0])
        flag |= int(kr_flag[0])
        if math.isfinite(kronrad) and kronrad > 0:
            use_circle = kron_factor * kronrad * math.sqrt(a[0] * b[0]) < min_radius
        else:
            flag |= FLAG_KRON_UNDEFINED
    else:
        flag |= FLAG_KRON_UNDEFINED

    if use_circle:
        flux, flux_err, ap_flag = sep.sum_circle(
            work, x, y, np.array([min_radius]), err=sigma, subpix=subpix, **seg_kwargs
        )
        flag |= FLAG_CIRCULAR_APERTURE
        radius = min_radius
    else:
        r = np.array([kron_factor * kronrad])
        flux, flux_err, ap_flag = sep.sum_ellipse(
            work, x, y, a, b, theta, r, err=sigma, subpix=subpix, **seg_kwargs
        )
        radius = kron_factor * kronrad * math.sqrt(a[0] * b[0])
    flag |= int(ap_flag[0])

    return {
        "flux_auto_uJy": float(flux[0]),
        "flux_auto_err_uJy": float(flux_err[0]),
        "flux_iso_uJy": float(data[segmap == seg_id].sum()),
        "kron_radius": kronrad,
        "detected": True,
        "n_objects": n_objects,
        "distance_pix": distance,
        "flag": flag,
        "x_pix": float(x[0]),
        "y_pix": float(y[0]),
        "a_pix": float(a[0]),
        "b_pix": float(b[0]),
        "theta_rad": float(theta[0]),
        "aperture_radius_pix": radius,
    }


def sep_central_photometry(
    images: np.ndarray,
    noise_sigma_uJy: float | np.ndarray,
    thresh_nsigma: float = 1.5,
    minarea: int = 5,
    deblend_nthresh: int = 32,
    deblend_cont: float = 0.005,
    kron_factor: float = 2.5,
    min_radius: float = 3.5,
    max_centre_distance_pix: float = DEFAULT_MAX_CENTRE_DISTANCE_PIX,
    kron_window: float = 6.0,
    neighbour_mask: Literal["zero", "correct"] = "zero",
    subpix: int = 5,
) -> pd.DataFrame:
    """FLUX_AUTO and isophotal flux of the central galaxy of each stamp, with sep.

    See the module docstring for every step and choice.

    Parameters
    ----------
    images : array_like
        ``(N, S, S)`` or ``(N, S, S, 1)`` stamps in uJy/pixel (e.g. ``blend_noisy``
        or ``central_noisy``). Any float dtype or byte order: each stamp is copied to
        a C-contiguous native float64 array for sep.
    noise_sigma_uJy : float or array_like
        True noise standard deviation per pixel, uJy/pixel: a scalar or ``(N,)``
        (``noise_sigma_uJy`` of the data set), > 0.
    thresh_nsigma : float
        Detection threshold in units of ``noise_sigma_uJy`` (default 1.5).
    minarea : int
        Minimum number of pixels of a detection (default 5).
    deblend_nthresh : int
        Number of deblending sub-thresholds (default 32).
    deblend_cont : float
        Minimum contrast for deblending (default 0.005; 1.0 disables deblending).
    kron_factor : float
        The Kron aperture is ``kron_factor`` Kron radii (default 2.5).
    min_radius : float
        Radius in pixels of the circular aperture used when the Kron ellipse's
        geometric-mean radius is smaller (default 3.5 pixels = 0.35 arcsec).
    max_centre_distance_pix : float
        Largest distance, pixels, between the stamp centre and the barycentre of the
        object taken as the central galaxy (default 2).
    kron_window : float
        Size of the ellipse, in isophotal radii, over which the Kron radius is
        computed (default 6, SExtractor's value).
    neighbour_mask : {"zero", "correct"}
        How pixels of other objects' segments are treated: counted as zero (sep's
        ``seg_id``/``segmap``) or replaced by their mirror image (SExtractor's
        MASK_TYPE CORRECT).
    subpix : int
        Sub-pixel sampling of the aperture edges (sep's default 5).

    Returns
    -------
    pandas.DataFrame
        One row per stamp, in input order, columns :data:`COLUMNS`:
        ``flux_auto_uJy`` and ``flux_auto_err_uJy`` (uJy), ``flux_iso_uJy`` (uJy),
        ``kron_radius`` (in units of ``a``, ``b``; NaN if undefined), ``detected``
        (bool), ``n_objects`` (detections in the stamp), ``distance_pix`` (of the
        chosen object, or of the nearest one for a detection failure; NaN if there
        is none), ``flag`` (int, see the module docstring), the object's barycentre
        ``x_pix``, ``y_pix`` (0-based pixels, x = column), its isophotal shape
        ``a_pix``, ``b_pix`` (pixels) and ``theta_rad`` (radians from +x), and
        ``aperture_radius_pix`` (geometric-mean radius of the aperture used,
        pixels). ``DataFrame.attrs`` holds ``n_not_detected`` and the parameters.

    Raises
    ------
    ValueError
        On a bad image shape (the message names it), a bad noise array or
        parameter.
    """
    stamps = as_stamps(images)
    n = stamps.shape[0]
    sigma = noise_sigma_per_stamp(noise_sigma_uJy, n)
    if neighbour_mask not in ("zero", "correct"):
        raise ValueError(f"neighbour_mask must be 'zero' or 'correct'; got {neighbour_mask!r}")
    for name, value in (
        ("thresh_nsigma", thresh_nsigma),
        ("kron_factor", kron_factor),
        ("min_radius", min_radius),
        ("kron_window", kron_window),
    ):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be finite and > 0; got {value}")
    if not max_centre_distance_pix >= 0:
        raise ValueError(f"max_centre_distance_pix must be >= 0; got {max_centre_distance_pix}")

    settings = {
        "thresh_nsigma": float(thresh_nsigma),
        "minarea": int(minarea),
        "deblend_nthresh": int(deblend_nthresh),
        "deblend_cont": float(deblend_cont),
        "kron_factor": float(kron_factor),
        "min_radius": float(min_radius),
        "max_centre_distance_pix": float(max_centre_distance_pix),
        "kron_window": float(kron_window),
        "neighbour_mask": neighbour_mask,
        "subpix": int(subpix),
    }
    rows = [
        _measure_one(np.ascontiguousarray(stamps[i], dtype=np.float64), float(sigma[i]), **settings)
        for i in range(n)
    ]
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table = table.astype({"detected": bool, "n_objects": np.int64, "flag": np.int64})
    n_missed = int((~table["detected"]).sum())
    if n_missed:
        logger.info("sep: no central detection in %d of %d stamps", n_missed, n)
    table.attrs["n_not_detected"] = n_missed
    table.attrs["settings"] = settings
    return table
