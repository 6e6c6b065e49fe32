"""reports/refresh_reports.py: which reports a replaced shipped model made."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

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
