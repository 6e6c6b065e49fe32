"""The arcsinh normalisation: invertibility and flux preservation over 7+ magnitudes."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from debvader_euclid.models import ArcsinhNormalizer

SCALE = 0.01  # uJy/pixel, the default
EPS32 = 2.0**-24  # float32 unit roundoff


def exponential_galaxy(flux: float, hlr: float, size: int = 64) -> np.ndarray:
    """Noiseless circular exponential profile summing to ``flux`` uJy (float32)."""
    yy, xx = np.mgrid[0:size, 0:size] - size / 2
    profile = np.exp(-1.678 * np.hypot(xx, yy) / hlr)
    return (flux * profile / profile.sum()).astype(np.float32)


@pytest.fixture(scope="module")
def galaxies() -> np.ndarray:
    """Galaxies with total fluxes log-spaced over 0.05-1000 uJy (26.8 to 16.4 mag)."""
    fluxes = np.geomspace(0.05, 1000.0, 25)
    sizes = np.resize([0.8, 2.0, 6.0], len(fluxes))
    return np.stack([exponential_galaxy(f, h) for f, h in zip(fluxes, sizes, strict=True)])


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
def test_flux_round_trip_to_float32_precision(galaxies: np.ndarray, backend: str) -> None:
    norm = ArcsinhNormalizer(SCALE)
    noise = np.random.default_rng(0).normal(0, 0.0035, galaxies.shape).astype(np.float32)
    for images in (galaxies, galaxies + noise):
        if backend == "numpy":
            normalized = norm.normalize(images)
            back = norm.denormalize(normalized)
        else:
            normalized = norm.normalize(tf.constant(images))
            back = norm.denormalize(normalized).numpy()
            normalized = normalized.numpy()
        assert normalized.dtype == back.dtype == np.float32
        # compressed dynamic range: the brightest pixel of a 1000 uJy galaxy is ~ 12
        assert np.abs(normalized).max() < 13
        flux = images.astype(np.float64).sum(axis=(1, 2))
        flux_back = back.astype(np.float64).sum(axis=(1, 2))
        # per pixel the only error is the float32 rounding of y: |dx| <= |y| eps sqrt(x^2+s^2)
        bound = 2 * (np.abs(normalized) + 1) * EPS32 * np.hypot(images, SCALE) + 1e-12
        assert np.all(np.abs(back.astype(np.float64) - images) <= bound)
        # a galaxy's flux survives to better than 1e-6 (relative), 0.05 to 1000 uJy
        np.testing.assert_allclose(flux_back, flux, rtol=1e-6, atol=1e-7)


def test_float64_round_trip_is_exact_to_float64_precision() -> None:
    x = np.geomspace(1e-6, 1e4, 101) * np.resize([1, -1], 101)
    norm = ArcsinhNormalizer(SCALE)
    np.testing.assert_allclose(norm.denormalize(norm.normalize(x)), x, rtol=1e-13)


def test_shape_of_the_map() -> None:
    norm = ArcsinhNormalizer(SCALE)
    x = np.array([-1.0, -1e-4, 0.0, 1e-4, 1.0, 100.0], dtype=np.float32)
    y = norm.normalize(x)
    assert y[2] == 0.0
    assert np.all(np.diff(y) > 0)
    np.testing.assert_allclose(y[3], 1e-4 / SCALE, rtol=1e-4)  # linear when |x| << s
    np.testing.assert_allclose(y[5], np.log(2 * 100.0 / SCALE), rtol=1e-6)  # log when |x| >> s
    np.testing.assert_array_equal(norm.normalize(-x), -y)  # odd
    assert norm.normalize(np.array([1, 2])).dtype == np.float32
    assert norm.normalize(tf.constant([1.0], tf.float64)).dtype == tf.float64


def test_flux_sigma_is_the_derivative() -> None:
    norm = ArcsinhNormalizer(SCALE)
    y = np.linspace(-3, 8, 50)
    h = 1e-6
    derivative = (norm.denormalize(y + h) - norm.denormalize(y - h)) / (2 * h)
    np.testing.assert_allclose(norm.flux_sigma(y, 1.0), derivative, rtol=1e-6)


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan")])
def test_invalid_scale(scale: float) -> None:
    with pytest.raises(ValueError, match="scale must be a positive"):
        ArcsinhNormalizer(scale)
