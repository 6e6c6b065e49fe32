"""PSF-convolved exponential galaxies drawn with GalSim, for the sep and quality-flag tests."""

from __future__ import annotations

import galsim
import numpy as np

PIXEL_SCALE = 0.1  # arcsec/pixel
SIZE = 64  # pixels
SIGMA = 0.003  # uJy/pixel
PSF = galsim.Gaussian(fwhm=0.17)  # arcsec


def draw(flux: float, hlr: float, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """PSF-convolved exponential, flux in uJy, half-light radius and shift in arcsec."""
    profile = galsim.Convolve(galsim.Exponential(half_light_radius=hlr, flux=flux), PSF)
    image = galsim.ImageD(SIZE, SIZE, scale=PIXEL_SCALE)
    profile.shift(dx, dy).drawImage(image)
    return image.array
