"""``debvader-euclid deblend``: a FITS or .npy stamp file in, deblended cube and catalogue out."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

from debvader_euclid.cli import main
from debvader_euclid.quality import central_detection
from debvader_euclid.stamp_files import FitsCubeWriter, open_stamp_cube

SIGMA = 0.00277185  # uJy/pixel, the test data's noise


@pytest.fixture(scope="module")
def stamps(blended_data) -> np.ndarray:
    from data_generation.tfrecords import read_numpy

    return read_numpy(blended_data, fields="blend_noisy", max_examples=40)["blend_noisy"]


def write_fits(path, data, unit="uJy"):
    header = fits.Header([("BUNIT", unit)]) if unit else fits.Header()
    fits.PrimaryHDU(data, header=header).writeto(path)
    return path


def test_fits_in_cube_and_catalogue_out(trained_deblender, stamps, tmp_path):
    from debvader_euclid.deblender import Deblender

    source = write_fits(tmp_path / "stamps.fits", stamps.astype(">f8"))  # big-endian float64
    out = tmp_path / "out"
    argv = ["deblend", "--model", str(trained_deblender), "--stamps", str(source)]
    argv += ["--out", str(out), "--noise-sigma", str(SIGMA), "--chunk", "7"]
    assert main(argv) == 0

    expected = Deblender.load(trained_deblender).deblend(stamps)
    with fits.open(out / "deblended.fits") as hdul:
        assert hdul[0].header["BUNIT"] == "uJy"
        assert hdul[0].header["DVMODEL"].endswith("/deblender")
        cube = hdul[0].data
        assert cube.shape == stamps.shape
        np.testing.assert_allclose(cube, expected, rtol=1e-5, atol=1e-9)
    catalogue = pd.read_csv(out / "catalogue.csv")
    assert list(catalogue.columns) == [
        "index",
        "flux_uJy",
        "mag_ab",
        "central_detected",
        "offset_pixels",
        "n_sources",
    ]
    np.testing.assert_array_equal(catalogue["index"], np.arange(len(stamps)))
    np.testing.assert_allclose(catalogue["flux_uJy"], expected.sum(axis=(1, 2)), rtol=1e-5)
    positive = catalogue["flux_uJy"] > 0
    np.testing.assert_allclose(
        catalogue["mag_ab"][positive],
        23.9 - 2.5 * np.log10(catalogue["flux_uJy"][positive]),
        rtol=1e-6,  # both written with 7 significant digits
    )
    flags = central_detection(stamps, SIGMA)
    np.testing.assert_array_equal(catalogue["central_detected"], flags["central_detected"])
    np.testing.assert_array_equal(catalogue["n_sources"], flags["n_sources"])
    info = json.loads((out / "deblend.json").read_text())
    assert info["n_stamps"] == len(stamps)
    assert info["n_flagged"] == int((~flags["central_detected"]).sum())
    assert info["command_line"][:2] == ["debvader-euclid", "deblend"]
    assert not list(out.glob("*.tmp"))

    # Chunking does not change the result; the folder is not overwritten without the flag.
    assert main(argv[:-1] + ["1000"]) == 2
    assert main(argv[:-1] + ["1000", "--overwrite"]) == 0
    with fits.open(out / "deblended.fits") as hdul:
        np.testing.assert_allclose(hdul[0].data, cube, rtol=1e-6, atol=1e-12)


def test_npy_without_quality_flag(trained_deblender, stamps, tmp_path):
    source = tmp_path / "stamps.npy"
    np.save(source, stamps[:5])
    out = tmp_path / "out"
    argv = ["deblend", "--model", str(trained_deblender), "--stamps", str(source)]
    assert main(argv + ["--out", str(out), "--no-quality-flag"]) == 0
    catalogue = pd.read_csv(out / "catalogue.csv")
    assert list(catalogue.columns) == ["index", "flux_uJy", "mag_ab"]
    assert json.loads((out / "deblend.json").read_text())["quality_flag"] is False


def test_neighbour_check_matches_the_api_whatever_the_chunk(trained_deblender, stamps, tmp_path):
    from debvader_euclid.deblender import Deblender

    source = tmp_path / "stamps.npy"
    np.save(source, stamps[:12])
    expected = Deblender.load(trained_deblender).deblend(
        stamps[:12], neighbours="check", noise_sigma_uJy=SIGMA
    )
    base = ["deblend", "--model", str(trained_deblender), "--stamps", str(source)]
    base += ["--no-quality-flag", "--neighbours", "check", "--noise-sigma", str(SIGMA)]
    for chunk in ("5", "12"):
        out = tmp_path / f"out{chunk}"
        assert main(base + ["--out", str(out), "--chunk", chunk]) == 0
        with fits.open(out / "deblended.fits") as hdul:
            assert hdul[0].header["DVNEIGH"] == "check"
            np.testing.assert_allclose(hdul[0].data, expected, rtol=1e-5, atol=1e-9)
        info = json.loads((out / "deblend.json").read_text())
        assert info["neighbours"] == "check"
        cmd = info["command_line"]
        assert cmd[cmd.index("--neighbours") + 1] == "check"


def test_refine_matches_the_api(trained_deblender, stamps, tmp_path):
    from debvader_euclid.deblender import Deblender

    source = tmp_path / "stamps.npy"
    np.save(source, stamps[:12])
    expected = Deblender.load(trained_deblender).deblend(
        stamps[:12], neighbours="check", refine=True, noise_sigma_uJy=SIGMA
    )
    out = tmp_path / "out"
    argv = ["deblend", "--model", str(trained_deblender), "--stamps", str(source)]
    argv += ["--out", str(out), "--neighbours", "check", "--refine", "--noise-sigma", str(SIGMA)]
    assert main(argv + ["--chunk", "5"]) == 0
    with fits.open(out / "deblended.fits") as hdul:
        assert hdul[0].header["DVREFINE"] is True
        np.testing.assert_allclose(hdul[0].data, expected, rtol=1e-5, atol=1e-9)
    info = json.loads((out / "deblend.json").read_text())
    assert info["refine"] is True
    assert "--refine" in info["command_line"]
    assert info["noise_sigma_estimated"] is False


def test_the_noise_level_can_be_estimated(trained_deblender, stamps, tmp_path):
    from debvader_euclid.noise import estimate_noise_sigma

    source = tmp_path / "stamps.npy"
    np.save(source, stamps[:12])
    out = tmp_path / "out"
    argv = ["deblend", "--model", str(trained_deblender), "--stamps", str(source)]
    assert main(argv + ["--out", str(out), "--refine", "--noise-sigma", "estimate"]) == 0
    info = json.loads((out / "deblend.json").read_text())
    assert info["noise_sigma_estimated"] is True
    assert info["noise_sigma_uJy_per_pixel"] == pytest.approx(estimate_noise_sigma(stamps[:12]))
    assert info["command_line"][info["command_line"].index("--noise-sigma") + 1] == "estimate"


def test_bad_input_is_refused_with_the_fix(trained_deblender, stamps, tmp_path, caplog):
    base = ["deblend", "--model", str(trained_deblender)]
    good = write_fits(tmp_path / "good.fits", stamps[:3])

    def refused(argv, message):
        caplog.clear()
        assert main(base + argv) == 2
        assert message in caplog.text, caplog.text

    refused(["--stamps", str(good), "--out", str(tmp_path / "o1")], "--noise-sigma (uJy/pixel)")
    refused(
        ["--stamps", str(good), "--out", str(tmp_path / "o1"), "--no-quality-flag"]
        + ["--neighbours", "subtract"],
        "needed by --neighbours subtract",
    )
    refused(
        ["--stamps", str(good), "--out", str(tmp_path / "o1"), "--no-quality-flag", "--refine"],
        "needed by --refine",
    )
    adu = write_fits(tmp_path / "adu.fits", stamps[:3], unit="ADU")
    refused(
        ["--stamps", str(adu), "--out", str(tmp_path / "o2"), "--noise-sigma", "0.003"],
        "BUNIT is 'ADU', expected microJansky",
    )
    big = write_fits(tmp_path / "big.fits", np.zeros((2, 64, 64), np.float32))
    refused(
        ["--stamps", str(big), "--out", str(tmp_path / "o3"), "--noise-sigma", "0.003"],
        "holds 64x64-pixel stamps but the model",
    )
    refused(
        ["--stamps", str(tmp_path / "x.txt"), "--out", str(tmp_path / "o4"), "--no-quality-flag"],
        "no stamp file",
    )
    (tmp_path / "x.txt").write_text("1 2 3")
    refused(
        ["--stamps", str(tmp_path / "x.txt"), "--out", str(tmp_path / "o4"), "--no-quality-flag"],
        "unknown stamp file type",
    )
    bad = stamps[:3].copy()
    bad[1, 5, 5] = np.nan
    nan_file = write_fits(tmp_path / "nan.fits", bad)
    out = tmp_path / "o5"
    refused(
        ["--stamps", str(nan_file), "--out", str(out), "--no-quality-flag"],
        "stamps 0 to 2 of",
    )
    assert "NaN or infinite: clean them, or pass --nonfinite zero" in caplog.text
    assert not (out / "deblended.fits").exists()  # nothing half-written
    assert not list(out.glob("*.tmp"))
    assert (
        main(
            base
            + [
                "--stamps",
                str(nan_file),
                "--out",
                str(out),
                "--no-quality-flag",
                "--nonfinite",
                "zero",
            ]
        )
        == 0
    )


def test_open_stamp_cube_shapes(tmp_path, stamps):
    single = write_fits(tmp_path / "one.fits", stamps[0], unit=None)
    assert open_stamp_cube(single).shape == (1, *stamps.shape[1:])
    np.save(tmp_path / "rect.npy", np.zeros((2, 32, 30)))
    with pytest.raises(ValueError, match="square"):
        open_stamp_cube(tmp_path / "rect.npy")
    np.save(tmp_path / "four.npy", np.zeros((2, 32, 32, 1)))
    with pytest.raises(ValueError, match=r"an \(N, S, S\) cube"):
        open_stamp_cube(tmp_path / "four.npy")
    # Chunks read from .npy and FITS (big-endian, float64) equal the array, as float32.
    np.save(tmp_path / "cube.npy", stamps)
    write_fits(tmp_path / "cube.fits", stamps.astype(">f8"))
    for name in ("cube.npy", "cube.fits"):
        cube = open_stamp_cube(tmp_path / name)
        assert len(cube) == len(stamps)
        chunk = cube.read(3, 11)
        assert chunk.dtype == np.float32
        np.testing.assert_array_equal(chunk, stamps[3:11].astype(np.float32))
        assert cube.read(len(stamps) - 2, len(stamps) + 5).shape[0] == 2


def test_fits_writer_is_atomic(tmp_path):
    path = tmp_path / "cube.fits"

    def stop_half_way() -> None:
        with FitsCubeWriter(path, 4, 8) as writer:
            writer.write(np.ones((2, 8, 8)))
            raise RuntimeError("stopped half way")

    def write_too_few() -> None:
        with FitsCubeWriter(path, 4, 8) as writer:
            writer.write(np.ones((2, 8, 8)))

    with pytest.raises(RuntimeError):
        stop_half_way()
    assert not path.exists()
    assert not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match="wrote 2 of 4"):
        write_too_few()
    assert not path.exists()
    with FitsCubeWriter(path, 4, 8, {"OBJECT": "test"}) as writer:
        writer.write(np.ones((3, 8, 8)))
        writer.write(np.full((1, 8, 8), 2.0))
    data = fits.getdata(path)
    assert data.shape == (4, 8, 8)
    assert data[3, 0, 0] == 2.0
    assert fits.getheader(path)["OBJECT"] == "test"
