"""Tests of data_generation.egg_recipes: the built-in EGG-recipe catalogue generator.

Besides the mechanics (determinism, columns, FITS round trip), the generator is
checked against published measurements with :mod:`data_generation.validation`
(where the published values, their sources and tolerances live):

* galaxy number counts in the i band (COSMOS2020, Weaver et al. 2022) and the
  cumulative i < 25 surface density of the LSST Science Book;
* the median half-light radius against F814W magnitude of Miller et al. (2013).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from scipy.special import gammainc, gammaincinv

from data_generation import egg_recipes as er
from data_generation import validation as va
from data_generation.catalog import read_catalogue
from data_generation.validation import vis_magnitude as mag_of

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


@pytest.fixture(scope="module")
def small() -> tuple[er.EggRecipeConfig, dict[str, np.ndarray]]:
    config = er.EggRecipeConfig(area_deg2=0.002, mag_limit_vis=25.0, seed=7)
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
# Validation against published measurements (data_generation.validation)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def result() -> va.ValidationResult:
    """Every comparison on the default catalogues (0.5 deg^2 to VIS 23, 0.05 deg^2 to 26.5)."""
    return va.run_validation(seed=42)


def test_tolerances_are_not_loosened() -> None:
    assert va.COUNTS_TOLERANCE_DEX == 0.15
    assert va.LSST_TOLERANCE_DEX == 0.1
    assert va.SIZE_TOLERANCE_DEX == 0.2
    assert va.SIZE_SLOPE_TOLERANCE_DEX_PER_MAG == 0.04
    assert va.MIN_GALAXIES_PER_BIN >= 300
    default = va.ValidationConfig()
    assert default == va.ValidationConfig.default(42)
    assert default.bright == er.EggRecipeConfig(area_deg2=0.5, mag_limit_vis=23.0, seed=42)
    assert default.deep == er.EggRecipeConfig(area_deg2=0.05, mag_limit_vis=26.5, seed=42)


def test_number_counts_match_cosmos2020() -> None:
    """Differential counts within 0.15 dex of COSMOS2020 (Weaver et al. 2022, Table 2)."""
    counts = va.number_counts_table()
    assert counts["mag_bin_centre"].tolist() == list(va.COSMOS2020_I_COUNTS)
    assert counts["published_log_n"].tolist() == list(va.COSMOS2020_I_COUNTS.values())
    assert (counts["n_galaxies"] >= 300).all(), f"too few galaxies per bin:\n{counts}"
    difference = counts["ours_log_n_per_mag_deg2"] - counts["published_log_n"]
    np.testing.assert_allclose(counts["difference_dex"], difference)
    assert (difference.abs() < va.COUNTS_TOLERANCE_DEX).all(), f"log N per mag per deg^2:\n{counts}"
    assert counts["within_tolerance"].all()


def test_cumulative_counts_match_lsst_science_book() -> None:
    check = va.cumulative_density_check()
    assert len(check) == 1
    row = check.iloc[0]
    assert row["mag_limit"] == 25.0
    assert row["published_n_per_arcmin2"] == va.LSST_N_I25_PER_ARCMIN2
    offset = math.log10(row["ours_n_per_arcmin2"] / va.LSST_N_I25_PER_ARCMIN2)
    assert row["difference_dex"] == pytest.approx(offset)
    assert abs(offset) < va.LSST_TOLERANCE_DEX, (
        f"N(VIS < 25) = {row['ours_n_per_arcmin2']:.1f} arcmin^-2 vs "
        f"{va.LSST_N_I25_PER_ARCMIN2} (LSST Science Book)"
    )
    assert row["within_tolerance"]


def test_median_half_light_radius_matches_miller2013() -> None:
    """Median half-light radius of disc-dominated galaxies vs F814W magnitude.

    The half-light radius of each galaxy is that of the sum of its exponential
    disk and de Vaucouleurs bulge (circular, same centre; computed numerically by
    :func:`composite_half_light_radius`); disc-dominated means a bulge flux
    fraction below 0.5.
    """
    sizes = va.size_table()
    assert sizes["mag_bin_centre"].tolist() == [20.5, 21.5, 22.5, 23.5, 24.5]
    assert (sizes["n_galaxies"] >= 300).all(), f"too few galaxies per bin:\n{sizes}"
    published = [va.miller_half_light_radius(m) for m in sizes["mag_bin_centre"]]
    np.testing.assert_allclose(sizes["miller2013_hlr_arcsec"], published)
    offset = np.log10(sizes["ours_median_hlr_arcsec"] / sizes["miller2013_hlr_arcsec"])
    np.testing.assert_allclose(sizes["difference_dex"], offset)
    assert (offset.abs() < va.SIZE_TOLERANCE_DEX).all(), f"median r_50 (arcsec):\n{sizes}"
    assert sizes["within_tolerance"].all()

    # the decline of size with magnitude: Miller et al. give -0.117 dex/mag
    slope = va.size_slope_check().iloc[0]
    x, y = sizes["mag_bin_centre"], np.log10(sizes["ours_median_hlr_arcsec"])
    assert slope["ours_dex_per_mag"] == pytest.approx(np.polyfit(x, y, 1)[0])
    assert slope["ours_dex_per_mag"] == pytest.approx(va.MILLER_LN_RD[1] / math.log(10), abs=0.04)
    assert slope["within_tolerance"]


def test_comparisons_are_measured_on_the_catalogues(result) -> None:
    """Recompute a bright and a faint count, the density and a median size by hand."""
    bright = er.generate_egg_columns(result.config.bright)
    deep = er.generate_egg_columns(result.config.deep)
    counts = result.counts.set_index("mag_bin_centre")
    for centre, columns, area in ((21.25, bright, 0.5), (25.25, deep, 0.05)):
        mag = mag_of(columns)
        n = np.count_nonzero((mag >= centre - 0.25) & (mag < centre + 0.25))
        assert counts.loc[centre, "n_galaxies"] == n
        assert counts.loc[centre, "ours_log_n_per_mag_deg2"] == pytest.approx(
            math.log10(n / area / 0.5)
        )
    per_arcmin2 = np.count_nonzero(mag_of(deep) < 25.0) / (0.05 * 3600.0)
    assert result.cumulative["ours_n_per_arcmin2"].iloc[0] == pytest.approx(per_arcmin2)

    mag = mag_of(deep)
    bulge_fraction = deep["FLUX_BULGE"][:, 0] / deep["FLUX"][:, 0]
    sel = (mag >= 24.0) & (mag < 25.0) & (bulge_fraction < 0.5)
    radius = er.composite_half_light_radius(
        deep["DISK_RADIUS"][sel], deep["BULGE_RADIUS"][sel], bulge_fraction[sel]
    )
    sizes = result.sizes.set_index("mag_bin_centre")
    assert sizes.loc[24.5, "n_galaxies"] == np.count_nonzero(sel)
    assert sizes.loc[24.5, "ours_median_hlr_arcsec"] == pytest.approx(np.median(radius))


def test_report_holds_the_tables_and_the_checks(result) -> None:
    pd.testing.assert_frame_equal(result.counts, va.number_counts_table())
    assert result.passed
    report = va.validation_report(seed=42)
    assert report == result.to_markdown()
    assert "| mag_bin_centre | ours_log_n_per_mag_deg2 | published_log_n |" in report
    assert "| mag_bin_centre | ours_median_hlr_arcsec | miller2013_hlr_arcsec |" in report
    assert "| 20.25 | " in report
    assert "| 25.0 | " in report  # N(VIS < 25)
    assert "-0.000" not in report
    checks = [line for line in report.splitlines() if line.startswith("- ")]
    assert len(checks) == 4
    assert all(line.startswith("- PASS: ") for line in checks)


def test_drift_out_of_tolerance_fails(monkeypatch) -> None:
    """Fluxes and sizes 3 times too large: the comparisons notice."""
    generate = er.generate_egg_columns

    def drifted(config: er.EggRecipeConfig) -> dict[str, np.ndarray]:
        columns = generate(config)
        for name in ("FLUX", "FLUX_BULGE", "FLUX_DISK", "DISK_RADIUS", "BULGE_RADIUS"):
            columns[name] = columns[name] * 3.0
        return columns

    monkeypatch.setattr(er, "generate_egg_columns", drifted)
    result = va.run_validation(seed=42)
    assert not result.passed
    assert not result.counts["within_tolerance"].all()
    assert not result.cumulative["within_tolerance"].any()
    assert not result.sizes["within_tolerance"].any()
    report = result.to_markdown()
    assert "- FAIL: number counts" in report
    assert "- FAIL: median half-light radius" in report


def test_too_few_galaxies_or_too_shallow_fails() -> None:
    shallow = va.ValidationConfig(deep=er.EggRecipeConfig(area_deg2=0.001, mag_limit_vis=26.0))
    with pytest.raises(ValueError, match="must reach 26.5"):
        va.number_counts_table(shallow)
    small = va.ValidationConfig(
        bright=er.EggRecipeConfig(area_deg2=0.01, mag_limit_vis=23.0),
        deep=er.EggRecipeConfig(area_deg2=0.001, mag_limit_vis=26.5),
    )
    result = va.run_validation(config=small)
    assert not result.passed
    assert "fewer than 300 galaxies at VIS 20.25" in result.to_markdown()
