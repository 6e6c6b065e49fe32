"""`make ship-analytic`: the checks it runs before anything shipped is touched.

They live in their own target, ``ship-analytic-check`` (a prerequisite of
``ship-analytic``), so these tests never generate data or copy files even if a check
breaks. Each case must stop with exit status 2 and a message naming the problem; the
shipped model's files are compared before and after.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "trained_models" / "analytic" / "deblender"
RUN_FILES = ("config.json", "decoder.h5", "encoder.h5", "history.csv", "provenance.json")

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def _digests() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in SHIPPED.iterdir()}


def _ship(*variables: str) -> subprocess.CompletedProcess:
    command = ["make", "-s", "-C", str(REPO), "ship-analytic-check"]
    return subprocess.run(
        [*command, *variables], capture_output=True, text=True, timeout=60, check=False
    )


def _fake_run(folder: Path, decoder: bytes) -> Path:
    folder.mkdir()
    for name in RUN_FILES:
        (folder / name).write_text("{}")
    (folder / "decoder.h5").write_bytes(decoder)
    return folder


def test_ship_runs_the_checks_first():
    makefile = (REPO / "Makefile").read_text()
    assert "\nship-analytic: $(INSTALLED) ship-analytic-check\n" in makefile


def test_without_run_says_how_to_name_it():
    before = _digests()
    result = _ship()
    assert result.returncode == 2
    assert "make ship-analytic RUN=" in result.stderr
    assert _digests() == before


def test_missing_run_file_is_named(tmp_path):
    run = _fake_run(tmp_path / "run", (SHIPPED / "decoder.h5").read_bytes())
    (run / "history.csv").unlink()
    before = _digests()
    result = _ship(f"RUN={run}")
    assert result.returncode == 2
    assert f"{run}/history.csv is missing" in result.stderr
    assert _digests() == before


def test_run_with_another_decoder_is_refused(tmp_path):
    run = _fake_run(tmp_path / "run", b"not the shipped decoder")
    before = _digests()
    result = _ship(f"RUN={run}")
    assert result.returncode == 2
    assert "not trained on the shipped VAE" in result.stderr
    assert _digests() == before


def test_existing_benchmark_file_is_not_overwritten(tmp_path):
    run = _fake_run(tmp_path / "run", (SHIPPED / "decoder.h5").read_bytes())
    bench = tmp_path / "speed.json"
    bench.write_text('{"kept": true}')
    before = _digests()
    result = _ship(f"RUN={run}", f"BENCH_JSON={bench}")
    assert result.returncode == 2
    assert "exists; name another file" in result.stderr
    assert bench.read_text() == '{"kept": true}'
    assert _digests() == before
