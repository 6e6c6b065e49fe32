"""``debvader-euclid evaluate``: the report built end to end on the tiny data sets.

The tiny fixtures (``tests/conftest.py``) are 32x32 synthetic exponential galaxies
and networks trained for 3 epochs: the numbers are poor, but every file must be
written and every table must agree with :mod:`debvader_euclid.metrics` recomputed
from ``predictions.csv``.
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pandas as pd
import pytest

from data_generation.io_utils import sha256_file
from data_generation.manifest import (
    Manifest,
    ShardRecord,
    load_manifest,
    manifest_sha256,
    save_manifest,
)
from data_generation.schema import SCHEMA_VERSION
from debvader_euclid.cli import main
from debvader_euclid.deblender import resolve_stage_folder
from debvader_euclid.evaluation.predictors import load_predictor
from debvader_euclid.evaluation.report import REPORT_FILES, evaluate, panel_indices
from debvader_euclid.evaluation.tables import (
    distance_edges,
    flux_metrics_table,
    markdown_table,
    table1_markdown,
)
from debvader_euclid.metrics import (
    PAPER_TABLE1,
    noise_floor_fractional,
    normalised_flux_residual,
    per_magnitude_bins,
    summary_statistics,
)
from debvader_euclid.plotting import percent_error_map

BLEND_ONLY = {"blending.csv", "blending.png"}
FLUX_ERROR_FILES = {"flux_errors.csv", "flux_errors.md"}
STAT_COLUMNS = {  # metrics.csv column -> summary_statistics key
    "std": "std",
    "bias": "median",
    "mean": "mean",
    "sigma_mad": "sigma_mad",
    "fraction_catastrophic": "fraction_catastrophic",
    "n": "n",
    "n_failed": "n_nonfinite",
}
RESIDUAL_OF = {  # (method, flux_true) -> (F_true column, F_pred column) of predictions.csv
    ("ours", "stamp"): ("flux_true_uJy", "flux_pred_uJy"),
    ("ours_central_detected", "stamp"): ("flux_true_uJy", "flux_pred_uJy"),
    ("sep_auto", "stamp"): ("flux_true_uJy", "sep_flux_auto_uJy"),
    ("sep_iso", "stamp"): ("flux_true_uJy", "sep_flux_iso_uJy"),
    ("ours", "catalogue"): ("flux_catalogue_uJy", "flux_pred_uJy"),
    ("ours_central_detected", "catalogue"): ("flux_catalogue_uJy", "flux_pred_uJy"),
    ("sep_auto", "catalogue"): ("flux_catalogue_uJy", "sep_flux_auto_uJy"),
    ("sep_iso", "catalogue"): ("flux_catalogue_uJy", "sep_flux_iso_uJy"),
}


def read_csv(path) -> pd.DataFrame:
    return pd.read_csv(path, float_precision="round_trip")


def check_metrics_against_predictions(out, dataset: str, kind: str, with_sep: bool) -> None:
    """metrics.csv and per_magnitude.csv recomputed from predictions.csv."""
    metrics = read_csv(out / "metrics.csv")
    predictions = read_csv(out / "predictions.csv")
    keys = [k for k in RESIDUAL_OF if with_sep or k[0] == "ours"]
    assert list(zip(metrics["method"], metrics["flux_true"], strict=True)) == keys
    assert (metrics["dataset"] == dataset).all()
    assert (metrics["kind"] == kind).all()
    np.testing.assert_allclose(metrics["paper_std"], PAPER_TABLE1[(dataset, kind)])
    for row in metrics.itertuples(index=False):
        true_col, pred_col = RESIDUAL_OF[(row.method, row.flux_true)]
        r = normalised_flux_residual(predictions[true_col], predictions[pred_col])
        if row.method == "ours_central_detected":  # ours, like for like with sep
            r = np.where(predictions["sep_detected"], r, np.nan)
        stats = summary_statistics(r)
        for column, key in STAT_COLUMNS.items():
            assert getattr(row, column) == pytest.approx(stats[key], rel=1e-12, abs=1e-15), (
                row.method,
                row.flux_true,
                column,
            )
        assert row.n_total == len(predictions)
        assert row.ratio_to_paper == pytest.approx(row.std / row.paper_std)
    np.testing.assert_allclose(
        predictions["residual"],
        normalised_flux_residual(predictions["flux_true_uJy"], predictions["flux_pred_uJy"]),
    )
    if with_sep:  # detection failures are counted, not dropped
        sep_auto = metrics[(metrics["method"] == "sep_auto") & (metrics["flux_true"] == "stamp")]
        assert int(sep_auto["n_failed"].iloc[0]) == int((~predictions["sep_detected"]).sum())
        matched = metrics[metrics["method"] == "ours_central_detected"]
        assert (matched["n"] == int(predictions["sep_detected"].sum())).all()

    per_mag = read_csv(out / "per_magnitude.csv")
    ours = per_mag[per_mag["method"] == "ours"].drop(columns="method").reset_index(drop=True)
    expected = per_magnitude_bins(
        predictions["mag_true"], predictions["residual"], noise_floor=predictions["noise_floor"]
    )
    pd.testing.assert_frame_equal(ours, expected, check_dtype=False, rtol=1e-12)


# --------------------------------------------------------------------------- end to end


def test_blended_report_end_to_end(trained_deblender, blended_data, tmp_path):
    from data_generation.tfrecords import read_numpy
    from debvader_euclid.deblender import Deblender

    out = tmp_path / "report"
    result = evaluate(str(trained_deblender), blended_data, out, max_examples=120, n_panels=3)

    # flux_errors.*: only for a deblender with a calibrated error model (test_flux_errors.py)
    written = sorted(set(REPORT_FILES) - FLUX_ERROR_FILES)
    assert sorted(p.name for p in out.iterdir()) == written
    assert all((out / name).stat().st_size > 0 for name in written)
    assert result.stage == "deblender"
    assert result.kind == "blended"
    check_metrics_against_predictions(out, "analytic", "blended", with_sep=True)
    n_detected = int(read_csv(out / "predictions.csv")["sep_detected"].sum())
    report = (out / "report.md").read_text()
    assert f"ours on the same {n_detected} stamps: std" in report
    table = read_csv(out / "predictions.csv")
    worst = (table["residual"].abs() > 1) & ~table["sep_detected"]
    bad = int((table["residual"].abs() > 1).sum())
    assert f"The flagged stamps hold {int(worst.sum())} of the {bad} with |r| > 1 and" in report
    assert f"(n = {n_detected})" in (out / "metrics.md").read_text()
    bins = read_csv(out / "per_magnitude.csv")
    bins = bins[(bins["method"] == "ours") & (bins["mag_hi"] <= 25.0) & (bins["n"] >= 5)]
    largest = bins.loc[bins["bias"].abs().idxmax()]  # the tiny set fills such bins
    expected_error = np.sqrt(np.pi / 2) * largest["sigma_mad"] / np.sqrt(largest["n"])
    assert largest["bias_err"] == pytest.approx(expected_error)
    assert (
        f"{100 * largest['bias']:+.2f}% ± {100 * expected_error:.2f}% (its standard error, "
        f"`bias_err`) in {largest['mag_lo']:.1f}-{largest['mag_hi']:.1f} mag "
        f"(n = {int(largest['n'])})." in report
    )

    # The predictions are the deblender's on blend_noisy; the floor is the stamp floor.
    data = read_numpy(blended_data, max_examples=120)
    predictions = read_csv(out / "predictions.csv")
    flux = Deblender.load(trained_deblender).flux(data["blend_noisy"][:8])
    np.testing.assert_allclose(predictions["flux_pred_uJy"][:8], flux, rtol=1e-5)
    np.testing.assert_allclose(
        predictions["noise_floor"],
        noise_floor_fractional(data["central_noiseless"], data["noise_sigma_uJy"]),
    )
    np.testing.assert_array_equal(predictions["central_id"], data["central_id"])
    for column in ("blendedness", "neighbour_distance_arcsec", "e1_pred", "hlr_true_arcsec"):
        assert column in predictions

    blending = read_csv(out / "blending.csv")
    assert set(blending["variable"]) == {
        "blendedness",
        "neighbour_distance_arcsec",
        "neighbour_contrast_mag",
    }
    contrast = blending[(blending["variable"] == "neighbour_contrast_mag")]
    in_bin = (predictions["neighbour_mag"] - predictions["mag_true"] < -1.0) & (
        predictions["neighbour_mag"] - predictions["mag_true"] >= -3.0
    )
    row = contrast[(contrast["method"] == "ours") & (contrast["lo"] == -3.0)].iloc[0]
    assert row["n"] == in_bin.sum()
    assert row["bias"] == pytest.approx(np.median(predictions["residual"][in_bin]))
    # every pair falls in a contrast bin
    assert contrast[contrast["method"] == "ours"]["n"].sum() == len(predictions)
    assert set(blending["method"]) == {"ours", "sep_auto", "sep_iso"}
    morphology = read_csv(out / "morphology.csv")
    assert list(morphology["quantity"]) == ["e1", "e2", "|e|", "hlr"]

    info = json.loads((out / "evaluation.json").read_text())
    assert info["data"]["manifest_sha256"] == manifest_sha256(blended_data)
    assert info["data"]["content_sha256"] == load_manifest(blended_data).content_sha256()
    assert info["data"]["n_examples_evaluated"] == 120
    assert info["data"]["used_in_training"] is True  # the fixture trained on this set
    assert info["data"]["shards_seen_in_training"] == [0, 1, 2, 3]  # 0-2 train, 3 validates
    assert info["data"]["instrument"] == load_manifest(blended_data).instrument_summary()
    assert info["model"]["stage"] == "deblender"
    assert info["model"]["folder"] == str(trained_deblender.resolve())
    assert info["files"] == written
    assert {"numpy", "tensorflow", "sep", "galsim"} <= set(info["software"])

    report = (out / "report.md").read_text()
    ours = result.metrics.iloc[0]
    assert f"{100 * ours['std']:.2f}%" in report  # generated numbers, not hard-coded
    assert "8.97%" not in report
    assert "9.93%" in report
    for figure in ("panels.png", "residuals.png", "morphology.png", "blending.png"):
        assert f"]({figure})" in report
    assert "Warning: the model was trained or validated on 4 of the evaluated shards" in report
    assert "| paper (VAE) |" in (out / "metrics.md").read_text()


def test_isolated_report_through_the_cli(trained_vae, isolated_data, tmp_path, capsys, caplog):
    from data_generation.tfrecords import read_numpy
    from debvader_euclid.training.artifacts import load_stage

    out = tmp_path / "isolated"
    args = ["evaluate", "--model", str(trained_vae), "--data", str(isolated_data)]
    args += ["--out", str(out), "--max-examples", "80", "--panels", "2"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "paper (VAE)" in printed
    assert "8.97%" in printed

    assert sorted(p.name for p in out.iterdir()) == sorted(
        set(REPORT_FILES) - BLEND_ONLY - FLUX_ERROR_FILES
    )
    check_metrics_against_predictions(out, "analytic", "isolated", with_sep=True)
    predictions = read_csv(out / "predictions.csv")
    data = read_numpy(isolated_data, fields=["central_noisy"], max_examples=80)
    networks, _ = load_stage(trained_vae, expected_stage="vae")
    flux = networks.predict(data["central_noisy"][:8]).sum(axis=(1, 2), dtype=np.float64)
    np.testing.assert_allclose(predictions["flux_pred_uJy"][:8], flux, rtol=1e-5)
    assert "blendedness" not in predictions
    info = json.loads((out / "evaluation.json").read_text())
    assert info["command_line"][:2] == ["debvader-euclid", "evaluate"]
    assert info["model"]["stage"] == "vae"

    # An existing report is refused without --overwrite (exit status 2, clear message).
    (out / "notes.txt").write_text("mine")
    with caplog.at_level(logging.ERROR):
        assert main(args) == 2
    assert "--overwrite" in caplog.text

    # --overwrite replaces the report's files only; files it no longer writes go.
    before = (out / "metrics.csv").stat().st_mtime_ns
    rerun = ["evaluate", "--model", str(trained_vae), "--data", str(isolated_data)]
    rerun += ["--out", str(out), "--max-examples", "40", "--panels", "0", "--no-sep"]
    assert main([*rerun, "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "panels.png").exists()
    assert (out / "metrics.csv").stat().st_mtime_ns >= before
    metrics = read_csv(out / "metrics.csv")
    assert set(metrics["method"]) == {"ours"}
    assert (metrics["n_total"] == 40).all()
    check_metrics_against_predictions(out, "analytic", "isolated", with_sep=False)


def test_shards_and_neighbour_check_through_the_cli(
    trained_deblender, trained_vae, blended_data, isolated_data, tmp_path, caplog
):
    from data_generation.tfrecords import read_numpy
    from debvader_euclid.deblender import Deblender

    out = tmp_path / "check"
    args = ["evaluate", "--model", str(trained_deblender), "--data", str(blended_data)]
    args += ["--out", str(out), "--shards", "3", "--panels", "0", "--no-sep"]
    assert main([*args, "--neighbours", "check"]) == 0
    info = json.loads((out / "evaluation.json").read_text())
    assert info["config"]["shards"] == [3]
    assert info["model"]["neighbours"] == "check"
    assert info["command_line"][-2:] == ["--neighbours", "check"]
    assert "neighbours checked" in (out / "report.md").read_text()
    data = read_numpy(blended_data, fields=["blend_noisy", "noise_sigma_uJy"], shards=[3])
    expected = Deblender.load(trained_deblender).flux(
        data["blend_noisy"], neighbours="check", noise_sigma_uJy=data["noise_sigma_uJy"]
    )
    predictions = read_csv(out / "predictions.csv")
    assert len(predictions) == 80
    np.testing.assert_allclose(predictions["flux_pred_uJy"], expected, rtol=1e-5)

    isolated = ["evaluate", "--model", str(trained_vae), "--data", str(isolated_data)]
    isolated += ["--out", str(tmp_path / "iso"), "--neighbours", "check", "--no-sep"]
    with caplog.at_level(logging.ERROR):
        assert main(isolated) == 2
    assert "applies to blended data sets only" in caplog.text


def test_refine_through_the_cli(
    trained_deblender, trained_vae, blended_data, isolated_data, tmp_path, caplog
):
    from data_generation.tfrecords import read_numpy
    from debvader_euclid.deblender import Deblender

    out = tmp_path / "refine"
    args = ["evaluate", "--model", str(trained_deblender), "--data", str(blended_data)]
    args += ["--out", str(out), "--shards", "3", "--panels", "0", "--no-sep", "--refine"]
    assert main(args) == 0
    info = json.loads((out / "evaluation.json").read_text())
    assert info["model"]["refine"] is True
    assert info["command_line"][-1] == "--refine"
    assert "refined: combined with the data" in (out / "report.md").read_text()
    data = read_numpy(blended_data, fields=["blend_noisy", "noise_sigma_uJy"], shards=[3])
    expected = Deblender.load(trained_deblender).flux(
        data["blend_noisy"], refine=True, noise_sigma_uJy=data["noise_sigma_uJy"]
    )
    predictions = read_csv(out / "predictions.csv")
    np.testing.assert_allclose(predictions["flux_pred_uJy"], expected, rtol=1e-5)
    pixel_errors = read_csv(out / "pixel_errors.csv")
    assert pixel_errors["n_pixels"].sum() > 0
    assert info["model_pixel_error"]["rms_above_min_snr"] > 0
    assert info["model"]["noise_sigma_estimated_uJy"] is None

    estimated = tmp_path / "estimated"
    argv = [a if a != str(out) else str(estimated) for a in args] + ["--estimate-noise"]
    assert main(argv) == 0
    info = json.loads((estimated / "evaluation.json").read_text())
    sigma_true = float(np.median(data["noise_sigma_uJy"]))
    assert info["model"]["noise_sigma_estimated_uJy"] == pytest.approx(sigma_true, rel=0.1)
    assert "noise level estimated from the stamps" in (estimated / "report.md").read_text()
    with caplog.at_level(logging.ERROR):
        assert main([*args[:-1], "--out", str(tmp_path / "x"), "--estimate-noise"]) == 2
    assert "use it with neighbours 'check' or 'subtract', or with refine" in caplog.text

    isolated = ["evaluate", "--model", str(trained_vae), "--data", str(isolated_data)]
    isolated += ["--out", str(tmp_path / "iso"), "--refine", "--no-sep"]
    with caplog.at_level(logging.ERROR):
        assert main(isolated) == 2
    assert "refine applies to blended data sets only" in caplog.text


def test_ensemble_through_the_cli(
    trained_deblender, trained_vae, blended_data, tmp_path, tiny_config, caplog
):
    from data_generation.tfrecords import read_numpy
    from debvader_euclid.deblender import Deblender
    from debvader_euclid.evaluation.compare import compare_reports
    from debvader_euclid.training import train_deblender

    other = tmp_path / "other"
    config = tiny_config(epochs=1, seed=5)
    assert train_deblender(trained_vae, blended_data, other, config=config, verbose=0).status
    out = tmp_path / "ensemble"
    args = ["evaluate", "--model", str(trained_deblender), "--ensemble-with", str(other)]
    args += ["--data", str(blended_data), "--out", str(out), "--shards", "3", "--panels", "0"]
    assert main([*args, "--no-sep", "--neighbours", "check"]) == 0
    data = read_numpy(blended_data, fields=["blend_noisy", "noise_sigma_uJy"], shards=[3])
    fluxes = [
        Deblender.load(m).flux(
            data["blend_noisy"], neighbours="check", noise_sigma_uJy=data["noise_sigma_uJy"]
        )
        for m in (trained_deblender, other)
    ]
    predictions = read_csv(out / "predictions.csv")
    np.testing.assert_allclose(predictions["flux_pred_uJy"], np.mean(fluxes, axis=0), rtol=1e-5)
    assert not np.allclose(fluxes[0], fluxes[1], rtol=1e-3)  # two different networks
    info = json.loads((out / "evaluation.json").read_text())
    assert info["command_line"][4:6] == ["--ensemble-with", str(other)]
    assert [m["folder"] for m in info["model"]["ensemble_members"]] == [
        str(trained_deblender.resolve()),
        str(other.resolve()),
    ]
    assert not (out / "flux_errors.csv").exists()
    assert compare_reports([out])["model"].iloc[0] == f"{trained_deblender.name} + other"
    with caplog.at_level(logging.ERROR):
        bad = [a if a != str(other) else str(trained_vae) for a in args]
        assert main([*bad, "--out", str(tmp_path / "x"), "--no-sep"]) == 2
    assert "holds a trained 'vae' stage" in caplog.text


@pytest.mark.parametrize(
    ("text", "expected"), [("3", (3,)), ("67-69", (67, 68, 69)), ("5,0-1,5", (0, 1, 5))]
)
def test_shard_list(text, expected):
    from debvader_euclid.evaluation.command import shard_list

    assert shard_list(text) == expected


@pytest.mark.parametrize("text", ["", "a", "4-2", "-1", "1,,2"])
def test_shard_list_refuses_bad_text(text):
    import argparse

    from debvader_euclid.evaluation.command import shard_list

    with pytest.raises(argparse.ArgumentTypeError, match="such as 67-74"):
        shard_list(text)


# --------------------------------------------------------------------------- bad input


def test_existing_report_folder_is_refused_first(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "something").write_text("x")
    with pytest.raises(FileExistsError, match="--overwrite"):
        evaluate("analytic", tmp_path / "no-data", out)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="not a folder"):
        evaluate("analytic", tmp_path / "no-data", tmp_path / "file")


def test_data_set_without_truth_is_refused(tmp_path):
    import tensorflow as tf

    folder = tmp_path / "no-truth"
    folder.mkdir()
    shard = folder / "shard-00000-of-00001.tfrecord"
    image = np.zeros((32, 32), dtype="<f4").tobytes()
    feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[image]))
    example = tf.train.Example(
        features=tf.train.Features(feature={"central_noisy": feature, "central_noiseless": feature})
    )
    with tf.io.TFRecordWriter(str(shard)) as writer:
        writer.write(example.SerializeToString())
    record = ShardRecord(
        file=shard.name,
        index=0,
        n_examples=1,
        sha256=sha256_file(shard),
        seed=0,
        n_bytes=shard.stat().st_size,
    )
    save_manifest(
        folder,
        Manifest(
            kind="isolated",
            schema_version=SCHEMA_VERSION,
            stamp_size=32,
            seed=0,
            config={},
            shards=[record],
        ),
    )
    with pytest.raises(ValueError, match="central_mag_vis") as info:
        evaluate("analytic", folder, tmp_path / "report")
    assert "central_stamp_flux_uJy" in str(info.value)
    assert not (tmp_path / "report").exists()


def test_stamp_size_mismatch_names_both_sizes(trained_deblender, write_dataset, tmp_path):
    small = write_dataset(tmp_path / "small", "blended", 4, 1, size=16, seed=5)
    with pytest.raises(ValueError, match=r"32x32.*16x16"):
        evaluate(trained_deblender, small, tmp_path / "report")
    assert not (tmp_path / "report").exists()


def test_model_resolution_errors(
    trained_vae, trained_deblender, blended_data, isolated_data, tmp_path
):
    out = tmp_path / "report"
    with pytest.raises(ValueError, match="unknown model 'no-such-model'"):
        evaluate("no-such-model", blended_data, out)
    with pytest.raises(ValueError, match="unknown model 'no-such-model'"):
        evaluate("no-such-model", isolated_data, out)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        evaluate(tmp_path / "missing" / "model", blended_data, out)
    with pytest.raises(ValueError, match="'vae' stage.*'deblender' stage"):
        evaluate(trained_vae, blended_data, out)
    with pytest.raises(ValueError, match="'deblender' stage.*'vae' stage"):
        evaluate(trained_deblender, isolated_data, out)
    assert not out.exists()

    # A model folder holding only vae/: fine for isolated sets, clear error for blends.
    model = tmp_path / "model"
    model.mkdir()
    os.symlink(trained_vae, model / "vae")
    assert resolve_stage_folder(model, "vae") == model / "vae"
    with pytest.raises(ValueError, match="no trained deblender"):
        load_predictor(model, "blended")
    with pytest.raises(ValueError, match="no trained VAE"):
        resolve_stage_folder(tmp_path, "vae")


# --------------------------------------------------------------------------- helpers


def test_percent_error_map_known_values():
    truth = np.array([[1.0, 0.5], [0.001, 2.0]])
    pred = np.array([[1.1, 0.25], [5.0, 2.0]])
    pct = percent_error_map(truth, pred, min_truth_uJy=0.01)
    np.testing.assert_allclose(pct.compressed(), [10.0, -50.0, 0.0])
    assert pct.mask.tolist() == [[False, False], [True, False]]


def test_panel_indices_spread_in_magnitude():
    mag = np.array([24.0, 19.0, 22.0, 25.0, 20.0])
    assert panel_indices(mag, 3) == [1, 2, 3]  # brightest, median, faintest
    assert panel_indices(mag, 10) == [1, 4, 2, 0, 3]
    assert panel_indices(mag, 0) == []


def test_tables_on_hand_made_residuals():
    ours = np.array([0.1, -0.1, 0.1, -0.1])
    sep = np.array([0.2, np.nan, 0.6, 0.2])
    table = flux_metrics_table(
        {("ours", "stamp"): ours, ("sep_auto", "stamp"): sep}, "analytic", "blended"
    )
    assert table["std"].tolist() == pytest.approx([0.1, np.std([0.2, 0.6, 0.2])])
    assert table["n_failed"].tolist() == [0, 1]
    assert table["n_total"].tolist() == [4, 4]
    assert table["fraction_catastrophic"].tolist() == pytest.approx([0.0, 1 / 3])
    assert table["ratio_to_paper"].iloc[0] == pytest.approx(0.1 / 0.0993)
    text = table1_markdown(table)
    assert "| analytic | blended | stamp | 9.93% | 10.00% |" in text
    assert "(1 failed)" in text
    isolated = flux_metrics_table({("ours", "stamp"): ours * 0.5}, "analytic", "isolated")
    both = table1_markdown(pd.concat([isolated, table], ignore_index=True))
    assert "| analytic | isolated | stamp | 8.97% | 5.00% |" in both
    assert "| analytic | blended | stamp | 9.93% | 10.00% |" in both

    md = markdown_table(pd.DataFrame({"a": [1, 2], "b": [0.5, np.nan], "c": ["x|y", "z"]}))
    assert md.splitlines() == [
        "| a | b | c |",
        "|---|---|---|",
        "| 1 | 0.5 | x\\|y |",
        "| 2 | n/a | z |",
    ]

    np.testing.assert_allclose(
        distance_edges(np.array([0.31, 1.55])), [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6]
    )
