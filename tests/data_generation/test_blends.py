"""Examples: isolated stamps and blended pairs."""

from __future__ import annotations

import numpy as np
import pytest

from data_generation import blends, schema
from data_generation.instrument import VISInstrument
from data_generation.render import StampRenderer


def row(mag=21.0, disk=0.3, angle=10.0, gid=7):
    flux = 10 ** (-0.4 * (mag - 23.9))
    return {
        "id": gid, "redshift": 0.8, "flux_uJy": flux, "mag_vis": mag, "bt_flux": 0.2,
        "bulge_flux_uJy": 0.2 * flux, "disk_flux_uJy": 0.8 * flux,
        "bulge_hlr_arcsec": 0.1, "disk_hlr_arcsec": disk, "bulge_q": 0.9, "disk_q": 0.5,
        "bulge_angle_deg": angle, "disk_angle_deg": angle,
    }  # fmt: skip


@pytest.fixture(scope="module")
def renderer():
    return StampRenderer(VISInstrument(), 48)


def test_blendedness_limits():
    c = np.random.default_rng(0).uniform(size=(10, 10))
    assert blends.blendedness(c, np.zeros_like(c)) == 0.0
    assert blends.blendedness(c, c) == pytest.approx(0.5)
    assert blends.blendedness(c, 99 * c) == pytest.approx(0.99)


def test_annulus_is_uniform_in_area():
    rng = np.random.default_rng(1)
    r_min, r_max = 0.6, 2.4
    r = np.array([np.hypot(*blends.sample_annulus_offset(rng, r_min, r_max)) for _ in range(20000)])
    assert r.min() >= r_min
    assert r.max() < r_max
    # uniform in area: r^2 uniform on [r_min^2, r_max^2]
    assert np.mean(r**2) == pytest.approx((r_min**2 + r_max**2) / 2, rel=0.01)


def test_blended_example_fields_and_consistency(renderer):
    rng = np.random.default_rng(3)
    sigma = 0.003
    ex = blends.make_blended_example(row(gid=1), row(22.0, gid=2), renderer, rng, sigma)
    assert set(ex) == {f.name for f in schema.all_fields("blended")}
    for field in schema.image_fields("blended"):
        assert ex[field.name].shape == (48, 48)
        assert ex[field.name].dtype == np.float32
    # same noise field in the blend and the isolated central
    np.testing.assert_allclose(
        ex["blend_noisy"] - ex["neighbour_noiseless"], ex["central_noisy"], atol=1e-6
    )
    noise = ex["central_noisy"].astype(np.float64) - ex["central_noiseless"]
    assert np.std(noise) == pytest.approx(sigma, rel=0.05)
    assert 0.3 <= ex["neighbour_distance_arcsec"] < 1.6
    dx = ex["neighbour_offset_x_pix"] - ex["central_offset_x_pix"]
    dy = ex["neighbour_offset_y_pix"] - ex["central_offset_y_pix"]
    assert np.hypot(dx, dy) * 0.1 == pytest.approx(ex["neighbour_distance_arcsec"])
    assert abs(ex["central_offset_x_pix"]) <= 0.5
    assert abs(ex["central_offset_y_pix"]) <= 0.5
    assert (ex["central_id"], ex["neighbour_id"]) == (1, 2)
    assert ex["central_stamp_flux_uJy"] == pytest.approx(ex["central_flux_uJy"], rel=0.01)
    c, n = ex["central_noiseless"], ex["neighbour_noiseless"]
    assert ex["blendedness"] == pytest.approx(blends.blendedness(c, n), rel=1e-5)


def test_isolated_example_fields(renderer):
    ex = blends.make_isolated_example(row(), renderer, np.random.default_rng(0), 0.003)
    assert set(ex) == {f.name for f in schema.all_fields("isolated")}
    assert ex["central_mag_vis"] == 21.0


def test_same_generator_state_same_example(renderer):
    a = blends.make_blended_example(row(), row(23.0), renderer, np.random.default_rng(5), 0.003)
    b = blends.make_blended_example(row(), row(23.0), renderer, np.random.default_rng(5), 0.003)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
