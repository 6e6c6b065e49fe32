"""The VIS instrument model: PSF width, pixelisation, noise definition."""

from __future__ import annotations

import math

import galsim
import numpy as np
import pytest
from astropy.io import fits

from data_generation.catalog import mag_to_flux
from data_generation.instrument import VISInstrument, VISInstrumentConfig


@pytest.mark.parametrize("model", ["moffat", "airy", "kolmogorov-airy"])
@pytest.mark.parametrize("fwhm", [0.16, 0.17])
def test_psf_fwhm_is_the_requested_one(model, fwhm):
    vis = VISInstrument(VISInstrumentConfig(psf_model=model, psf_fwhm_arcsec=fwhm))
    assert vis.psf_fwhm_arcsec == pytest.approx(fwhm, abs=2e-4)
    # an independent measurement: a finely drawn image, GalSim's own FWHM estimate
    image = vis.psf.drawImage(nx=400, ny=400, scale=0.004, method="no_pixel")
    assert image.calculateFWHM() == pytest.approx(fwhm, rel=0.02)
    # pixel convolution broadens it, by less than one pixel
    assert fwhm < vis.pixelised_psf_fwhm_arcsec < fwhm + 0.1


def test_pixelised_psf_is_unit_sum_and_centred():
    vis = VISInstrument()
    psf = vis.pixelised_psf(64)
    assert psf.shape == (64, 64)
    assert psf.sum() == pytest.approx(1.0)
    y, x = np.indices(psf.shape)
    assert np.sum(psf * x) == pytest.approx(31.5, abs=1e-6)
    assert np.sum(psf * y) == pytest.approx(31.5, abs=1e-6)


def test_noise_sigma_follows_the_psf_optimal_definition():
    vis = VISInstrument()
    psf = vis.pixelised_psf(64)
    nea = 1.0 / np.sum(psf**2)
    expected = 10 ** (-0.4 * (27.1 - 23.9)) / (5 * math.sqrt(nea))
    assert vis.noise_equivalent_area_pix == pytest.approx(nea)
    assert vis.noise_sigma_uJy == pytest.approx(expected, rel=1e-12)
    # a point source at the limiting magnitude, optimally extracted, is a 5-sigma detection
    flux = mag_to_flux(27.1)
    snr = flux * math.sqrt(np.sum(psf**2)) / vis.noise_sigma_uJy
    assert snr == pytest.approx(5.0, rel=1e-9)


def test_noise_sigma_aperture_definition_and_parameters():
    cfg = VISInstrumentConfig(noise_definition="aperture", mag_limit_nsigma=1.0)
    n_pix = math.pi * (0.65 / 0.1) ** 2
    assert VISInstrument(cfg).noise_sigma_uJy == pytest.approx(mag_to_flux(27.1) / math.sqrt(n_pix))
    deeper = VISInstrument(VISInstrumentConfig(mag_limit=28.1)).noise_sigma_uJy
    assert deeper == pytest.approx(VISInstrument().noise_sigma_uJy * 10**-0.4)


def test_user_psf_image(tmp_path):
    scale = 0.02
    image = galsim.Gaussian(fwhm=0.16).drawImage(nx=101, ny=101, scale=scale, method="no_pixel")
    path = tmp_path / "psf.fits"
    fits.writeto(path, image.array * 7.0)  # any normalisation
    vis = VISInstrument(VISInstrumentConfig(psf_image=str(path), psf_image_scale_arcsec=scale))
    assert vis.psf_fwhm_arcsec == pytest.approx(0.16, rel=0.02)
    assert vis.pixelised_psf(32).sum() == pytest.approx(1.0)
    assert vis.draw_method == "auto"
    epsf = VISInstrumentConfig(
        psf_image=str(path), psf_image_scale_arcsec=scale, psf_image_includes_pixel=True
    )
    assert VISInstrument(epsf).draw_method == "no_pixel"


def test_bad_psf_image(tmp_path):
    path = tmp_path / "bad.fits"
    fits.writeto(path, np.full((5, 5), np.nan))
    with pytest.raises(ValueError, match="finite 2-D image"):
        VISInstrument(VISInstrumentConfig(psf_image=str(path), psf_image_scale_arcsec=0.1))
    with pytest.raises(ValueError, match="psf_image_scale_arcsec"):
        VISInstrumentConfig(psf_image=str(path))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pixel_scale_arcsec": 0}, "pixel_scale_arcsec must be a positive number"),
        ({"psf_fwhm_arcsec": float("nan")}, "psf_fwhm_arcsec"),
        ({"obscuration": 1.2}, "obscuration"),
        ({"noise_definition": "1-sigma"}, "psf-optimal, aperture"),
        ({"psf_model": "gaussian"}, "moffat, airy, kolmogorov-airy"),
    ],
)
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VISInstrumentConfig(**kwargs)


def test_airy_narrower_than_diffraction_is_refused():
    with pytest.raises(ValueError, match="diffraction limit"):
        VISInstrument(VISInstrumentConfig(psf_model="airy", psf_fwhm_arcsec=0.1))


def test_config_round_trip():
    cfg = VISInstrumentConfig(psf_fwhm_arcsec=0.16, mag_limit=26.5)
    assert VISInstrumentConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown parameter"):
        VISInstrumentConfig.from_dict({"pixel_scale": 0.1})
