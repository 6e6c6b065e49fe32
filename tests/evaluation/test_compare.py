"""``debvader-euclid compare``: the cross table of several evaluation reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from debvader_euclid.cli import main
from debvader_euclid.evaluation.compare import compare_reports
from debvader_euclid.evaluation.tables import flux_metrics_table


def fake_report(
    folder: Path,
    model: str,
    dataset: str,
    kind: str,
    seed: int,
    options: dict | None = None,
    instrument: dict | None = None,
    per_magnitude: pd.DataFrame | None = None,
) -> Path:
    """A report folder with the files `compare` reads, from known residuals."""
    rng = np.random.default_rng(seed)
    residuals = {
        ("ours", "stamp"): rng.normal(0.01, 0.1, 500),
        ("ours_central_detected", "stamp"): np.r_[rng.normal(0.0, 0.05, 490), np.full(10, np.nan)],
        ("sep_auto", "stamp"): np.r_[rng.normal(0.0, 0.3, 490), np.full(10, np.nan)],
        ("ours", "catalogue"): rng.normal(0.0, 0.5, 500),
    }
    folder.mkdir(parents=True)
    flux_metrics_table(residuals, dataset, kind).to_csv(folder / "metrics.csv", index=False)
    info = {
        "model": {"argument": f"trained_models/{model}/", **(options or {})},
        "format_version": 1,
    }
    if instrument is not None:
        info["data"] = {"instrument": instrument}
    (folder / "evaluation.json").write_text(json.dumps(info))
    if per_magnitude is not None:
        per_magnitude.to_csv(folder / "per_magnitude.csv", index=False)
    return folder


def test_cross_table_rows_and_values(tmp_path: Path) -> None:
    reports = [
        fake_report(tmp_path / f"{m}-on-{d}-{k}", m, d, k, seed=i)
        for i, (m, d, k) in enumerate(
            [("analytic", "realistic", "blended"), ("realistic", "analytic", "isolated")]
        )
    ]
    table = compare_reports(reports)
    assert list(table["kind"]) == ["blended", "isolated"]
    blended = table.iloc[0]
    assert blended["model"] == "analytic"
    assert blended["data"] == "realistic"
    assert blended["paper_std"] == pytest.approx(0.188)
    expected = np.random.default_rng(0).normal(0.01, 0.1, 500)
    assert blended["std"] == pytest.approx(np.std(expected), rel=1e-6)
    assert blended["sep_auto_n_failed"] == 10
    rng = np.random.default_rng(0)
    rng.normal(0.01, 0.1, 500)  # the residuals of "ours" come first
    detected = rng.normal(0.0, 0.05, 490)
    assert blended["std_central_detected"] == pytest.approx(np.std(detected), rel=1e-6)
    assert table.iloc[1]["paper_std"] == pytest.approx(0.0897)


def test_cli_writes_markdown_and_csv_and_refuses_to_overwrite(
    tmp_path: Path, capsys, caplog
) -> None:
    report = fake_report(tmp_path / "r", "analytic", "analytic", "blended", seed=1)
    out = tmp_path / "cross.md"
    assert main(["compare", str(report), "--out", str(out)]) == 0
    assert "| analytic | keep | analytic |  |  | blended |" in out.read_text()
    assert pd.read_csv(out.with_suffix(".csv"))["n"].tolist() == [500]
    assert "sigma_MAD" in capsys.readouterr().out
    assert main(["compare", str(report), "--out", str(out)]) != 0
    assert "pass --overwrite" in caplog.text
    assert main(["compare", str(tmp_path), "--out", str(tmp_path / "x.md")]) != 0
    assert "not an evaluation report" in caplog.text


def test_options_instrument_and_largest_bin_bias(tmp_path: Path) -> None:
    per_magnitude = pd.DataFrame(
        {
            "method": ["ours", "ours", "ours", "ours", "sep_auto"],
            "mag_lo": [18.0, 18.5, 24.5, 25.0, 18.5],
            "mag_hi": [18.5, 19.0, 25.0, 25.5, 19.0],
            "n": [3, 20, 400, 500, 20],
            "bias": [0.30, -0.021, 0.012, -0.05, 0.09],
        }
    )
    instrument = {"psf": "airy", "psf_fwhm_arcsec": 0.17, "noise_sigma_uJy": 0.0026416}
    options = {"neighbours": "check", "symmetrize": True, "refine": True}
    report = fake_report(
        tmp_path / "r", "analytic", "analytic", "blended", 2, options, instrument, per_magnitude
    )
    plain = fake_report(tmp_path / "plain", "analytic", "analytic", "blended", 3)
    table = compare_reports([report, plain]).set_index("report")
    row = table.loc[str(report)]
    assert row["options"] == "check + symmetrize + refine"
    assert row["psf"] == 'airy 0.17"'
    assert row["noise_sigma_uJy"] == pytest.approx(0.0026416)
    # VIS 18-18.5 holds too few galaxies, 25-25.5 is too faint, sep's rows are not ours
    assert row["largest_bin_bias"] == pytest.approx(-0.021)
    old = table.loc[str(plain)]
    assert old["options"] == "keep"
    told = fake_report(tmp_path / "told", "analytic", "analytic", "blended", 4, {"psf": "data"})
    assumed = fake_report(
        tmp_path / "assumed", "analytic", "analytic", "blended", 5, {"psf": "reference"}
    )
    options = compare_reports([told, assumed]).set_index("report")["options"]
    assert options[str(told)] == "keep + PSF given"
    assert options[str(assumed)] == "keep + reference PSF"
    assert old["psf"] == ""
    assert np.isnan(old["noise_sigma_uJy"])
    assert np.isnan(old["largest_bin_bias"])


def test_instrument_of_older_reports_comes_from_the_data_manifest(
    tmp_path: Path, blended_data: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    manifest = json.loads((blended_data / "manifest.json").read_text())
    manifest["config"] = {
        "generation": {"instrument": {"psf_model": "airy", "psf_fwhm_arcsec": 0.17}},
        "instrument_measured": {"psf_fwhm_arcsec": 0.17, "noise_sigma_uJy": 0.0026},
    }
    (data / "manifest.json").write_text(json.dumps(manifest))
    report = fake_report(tmp_path / "r", "analytic", "analytic", "blended", 4)
    info = json.loads((report / "evaluation.json").read_text())
    info["data"] = {"folder": str(data)}  # no "instrument": written before it existed
    (report / "evaluation.json").write_text(json.dumps(info))
    row = compare_reports([report]).iloc[0]
    assert row["noise_sigma_uJy"] == pytest.approx(0.0026)
    assert row["psf"] == 'airy 0.17"'
