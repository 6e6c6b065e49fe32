"""Calibrated flux errors: the error terms, the fit, the file, and their use."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from debvader_euclid import Deblender
from debvader_euclid.cli import main
from debvader_euclid.flux_errors import (
    FLUX_ERRORS_NAME,
    ErrorTerms,
    FluxErrorModel,
    coverage_by_magnitude,
    error_terms,
    fit_flux_error_model,
    options_key,
    read_flux_error_models,
    write_flux_error_model,
)


def _gaussian(size: int, flux: float, x0: float, y0: float, width: float) -> np.ndarray:
    y, x = np.mgrid[:size, :size].astype(np.float64)
    image = np.exp(-0.5 * ((x - x0) ** 2 + (y - y0) ** 2) / width**2)
    return flux * image / image.sum()


def test_error_terms_of_a_known_profile():
    size, sigma = 33, 0.01
    central = _gaussian(size, 2.0, 16, 16, 2.0)[None]
    neighbour = _gaussian(size, 1.0, 19, 16, 2.0)[None]
    terms = error_terms(central + neighbour, central, sigma)
    # floor: sigma * F / sqrt(sum c^2); for a circular Gaussian sum p^2 = 1 / (4 pi w^2)
    np.testing.assert_allclose(terms.floor_uJy, sigma * np.sqrt(4 * np.pi * 2.0**2), rtol=1e-3)
    np.testing.assert_allclose(terms.flux_uJy, 2.0, rtol=1e-12)
    # the neighbour's amplitude in the central profile: F * sum(c n) / sum(c^2)
    expected = 2.0 * (central * neighbour).sum() / (central**2).sum()
    np.testing.assert_allclose(terms.contamination_uJy, expected, rtol=1e-12)
    assert 0.3 < terms.contamination_uJy[0] < 1.0  # overlapping: a good part of its flux
    far = _gaussian(size, 1.0, 30, 30, 2.0)[None]
    assert error_terms(central + far, central, sigma).contamination_uJy[0] < 1e-3
    # a deficit (the model took too much) is not contamination
    assert error_terms(central * 0.9, central, sigma).contamination_uJy[0] == 0.0


def test_error_terms_refuse_bad_input():
    stamp = np.zeros((2, 8, 8))
    with pytest.raises(ValueError, match=r"\(N, S, S\)"):
        error_terms(stamp, np.zeros((2, 9, 9)), 1.0)
    with pytest.raises(ValueError, match="> 0"):
        error_terms(stamp, stamp, np.array([1.0, 0.0]))
    empty = error_terms(stamp, stamp, 0.5)  # nothing predicted: the floor of one pixel
    np.testing.assert_array_equal(empty.floor_uJy, [0.5, 0.5])


def _synthetic_terms(rng: np.random.Generator, n: int) -> ErrorTerms:
    flux = 10 ** rng.uniform(-1, 2, n)  # uJy
    floor = 0.02 * flux**0.5 * rng.uniform(0.8, 1.2, n)
    contamination = rng.exponential(0.1, n) * flux
    return ErrorTerms(flux, floor, contamination)


def test_the_fit_recovers_the_coefficients_of_gaussian_residuals():
    rng = np.random.default_rng(5)
    terms = _synthetic_terms(rng, 20000)
    true = FluxErrorModel(0.03, 0.3, 1.5, 0.4, "neighbours=keep")
    truth = terms.flux_uJy + rng.normal(size=20000) * true.error_uJy(terms)
    fitted = fit_flux_error_model(truth, terms, "neighbours=keep", {"data": "synthetic"})
    for name in ("model_fraction", "noise_factor", "contamination_factor"):
        assert getattr(fitted, name) == pytest.approx(getattr(true, name), rel=0.1), name
    assert fitted.calibration["within_1_sigma"] == pytest.approx(0.683, abs=0.02)
    assert fitted.calibration["within_2_sigma"] == pytest.approx(0.954, abs=0.02)
    assert fitted.calibration["data"] == "synthetic"
    assert fitted.calibration["n"] == 20000


def test_the_fit_refuses_too_few_or_bad_values():
    terms = _synthetic_terms(np.random.default_rng(1), 50)
    with pytest.raises(ValueError, match="at least 100"):
        fit_flux_error_model(terms.flux_uJy, terms, "neighbours=keep")
    terms = _synthetic_terms(np.random.default_rng(1), 200)
    truth = terms.flux_uJy.copy()
    truth[3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        fit_flux_error_model(truth, terms, "neighbours=keep")


def test_models_are_stored_per_option_set(tmp_path):
    first = FluxErrorModel(0.03, 0.3, 1.5, 0.4, options_key("check", refine=True))
    second = FluxErrorModel(0.04, 0.2, 1.2, 0.5, options_key())
    write_flux_error_model(tmp_path, first)
    write_flux_error_model(tmp_path, second)
    assert read_flux_error_models(tmp_path) == {
        "neighbours=check,refine": first,
        "neighbours=keep": second,
    }
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_flux_error_model(tmp_path, FluxErrorModel(1, 1, 1, 1, "neighbours=keep"))
    write_flux_error_model(tmp_path, FluxErrorModel(1, 1, 1, 1, "neighbours=keep"), True)
    assert read_flux_error_models(tmp_path)["neighbours=keep"].model_fraction == 1
    assert not list(tmp_path.glob("*.tmp*"))
    (tmp_path / FLUX_ERRORS_NAME).write_text("{not json")
    with pytest.raises(ValueError, match="not a valid flux error file"):
        read_flux_error_models(tmp_path)
    assert options_key("subtract", symmetrize=True) == "neighbours=subtract,symmetrize"


def test_coverage_by_magnitude_counts_pulls():
    truth = np.array([10.0, 10.0, 10.0, 10.0])
    pred = np.array([10.5, 8.0, 10.0, 13.0])  # pulls -0.5, 2, 0, -3 with error 1
    table = coverage_by_magnitude(
        truth, pred, np.ones(4), np.array([20.0, 20.2, 21.0, 21.9]), np.array([20.0, 21.0, 22.0])
    )
    assert list(table["n"]) == [2, 2, 4]
    assert list(table["within_1_sigma"]) == [0.5, 0.5, 0.5]
    assert list(table["within_2_sigma"]) == [0.5, 0.5, 0.5]
    assert np.isnan(table["mag_lo"].iloc[-1])  # the "all" row


def test_calibrate_command_then_flux_with_error_and_evaluate(
    tmp_path, trained_deblender, blended_data, capsys, caplog
):
    from data_generation.tfrecords import read_numpy
    from debvader_euclid.evaluation.report import evaluate

    model = tmp_path / "deblender"
    shutil.copytree(trained_deblender, model)
    deblender = Deblender.load(model)
    data = read_numpy(blended_data, ["blend_noisy", "noise_sigma_uJy"], max_examples=8)
    stamps, sigma = data["blend_noisy"], data["noise_sigma_uJy"]
    with pytest.raises(ValueError, match="calibrate-errors"):
        deblender.flux_with_error(stamps, sigma)

    argv = ["calibrate-errors", "--model", str(model), "--data", str(blended_data)]
    assert main(argv) == 0
    assert "within 1 sigma_F" in capsys.readouterr().out
    stored = json.loads((model / FLUX_ERRORS_NAME).read_text())
    assert list(stored) == ["neighbours=keep"]
    assert stored["neighbours=keep"]["calibration"]["n"] == 320
    provenance = json.loads((model / "provenance.json").read_text())
    assert stored["neighbours=keep"]["calibration"]["weights_sha256"] == provenance["files"]
    assert main(argv) == 2  # the model for these options exists: refused
    assert "pass --overwrite" in caplog.text
    assert main([*argv, "--overwrite"]) == 0

    estimate = deblender.flux_with_error(stamps, sigma)
    np.testing.assert_allclose(estimate.flux_uJy, deblender.flux(stamps), rtol=1e-6)
    assert estimate.flux_error_uJy.shape == (8,)
    assert np.all(estimate.flux_error_uJy > 0)
    one = deblender.flux_with_error(stamps[0], float(sigma[0]))
    assert isinstance(one.flux_error_uJy, float)
    assert one.flux_error_uJy == pytest.approx(estimate.flux_error_uJy[0], rel=1e-5)
    with pytest.raises(ValueError, match="neighbours=check"):
        deblender.flux_with_error(stamps, sigma, neighbours="check")

    # the deblend command writes the same errors into its catalogue
    import pandas as pd

    np.save(tmp_path / "stamps.npy", stamps)
    level = float(sigma[0])
    deblend = ["deblend", "--model", str(model), "--stamps", str(tmp_path / "stamps.npy")]
    assert main([*deblend, "--out", str(tmp_path / "out"), "--noise-sigma", str(level)]) == 0
    catalogue = pd.read_csv(tmp_path / "out" / "catalogue.csv")
    expected = deblender.flux_with_error(stamps, level).flux_error_uJy
    np.testing.assert_allclose(catalogue["flux_error_uJy"], expected, rtol=1e-5)
    assert main([*deblend, "--out", str(tmp_path / "out2"), "--no-quality-flag"]) == 0
    assert "flux_error_uJy" not in pd.read_csv(tmp_path / "out2" / "catalogue.csv")

    result = evaluate(model, blended_data, tmp_path / "report", n_panels=0, run_sep=False)
    assert "flux_errors.csv" in result.files
    assert "flux_error_uJy" in result.predictions
    assert "## Flux errors" in (tmp_path / "report" / "report.md").read_text()
    coverage = result.files["flux_errors.csv"].read_text()
    assert "within_1_sigma" in coverage


def test_a_model_calibrated_with_other_weights_is_refused(
    tmp_path, trained_deblender, blended_data
):
    from data_generation.tfrecords import read_numpy
    from debvader_euclid.evaluation.report import evaluate

    model = tmp_path / "deblender"
    shutil.copytree(trained_deblender, model)
    deblender = Deblender.load(model)
    data = read_numpy(blended_data, ["blend_noisy", "noise_sigma_uJy"], max_examples=4)
    stamps, sigma = data["blend_noisy"], data["noise_sigma_uJy"]
    files = json.loads((model / "provenance.json").read_text())["files"]
    stale = {**files, "encoder.h5": "0" * 64}  # calibrated before a retraining
    write_flux_error_model(
        model, FluxErrorModel(0.02, 0.3, 1.2, 0.4, "neighbours=keep", {"weights_sha256": stale})
    )
    with pytest.raises(ValueError, match=r"other weights \(encoder\.h5 000000000000\.\.\. then"):
        deblender.flux_with_error(stamps, sigma)
    with pytest.raises(ValueError, match="--overwrite"):
        evaluate(model, blended_data, tmp_path / "report", n_panels=0, run_sep=False)

    # the same weights, or a model from before the weights were recorded: used
    for calibration in ({"weights_sha256": files}, {}):
        write_flux_error_model(
            model, FluxErrorModel(0.02, 0.3, 1.2, 0.4, "neighbours=keep", calibration), True
        )
        assert deblender.flux_with_error(stamps, sigma).flux_error_uJy.shape == (4,)
