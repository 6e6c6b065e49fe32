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


def fake_report(folder: Path, model: str, dataset: str, kind: str, seed: int) -> Path:
    """A report folder with the two files `compare` reads, from known residuals."""
    rng = np.random.default_rng(seed)
    residuals = {
        ("ours", "stamp"): rng.normal(0.01, 0.1, 500),
        ("ours_central_detected", "stamp"): np.r_[rng.normal(0.0, 0.05, 490), np.full(10, np.nan)],
        ("sep_auto", "stamp"): np.r_[rng.normal(0.0, 0.3, 490), np.full(10, np.nan)],
        ("ours", "catalogue"): rng.normal(0.0, 0.5, 500),
    }
    folder.mkdir(parents=True)
    flux_metrics_table(residuals, dataset, kind).to_csv(folder / "metrics.csv", index=False)
    info = {"model": {"argument": f"trained_models/{model}/"}, "format_version": 1}
    (folder / "evaluation.json").write_text(json.dumps(info))
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
    assert "| analytic | analytic | blended |" in out.read_text()
    assert pd.read_csv(out.with_suffix(".csv"))["n"].tolist() == [500]
    assert "sigma_MAD" in capsys.readouterr().out
    assert main(["compare", str(report), "--out", str(out)]) != 0
    assert "pass --overwrite" in caplog.text
    assert main(["compare", str(tmp_path), "--out", str(tmp_path / "x.md")]) != 0
    assert "not an evaluation report" in caplog.text
