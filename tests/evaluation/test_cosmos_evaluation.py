"""Evaluation and ``describe`` of COSMOS-based data sets, whose shape truth may be NaN.

COSMOS galaxies have no bulge-to-total ratio, radii, axis ratios, position angle or
redshift without GalSim's parametric fits, and no bulge fields when the fit is a
single Sersic (:mod:`data_generation.cosmos`): those truth fields are NaN. The
evaluation must not read them (its flux truth is always finite), and ``describe``
counts them on a line of its own.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from data_generation.config import GenerationConfig
from data_generation.describe import describe_dataset, nan_truth_counts
from data_generation.manifest import load_manifest
from data_generation.pipeline import generate_dataset
from data_generation.tfrecords import read_numpy
from debvader_euclid.cli import main
from debvader_euclid.evaluation.report import evaluate
from tests.cosmos_files import write_cosmos_sample

NAN_LINE = "truth not provided by the galaxy source (NaN, in no statistic above): "
#: Fields NaN for every galaxy of a sample without the parametric-fit file.
SHAPE_TRUTH = ("redshift", "bt_flux", "disk_hlr_arcsec", "bulge_hlr_arcsec", "disk_q", "bulge_q",
               "angle_deg")  # fmt: skip


def cosmos_dataset(folder, kind, with_fits):
    """20 COSMOS-based 32x32 stamps of ``kind`` from the 6-galaxy test sample."""
    catalogue = write_cosmos_sample(folder / "cosmos", with_fits=with_fits)
    config = GenerationConfig(
        kind=kind,
        n_stamps=20,
        seed=5,
        stamp_size=32,
        morphology="realistic",
        cosmos_catalogue=str(catalogue),
        central_mag_range=(19.0, 21.2),
        neighbour_mag_range=(20.0, 23.0),
        annulus_arcsec=(0.5, 1.2),
    )
    generate_dataset(config, folder / "data", workers=1, progress=False)
    return folder / "data"


@pytest.mark.parametrize(("kind", "with_fits"), [("isolated", True), ("blended", False)])
def test_cosmos_data_set_evaluates_with_nan_truth(kind, with_fits, request, tmp_path, capsys):
    data = cosmos_dataset(tmp_path, kind, with_fits)
    truth = read_numpy(data)
    roles = ("central",) if kind == "isolated" else ("central", "neighbour")
    if with_fits:  # single-Sersic fits (odd rows) have no bulge
        assert np.isnan(truth["central_bt_flux"]).any()
        assert not np.isnan(truth["central_bt_flux"]).all()
    else:
        for role in roles:
            for name in SHAPE_TRUTH:
                assert np.isnan(truth[f"{role}_{name}"]).all(), name

    model = request.getfixturevalue("trained_vae" if kind == "isolated" else "trained_deblender")
    result = evaluate(str(model), data, tmp_path / "report", run_sep=True, n_panels=2)

    ours = result.metrics[result.metrics["method"] == "ours"]
    assert len(ours) == 2  # stamp and catalogue flux
    for column in ("std", "bias", "mean", "sigma_mad", "fraction_catastrophic"):
        assert np.isfinite(ours[column]).all(), column
    assert (ours["n"] == 20).all()
    assert (ours["n_failed"] == 0).all()
    flux_columns = ["flux_true_uJy", "flux_catalogue_uJy", "flux_pred_uJy", "residual",
                    "residual_catalogue", "noise_floor", "mag_true"]  # fmt: skip
    if kind == "blended":
        flux_columns += ["blendedness", "neighbour_distance_arcsec", "neighbour_mag"]
    assert np.isfinite(result.predictions[flux_columns].to_numpy()).all()
    expected = {"panels.png", "residuals.png", "morphology.png", "report.md", "metrics.csv"}
    if kind == "blended":
        expected |= {"blending.png", "blending.csv"}
    assert expected <= set(result.files)
    report = (result.out / "report.md").read_text()
    assert "Our standard deviation of the residuals is " in report
    our_line = next(line for line in report.splitlines() if line.startswith("Our standard"))
    assert "n/a" not in our_line

    main(["describe", "--data", str(data)])
    lines = capsys.readouterr().out.splitlines()
    assert any("HST COSMOS galaxies" in line for line in lines)
    nan_lines = [line for line in lines if line.startswith(NAN_LINE)]
    assert len(nan_lines) == 1
    parts = [part.split(" ") for part in nan_lines[0][len(NAN_LINE) :].split(", ")]
    assert all(of == "of" and total == "20" for _, _, of, total in parts)
    counts = {name: int(count) for name, count, _, _ in parts}
    for name, count in counts.items():
        assert count == int(np.isnan(truth[name]).sum()), name
    scalars = {name: values for name, values in truth.items() if values.ndim == 1}
    assert set(counts) == {name for name, v in scalars.items() if np.isnan(v).any()}
    if not with_fits:
        assert counts["central_redshift"] == 20


def test_describe_has_no_nan_line_when_all_truth_is_finite(blended_data):
    lines = describe_dataset(blended_data)
    assert not any(line.startswith(NAN_LINE) for line in lines)
    digest = load_manifest(blended_data).content_sha256()
    assert any(line.startswith(f"content SHA-256 {digest}") for line in lines)


def test_nan_truth_counts():
    counts = nan_truth_counts(
        {
            "a": np.array([1.0, math.nan, math.nan]),
            "b": np.array([0.5, 1.0, 2.0]),
            "c": np.array([math.nan, 0.0, 0.0], dtype=np.float32),
        }
    )
    assert counts == {"a": 2, "c": 1}
    assert nan_truth_counts({}) == {}
