"""`debvader-euclid validate-catalogue`: the report, its file and the exit status."""

from __future__ import annotations

import logging

import numpy as np

from data_generation import egg_recipes
from debvader_euclid.cli import main


def check_lines(report: str) -> list[str]:
    return [line for line in report.splitlines() if line.startswith("- ")]


def test_prints_the_tables_and_exits_0(capsys) -> None:
    assert main(["validate-catalogue"]) == 0
    report = capsys.readouterr().out
    assert report.startswith("# EGG-recipe catalogue validation")
    assert "Catalogues (seed 42)" in report
    for header in (
        "| mag_bin_centre | ours_log_n_per_mag_deg2 | published_log_n | difference_dex "
        "| tolerance_dex | within_tolerance | n_galaxies |",
        "| mag_limit | ours_n_per_arcmin2 | published_n_per_arcmin2 |",
        "| mag_bin_centre | ours_median_hlr_arcsec | miller2013_hlr_arcsec | difference_dex "
        "| tolerance_dex | within_tolerance | n_galaxies |",
        "| ours_dex_per_mag | miller2013_dex_per_mag |",
    ):
        assert header in report
    assert "| 26.25 | " in report
    assert "| 24.5 | " in report
    lines = check_lines(report)
    assert len(lines) == 4
    assert all(line.startswith("- PASS: ") for line in lines)


def test_out_writes_the_report_and_refuses_to_overwrite(tmp_path, capsys, caplog) -> None:
    out = tmp_path / "reports" / "validation.md"
    assert main(["validate-catalogue", "--seed", "7", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.read_text() == printed
    assert "Catalogues (seed 7)" in printed
    assert [p.name for p in out.parent.iterdir()] == ["validation.md"]  # no temporary left

    out.write_text("kept")
    assert main(["validate-catalogue", "--out", str(out)]) == 2
    assert "exists: pass --overwrite" in caplog.text
    assert out.read_text() == "kept"
    assert capsys.readouterr().out == ""

    assert main(["validate-catalogue", "--out", str(out), "--overwrite"]) == 0
    assert out.read_text() == capsys.readouterr().out
    assert "Catalogues (seed 42)" in out.read_text()


def test_a_failing_check_exits_1(monkeypatch, capsys, caplog) -> None:
    generate = egg_recipes.generate_egg_columns

    def too_large(config: egg_recipes.EggRecipeConfig) -> dict[str, np.ndarray]:
        columns = generate(config)
        for name in ("DISK_RADIUS", "BULGE_RADIUS"):
            columns[name] = columns[name] * 3.0
        return columns

    monkeypatch.setattr(egg_recipes, "generate_egg_columns", too_large)
    with caplog.at_level(logging.WARNING):
        assert main(["validate-catalogue"]) == 1
    lines = check_lines(capsys.readouterr().out)
    assert "- PASS: number counts vs COSMOS2020 (Weaver et al. 2022): 7/7 bins" in lines[0]
    assert lines[2].startswith("- FAIL: median half-light radius vs Miller et al. (2013): 0/5")
    assert "FAIL median half-light radius" in caplog.text
