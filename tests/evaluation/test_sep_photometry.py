"""SExtractor-style photometry of the central galaxy with sep, on GalSim-drawn stamps."""

from __future__ import annotations

import numpy as np
import pytest

from debvader_euclid.baselines.sep_photometry import (
    COLUMNS,
    FLAG_CIRCULAR_APERTURE,
    FLAG_NOT_DETECTED,
    sep_central_photometry,
)
from tests.exponential_stamps import SIGMA, SIZE, draw


def test_isolated_bright_galaxy_flux_auto():
    # 2.5 Kron radii hold ~96 % of an exponential's light, and the Kron radius measured
    # within 6 isophotal radii is a little short: FLUX_AUTO is ~4-5 % low (0.952-0.962
    # of the truth on these four noise draws with sep 1.4.1). Tolerance: 6 % per stamp,
    # a mean ratio in [0.94, 0.98], and never above the truth.
    rng = np.random.default_rng(10)
    truth = draw(10.0, 0.3)
    images = truth + rng.normal(0.0, SIGMA, (4, SIZE, SIZE))
    table = sep_central_photometry(images, SIGMA)
    assert list(table.columns) == list(COLUMNS)
    assert table["detected"].all()
    assert (table["n_objects"] == 1).all()
    assert (table["distance_pix"] < 0.5).all()
    ratio = table["flux_auto_uJy"] / 10.0
    assert np.all(np.abs(ratio - 1.0) < 0.06), ratio.tolist()
    assert 0.94 < ratio.mean() < 0.98
    assert np.all(ratio < 1.0)  # biased low by construction
    assert (table["flag"] & FLAG_CIRCULAR_APERTURE == 0).all()
    # The isophotal flux misses the light below 1.5 sigma: lower, but not by much here.
    assert np.all(table["flux_iso_uJy"] < table["flux_auto_uJy"] * 1.01)
    assert np.all(table["flux_iso_uJy"] > 0.85 * 10.0)
    assert np.all(table["flux_auto_err_uJy"] > 0)
    assert table.attrs["n_not_detected"] == 0


def test_blank_stamp_is_a_counted_detection_failure():
    rng = np.random.default_rng(11)
    images = rng.normal(0.0, SIGMA, (3, SIZE, SIZE))
    images[1] += draw(5.0, 0.3)
    table = sep_central_photometry(images, np.full(3, SIGMA))
    assert len(table) == 3
    assert table["detected"].tolist() == [False, True, False]
    assert table["flux_auto_uJy"].isna().tolist() == [True, False, True]
    assert table["flux_iso_uJy"].isna().tolist() == [True, False, True]
    assert (table["flag"].iloc[[0, 2]] & FLAG_NOT_DETECTED != 0).all()
    assert table.attrs["n_not_detected"] == 2


def test_off_centre_galaxy_is_not_the_central_one():
    rng = np.random.default_rng(12)
    image = draw(5.0, 0.3, dx=0.6) + rng.normal(0.0, SIGMA, (SIZE, SIZE))  # 6 pixels off
    table = sep_central_photometry(image[None], SIGMA)
    assert not table["detected"].iloc[0]
    assert table["n_objects"].iloc[0] == 1
    assert table["distance_pix"].iloc[0] == pytest.approx(6.0, abs=0.3)
    assert np.isnan(table["flux_auto_uJy"].iloc[0])


@pytest.mark.parametrize("neighbour_mask", ["zero", "correct"])
def test_two_separated_galaxies_central_one_measured(neighbour_mask):
    rng = np.random.default_rng(13)
    central = draw(10.0, 0.3)
    neighbour = draw(20.0, 0.4, dx=1.5, dy=0.8)  # 1.7 arcsec away, twice as bright
    image = central + neighbour + rng.normal(0.0, SIGMA, (SIZE, SIZE))
    table = sep_central_photometry(image[None, ..., None], SIGMA, neighbour_mask=neighbour_mask)
    row = table.iloc[0]
    assert row["detected"]
    assert row["n_objects"] == 2
    assert abs(row["x_pix"] - 31.5) < 0.5
    assert abs(row["y_pix"] - 31.5) < 0.5
    assert row["flux_auto_uJy"] == pytest.approx(10.0, rel=0.10)


def test_non_native_byte_order_and_float32_are_accepted():
    rng = np.random.default_rng(14)
    image = (draw(10.0, 0.3) + rng.normal(0.0, SIGMA, (SIZE, SIZE))).astype(">f4")
    table = sep_central_photometry(image[None], SIGMA)
    assert table["detected"].iloc[0]


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match=r"\(64, 64\)"):
        sep_central_photometry(np.zeros((SIZE, SIZE)), SIGMA)
    with pytest.raises(ValueError, match=r"\(2, 64, 32\)"):
        sep_central_photometry(np.zeros((2, SIZE, 32)), SIGMA)
    with pytest.raises(ValueError, match="noise_sigma_uJy"):
        sep_central_photometry(np.zeros((2, SIZE, SIZE)), np.full(3, SIGMA))
    with pytest.raises(ValueError, match="noise_sigma_uJy"):
        sep_central_photometry(np.zeros((2, SIZE, SIZE)), 0.0)
    with pytest.raises(ValueError, match="neighbour_mask"):
        sep_central_photometry(np.zeros((1, SIZE, SIZE)), SIGMA, neighbour_mask="ignore")
