"""A tiny HST COSMOS sample in GalSim's RealGalaxyCatalog format, written by the tests.

Shared by the data-generation tests (``tests/data_generation/test_morphology.py``) and
the evaluation tests (``tests/evaluation/test_cosmos_evaluation.py``).
"""

from __future__ import annotations

import math

import galsim
import numpy as np
from astropy.io import fits

HST_SCALE = 0.03
COSMOS_MAGS = (20.0, 20.5, 21.0, 21.5, 22.0, 22.5)
COSMOS_ANGLE_DEG = 30.0


def write_cosmos_sample(folder, with_fits=True):
    """A tiny RealGalaxyCatalog: elliptical Gaussians convolved with a Gaussian HST PSF at
    0.03 arcsec per pixel, their PSF images, and optionally GalSim's parametric-fit file."""
    folder.mkdir(parents=True, exist_ok=True)
    hst_psf = galsim.Gaussian(fwhm=0.09)
    galaxies, psfs = [], []
    for i in range(len(COSMOS_MAGS)):
        gal = galsim.Gaussian(sigma=0.06 + 0.01 * i, flux=50.0 + i)
        gal = gal.shear(e=0.4, beta=COSMOS_ANGLE_DEG * galsim.degrees)
        galaxies.append(
            galsim.Convolve(gal, hst_psf).drawImage(nx=48, ny=48, scale=HST_SCALE).array
        )
        psfs.append(hst_psf.drawImage(nx=25, ny=25, scale=HST_SCALE).array)
    for name, images in (("images.fits", galaxies), ("psf.fits", psfs)):
        hdus = [fits.PrimaryHDU(images[0])] + [fits.ImageHDU(im) for im in images[1:]]
        fits.HDUList(hdus).writeto(folder / name, overwrite=True)
    n = len(COSMOS_MAGS)
    ident = np.arange(n) + 500
    columns = [
        fits.Column("IDENT", "K", array=ident),
        fits.Column("GAL_FILENAME", "20A", array=["images.fits"] * n),
        fits.Column("PSF_FILENAME", "20A", array=["psf.fits"] * n),
        fits.Column("GAL_HDU", "J", array=np.arange(n)),
        fits.Column("PSF_HDU", "J", array=np.arange(n)),
        fits.Column("PIXEL_SCALE", "D", array=np.full(n, HST_SCALE)),
        fits.Column("NOISE_MEAN", "D", array=np.zeros(n)),
        fits.Column("NOISE_VARIANCE", "D", array=np.full(n, 1e-8)),
        fits.Column("MAG", "D", array=np.array(COSMOS_MAGS)),
        fits.Column("BAND", "5A", array=["F814W"] * n),
        fits.Column("WEIGHT", "D", array=np.ones(n)),
        fits.Column("STAMP_FLUX", "D", array=np.full(n, 50.0)),
    ]
    catalogue = folder / "real_galaxy_catalog_test.fits"
    fits.BinTableHDU.from_columns(columns).writeto(catalogue, overwrite=True)
    if with_fits:
        bulgefit = np.zeros((n, 16))
        bulgefit[:, 3], bulgefit[:, 7] = 0.5, math.radians(COSMOS_ANGLE_DEG)
        bulgefit[:, 11], bulgefit[:, 15] = 0.8, math.radians(COSMOS_ANGLE_DEG)
        sersicfit = np.zeros((n, 8))
        sersicfit[:, 2], sersicfit[:, 3] = 1.5, 0.6
        sersicfit[:, 7] = math.radians(COSMOS_ANGLE_DEG)
        fit_columns = [
            fits.Column("IDENT", "K", array=ident),
            fits.Column("ZPHOT", "D", array=np.linspace(0.3, 1.3, n)),
            fits.Column("USE_BULGEFIT", "L", array=np.arange(n) % 2 == 0),
            fits.Column("BULGEFIT", "16D", array=bulgefit),
            fits.Column("SERSICFIT", "8D", array=sersicfit),
            fits.Column("HLR", "3D", array=np.tile([0.2, 0.1, 0.3], (n, 1))),
            fits.Column("FLUX", "3D", array=np.tile([10.0, 3.0, 7.0], (n, 1))),
        ]
        fits.BinTableHDU.from_columns(fit_columns).writeto(
            folder / "real_galaxy_catalog_test_fits.fits", overwrite=True
        )
    return catalogue
