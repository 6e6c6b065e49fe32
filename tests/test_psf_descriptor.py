"""The PSF description given to PSF-conditioned deblenders (encircled light)."""

from __future__ import annotations

import galsim
import numpy as np
import pytest
from astropy.io import fits

from debvader_euclid.psf_descriptor import (
    DEFAULT_RADII_PIXELS,
    data_set_psf_images,
    encircled_light,
    psf_descriptor,
    psf_image,
    read_psf_file,
)


def test_a_centred_pixel_is_all_within_one_pixel_and_a_disc_within_half_a_pixel():
    image = np.zeros((25, 25))
    image[12, 12] = 3.0
    inside = encircled_light(image, [0.5, 1.0, 5.0])
    # a uniform unit pixel: pi/4 of it lies within 0.5 pixel of its centre
    assert inside[0] == pytest.approx(np.pi / 4, abs=0.03)  # 8 x 8 points per pixel
    assert inside[1:] == pytest.approx([1.0, 1.0])


def test_a_gaussian_follows_its_analytic_encircled_light():
    sigma = 3.0  # pixels
    y, x = np.mgrid[0:64, 0:64] - 31.5  # centred on a pixel corner
    image = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    radii = np.array([2.0, 4.0, 8.0])
    # each pixel's light spread uniformly over it adds a pixel's variance, 1/12 per axis
    expected = 1 - np.exp(-(radii**2) / (2 * (sigma**2 + 1 / 12)))
    assert encircled_light(image, radii) == pytest.approx(expected, abs=0.01)


def test_a_diffraction_limited_psf_keeps_more_light_in_its_wings_than_a_moffat():
    moffat = psf_descriptor(galsim.Moffat(beta=2.5, fwhm=0.17))
    airy = psf_descriptor(
        galsim.Convolve(
            galsim.Airy(lam=750, diam=1.2, obscuration=0.36, scale_unit=galsim.arcsec),
            galsim.Gaussian(fwhm=0.1),
        )
    )
    assert len(moffat) == len(DEFAULT_RADII_PIXELS)
    assert np.all(np.diff(moffat) >= 0)
    assert np.all(np.diff(airy) >= 0)
    outer = DEFAULT_RADII_PIXELS.index(8.0)
    assert moffat[outer] > 0.99 > 0.97 > airy[outer]


def test_normalisation_image_size_and_half_pixel_centring_barely_matter():
    psf = galsim.Moffat(beta=2.5, fwhm=0.2)
    odd = psf.drawImage(nx=65, ny=65, scale=0.1).array
    even = psf.drawImage(nx=64, ny=64, scale=0.1).array  # centred on a pixel corner
    np.testing.assert_allclose(psf_descriptor(7 * odd), psf_descriptor(even), atol=0.015)
    np.testing.assert_allclose(psf_descriptor(7 * odd)[3:], psf_descriptor(even)[3:], atol=0.002)


@pytest.mark.parametrize(
    ("psf", "message"),
    [
        (np.ones(25), "must be 2-D"),
        (np.ones((3, 3)), "at least 5 x 5"),
        (np.where(np.eye(25) > 0, np.nan, 1.0), "25 non-finite"),
        (np.zeros((25, 25)), "positive sum"),
        ("moffat", "must be a 2-D PSF image"),
    ],
)
def test_unusable_psfs_are_refused_with_the_reason(psf, message):
    with pytest.raises(ValueError, match=message):
        psf_image(psf)


def test_psf_files_are_read_from_fits_and_npy(tmp_path):
    image = galsim.Moffat(beta=2.5, fwhm=0.17).drawImage(nx=33, ny=33, scale=0.1).array
    fits.PrimaryHDU(image * 5).writeto(tmp_path / "psf.fits")
    np.save(tmp_path / "psf.npy", image)
    np.testing.assert_allclose(read_psf_file(tmp_path / "psf.fits"), image / image.sum(), 1e-6)
    np.testing.assert_allclose(read_psf_file(tmp_path / "psf.npy"), image / image.sum())
    (tmp_path / "psf.txt").write_text("1 2 3")
    with pytest.raises(ValueError, match="expected a .fits or .npy"):
        read_psf_file(tmp_path / "psf.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_psf_file(tmp_path / "missing.fits")
    fits.PrimaryHDU(np.zeros((9, 9))).writeto(tmp_path / "zero.fits")
    with pytest.raises(ValueError, match=r"zero.fits: the PSF image must have a positive sum"):
        read_psf_file(tmp_path / "zero.fits")


def _instrument(**changes):
    instrument = {"psf_model": "moffat", "psf_fwhm_arcsec": 0.17, **changes}
    return {"generation": {"instrument": instrument}}


def test_each_shard_of_a_combined_data_set_gets_its_inputs_psf():
    config = {
        "combined_from": [
            {**_instrument(), "shards": [[0, 0], [1, 2]]},
            {**_instrument(psf_model="airy", psf_fwhm_arcsec=0.2), "shards": [[0, 1]]},
        ]
    }
    images = data_set_psf_images(config)
    assert sorted(images) == [0, 1, 2]
    np.testing.assert_array_equal(images[0], images[2])
    assert encircled_light(images[1], [8.0])[0] < encircled_light(images[0], [8.0])[0] - 0.02
    plain = data_set_psf_images(_instrument())
    assert list(plain) == [-1]
    np.testing.assert_allclose(plain[-1], images[0])
    with pytest.raises(ValueError, match="records no instrument"):
        data_set_psf_images({"synthetic": True})
