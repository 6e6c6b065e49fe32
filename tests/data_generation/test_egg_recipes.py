"""Tests of data_generation.egg_recipes: the built-in EGG-recipe catalogue generator.

Besides the mechanics (determinism, columns, FITS round trip), the generator is
checked against published measurements:

* galaxy number counts in the i band (COSMOS2020, Weaver et al. 2022) and the
  cumulative i < 25 surface density of the LSST Science Book;
* the median half-light radius against F814W magnitude of Miller et al. (2013).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import gammainc, gammaincinv

from data_generation import egg_recipes as er
from data_generation.catalog import read_catalogue

#: EGG column names and units (reference/NOTES.md, "EGG catalogues").
PER_GALAXY_COLUMNS = [
    "ID",
    "RA",
    "DEC",
    "Z",
    "D",
    "M",
    "M_BULGE",
    "M_DISK",
    "SFR",
    "PASSIVE",
    "DISK_RADIUS",
    "BULGE_RADIUS",
    "DISK_RATIO",
    "BULGE_RATIO",
    "DISK_ANGLE",
    "BULGE_ANGLE",
    "BT",
]
PER_BAND_COLUMNS = ["FLUX", "FLUX_BULGE", "FLUX_DISK"]

#: COSMOS2020 differential galaxy counts in the HSC i band, "The Farmer" catalogue:
#: Weaver et al. (2022, ApJS 258, 11), Table 2, log10(N / mag / deg^2) at the
#: centres of 0.5-mag bins (values as transcribed in public code). HSC i
#: (0.77 um) is the closest published deep wide-field count band to VIS (0.75 um,
#: 0.55-0.90 um); for the colours of faint galaxies VIS - i is within ~0.1 mag,
#: i.e. ~0.03 dex in counts at the observed slope of ~0.3 dex/mag.
COSMOS2020_I_COUNTS = {
    20.25: 3.44,
    21.25: 3.85,
    22.25: 4.21,
    23.25: 4.54,
    24.25: 4.86,
    25.25: 5.08,
    26.25: 5.29,
}

#: Tolerance on the counts, dex (factor 1.41). It covers the VIS-i colour term
#: (~0.03 dex), COSMOS cosmic variance on 2 deg^2 (a few %), the Poisson noise of
#: our test catalogues (<= 0.04 dex) and the approximate flux model.
COUNTS_TOLERANCE_DEX = 0.15

#: LSST Science Book v2.0 (LSST Science Collaboration 2009, arXiv:0912.0201),
#: Sect. 3.7.2, eq. (3.7): N(< i) = 46 x 10^(0.31 (i - 25)) galaxies per arcmin^2,
#: i.e. 46 arcmin^-2 to i = 25 (from deep CFHTLS counts).
LSST_N_I25_PER_ARCMIN2 = 46.0
LSST_TOLERANCE_DEX = 0.1

#: Miller et al. (2013, MNRAS 429, 2858; CFHTLenS lensfit), size prior: the
#: median major-axis exponential scalelength of disc-dominated galaxies against
#: HST F814W magnitude, fitted to the Groth Strip bulge+disc decompositions of
#: Simard et al. (2002): r_d = exp(-1.145 - 0.269 (i_814 - 23)) arcsec. The
#: half-light radius of an exponential disc is b_1 = 1.678 scalelengths.
MILLER_LN_RD = (-1.145, -0.269, 23.0)

#: Tolerance on the median half-light radius, dex (factor 1.58). Size
#: definitions differ by 0.1 dex between fitting methods (GIM2D bulge+disc here,
#: GALFIT single Sersic for EGG's CANDELS calibration), and EGG's disk sizes
#: themselves lie ~0.1 dex below van der Wel et al. (2014) at z < 1.
SIZE_TOLERANCE_DEX = 0.2


def miller_half_light_radius(mag: float) -> float:
    """Median half-light radius (arcsec) of disc-dominated galaxies, Miller et al. 2013."""
    a, b, m0 = MILLER_LN_RD
    return gammaincinv(2.0, 0.5) * math.exp(a + b * (mag - m0))


def mag_of(columns: dict[str, np.ndarray]) -> np.ndarray:
    return 23.9 - 2.5 * np.log10(columns["FLUX"][:, 0])


@pytest.fixture(scope="module")
def small() -> tuple[er.EggRecipeConfig, dict[str, np.ndarray]]:
    config = er.EggRecipeConfig(area_deg2=0.002, mag_limit_vis=25.0, seed=7)
    return config, er.generate_egg_columns(config)


@pytest.fixture(scope="module")
def bright() -> tuple[er.EggRecipeConfig, dict[str, np.ndarray]]:
    """0.5 deg^2 to VIS 23: enough bright galaxies for 20 < VIS < 23."""
    config = er.EggRecipeConfig(area_deg2=0.5, mag_limit_vis=23.0)
    return config, er.generate_egg_columns(config)


@pytest.fixture(scope="module")
def deep() -> tuple[er.EggRecipeConfig, dict[str, np.ndarray]]:
    """0.05 deg^2 to VIS 26.5 for the faint counts and sizes."""
    config = er.EggRecipeConfig(area_deg2=0.05, mag_limit_vis=26.5)
    return config, er.generate_egg_columns(config)


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------


def test_config_round_trips_through_json() -> None:
    config = er.EggRecipeConfig(area_deg2=0.3, mag_limit_vis=26.0, seed=3, z_max=6.0)
    payload = json.loads(json.dumps(config.to_dict()))
    assert er.EggRecipeConfig.from_dict(payload) == config


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="unknown"):
        er.EggRecipeConfig.from_dict({"area_deg2": 1.0, "colour": "red"})
    with pytest.raises(ValueError, match="area_deg2"):
        er.EggRecipeConfig(area_deg2=0.0)
    with pytest.raises(ValueError, match="z_min"):
        er.EggRecipeConfig(area_deg2=1.0, z_min=2.0, z_max=1.0)
    with pytest.raises(ValueError, match="pole"):
        er.EggRecipeConfig(area_deg2=4.0, dec0_deg=89.5)


# ---------------------------------------------------------------------------
# Mechanics
# ---------------------------------------------------------------------------


def test_same_seed_same_catalogue_other_seed_differs(small) -> None:
    config, columns = small
    again = er.generate_egg_columns(er.EggRecipeConfig.from_dict(config.to_dict()))
    assert again.keys() == columns.keys()
    for name in columns:
        np.testing.assert_array_equal(again[name], columns[name], err_msg=name)
    other = er.generate_egg_columns(
        er.EggRecipeConfig(area_deg2=config.area_deg2, mag_limit_vis=config.mag_limit_vis, seed=8)
    )
    assert other["Z"].size != columns["Z"].size or not np.array_equal(other["Z"], columns["Z"])


def test_columns_names_shapes_and_ranges(small) -> None:
    config, c = small
    assert set(c) == set(PER_GALAXY_COLUMNS + PER_BAND_COLUMNS)
    n = c["ID"].size
    assert n > 100
    for name in PER_GALAXY_COLUMNS:
        assert c[name].shape == (n,), name
    for name in PER_BAND_COLUMNS:
        assert c[name].shape == (n, 1), name
    assert c["ID"].dtype == np.int64
    assert np.unique(c["ID"]).size == n
    assert c["PASSIVE"].dtype == bool
    assert 0 < c["PASSIVE"].sum() < n

    # redshift, distance (Mpc), masses (log10 Msun), SFR (Msun/yr)
    assert np.all((c["Z"] >= config.z_min) & (c["Z"] <= config.z_max))
    d_l = er.COSMOLOGY.luminosity_distance(c["Z"]).to_value("Mpc")
    np.testing.assert_allclose(c["D"], d_l, rtol=1e-3)
    assert np.all((c["M"] >= er.LOG_MASS_FLOOR) & (c["M"] <= config.log_mass_max))
    assert np.all(c["SFR"] > 0)
    bt = c["BT"]
    assert np.all((bt >= 0) & (bt <= 1))
    has_bulge, has_disk = bt > 0, bt < 1
    np.testing.assert_allclose(c["M_BULGE"][has_bulge], c["M"][has_bulge] + np.log10(bt[has_bulge]))
    np.testing.assert_allclose(c["M_DISK"][has_disk], c["M"][has_disk] + np.log10(1 - bt[has_disk]))

    # morphology: radii (arcsec) > 0, axis ratios in (0, 1], angles (deg) in [-90, 90)
    for name in ("DISK_RADIUS", "BULGE_RADIUS"):
        assert np.all(np.isfinite(c[name]) & (c[name] > 0)), name
        assert np.median(c[name]) < 2.0, name  # arcsec, not kpc
    for name in ("DISK_RATIO", "BULGE_RATIO"):
        assert np.all((c[name] > 0) & (c[name] <= 1)), name
    assert np.all((c["DISK_ANGLE"] >= -90) & (c["DISK_ANGLE"] < 90))
    np.testing.assert_array_equal(c["BULGE_ANGLE"], c["DISK_ANGLE"])

    # fluxes (uJy): components add up, the magnitude limit holds
    np.testing.assert_allclose(c["FLUX"], c["FLUX_BULGE"] + c["FLUX_DISK"], rtol=1e-12)
    assert np.all(c["FLUX_BULGE"] >= 0)
    assert np.all(c["FLUX_DISK"] >= 0)
    assert np.all(mag_of(c) <= config.mag_limit_vis)
    assert mag_of(c).max() > config.mag_limit_vis - 0.1

    # positions (deg) inside the requested square field
    half = math.sqrt(config.area_deg2) / 2
    assert np.all(np.abs(c["DEC"] - config.dec0_deg) <= half + 1e-9)
    ra_half = half / math.cos(math.radians(config.dec0_deg)) * 1.01
    assert np.all(np.abs(c["RA"] - config.ra0_deg) <= ra_half)


def test_axis_ratio_draws_follow_the_egg_pdf(small) -> None:
    _, c = small
    for name, weights in (
        ("DISK_RATIO", er.AXIS_RATIO_P_DISK),
        ("BULGE_RATIO", er.AXIS_RATIO_P_BULGE),
    ):
        x = np.linspace(0, 1, 20001)
        pdf = np.interp(x, er.AXIS_RATIO_X, weights)
        expected_mean = np.trapezoid(x * pdf, x) / np.trapezoid(pdf, x)
        values = c[name]
        assert values.min() >= 0.1
        assert abs(values.mean() - expected_mean) < 4 * values.std() / math.sqrt(values.size)


def test_fits_round_trip_through_read_catalogue(tmp_path, small) -> None:
    config, columns = small
    path = er.write_egg_catalogue(config, tmp_path / "egg.fits")
    table, report = read_catalogue(path, band="euclid-vis")
    assert report.n_read == columns["ID"].size
    assert report.n_skipped == 0
    np.testing.assert_array_equal(table["id"].to_numpy(), columns["ID"])
    np.testing.assert_allclose(table["flux_uJy"], columns["FLUX"][:, 0])
    np.testing.assert_allclose(
        table["bt_flux"], columns["FLUX_BULGE"][:, 0] / columns["FLUX"][:, 0], rtol=1e-12
    )
    np.testing.assert_allclose(table["disk_hlr_arcsec"], columns["DISK_RADIUS"])
    np.testing.assert_array_equal(table["passive"].to_numpy(), columns["PASSIVE"])
    assert table["mag_vis"].max() <= config.mag_limit_vis
    with pytest.raises(FileExistsError):
        er.write_egg_catalogue(config, path)
    er.write_egg_catalogue(config, path, overwrite=True)


def test_mass_limit_does_not_truncate_the_catalogue(monkeypatch) -> None:
    """A much wider margin below the mass limit adds no galaxy above the flux limit."""
    config = er.EggRecipeConfig(area_deg2=0.01, mag_limit_vis=25.0)
    base = er.generate_egg_columns(config)["ID"].size
    monkeypatch.setattr(er, "MASS_LIMIT_SIGMAS", 8.0)
    wide = er.generate_egg_columns(config)["ID"].size
    assert abs(wide - base) < 4 * math.sqrt(base)


def test_vis_flux_behaviour() -> None:
    z = np.array([0.3, 1.0, 2.0])
    f10 = er.vis_flux_uJy(10.0, z, False)
    np.testing.assert_allclose(er.vis_flux_uJy(11.0, z, True) / er.vis_flux_uJy(10.0, z, True), 10)
    assert np.all(np.diff(f10) < 0)  # fainter with distance
    # young populations outshine old ones of the same mass, more so in the rest UV
    ratio = f10 / er.vis_flux_uJy(10.0, z, True)
    assert np.all(ratio > 1)
    assert np.all(np.diff(ratio) > 0)
    # the IGM removes the flux once Lyman alpha leaves the band (z > 6.4)
    assert er.vis_flux_uJy(11.0, 7.0, False) < 0.05 * er.vis_flux_uJy(11.0, 5.0, False)
    with pytest.raises(ValueError, match="> 0"):
        er.vis_flux_uJy(10.0, 0.0, False)


def test_composite_half_light_radius_matches_brentq() -> None:
    rng = np.random.default_rng(1)
    rd, rb, f = rng.uniform(0.05, 2, 20), rng.uniform(0.05, 2, 20), rng.uniform(0, 1, 20)
    ours = er.composite_half_light_radius(rd, rb, f)
    b1, b4 = gammaincinv(2.0, 0.5), gammaincinv(8.0, 0.5)
    for i in range(rd.size):

        def half(r: float, i: int = i) -> float:
            disk = (1 - f[i]) * gammainc(2.0, b1 * r / rd[i])
            bulge = f[i] * gammainc(8.0, b4 * (r / rb[i]) ** 0.25)
            return disk + bulge - 0.5

        assert ours[i] == pytest.approx(brentq(half, 1e-6, 100.0, xtol=1e-12), rel=1e-8)
    np.testing.assert_allclose(er.composite_half_light_radius(rd, rb, 0.0), rd)
    np.testing.assert_allclose(er.composite_half_light_radius(rd, rb, 1.0), rb)


def test_area_for_count_delivers() -> None:
    n, mag_range = 300, (22.0, 24.0)
    area = er.area_for_count(n, mag_range, mag_limit_vis=24.0, seed=11)
    columns = er.generate_egg_columns(
        er.EggRecipeConfig(area_deg2=area, mag_limit_vis=24.0, seed=11)
    )
    mag = mag_of(columns)
    got = int(np.count_nonzero((mag >= mag_range[0]) & (mag < mag_range[1])))
    assert got >= n
    assert got < 3 * n  # a margin, not a blind over-allocation
    with pytest.raises(ValueError, match="brighter"):
        er.area_for_count(n, (22.0, 26.0), mag_limit_vis=25.0)


# ---------------------------------------------------------------------------
# Validation against published measurements
# ---------------------------------------------------------------------------


def test_number_counts_match_cosmos2020(bright, deep) -> None:
    """Differential counts within 0.15 dex of COSMOS2020 (Weaver et al. 2022, Table 2)."""
    for centre, published in COSMOS2020_I_COUNTS.items():
        config, columns = bright if centre + 0.25 <= bright[0].mag_limit_vis else deep
        mag = mag_of(columns)
        n = np.count_nonzero((mag >= centre - 0.25) & (mag < centre + 0.25))
        assert n >= 300, f"too few galaxies at {centre} for a meaningful comparison"
        ours = math.log10(n / config.area_deg2 / 0.5)
        assert abs(ours - published) < COUNTS_TOLERANCE_DEX, (
            f"VIS {centre}: log N = {ours:.3f} vs COSMOS2020 {published:.2f} (per mag per deg^2)"
        )


def test_cumulative_counts_match_lsst_science_book(deep) -> None:
    config, columns = deep
    per_arcmin2 = np.count_nonzero(mag_of(columns) < 25.0) / (config.area_deg2 * 3600.0)
    assert abs(math.log10(per_arcmin2 / LSST_N_I25_PER_ARCMIN2)) < LSST_TOLERANCE_DEX, (
        f"N(VIS < 25) = {per_arcmin2:.1f} arcmin^-2 vs {LSST_N_I25_PER_ARCMIN2} (LSST Science Book)"
    )


def test_median_half_light_radius_matches_miller2013(bright, deep) -> None:
    """Median half-light radius of disc-dominated galaxies vs F814W magnitude.

    The half-light radius of each galaxy is that of the sum of its exponential
    disk and de Vaucouleurs bulge (circular, same centre; computed numerically by
    :func:`composite_half_light_radius`); disc-dominated means a bulge flux
    fraction below 0.5.
    """
    slopes = []
    for centre in (20.5, 21.5, 22.5, 23.5, 24.5):
        config, c = bright if centre + 0.5 <= bright[0].mag_limit_vis else deep
        mag = mag_of(c)
        bulge_fraction = c["FLUX_BULGE"][:, 0] / c["FLUX"][:, 0]
        sel = (mag >= centre - 0.5) & (mag < centre + 0.5) & (bulge_fraction < 0.5)
        assert np.count_nonzero(sel) >= 300
        radius = er.composite_half_light_radius(
            c["DISK_RADIUS"][sel], c["BULGE_RADIUS"][sel], bulge_fraction[sel]
        )
        ours = float(np.median(radius))
        published = miller_half_light_radius(centre)
        offset = math.log10(ours / published)
        assert abs(offset) < SIZE_TOLERANCE_DEX, (
            f"VIS {centre}: median r_50 = {ours:.3f} arcsec vs Miller et al. 2013 "
            f"{published:.3f} arcsec ({offset:+.3f} dex)"
        )
        slopes.append((centre, math.log10(ours)))
    # the decline of size with magnitude: Miller et al. give -0.117 dex/mag
    x, y = np.array(slopes).T
    slope = np.polyfit(x, y, 1)[0]
    assert slope == pytest.approx(MILLER_LN_RD[1] / math.log(10), abs=0.04)
