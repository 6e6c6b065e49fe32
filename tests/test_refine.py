"""Refining the deblended model with the data (debvader_euclid.refine) and model_neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from debvader_euclid.metrics import model_pixel_errors
from debvader_euclid.neighbours import model_neighbours
from debvader_euclid.refine import MODEL_PIXEL_ERROR, combine_with_data
from tests.test_neighbours import SIZE, fit_central_galaxy, galaxy

SIGMA = 1e-3  # uJy/pixel


def noisy(image: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (image + rng.normal(0.0, SIGMA, image.shape)).astype(np.float32)


def flux(image: np.ndarray) -> float:
    return float(image.sum(dtype=np.float64))


def test_a_bright_galaxy_takes_its_flux_from_the_data():
    truth = galaxy(1.0)  # peak 1000 sigma
    stamp = noisy(truth, 1)[None]
    model = 0.9 * truth[None]  # a model 10 % too faint
    refined = combine_with_data(model, np.zeros_like(model), stamp, np.array([SIGMA]))
    assert abs(flux(refined) / flux(truth) - 1) < 0.01
    # faint wings keep the model: far from the centre the refined image has no noise
    np.testing.assert_allclose(refined[0, :3, :3], model[0, :3, :3], rtol=0, atol=1e-6)


def test_a_faint_galaxy_keeps_its_model():
    truth = galaxy(2 * SIGMA)  # peak 2 sigma: the noise dominates every pixel
    stamp = noisy(truth, 2)[None]
    model = 1.2 * truth[None]
    refined = combine_with_data(model, np.zeros_like(model), stamp, np.array([SIGMA]))
    # the weight of the data is at most (0.08 * 2.4)^2 / (...) ~ 3.5 %
    assert abs(flux(refined) / flux(model) - 1) < 0.02
    assert np.max(np.abs(refined - model)) < 0.05 * SIGMA * 4


def test_the_gain_is_the_inverse_variance_weight():
    c, n, x, s, eps = 0.5, 0.2, 1.0, 0.03, 0.1
    out = combine_with_data(
        np.full((1, 2, 2), c, np.float32),
        np.full((1, 2, 2), n, np.float32),
        np.full((1, 2, 2), x, np.float32),
        np.array([s]),
        model_error=eps,
    )
    var_model, var_data = (eps * c) ** 2, s**2 + (eps * n) ** 2
    expected = c + var_model / (var_model + var_data) * (x - n - c)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_a_modelled_neighbour_does_not_add_its_light():
    truth = galaxy(0.3)
    neighbour = galaxy(1.0, dy=-6.0)
    stamp = noisy(truth + neighbour, 3)[None]
    model = 0.9 * truth[None]
    sigma = np.array([SIGMA])
    with_model = combine_with_data(model, neighbour[None], stamp, sigma)
    without = combine_with_data(model, np.zeros_like(model), stamp, sigma)
    # closer to the truth than the model, though the pixels where the neighbour is
    # bright keep the model (its model error would come in with the data)
    assert abs(flux(with_model) / flux(truth) - 1) < 0.07
    assert flux(without) > 1.1 * flux(truth)  # the neighbour's wing counted as central light


def test_bad_arguments():
    one = np.zeros((1, 4, 4), np.float32)
    with pytest.raises(ValueError, match="model_error must be > 0"):
        combine_with_data(one, one, one, np.ones(1), model_error=0)
    with pytest.raises(ValueError, match="must have the same shape"):
        combine_with_data(one, np.zeros((1, 4, 5), np.float32), one, np.ones(1))
    with pytest.raises(ValueError, match="2 noise values for 1 stamps"):
        combine_with_data(one, one, one, np.ones(2))
    assert MODEL_PIXEL_ERROR == pytest.approx(0.08)


def test_model_neighbours_puts_each_neighbour_where_it_lies():
    central = galaxy(0.2)
    neighbour = galaxy(1.0, dy=-12.0, dx=5.0)
    stamps = np.stack([noisy(central + neighbour, 4), noisy(central, 5)])
    sigma = np.full(2, SIGMA)
    models = model_neighbours(fit_central_galaxy, stamps, sigma, fit_central_galaxy(stamps))
    assert models.shape == stamps.shape
    assert not models[1].any()  # no neighbour detected: nothing
    peak = np.unravel_index(np.argmax(models[0]), models[0].shape)
    assert peak == (SIZE // 2 - 12, SIZE // 2 + 5) or abs(peak[0] - (SIZE / 2 - 12.5)) <= 1
    assert abs(flux(models[0]) / flux(neighbour) - 1) < 0.15
    with pytest.raises(ValueError, match="central has shape"):
        model_neighbours(fit_central_galaxy, stamps, sigma, stamps[:1])


def test_model_pixel_errors_known_values():
    truth = np.stack([galaxy(1.0), galaxy(0.05)])
    sigma = np.array([1e-3, 1e-3])
    exact = model_pixel_errors(truth, truth, sigma)
    assert exact["n_pixels"].sum() > 0
    assert np.nanmax(exact["rms"]) == 0
    assert exact.attrs["rms_above"] == 0
    bright = model_pixel_errors(1.1 * truth, truth, sigma)
    filled = bright[bright["n_pixels"] > 0]
    np.testing.assert_allclose(filled["rms"], 0.1 / 1.1, rtol=1e-5)
    np.testing.assert_allclose(filled["median"], 0.1 / 1.1, rtol=1e-5)
    assert bright.attrs["rms_above"] == pytest.approx(0.1 / 1.1, rel=1e-5)
    # every pixel counted once, in the bin of its model S/N
    snr = (1.1 * truth / 1e-3).ravel()
    assert bright["n_pixels"].sum() == int(np.sum(snr >= 1))
    with pytest.raises(ValueError, match="same shape"):
        model_pixel_errors(truth, truth[:1], sigma)
