"""How a PSF is described to a PSF-conditioned deblender.

A deblender trained with ``model.psf_input`` (:class:`~debvader_euclid.models.config.ModelConfig`)
is told the PSF of the stamps it deblends. It does not see the PSF image
itself: it gets the PSF's **encircled light**, the fraction of the PSF's light
within a few radii of its centre (:data:`DEFAULT_RADII_PIXELS`, 0.1–1.2 arcsec
on VIS pixels). These fractions are what sets the flux a network misses when it
cannot see the PSF's wings under the noise: the obscured Airy pattern of a
diffraction-limited telescope keeps 4–6 % of its light beyond 0.6 arcsec, a
Moffat profile of the same width 1–2 %.

The numbers are rotation-invariant (so they need no care under the stamp
rotations of training and of ``symmetrize``), defined for any PSF image, and
cheap: one PSF per data set, or per stamp.

Functions
---------
psf_image
    A unit-sum pixelised PSF from an array or a GalSim profile.
encircled_light
    The fraction of a PSF image's light within given radii of its centre.
psf_descriptor
    :func:`encircled_light` at a model's radii, from anything :func:`psf_image` takes.
data_set_psf_images
    The pixelised PSF of every shard of a generated (or combined) data set.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import galsim
import numpy as np

log = logging.getLogger(__name__)

#: Radii, in 0.1 arcsec VIS pixels, of the encircled-light fractions given to a
#: PSF-conditioned deblender (0.1–1.2 arcsec).
DEFAULT_RADII_PIXELS: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)

#: Side, in pixels, of the images the descriptors of generated data sets are
#: measured on (the stamp size of the shipped models).
DESCRIPTOR_IMAGE_SIZE = 64

#: Each pixel is split into SUBPIXELS x SUBPIXELS points to integrate the
#: circular apertures (good to a few 1e-3 of the light at radii of a pixel or
#: more; changing it changes what trained PSF-conditioned models were given).
SUBPIXELS = 8

#: Half-side, pixels, of the box around the brightest pixel whose centroid is the
#: PSF centre (so that noise in the wings does not move it).
_CENTROID_HALF_BOX = 2


def psf_image(
    psf: np.ndarray | galsim.GSObject,
    pixel_scale_arcsec: float = 0.1,
    size: int = DESCRIPTOR_IMAGE_SIZE,
) -> np.ndarray:
    """A unit-sum image of the PSF on VIS pixels.

    Parameters
    ----------
    psf : numpy.ndarray or galsim.GSObject
        Either an image of the effective PSF on the stamps' pixels (pixel response
        included, as PSFEx or a drawn ``galsim`` PSF gives it), 2-D, finite, with a
        positive sum; any normalisation (it is divided by its sum). Or a GalSim
        profile of the optical PSF, drawn here with the pixel response
        (``method="auto"``).
    pixel_scale_arcsec : float
        Pixel size used to draw a GalSim profile, arcsec (0.1 for VIS).
    size : int
        Side, pixels, of the image drawn from a GalSim profile.

    Returns
    -------
    numpy.ndarray
        float64 2-D image summing to 1.

    Raises
    ------
    ValueError
        An array that is not 2-D, has non-finite pixels, a sum that is not
        positive, or is smaller than 5 x 5 pixels; a ``psf`` of another type.
    """
    if isinstance(psf, galsim.GSObject):
        image = psf.drawImage(nx=size, ny=size, scale=pixel_scale_arcsec, dtype=np.float64).array
    elif isinstance(psf, np.ndarray | Sequence) and not isinstance(psf, str):
        image = np.asarray(psf, dtype=np.float64)
    else:
        raise ValueError(
            f"psf must be a 2-D PSF image (numpy array, any normalisation) or a galsim "
            f"profile (GSObject), got {type(psf).__name__}"
        )
    if image.ndim != 2:
        raise ValueError(f"a PSF image must be 2-D (ny, nx), got shape {image.shape}")
    if min(image.shape) < 2 * _CENTROID_HALF_BOX + 1:
        raise ValueError(
            f"a PSF image must be at least {2 * _CENTROID_HALF_BOX + 1} x "
            f"{2 * _CENTROID_HALF_BOX + 1} pixels, got {image.shape}"
        )
    bad = int(np.count_nonzero(~np.isfinite(image)))
    if bad:
        raise ValueError(f"the PSF image has {bad} non-finite (NaN or inf) pixel(s)")
    total = image.sum()
    if not total > 0:
        raise ValueError(f"the PSF image must have a positive sum, got {total:g}")
    return image / total


def _centre(image: np.ndarray) -> tuple[float, float]:
    """Centroid (y, x), pixels, of the box of side 5 around the brightest pixel."""
    h = _CENTROID_HALF_BOX
    ny, nx = image.shape
    iy, ix = np.unravel_index(int(np.argmax(image)), image.shape)
    iy = int(np.clip(iy, h, ny - 1 - h))
    ix = int(np.clip(ix, h, nx - 1 - h))
    box = np.clip(image[iy - h : iy + h + 1, ix - h : ix + h + 1], 0.0, None)
    offsets = np.arange(-h, h + 1, dtype=np.float64)
    weight = box.sum()
    if not weight > 0:
        return float(iy), float(ix)
    return (
        iy + float((box.sum(axis=1) * offsets).sum() / weight),
        ix + float((box.sum(axis=0) * offsets).sum() / weight),
    )


def encircled_light(image: np.ndarray, radii_pixels: Sequence[float]) -> np.ndarray:
    """Fraction of a PSF image's light within circles about its centre.

    Parameters
    ----------
    image : numpy.ndarray
        2-D PSF image on VIS pixels (normalised to unit sum here).
    radii_pixels : sequence of float
        Circle radii, pixels (0.1 arcsec each on VIS).

    Returns
    -------
    numpy.ndarray
        float64 ``(len(radii_pixels),)``, each in [0, 1]: the light of the image
        within each radius of the PSF centre (the centroid of the 5 x 5 pixels
        around the brightest one), each pixel's light spread uniformly over it.
        Light outside the image does not count: give an image at least as large
        as the stamps.
    """
    image = psf_image(image)
    radii = np.asarray(radii_pixels, dtype=np.float64)
    cy, cx = _centre(image)
    offsets = (np.arange(SUBPIXELS) + 0.5) / SUBPIXELS - 0.5
    y = np.arange(image.shape[0], dtype=np.float64)[:, None, None, None] - cy
    x = np.arange(image.shape[1], dtype=np.float64)[None, :, None, None] - cx
    r2 = (y + offsets[None, None, :, None]) ** 2 + (x + offsets[None, None, None, :]) ** 2
    out = np.empty(len(radii), dtype=np.float64)
    for k, radius in enumerate(radii):
        covered = (r2 <= radius * radius).mean(axis=(2, 3))
        out[k] = float((image * covered).sum())
    return out


def psf_descriptor(
    psf: np.ndarray | galsim.GSObject,
    radii_pixels: Sequence[float] = DEFAULT_RADII_PIXELS,
    pixel_scale_arcsec: float = 0.1,
) -> np.ndarray:
    """The encircled-light fractions a PSF-conditioned deblender is given.

    Parameters
    ----------
    psf : numpy.ndarray or galsim.GSObject
        See :func:`psf_image`.
    radii_pixels : sequence of float
        Radii, pixels; a model's own are ``model.psf_radii_pixels``.
    pixel_scale_arcsec : float
        Pixel size to draw a GalSim profile with, arcsec.

    Returns
    -------
    numpy.ndarray
        float64 ``(len(radii_pixels),)`` fractions in [0, 1].

    Examples
    --------
    >>> import galsim
    >>> ee = psf_descriptor(galsim.Moffat(beta=2.5, fwhm=0.17))
    >>> bool(0.99 < ee[-1] < 1.0)
    True
    """
    return encircled_light(psf_image(psf, pixel_scale_arcsec), radii_pixels)


def _instrument_psf(instrument: Mapping[str, Any], size: int) -> np.ndarray:
    from data_generation.instrument import VISInstrument, VISInstrumentConfig

    config = VISInstrumentConfig.from_dict(dict(instrument))
    if config.psf_image is not None and not Path(config.psf_image).is_file():
        raise FileNotFoundError(
            f"the data set was simulated with the PSF image {config.psf_image}, which no "
            "longer exists: restore it to give its PSF to a PSF-conditioned deblender"
        )
    return VISInstrument(config).pixelised_psf(size)


def data_set_psf_images(
    config: Mapping[str, Any], size: int = DESCRIPTOR_IMAGE_SIZE
) -> dict[int, np.ndarray]:
    """The pixelised PSF of each shard of a data set, from its manifest.

    Parameters
    ----------
    config : mapping
        ``Manifest.config`` of a data set written by ``debvader-euclid generate``
        or ``combine``.
    size : int
        Side of the PSF images, pixels.

    Returns
    -------
    dict of int to numpy.ndarray
        For a combined data set, the PSF of each of its shards (by index); for
        another, ``{-1: psf}``, one PSF for every shard.

    Raises
    ------
    ValueError
        If the manifest records no instrument (a data set written by another tool).
    """
    parts = config.get("combined_from")
    if isinstance(parts, list) and parts:
        out: dict[int, np.ndarray] = {}
        for part in parts:
            image = data_set_psf_images(part, size)[-1]
            for _src, new in part["shards"]:
                out[int(new)] = image
        return out
    generation = config.get("generation")
    instrument = generation.get("instrument") if isinstance(generation, Mapping) else None
    if not isinstance(instrument, Mapping):
        raise ValueError(
            "the data set's manifest records no instrument (config.generation.instrument): "
            "its PSF is unknown, so a PSF-conditioned deblender cannot be given it"
        )
    return {-1: _instrument_psf(instrument, size)}


def read_psf_file(path: str | Path) -> np.ndarray:
    """A 2-D PSF image from a FITS file (first HDU holding an image) or a ``.npy`` file.

    Parameters
    ----------
    path : str or path-like
        The effective PSF on the stamps' 0.1 arcsec pixels, any normalisation.

    Returns
    -------
    numpy.ndarray
        The unit-sum image (:func:`psf_image`).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        An unknown suffix, a FITS file without an image, or an unusable image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"PSF file {path} does not exist")
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    if suffix == ".npy":
        data = np.load(path, allow_pickle=False)
    elif suffix in (".fits", ".fit", ".fits.gz", ".fit.gz"):
        from astropy.io import fits

        with fits.open(path) as hdus:
            images = [hdu.data for hdu in hdus if hdu.data is not None and hdu.data.ndim >= 2]
            if not images:
                raise ValueError(f"{path} holds no image HDU: give the PSF image")
            data = np.array(images[0], dtype=np.float64)
    else:
        raise ValueError(f"PSF file {path}: expected a .fits or .npy file, got {path.suffix!r}")
    try:
        return psf_image(np.squeeze(data))
    except ValueError as err:
        raise ValueError(f"PSF file {path}: {err}") from None
