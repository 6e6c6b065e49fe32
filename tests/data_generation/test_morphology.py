"""Galaxy morphologies: analytic unchanged, embedded realistic model, COSMOS real galaxies."""

from __future__ import annotations

import dataclasses
import json
import logging
import math

import galsim
import numpy as np
import pytest
from astropy.io import fits

from data_generation import blends, pipeline
from data_generation.catalog import CatalogueError, mag_to_flux, read_catalogue, write_egg_fits
from data_generation.config import GenerationConfig
from data_generation.cosmos import cosmos_files, read_cosmos_catalogue
from data_generation.describe import describe_dataset
from data_generation.instrument import VISInstrument
from data_generation.io_utils import sha256_file
from data_generation.manifest import load_manifest
from data_generation.morphology import (
    AnalyticMorphology,
    CosmosMorphology,
    EmbeddedRealisticMorphology,
    RealisticMorphologyConfig,
    build_morphology,
    galaxy_profile,
)
from data_generation.render import StampRenderer
from data_generation.tfrecords import read_numpy
from debvader_euclid.cli import main
from tests.cosmos_files import COSMOS_MAGS, write_cosmos_sample
from tests.data_generation.conftest import egg_columns
from tests.data_generation.test_render import galaxy

DEFAULTS = RealisticMorphologyConfig()


def row(flux=10.0, bt=0.2, disk=0.4, bulge=0.1, q=0.6, angle=20.0, log_ssfr=-9.0, passive=False):
    """A bulge + disk catalogue row (uJy, arcsec, deg) with SFR and stellar mass."""
    log_mstar = 10.0
    return {
        **galaxy(flux, bt, disk, bulge, q, angle),
        "id": 7,
        "redshift": 1.0,
        "flux_uJy": flux,
        "mag_vis": float(23.9 - 2.5 * math.log10(flux)),
        "bt_flux": bt,
        "log_mstar": log_mstar,
        "sfr_msun_per_yr": 10.0 ** (log_mstar + log_ssfr),
        "passive": passive,
    }


@pytest.fixture(scope="module")
def instrument():
    return VISInstrument()


@pytest.fixture(scope="module")
def realistic(instrument):
    return StampRenderer(instrument, 64, EmbeddedRealisticMorphology())


def moments(stamp):
    """Centroid (x, y) and major-axis angle (deg, counter-clockwise from +x) of a stamp."""
    y, x = np.indices(stamp.shape)
    total = stamp.sum()
    cx, cy = np.sum(stamp * x) / total, np.sum(stamp * y) / total
    ixx = np.sum(stamp * (x - cx) ** 2)
    iyy = np.sum(stamp * (y - cy) ** 2)
    ixy = np.sum(stamp * (x - cx) * (y - cy))
    return cx, cy, math.degrees(0.5 * math.atan2(2 * ixy, ixx - iyy))


# --------------------------------------------------------------------------- analytic


def test_analytic_examples_are_unchanged(egg_catalogue, tmp_path):
    """The analytic pipeline draws galaxy_profile with the PSF and no extra random number:
    stored stamps equal a hand recomputation from GalSim, bit for bit."""
    config = GenerationConfig(
        kind="isolated", n_stamps=8, seed=4, stamp_size=32, catalogue=str(egg_catalogue)
    )
    pipeline.generate_dataset(config, tmp_path, progress=False)
    data = read_numpy(tmp_path)
    table, _ = read_catalogue(egg_catalogue)
    plan = pipeline.SelectionPlan.build(table, config)
    instrument = VISInstrument()
    rng = np.random.default_rng(pipeline.shard_seed(config.seed, 0))
    for j in range(8):
        galaxy = table.iloc[plan.central_rows[j]].to_dict()
        offset = rng.uniform(-0.5, 0.5, size=2)
        clean = (
            galsim.Convolve(galaxy_profile(galaxy), instrument.psf)
            .drawImage(nx=32, ny=32, scale=0.1, offset=tuple(offset), dtype=np.float64)
            .array
        )
        noisy = clean + rng.normal(0.0, instrument.noise_sigma_uJy, clean.shape)
        np.testing.assert_array_equal(data["central_noiseless"][j], clean.astype(np.float32))
        np.testing.assert_array_equal(data["central_noisy"][j], noisy.astype(np.float32))
    assert isinstance(build_morphology(config), AnalyticMorphology)


# --------------------------------------------------------------------------- embedded realistic


@pytest.mark.parametrize(
    "galaxy",
    [
        row(log_ssfr=-8.0),
        row(log_ssfr=-9.0, bt=0.0, q=0.3),
        row(log_ssfr=-12.0, passive=True, bt=0.7),
        row(bt=1.0),
        {**row(), "disk_flux_uJy": 8.0000003},  # bulge + disk off the total by rounding
        {k: v for k, v in row().items() if k not in ("sfr_msun_per_yr", "log_mstar")},
    ],
)
def test_realistic_profile_has_the_catalogue_flux(galaxy):
    morphology = EmbeddedRealisticMorphology()
    for seed in range(20):
        profile = morphology.profile(galaxy, np.random.default_rng(seed))
        assert profile.flux == pytest.approx(galaxy["flux_uJy"], rel=1e-10, abs=0)


def test_compact_realistic_stamp_holds_the_flux(realistic):
    galaxy = row(flux=3.0, disk=0.15, bulge=0.05, log_ssfr=-8.0)
    for seed in range(5):
        stamp = realistic.draw_row(galaxy, (0.2, -0.3), np.random.default_rng(seed))
        assert stamp.sum() == pytest.approx(3.0, rel=0.01)


def test_knot_fraction_grows_with_ssfr_and_vanishes_when_passive():
    morphology = EmbeddedRealisticMorphology()
    log_ssfr = np.linspace(-12.5, -6.5, 25)
    fractions = np.array([morphology.knot_fraction(row(log_ssfr=s)) for s in log_ssfr])
    assert np.all(np.diff(fractions) >= 0)
    assert fractions[0] == 0.0
    assert fractions[-1] == DEFAULTS.knot_fraction_max
    assert morphology.knot_fraction(row(log_ssfr=-9.0)) == pytest.approx(0.12)
    assert morphology.knot_fraction(row(log_ssfr=-8.0)) == pytest.approx(0.20)
    assert morphology.knot_fraction(row(log_ssfr=-9.0, passive=True)) == 0.0
    no_flag = {k: v for k, v in row(log_ssfr=-11.5).items() if k != "passive"}
    assert morphology.knot_fraction(no_flag) == 0.0  # below ssfr_passive_per_yr: passive
    zero_sfr = {**row(), "sfr_msun_per_yr": 0.0}
    assert morphology.knot_fraction(zero_sfr) == 0.0
    passive = morphology.structure(row(passive=True), np.random.default_rng(0))
    assert passive.n_knots == 0
    assert passive.knot_fraction == 0.0


def test_knot_number_follows_disk_size():
    morphology = EmbeddedRealisticMorphology()
    sizes = [0.05, 0.3, 0.6, 5.0]
    assert [morphology.n_knots(row(disk=s)) for s in sizes] == [3, 6, 12, 25]


def test_missing_star_formation_uses_defaults_and_warns_once(caplog):
    morphology = EmbeddedRealisticMorphology()
    bare = {k: v for k, v in row().items() if k not in ("sfr_msun_per_yr", "log_mstar", "passive")}
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert morphology.knot_fraction(bare) == DEFAULTS.knot_fraction_default
            assert morphology.asymmetry_probability(bare) == DEFAULTS.asym_probability_default
    assert caplog.text.count("without SFR or stellar mass") == 1


def test_same_seed_same_stamp_other_seed_differs(realistic):
    galaxy = row(flux=5.0, log_ssfr=-8.5)
    first = realistic.draw_row(galaxy, (0.1, 0.2), np.random.default_rng(3))
    np.testing.assert_array_equal(
        first, realistic.draw_row(galaxy, (0.1, 0.2), np.random.default_rng(3))
    )
    other = realistic.draw_row(galaxy, (0.1, 0.2), np.random.default_rng(4))
    assert np.abs(other - first).sum() > 1e-3 * first.sum()


def test_realistic_differs_from_analytic_for_star_forming(instrument, realistic):
    analytic = StampRenderer(instrument, 64)
    galaxy = row(flux=5.0, disk=0.5, log_ssfr=-8.5)
    plain = analytic.draw_row(galaxy)
    for seed in range(3):
        structured = realistic.draw_row(galaxy, rng=np.random.default_rng(seed))
        assert structured.sum() == pytest.approx(plain.sum(), rel=0.01)
        assert np.abs(structured - plain).sum() > 0.05 * plain.sum()


def test_bulge_only_galaxy_is_the_analytic_one(instrument, realistic):
    """Structure lives in the disk light: a pure bulge is drawn as by the analytic model."""
    galaxy = row(bt=1.0, log_ssfr=-8.0)
    np.testing.assert_array_equal(
        realistic.draw_row(galaxy, rng=np.random.default_rng(1)),
        StampRenderer(instrument, 64).draw_row(galaxy),
    )


@pytest.mark.parametrize(
    ("galaxy", "expected"),
    [
        (row(log_ssfr=-9.0), 0.30),
        (row(log_ssfr=-7.0), 0.50),
        (row(log_ssfr=-11.0), 0.20),
        (row(log_ssfr=-9.0, passive=True), 0.20),
    ],
)
def test_asymmetric_fraction_matches_the_configured_probability(galaxy, expected):
    morphology = EmbeddedRealisticMorphology()
    assert morphology.asymmetry_probability(galaxy) == pytest.approx(expected)
    n = 4000
    rng = np.random.default_rng(11)
    structures = [morphology.structure(galaxy, rng) for _ in range(n)]
    fraction = np.mean([s.asymmetric for s in structures])
    assert abs(fraction - expected) < 4 * math.sqrt(expected * (1 - expected) / n)
    light = [s.asym_fraction for s in structures if s.asymmetric]
    assert min(light) >= 0.05
    assert max(light) <= 0.15


def test_asymmetric_clump_shifts_the_centroid_by_its_light_and_offset():
    """Without knots, the centroid of a face-on lopsided disk is f_a F_d d / F along the
    clump's direction (the knots' seeded positions would add their own small shift)."""
    config = RealisticMorphologyConfig(
        knot_fraction_ref=0.0, knot_fraction_slope_per_dex=0.0, asym_probability_range=(1, 1)
    )
    morphology = EmbeddedRealisticMorphology(config)
    galaxy = row(flux=4.0, bt=0.25, disk=0.4, q=1.0)
    structure = morphology.structure(galaxy, np.random.default_rng(5))
    assert structure.asymmetric
    assert structure.n_knots == 0
    centroid = morphology.profile_from_structure(galaxy, structure).centroid
    shift = structure.asym_fraction * 3.0 * structure.asym_offset_hlr * 0.4 / 4.0
    angle = math.radians(structure.asym_angle_deg + 20.0)  # azimuth from the major axis
    assert centroid.x == pytest.approx(shift * math.cos(angle), abs=1e-9)
    assert centroid.y == pytest.approx(shift * math.sin(angle), abs=1e-9)
    # inclined (q = 0.5): on the major axis the offset is d r_major, on the minor d r_major q
    inclined = row(flux=4.0, bt=0.25, disk=0.4, q=0.5, angle=20.0)
    beta = math.radians(20.0)
    for azimuth, length, direction in ((0.0, 1.0, beta), (90.0, 0.5, beta + math.pi / 2)):
        clump = dataclasses.replace(structure, asym_angle_deg=azimuth)
        centroid = morphology.profile_from_structure(inclined, clump).centroid
        expected = shift * length
        assert centroid.x == pytest.approx(expected * math.cos(direction), abs=1e-9)
        assert centroid.y == pytest.approx(expected * math.sin(direction), abs=1e-9)


def test_realistic_config_json_round_trip(tmp_path, egg_catalogue):
    config = RealisticMorphologyConfig(knot_fraction_ref=0.1, n_knots_range=(2, 10))
    assert RealisticMorphologyConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    path = tmp_path / "realistic.json"
    path.write_text(json.dumps({"knot_fraction_ref": 0.1, "n_knots_range": [2, 10]}))
    assert RealisticMorphologyConfig.from_json(path) == config
    generation = GenerationConfig(
        kind="isolated", n_stamps=4, morphology="realistic", realistic=config
    )
    assert GenerationConfig.from_dict(json.loads(json.dumps(generation.to_dict()))) == generation
    old = {
        k: v for k, v in generation.to_dict().items() if k not in ("realistic", "cosmos_catalogue")
    }
    loaded = GenerationConfig.from_dict(old)  # a manifest written before the option
    assert loaded.realistic == DEFAULTS
    assert loaded.cosmos_catalogue is None


def test_unknown_or_bad_realistic_parameters(tmp_path):
    with pytest.raises(ValueError, match=r"unknown .*\['knot_fraction'\]; valid ones: ssfr_ref"):
        RealisticMorphologyConfig.from_dict({"knot_fraction": 0.1})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"knots": 3}))
    with pytest.raises(ValueError, match=r"bad\.json: unknown realistic morphology parameter"):
        RealisticMorphologyConfig.from_json(path)
    with pytest.raises(ValueError, match="would leave the smooth disk negative"):
        RealisticMorphologyConfig(knot_fraction_max=0.9)
    with pytest.raises(ValueError, match="fraction in"):
        RealisticMorphologyConfig(knot_fraction_ref=1.5)
    with pytest.raises(FileNotFoundError):
        RealisticMorphologyConfig.from_json(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"realistic": RealisticMorphologyConfig(knot_fraction_ref=0.1)}, "add|pass --morphology"),
        ({"cosmos_catalogue": "c.fits"}, "only used with morphology 'realistic'"),
        (
            {"morphology": "realistic", "cosmos_catalogue": "c.fits", "catalogue": "egg.fits"},
            "exclude each other",
        ),
        (
            {
                "morphology": "realistic",
                "cosmos_catalogue": "c.fits",
                "realistic": RealisticMorphologyConfig(knot_fraction_ref=0.1),
            },
            "drop --realistic-config or --cosmos-catalogue",
        ),
    ],
)
def test_morphology_options_that_do_not_go_together(overrides, message):
    with pytest.raises(ValueError, match=message):
        GenerationConfig(kind="isolated", n_stamps=1, **overrides)


@pytest.fixture(scope="module")
def sfr_catalogue(tmp_path_factory):
    """An EGG-layout catalogue with SFR, stellar mass and the passive flag."""
    columns = egg_columns(200, seed=3, mag_range=(19.0, 24.0), max_disk_arcsec=0.5)
    rng = np.random.default_rng(8)
    log_ssfr = np.where(columns["PASSIVE"], -11.5, rng.normal(-9.0, 0.5, 200))
    columns["SFR"] = 10.0 ** (columns["M"] + log_ssfr)
    path = tmp_path_factory.mktemp("sfr") / "egg.fits"
    write_egg_fits(path, columns, ["euclid-vis"], [0.75])
    return path


@pytest.mark.parametrize("kind", ["isolated", "blended"])
def test_realistic_data_set_end_to_end(sfr_catalogue, tmp_path, kind):
    config = GenerationConfig(
        kind=kind,
        n_stamps=40,
        seed=2,
        stamp_size=32,
        shard_size=20,
        catalogue=str(sfr_catalogue),
        morphology="realistic",
        annulus_arcsec=(0.5, 1.2),
    )
    pipeline.generate_dataset(config, tmp_path, workers=1, progress=False)
    generation = load_manifest(tmp_path).config["generation"]
    assert generation["morphology"] == "realistic"
    assert generation["realistic"] == DEFAULTS.to_dict()
    assert generation["cosmos_catalogue"] is None
    data = read_numpy(tmp_path)
    kept = data["central_stamp_flux_uJy"] / data["central_flux_uJy"]
    assert np.median(kept) > 0.97
    # shard 1 recomputed on its own from its seed: independent of the other shard / workers
    table, _ = read_catalogue(sfr_catalogue)
    plan = pipeline.SelectionPlan.build(table, config)
    rng = np.random.default_rng(pipeline.shard_seed(config.seed, 1))
    renderer = StampRenderer(VISInstrument(), 32, build_morphology(config))
    central = table.iloc[plan.central_rows[20]].to_dict()
    if kind == "isolated":
        example = blends.make_isolated_example(central, renderer, rng, data["noise_sigma_uJy"][0])
    else:
        neighbour = plan.neighbour_rows[rng.integers(len(plan.neighbour_rows))]
        example = blends.make_blended_example(
            central,
            table.iloc[neighbour].to_dict(),
            renderer,
            rng,
            data["noise_sigma_uJy"][0],
            config.annulus_arcsec,
        )
    shard = read_numpy(tmp_path, shards=[1])
    for key, value in example.items():
        np.testing.assert_array_equal(shard[key][0], value, err_msg=key)
    assert any(
        "morphology: realistic, embedded model" in line for line in describe_dataset(tmp_path)
    )


# --------------------------------------------------------------------------- command line


def generate(*extra, out, catalogue):
    return main(
        ["generate", "--kind", "isolated", "--out", str(out), "--catalogue", str(catalogue),
         "--stamp-size", "32", "--workers", "1", "--no-progress", "--n-stamps", "3", *extra]
    )  # fmt: skip


def test_command_realistic_with_a_config_file(sfr_catalogue, tmp_path):
    path = tmp_path / "realistic.json"
    path.write_text(json.dumps({"knot_fraction_ref": 0.15}))
    status = generate(
        "--morphology", "realistic", "--realistic-config", str(path),
        out=tmp_path / "out", catalogue=sfr_catalogue,
    )  # fmt: skip
    assert status == 0
    generation = load_manifest(tmp_path / "out").config["generation"]
    assert generation["realistic"]["knot_fraction_ref"] == 0.15


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--morphology", "realistic", "--realistic-config", "{json}"], "valid ones: ssfr_ref"),
        (["--realistic-config", "{json}"], "add --morphology realistic"),
        (
            ["--morphology", "realistic", "--cosmos-catalogue", "none.fits"],
            "galsim_download_cosmos",
        ),
        (["--cosmos-catalogue", "{json}"], "only used with morphology 'realistic'"),
    ],
)
def test_command_morphology_errors(sfr_catalogue, tmp_path, caplog, extra, message):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"knot_fractions": 0.1}))
    extra = [str(bad) if e == "{json}" else str(tmp_path / e) if e.endswith(".fits") else e
             for e in extra]  # fmt: skip
    assert generate(*extra, out=tmp_path / "out", catalogue=sfr_catalogue) == 2
    assert message in caplog.text


# --------------------------------------------------------------------------- COSMOS


@pytest.fixture(scope="module")
def cosmos_catalogue(tmp_path_factory):
    return write_cosmos_sample(tmp_path_factory.mktemp("cosmos"))


@pytest.fixture(scope="module")
def cosmos_renderer(cosmos_catalogue, instrument):
    return StampRenderer(instrument, 48, CosmosMorphology(cosmos_catalogue))


def test_cosmos_table_and_truth(cosmos_catalogue, tmp_path):
    table, report = read_cosmos_catalogue(cosmos_catalogue)
    assert report.n_read == 6
    assert report.n_skipped == 0
    assert table["id"].tolist() == list(range(500, 506))
    assert table["cosmos_index"].tolist() == list(range(6))
    np.testing.assert_allclose(table["flux_uJy"], mag_to_flux(np.array(COSMOS_MAGS)))
    np.testing.assert_allclose(table["redshift"], np.linspace(0.3, 1.3, 6))
    bulge_disk, sersic = table.iloc[0], table.iloc[1]
    assert bulge_disk["bt_flux"] == pytest.approx(0.3)
    assert bulge_disk["disk_hlr_arcsec"] == pytest.approx(0.3 / math.sqrt(0.5))
    assert bulge_disk["bulge_hlr_arcsec"] == pytest.approx(0.1 / math.sqrt(0.8))
    assert bulge_disk["disk_q"] == 0.5
    assert bulge_disk["disk_angle_deg"] == pytest.approx(30.0)
    assert math.isnan(sersic["bt_flux"])
    assert math.isnan(sersic["bulge_q"])
    assert sersic["disk_hlr_arcsec"] == pytest.approx(0.2 / math.sqrt(0.6))
    bare, _ = read_cosmos_catalogue(write_cosmos_sample(tmp_path / "bare", with_fits=False))
    assert bare[["redshift", "bt_flux", "disk_q", "disk_angle_deg"]].isna().all().all()
    np.testing.assert_allclose(bare["mag_vis"], COSMOS_MAGS)


def test_cosmos_galaxy_flux_centre_and_rotation(cosmos_catalogue, cosmos_renderer):
    table, _ = read_cosmos_catalogue(cosmos_catalogue)
    galaxy = table.iloc[2].to_dict()
    flux = 10 ** (-0.4 * (21.0 - 23.9))
    assert cosmos_renderer.morphology.profile(
        galaxy, np.random.default_rng(0)
    ).flux == pytest.approx(flux, rel=1e-10)
    angles = []
    for seed in range(3):
        stamp, truth = cosmos_renderer.render_row(galaxy, (1.5, -2.0), np.random.default_rng(seed))
        assert stamp.sum() == pytest.approx(flux, rel=0.01)
        cx, cy, angle = moments(stamp)
        assert cx == pytest.approx(23.5 + 1.5, abs=0.05)
        assert cy == pytest.approx(23.5 - 2.0, abs=0.05)
        difference = (angle - truth["disk_angle_deg"] + 90) % 180 - 90
        assert abs(difference) < 2.0  # stored angle = fitted angle + the random rotation
        angles.append(truth["disk_angle_deg"])
    assert len({round(a, 3) for a in angles}) == 3
    again, _ = cosmos_renderer.render_row(galaxy, (1.5, -2.0), np.random.default_rng(2))
    np.testing.assert_array_equal(again, stamp)


def test_cosmos_blend_with_a_cosmos_neighbour(cosmos_catalogue, cosmos_renderer):
    table, _ = read_cosmos_catalogue(cosmos_catalogue)
    central, neighbour = table.iloc[0].to_dict(), table.iloc[5].to_dict()
    example = blends.make_blended_example(
        central, neighbour, cosmos_renderer, np.random.default_rng(9), 0.003, (0.8, 1.0)
    )
    assert example["central_id"] == 500
    assert example["neighbour_id"] == 505
    n_stamp = example["neighbour_noiseless"].astype(np.float64)
    assert n_stamp.sum() == pytest.approx(mag_to_flux(22.5), rel=0.01)
    cx, cy, _ = moments(n_stamp)
    assert cx == pytest.approx(23.5 + example["neighbour_offset_x_pix"], abs=0.05)
    assert cy == pytest.approx(23.5 + example["neighbour_offset_y_pix"], abs=0.05)
    assert 0.8 <= example["neighbour_distance_arcsec"] < 1.0
    np.testing.assert_allclose(
        example["blend_noisy"] - example["neighbour_noiseless"], example["central_noisy"], atol=1e-5
    )


def test_cosmos_missing_or_broken_files(cosmos_catalogue, tmp_path):
    with pytest.raises(FileNotFoundError, match="galsim_download_cosmos"):
        CosmosMorphology(tmp_path / "real_galaxy_catalog_25.2.fits")
    broken = write_cosmos_sample(tmp_path / "broken", with_fits=False)
    (broken.parent / "psf.fits").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing: .*psf\.fits"):
        CosmosMorphology(broken)
    egg_like = tmp_path / "egg.fits"
    fits.BinTableHDU.from_columns([fits.Column("ID", "K", array=[1])]).writeto(egg_like)
    with pytest.raises(CatalogueError, match="lacks column.*GAL_FILENAME"):
        read_cosmos_catalogue(egg_like)


def test_cosmos_data_set_records_its_files(cosmos_catalogue, tmp_path):
    config = GenerationConfig(
        kind="blended",
        n_stamps=4,
        seed=1,
        stamp_size=32,
        morphology="realistic",
        cosmos_catalogue=str(cosmos_catalogue),
        central_mag_range=(19.0, 21.2),
        neighbour_mag_range=(21.2, 23.0),
        annulus_arcsec=(0.5, 1.0),
    )
    pipeline.generate_dataset(config, tmp_path, progress=False)
    manifest = load_manifest(tmp_path)
    files = manifest.config["catalogue"]["files"]
    assert [(f["name"], f["role"]) for f in files] == [
        ("real_galaxy_catalog_test.fits", "catalogue"),
        ("real_galaxy_catalog_test_fits.fits", "fits"),
        ("images.fits", "images"),
        ("psf.fits", "psf"),
    ]
    folder = cosmos_catalogue.parent
    assert all(f["sha256"] == sha256_file(folder / f["name"]) for f in files)
    assert files == cosmos_files(cosmos_catalogue)
    assert manifest.config["generation"]["cosmos_catalogue"] == str(cosmos_catalogue)
    data = read_numpy(tmp_path)
    assert set(data["central_mag_vis"]) <= {20.0, 20.5, 21.0}
    assert set(data["neighbour_mag_vis"]) <= {21.5, 22.0, 22.5}
    np.testing.assert_allclose(data["central_stamp_flux_uJy"], data["central_flux_uJy"], rtol=0.02)
    assert any("HST COSMOS galaxies" in line for line in describe_dataset(tmp_path))
