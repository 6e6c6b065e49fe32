"""The EGG catalogue reader and writer."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from data_generation.catalog import (
    CatalogueError,
    flux_to_mag,
    mag_to_flux,
    read_catalogue,
    write_egg_fits,
)
from tests.data_generation.conftest import egg_columns


def two_band_columns(n=6):
    """Columns with VIS and a UV band whose fluxes differ, so a wrong band shows."""
    columns = egg_columns(n)
    vis = columns["FLUX"][:, 0]
    columns["FLUX"] = np.stack([vis, vis * 10], axis=1)
    columns["FLUX_BULGE"] = np.stack([vis * 0.25, vis * 5], axis=1)
    columns["FLUX_DISK"] = np.stack([vis * 0.75, vis * 5], axis=1)
    return columns, vis


def test_band_found_by_name_whatever_its_position(tmp_path):
    columns, vis = two_band_columns()
    # given in the order (vis, uv) but EGG sorts by wavelength: uv (0.36 um) comes first
    path = write_egg_fits(tmp_path / "c.fits", columns, ["euclid-vis", "lsst-u"], [0.75, 0.36])
    stored = fits.getdata(path, 1)
    assert [b.strip() for b in stored["BANDS"][0]] == ["lsst-u", "euclid-vis"]
    table, report = read_catalogue(path)
    np.testing.assert_allclose(table["flux_uJy"], vis)
    np.testing.assert_allclose(table["bt_flux"], 0.25)
    np.testing.assert_allclose(table["mag_vis"], 23.9 - 2.5 * np.log10(vis))
    assert report.n_skipped == 0
    uv, _ = read_catalogue(path, band="LSST-U")  # case-insensitive
    np.testing.assert_allclose(uv["flux_uJy"], vis * 10)
    np.testing.assert_allclose(uv["bt_flux"], 0.5)


def test_units_and_names(tmp_path):
    columns = egg_columns(4)
    path = write_egg_fits(tmp_path / "c.fits", columns, ["euclid-vis"], [0.75])
    table, _ = read_catalogue(path)
    np.testing.assert_array_equal(table["id"], columns["ID"])
    np.testing.assert_allclose(table["disk_hlr_arcsec"], columns["DISK_RADIUS"])
    np.testing.assert_allclose(table["disk_angle_deg"], columns["DISK_ANGLE"])
    np.testing.assert_allclose(table["bt_mass"], columns["BT"])
    np.testing.assert_array_equal(table["passive"], columns["PASSIVE"])
    assert fits.getdata(path, 1).columns["DISK_RADIUS"].unit == "arcsec"


def test_one_row_per_galaxy_table(tmp_path):
    columns, vis = two_band_columns(5)
    table = Table({k: v for k, v in columns.items()})
    table["BANDS"] = np.array([["lsst-u", "euclid-vis"]] * 5)
    # per-galaxy rows with (n, 2) flux columns in the order of the BANDS column
    for name in ("FLUX", "FLUX_BULGE", "FLUX_DISK"):
        table[name] = columns[name][:, ::-1]
    path = tmp_path / "rows.fits"
    table.write(path)
    result, _ = read_catalogue(path)
    np.testing.assert_allclose(result["flux_uJy"], vis)

    single = Table({k: (v[:, 0] if v.ndim == 2 else v) for k, v in egg_columns(3).items()})
    single.write(tmp_path / "single.fits")
    result, _ = read_catalogue(tmp_path / "single.fits")
    assert len(result) == 3


def test_unrenderable_rows_are_skipped_and_counted(tmp_path, caplog):
    columns = egg_columns(8)
    columns["Z"][0] = np.nan
    columns["FLUX"][1] = -1.0
    columns["DISK_RADIUS"][2] = 0.0
    columns["DISK_RATIO"][3] = 1.5
    columns["FLUX"][4] = np.inf
    path = write_egg_fits(tmp_path / "c.fits", columns, ["euclid-vis"], [0.75])
    with caplog.at_level(logging.WARNING):
        table, report = read_catalogue(path)
    assert len(table) == 3
    assert report.n_read == 8
    assert report.n_skipped == 5
    assert report.skipped["with NaN or infinite values"] == 2
    assert report.skipped["with non-positive flux"] == 1
    assert report.skipped["with non-positive size"] == 1
    assert report.skipped["with an axis ratio outside (0, 1]"] == 1
    assert "5 skipped" in caplog.text
    assert set(table["id"]) == set(columns["ID"][5:])


def test_pure_disk_with_zero_bulge_radius_is_kept(tmp_path):
    columns = egg_columns(2)
    columns["FLUX_BULGE"][:] = 0.0
    columns["FLUX_DISK"] = columns["FLUX"].copy()
    columns["BULGE_RADIUS"][:] = 0.0
    path = write_egg_fits(tmp_path / "c.fits", columns, ["euclid-vis"], [0.75])
    table, report = read_catalogue(path)
    assert (len(table), report.n_skipped) == (2, 0)
    np.testing.assert_allclose(table["bt_flux"], 0.0)


def test_missing_column_is_named(tmp_path):
    columns = egg_columns(3)
    path = write_egg_fits(tmp_path / "c.fits", columns, ["euclid-vis"], [0.75])
    table = Table.read(path)
    table.remove_column("BULGE_RATIO")
    table.write(tmp_path / "broken.fits")
    with pytest.raises(CatalogueError, match="BULGE_RATIO"):
        read_catalogue(tmp_path / "broken.fits")


def test_absent_band_lists_bands_present(tmp_path):
    columns, _ = two_band_columns()
    path = write_egg_fits(tmp_path / "c.fits", columns, ["euclid-vis", "lsst-u"], [0.75, 0.36])
    with pytest.raises(CatalogueError, match=r"'hst-f814w'.*lsst-u, euclid-vis"):
        read_catalogue(path, band="hst-f814w")


def test_not_a_catalogue(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_catalogue(tmp_path / "nope.fits")
    junk = tmp_path / "junk.fits"
    junk.write_text("not fits")
    with pytest.raises(CatalogueError):
        read_catalogue(junk)


def test_writer_refuses_to_overwrite(tmp_path):
    path = write_egg_fits(tmp_path / "c.fits", egg_columns(2), ["euclid-vis"], [0.75])
    with pytest.raises(FileExistsError, match="overwrite"):
        write_egg_fits(path, egg_columns(2), ["euclid-vis"], [0.75])
    write_egg_fits(path, egg_columns(3), ["euclid-vis"], [0.75], overwrite=True)
    assert len(read_catalogue(path)[0]) == 3
    assert not list(tmp_path.glob("*.tmp"))


def test_magnitude_conversions_invert():
    mags = np.linspace(15, 30, 31)
    np.testing.assert_allclose(flux_to_mag(mag_to_flux(mags)), mags, rtol=0, atol=1e-12)
    assert mag_to_flux(23.9) == pytest.approx(1.0)
