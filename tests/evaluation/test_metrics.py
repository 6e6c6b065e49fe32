"""Flux and morphology metrics on hand-made cases with known answers."""

from __future__ import annotations

import math

import galsim
import numpy as np
import pytest

from debvader_euclid.metrics import (
    DEFAULT_MAG_BINS,
    PAPER_TABLE1,
    ellipticity_hsm,
    half_light_radius_arcsec,
    median_standard_error,
    noise_floor_fractional,
    normalised_flux_residual,
    per_magnitude_bins,
    predicted_flux_uJy,
    running_statistic,
    sigma_mad,
    summary_statistics,
    table1,
)

PIXEL_SCALE = 0.1  # arcsec/pixel


def gaussian_stamps(size: int, sigma_pix: float, flux: float, n: int = 1) -> np.ndarray:
    """``(n, size, size)`` circular Gaussians sampled at pixel centres, centred on the stamp."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    centre = (size - 1) / 2.0
    r2 = (xx - centre) ** 2 + (yy - centre) ** 2
    profile = np.exp(-r2 / (2.0 * sigma_pix**2)) / (2.0 * np.pi * sigma_pix**2)
    return np.repeat((flux * profile)[None], n, axis=0)


def draw(profile: galsim.GSObject, size: int = 64) -> np.ndarray:
    image = galsim.ImageD(size, size, scale=PIXEL_SCALE)
    profile.drawImage(image)
    return image.array


# --------------------------------------------------------------------- residuals


def test_perfect_prediction_gives_zero_residuals():
    flux = np.array([0.5, 1.0, 20.0, 300.0])
    r = normalised_flux_residual(flux, flux.copy())
    np.testing.assert_array_equal(r, 0.0)
    stats = summary_statistics(r)
    assert stats["n"] == 4
    assert stats["n_nonfinite"] == 0
    assert stats["std"] == 0.0
    assert stats["median"] == 0.0
    assert stats["sigma_mad"] == 0.0
    assert stats["fraction_catastrophic"] == 0.0


def test_known_bias_sign_and_size():
    flux = np.geomspace(0.2, 200.0, 101)
    r = normalised_flux_residual(flux, 0.95 * flux)  # 5 % underestimated
    stats = summary_statistics(r)
    assert stats["median"] == pytest.approx(0.05, abs=1e-12)
    assert stats["mean"] == pytest.approx(0.05, abs=1e-12)


def test_gaussian_residuals_std_and_sigma_mad():
    rng = np.random.default_rng(0)
    r = rng.normal(0.0, 0.1, 20000)
    stats = summary_statistics(r)
    assert stats["std"] == pytest.approx(0.1, rel=0.03)
    assert stats["sigma_mad"] == pytest.approx(0.1, rel=0.03)
    assert abs(stats["median"]) < 0.005


def test_catastrophic_fraction_exact_and_nonfinite_counted():
    r = np.array([0.0, 0.1, -0.6, 0.5, 0.51, -2.0, np.nan, np.inf])
    stats = summary_statistics(r)
    assert stats["n"] == 6
    assert stats["n_nonfinite"] == 2
    assert stats["fraction_catastrophic"] == 0.5  # -0.6, 0.51, -2.0 of 6; 0.5 is not > 0.5
    assert summary_statistics(r, catastrophic_threshold=0.05)["fraction_catastrophic"] == 5 / 6


def test_summary_of_nothing_is_nan():
    stats = summary_statistics(np.array([np.nan]))
    assert stats["n"] == 0
    assert stats["n_nonfinite"] == 1
    assert math.isnan(stats["std"])


def test_sigma_mad_known_value():
    assert sigma_mad(np.array([1.0, 2.0, 3.0, 4.0, 100.0])) == pytest.approx(1.4826)
    assert math.isnan(sigma_mad(np.array([])))


def test_residual_rejects_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        normalised_flux_residual(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="2 of 4"):
        normalised_flux_residual(np.array([1.0, 0.0, -1.0, 2.0]), np.ones(4))
    r = normalised_flux_residual(np.array([1.0, 2.0]), np.array([np.nan, 1.0]))
    assert np.isnan(r[0])
    assert r[1] == 0.5


def test_predicted_flux_sums_pixels_with_or_without_channel():
    images = np.ones((3, 8, 8), dtype=np.float32) * np.array([1.0, 2.0, 0.5])[:, None, None]
    np.testing.assert_allclose(predicted_flux_uJy(images), [64.0, 128.0, 32.0])
    np.testing.assert_allclose(predicted_flux_uJy(images[..., None]), [64.0, 128.0, 32.0])
    with pytest.raises(ValueError, match=r"\(3, 8, 4\)"):
        predicted_flux_uJy(np.ones((3, 8, 4)))
    with pytest.raises(ValueError, match=r"\(8, 8\)"):
        predicted_flux_uJy(np.ones((8, 8)))


# ------------------------------------------------------------------ noise floor


def test_noise_floor_of_a_gaussian_matches_the_analytic_nea():
    s, flux, sigma = 3.0, 2.0, 0.004
    stamps = gaussian_stamps(64, s, flux)
    floor = noise_floor_fractional(stamps, sigma)
    expected = sigma * math.sqrt(4.0 * math.pi * s**2) / flux  # NEA = 4 pi s^2 pixels
    assert floor.shape == (1,)
    assert floor[0] == pytest.approx(expected, rel=0.02)


def test_noise_floor_is_the_scatter_of_the_matched_filter():
    rng = np.random.default_rng(1)
    s, flux, sigma, n = 2.0, 0.3, 0.004, 5000
    truth = gaussian_stamps(32, s, flux)[0]
    p = truth / truth.sum()
    data = truth + rng.normal(0.0, sigma, (n, 32, 32))
    estimate = (data * p).sum(axis=(1, 2)) / (p * p).sum()
    scatter = np.std((estimate - truth.sum()) / truth.sum())
    floor = noise_floor_fractional(truth[None], sigma)[0]
    assert scatter == pytest.approx(floor, rel=0.05)


def test_noise_floor_with_a_neighbour():
    central = gaussian_stamps(64, 2.0, 1.0)
    far = np.roll(central, 25, axis=2)  # 25 pixels away: no overlap to speak of
    near = np.roll(central, 3, axis=2)
    isolated = noise_floor_fractional(central, 0.004)
    assert noise_floor_fractional(central, 0.004, far)[0] == pytest.approx(isolated[0], rel=1e-6)
    assert noise_floor_fractional(central, 0.004, near)[0] > 1.2 * isolated[0]
    none = noise_floor_fractional(central, 0.004, np.zeros_like(central))
    assert none[0] == pytest.approx(isolated[0])


def test_noise_floor_rejects_bad_inputs():
    stamps = gaussian_stamps(16, 2.0, 1.0, n=3)
    stamps[1] *= -1
    with pytest.raises(ValueError, match="1 of 3"):
        noise_floor_fractional(stamps, 0.004)
    with pytest.raises(ValueError, match="noise_sigma_uJy"):
        noise_floor_fractional(np.abs(stamps), np.array([0.004, 0.0, 0.004]))
    with pytest.raises(ValueError, match="shape"):
        noise_floor_fractional(np.abs(stamps), np.ones(2))


# ---------------------------------------------------------------- binned tables


def test_per_magnitude_bins_counts_and_empty_bins():
    mag = np.array([18.1, 18.2, 19.0, 25.5, 26.0, 17.0, 18.3])
    r = np.array([0.1, 0.3, -0.2, 0.0, 0.4, 0.0, np.nan])
    table = per_magnitude_bins(mag, r)
    assert len(table) == len(DEFAULT_MAG_BINS) - 1 == 15
    assert table["mag_lo"].iloc[0] == 18.0
    assert table["mag_hi"].iloc[-1] == 25.5
    assert table["n"].tolist()[:3] == [2, 0, 1]
    assert table["n_nonfinite"].iloc[0] == 1
    assert table["n"].iloc[-1] == 1  # 25.5 falls in the closed last bin
    assert table["n"].sum() == 4
    assert table.attrs["n_outside"] == 2
    assert table["bias"].iloc[0] == pytest.approx(0.2)
    assert np.isnan(table["std"].iloc[1])
    assert "noise_floor_median" not in table


def test_per_magnitude_bins_noise_floor_ratio():
    rng = np.random.default_rng(2)
    mag = np.full(4000, 20.2)
    r = rng.normal(0.0, 0.02, 4000)
    table = per_magnitude_bins(mag, r, bins=[20.0, 20.5, 21.0], noise_floor=np.full(4000, 0.01))
    assert table["n"].tolist() == [4000, 0]
    assert table["noise_floor_median"].iloc[0] == pytest.approx(0.01)
    assert table["sigma_mad_over_floor"].iloc[0] == pytest.approx(2.0, rel=0.05)
    assert np.isnan(table["sigma_mad_over_floor"].iloc[1])


def test_bin_bias_error_matches_the_scatter_of_medians_over_repeated_samples():
    """bias_err is the standard error of the bin's median: 1.25 sigma / sqrt(n) (Gaussian)."""
    rng = np.random.default_rng(7)
    n, trials, sigma = 25, 4000, 0.03
    medians, errors = [], []
    for _ in range(trials):
        r = rng.normal(0.01, sigma, n)
        row = per_magnitude_bins(np.full(n, 18.2), r, bins=[18.0, 18.5]).iloc[0]
        medians.append(row["bias"])
        errors.append(row["bias_err"])
    assert np.std(medians) == pytest.approx(np.mean(errors), rel=0.08)
    assert np.mean(errors) == pytest.approx(np.sqrt(np.pi / 2) * sigma / np.sqrt(n), rel=0.08)
    # not the standard error of the mean, which is 1.25 times smaller
    assert np.std(medians) > 1.15 * sigma / np.sqrt(n)


def test_bin_bias_error_needs_two_galaxies():
    assert np.isnan(median_standard_error(0.02, 1))
    assert np.isnan(median_standard_error(float("nan"), 10))
    assert median_standard_error(0.03, 9) == pytest.approx(np.sqrt(np.pi / 2) * 0.01)
    table = per_magnitude_bins(np.array([18.1, 19.1, 19.2]), np.array([0.1, 0.0, 0.2]))
    assert np.isnan(table["bias_err"].iloc[0])  # one galaxy
    assert np.isnan(table["bias_err"].iloc[1])  # empty bin
    assert table["bias_err"].iloc[2] > 0


def test_running_statistic_bins_and_min_count():
    x = np.linspace(0.0, 10.0, 1001)
    y = 2.0 * x
    centres, values = running_statistic(x, y, "mean", n_bins=10)
    np.testing.assert_allclose(centres, np.arange(0.5, 10.0, 1.0))
    np.testing.assert_allclose(values, 2.0 * centres, atol=0.02)
    centres, values = running_statistic(x, y, "median", window=2.5)
    np.testing.assert_allclose(centres, [1.25, 3.75, 6.25, 8.75])
    # Sparse points at high x are dropped by min_count.
    x2 = np.concatenate([np.zeros(50), [9.0, 9.5]])
    centres, _ = running_statistic(x2, np.ones_like(x2), n_bins=2, min_count=10)
    np.testing.assert_allclose(centres, [2.375])
    with pytest.raises(ValueError, match="not both"):
        running_statistic(x, y, n_bins=3, window=1.0)
    with pytest.raises(ValueError, match="statistic"):
        running_statistic(x, y, "mode")


def test_table1_rows_and_paper_numbers():
    rng = np.random.default_rng(3)
    results = {
        ("analytic", "isolated"): rng.normal(0.0, 0.0897, 20000),
        "realistic/blended": rng.normal(0.01, 0.094, 20000),
        ("egg", "blended"): np.zeros(10),
    }
    table = table1(results)
    assert list(table.index) == [
        ("analytic", "isolated"),
        ("realistic", "blended"),
        ("egg", "blended"),
    ]
    assert table.loc[("analytic", "isolated"), "paper_std"] == 0.0897
    assert table.loc[("realistic", "blended"), "paper_std"] == 0.188
    assert table.loc[("analytic", "isolated"), "ratio"] == pytest.approx(1.0, rel=0.03)
    assert table.loc[("realistic", "blended"), "ratio"] == pytest.approx(0.5, rel=0.03)
    assert table.loc[("realistic", "blended"), "bias"] == pytest.approx(0.01, abs=0.003)
    assert np.isnan(table.loc[("egg", "blended"), "paper_std"])
    assert table.loc[("egg", "blended"), "n"] == 10
    assert PAPER_TABLE1 == {
        ("analytic", "isolated"): 0.0897,
        ("analytic", "blended"): 0.0993,
        ("realistic", "isolated"): 0.139,
        ("realistic", "blended"): 0.188,
    }


# ------------------------------------------------------------------- morphology


@pytest.mark.parametrize(("g1", "g2"), [(0.2, 0.0), (0.0, -0.15)])
def test_hsm_recovers_the_shear_of_a_gaussian(g1, g2):
    stamp = draw(galsim.Gaussian(sigma=0.3, flux=5.0).shear(g1=g1, g2=g2))
    e1, e2, flag = ellipticity_hsm(stamp[None])
    assert not flag[0]
    assert e1[0] == pytest.approx(g1, abs=0.02)
    assert e2[0] == pytest.approx(g2, abs=0.02)


def test_hsm_orientation_matches_array_axes():
    # Elongated along the column index (x): g1 > 0.
    yy, xx = np.mgrid[0:64, 0:64] - 31.5
    stamp = np.exp(-(xx**2) / (2 * 5.0**2) - yy**2 / (2 * 2.5**2))
    e1, _, _ = ellipticity_hsm(stamp[None, ..., None])
    assert e1[0] == pytest.approx((5.0 - 2.5) / (5.0 + 2.5), abs=0.02)


def test_hsm_failures_are_flagged_not_raised():
    stamps = np.zeros((2, 32, 32))
    stamps[1] = gaussian_stamps(32, 2.0, 1.0)[0]
    stamps[0, 3, 3] = np.nan
    e1, e2, flag = ellipticity_hsm(stamps)
    assert flag.tolist() == [True, False]
    assert np.isnan(e1[0])
    assert np.isnan(e2[0])
    e1, _, flag = ellipticity_hsm(np.zeros((1, 32, 32)))
    assert flag[0]
    assert np.isnan(e1[0])


def test_half_light_radius_of_an_exponential():
    hlr = 0.5
    centred = draw(galsim.Exponential(half_light_radius=hlr, flux=3.0))
    shifted = draw(galsim.Exponential(half_light_radius=hlr, flux=3.0).shift(0.4, -0.25))
    radii = half_light_radius_arcsec(np.stack([centred, shifted]))
    np.testing.assert_allclose(radii, hlr, rtol=0.05)
    # Around the stamp centre, the shifted galaxy looks bigger.
    assert half_light_radius_arcsec(shifted[None], centre="stamp")[0] > 1.1 * hlr


def test_half_light_radius_undefined_for_empty_stamps():
    radii = half_light_radius_arcsec(np.zeros((1, 16, 16)))
    assert np.isnan(radii[0])
