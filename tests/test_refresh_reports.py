"""reports/refresh_reports.py: which reports a replaced shipped model made."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

_PATH = Path(__file__).resolve().parent.parent / "reports" / "refresh_reports.py"
_SPEC = importlib.util.spec_from_file_location("refresh_reports", _PATH)
refresh_reports = importlib.util.module_from_spec(_SPEC)
sys.modules["refresh_reports"] = refresh_reports  # dataclasses look their module up
_SPEC.loader.exec_module(refresh_reports)

OLD = {"deblender/encoder.h5": "e-old", "deblender/decoder.h5": "d", "vae/encoder.h5": "v"}
OLD["vae/decoder.h5"] = "d"
NEW = dict(OLD, **{"deblender/encoder.h5": "e-new"})


def _report(root: Path, name: str, folder: str, weights: dict, data: str = "data/test") -> None:
    out = root / name
    out.mkdir(parents=True)
    record = {
        "command_line": ["debvader-euclid", "evaluate", "--model", "analytic", "--data", data],
        "model": {"folder": folder, "weights_sha256": weights},
        "data": {"content_sha256": "abc"},
    }
    (out / "evaluation.json").write_text(json.dumps(record))


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "repo" / "trained_models" / "analytic"
    folder.mkdir(parents=True)
    return folder


def test_only_reports_of_the_replaced_stage_weights_are_stale(tmp_path, model_dir):
    reports = tmp_path / "reports"
    shipped = "/anywhere/trained_models/analytic"
    _report(reports, "blended", f"{shipped}/deblender", {"encoder.h5": "e-old", "decoder.h5": "d"})
    _report(reports, "older", f"{shipped}/deblender", {"encoder.h5": "e-older", "decoder.h5": "d"})
    _report(reports, "isolated", f"{shipped}/vae", {"encoder.h5": "v", "decoder.h5": "d"})
    _report(
        reports, "run", "/x/runs/analytic/deblender", {"encoder.h5": "e-old", "decoder.h5": "d"}
    )
    _report(reports, "other", "/x/trained_models/realistic/deblender", {"encoder.h5": "e-old"})

    stale = refresh_reports.find_stale_reports(reports, model_dir, OLD, NEW)

    assert [report.folder.name for report in stale] == ["blended"]
    assert stale[0].command_line[-1] == "--overwrite"
    assert stale[0].data_folder == Path("data/test")
    assert stale[0].data_content_sha256 == "abc"


def test_nothing_is_stale_when_the_weights_did_not_change(tmp_path, model_dir):
    reports = tmp_path / "reports"
    _report(
        reports,
        "blended",
        "/a/trained_models/analytic/deblender",
        {"encoder.h5": "e-old", "decoder.h5": "d"},
    )
    assert refresh_reports.find_stale_reports(reports, model_dir, OLD, OLD) == []


def test_parse_sha256sums_drops_the_leading_dot():
    text = "aa  ./deblender/encoder.h5\nbb  ./vae/config.json\n\n"
    assert refresh_reports.parse_sha256sums(text) == {
        "deblender/encoder.h5": "aa",
        "vae/config.json": "bb",
    }


def _metrics_and_predictions(folder: Path, residuals, metrics_residuals=None) -> None:
    """A report folder whose metrics.csv ``ours`` row holds the std and count of
    ``metrics_residuals`` (default: the same residuals as predictions.csv)."""
    folder.mkdir(parents=True)
    residuals = np.asarray(residuals, dtype=float)
    source = residuals if metrics_residuals is None else np.asarray(metrics_residuals, float)
    finite = source[np.isfinite(source)]
    rows = [
        {"method": "ours", "flux_true": "stamp", "std": np.std(finite), "n": finite.size},
        {"method": "ours", "flux_true": "catalogue", "std": 9.0, "n": 1},
    ]
    pd.DataFrame(rows).to_csv(folder / "metrics.csv", index=False)
    pd.DataFrame({"index": range(residuals.size), "residual": residuals}).to_csv(
        folder / "predictions.csv", index=False
    )


def test_predictions_of_another_model_are_found_and_only_they_are_deleted(tmp_path):
    reports = tmp_path / "reports"
    rng = np.random.default_rng(3)
    residuals = rng.normal(0.0, 0.12, 500)
    _metrics_and_predictions(reports / "agrees", residuals)
    _metrics_and_predictions(reports / "with-nan", [*residuals, float("nan")])
    other = residuals.copy()
    other[7] += 1e-4  # one galaxy predicted differently: the std moves by ~1e-7 (relative)
    _metrics_and_predictions(reports / "other-model", other, metrics_residuals=residuals)
    _metrics_and_predictions(reports / "other-count", residuals[:-1], metrics_residuals=residuals)

    stale = refresh_reports.find_stale_predictions(reports)

    assert [folder.name for folder, _ in stale] == ["other-count", "other-model"]
    assert "499 finite residuals, metrics.csv counts 500" in stale[0][1]
    assert "residual std" in stale[1][1]

    assert refresh_reports.main(["--stale-predictions", "--reports", str(reports)]) == 0
    assert (reports / "other-model" / "predictions.csv").is_file()  # listing deletes nothing
    assert refresh_reports.main(["--stale-predictions", "--delete", "--reports", str(reports)]) == 0
    assert not (reports / "other-model" / "predictions.csv").exists()
    assert not (reports / "other-count" / "predictions.csv").exists()
    assert (reports / "agrees" / "predictions.csv").is_file()
    assert (reports / "with-nan" / "predictions.csv").is_file()
    assert (reports / "other-model" / "metrics.csv").is_file()


def test_delete_without_stale_predictions_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        refresh_reports.main(["--delete", "--reports", str(tmp_path)])
    with pytest.raises(SystemExit):
        refresh_reports.main([])  # neither --model nor --stale-predictions


def test_a_real_report_agrees_with_its_predictions(trained_deblender, blended_data, tmp_path):
    from debvader_euclid.evaluation.report import evaluate

    out = tmp_path / "report"
    evaluate(str(trained_deblender), blended_data, out, max_examples=60, n_panels=0)
    assert refresh_reports.predictions_disagree(out) is None
    predictions = pd.read_csv(out / "predictions.csv")
    predictions.loc[0, "residual"] += 0.01
    predictions.to_csv(out / "predictions.csv", index=False)
    assert "residual std" in refresh_reports.predictions_disagree(out)
