"""The main job end to end with the shipped model (slow: generates and evaluates)."""

from __future__ import annotations

import pytest

from debvader_euclid.cli import main


@pytest.mark.slow
def test_demo_prints_table1_and_writes_reports(tmp_path, capsys):
    status = main(["demo", "--out", str(tmp_path), "--n-stamps", "200", "--workers", "1"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "| analytic | isolated | stamp | 8.97% |" in printed
    assert "| analytic | blended | stamp | 9.93% |" in printed
    assert "with neighbours='check': std " in printed
    assert (tmp_path / "blended-check-report" / "report.md").is_file()
    for kind in ("isolated", "blended"):
        assert (tmp_path / f"{kind}-report" / "report.md").is_file()
        assert (tmp_path / f"{kind}-report" / "residuals.png").is_file()
    assert (tmp_path / "blended-report" / "panels.png").is_file()
