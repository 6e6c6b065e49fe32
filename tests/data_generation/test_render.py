"""Drawing double-Sersic galaxies: flux, centre, orientation and size conventions."""

from __future__ import annotations

import math

import galsim
import numpy as np
import pytest

from data_generation.instrument import VISInstrument
from data_generation.render import StampRenderer, galaxy_profile


def galaxy(flux=1.0, bt=0.3, disk=0.3, bulge=0.1, q=0.6, angle=0.0):
    return {
        "bulge_flux_uJy": flux * bt,
        "disk_flux_uJy": flux * (1 - bt),
        "bulge_hlr_arcsec": bulge,
        "disk_hlr_arcsec": disk,
        "bulge_q": 0.9,
        "disk_q": q,
        "bulge_angle_deg": angle,
        "disk_angle_deg": angle,
    }


@pytest.fixture(scope="module")
def renderer():
    return StampRenderer(VISInstrument(), 64)


@pytest.mark.parametrize(
    ("bt", "disk", "bulge", "q"),
    [(0.0, 0.1, 0.05, 0.3), (0.3, 0.3, 0.1, 0.6), (0.9, 0.5, 0.1, 0.9), (1.0, 0.2, 0.1, 1.0)],
)
def test_noiseless_stamp_conserves_flux(renderer, bt, disk, bulge, q):
    """Galaxies that fit (bulge r_e <= 0.1 arcsec: 99.7 % of a de Vaucouleurs profile within
    32 r_e = 3.2 arcsec, the stamp's half-width) keep their flux within 1 %."""
    flux_uJy = 12.5
    stamp = renderer.draw_row(galaxy(flux_uJy, bt, disk, bulge, q, angle=37.0), (0.3, -0.2))
    assert stamp.sum() == pytest.approx(flux_uJy, rel=0.01)


def test_large_bulge_loses_its_wings(renderer):
    """An r_e = 0.5 arcsec de Vaucouleurs bulge reaches only 6.4 r_e at the stamp edge, where
    the analytic enclosed fraction gammainc(8, b_4 (r/r_e)^(1/4)) is 0.95: the stamp is short."""
    from scipy.special import gammainc

    b4 = 7.66925
    inside_circle = gammainc(8, b4 * (3.2 / 0.5) ** 0.25)
    stamp = renderer.draw_row(galaxy(1.0, bt=1.0, bulge=0.5))
    assert inside_circle < stamp.sum() < 0.99


def test_offset_moves_the_centroid(renderer):
    row = galaxy(bt=0.0, disk=0.2, q=1.0)
    stamp = renderer.draw_row(row, (2.0, -3.0))
    y, x = np.indices(stamp.shape)
    # the true centre of an even stamp is at 31.5 (0-based pixel centres)
    assert np.sum(stamp * x) / stamp.sum() == pytest.approx(31.5 + 2.0, abs=0.02)
    assert np.sum(stamp * y) / stamp.sum() == pytest.approx(31.5 - 3.0, abs=0.02)


@pytest.mark.parametrize(("angle", "long_axis"), [(0.0, "x"), (90.0, "y")])
def test_position_angle_counter_clockwise_from_x(renderer, angle, long_axis):
    stamp = renderer.draw_row(galaxy(bt=0.0, disk=0.5, q=0.3, angle=angle))
    y, x = np.indices(stamp.shape) - 31.5
    var_x = np.sum(stamp * x**2) / stamp.sum()
    var_y = np.sum(stamp * y**2) / stamp.sum()
    assert (var_x > 2 * var_y) if long_axis == "x" else (var_y > 2 * var_x)
    tilted = renderer.draw_row(galaxy(bt=0.0, disk=0.5, q=0.3, angle=45.0))
    assert np.sum(tilted * x * y) > 0  # major axis along x = y


def test_radius_is_semi_major_half_light():
    """Half the light falls inside the ellipse whose semi-major axis is the catalogue radius."""
    r_major, q = 0.8, 0.4
    profile = galaxy_profile(galaxy(bt=0.0, disk=r_major, q=q))
    scale = 0.01
    image = profile.drawImage(nx=600, ny=600, scale=scale, method="no_pixel").array
    y, x = (np.indices(image.shape) - 299.5) * scale
    inside = (x / r_major) ** 2 + (y / (q * r_major)) ** 2 < 1
    assert image[inside].sum() / image.sum() == pytest.approx(0.5, abs=0.01)


def test_zero_flux_components():
    row = galaxy(bt=1.0)
    assert isinstance(galaxy_profile(row), galsim.GSObject)
    row["bulge_flux_uJy"] = 0.0
    with pytest.raises(ValueError, match="neither bulge nor disk flux"):
        galaxy_profile(row)


def test_stamp_size_is_checked():
    with pytest.raises(ValueError, match="at least 8 pixels"):
        StampRenderer(VISInstrument(), 4)


def test_drawing_is_deterministic(renderer):
    row = galaxy(angle=12.0)
    first = renderer.draw_row(row, (0.1, 0.2))
    np.testing.assert_array_equal(first, renderer.draw_row(row, (0.1, 0.2)))
    assert math.isfinite(first.sum())
