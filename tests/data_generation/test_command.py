"""`debvader-euclid generate` from the command line: output and bad input."""

from __future__ import annotations

import logging

import pytest

from data_generation.describe import describe_dataset
from data_generation.manifest import load_manifest
from data_generation.tfrecords import read_numpy
from debvader_euclid.cli import main


def generate(*extra, out, catalogue):
    return main(
        ["generate", "--kind", "blended", "--out", str(out), "--catalogue", str(catalogue),
         "--stamp-size", "32", "--workers", "1", "--no-progress", *extra]
    )  # fmt: skip


def test_generate_writes_a_data_set_and_a_summary(egg_catalogue, tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        status = generate(
            "--n-stamps", "7", "--shard-size", "4", out=tmp_path, catalogue=egg_catalogue
        )
    assert status == 0
    manifest = load_manifest(tmp_path)
    assert manifest.counts == {"n_examples": 7, "n_shards": 2}
    assert manifest.config["generation"]["annulus_arcsec"] == [0.3, 1.6]
    assert "shards written: 2" in caplog.text
    assert "catalogue rows read: 300; skipped: none" in caplog.text


def test_instrument_options_reach_the_manifest(egg_catalogue, tmp_path):
    status = generate(
        "--n-stamps", "2", "--psf-fwhm", "0.16", "--mag-limit", "26.5", "--annulus", "0.5", "1.5",
        out=tmp_path, catalogue=egg_catalogue,
    )  # fmt: skip
    assert status == 0
    generation = load_manifest(tmp_path).config["generation"]
    assert generation["instrument"]["psf_fwhm_arcsec"] == 0.16
    assert generation["instrument"]["mag_limit"] == 26.5
    assert generation["annulus_arcsec"] == [0.5, 1.5]


def test_bright_neighbour_options_reach_the_data(egg_catalogue, tmp_path):
    status = generate(
        "--n-stamps", "6", "--bright-neighbour-fraction", "1",
        "--bright-neighbour-mag-range", "19", "21", "--bright-neighbour-min-central-mag", "18",
        out=tmp_path, catalogue=egg_catalogue,
    )  # fmt: skip
    assert status == 0
    generation = load_manifest(tmp_path).config["generation"]
    assert generation["bright_neighbour_fraction"] == 1.0
    assert generation["bright_neighbour_mag_range"] == [19.0, 21.0]
    assert generation["bright_neighbour_min_central_mag"] == 18.0
    mags = read_numpy(tmp_path)["neighbour_mag_vis"]
    assert mags.min() >= 19.0
    assert mags.max() < 21.0
    assert any(
        line.startswith(
            "bright neighbours oversampled: 100% drawn from VIS 19-21 beside centrals of VIS >= 18"
        )
        for line in describe_dataset(tmp_path)
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--n-stamps", "0"], "n_stamps must be a positive integer"),
        (["--n-stamps", "2", "--band", "lsst-r"], "band 'lsst-r' is not in the catalogue"),
        (["--n-stamps", "2", "--mag-range", "25", "20"], "must be an increasing pair"),
        (["--n-stamps", "2", "--workers", "0"], "workers must be at least 1"),
        (["--n-stamps", "2", "--bright-neighbour-fraction", "2"], "must be in [0, 1], got 2.0"),
        (
            [
                "--n-stamps",
                "2",
                "--bright-neighbour-fraction",
                "0.5",
                "--bright-neighbour-mag-range",
                "17",
                "21",
            ],
            "must lie inside neighbour_mag_range 18.0-26.5",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message(egg_catalogue, tmp_path, caplog, extra, message):
    assert generate(*extra, out=tmp_path / "o", catalogue=egg_catalogue) == 2
    assert message in caplog.text


def test_missing_catalogue(tmp_path, caplog):
    assert generate("--n-stamps", "2", out=tmp_path / "o", catalogue=tmp_path / "no.fits") == 2
    assert "does not exist" in caplog.text


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "generate" in capsys.readouterr().out
