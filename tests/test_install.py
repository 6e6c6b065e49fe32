"""A non-editable ``pip install .`` into a fresh virtual environment works (slow: installs
the dependencies, from the pip cache when warm)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_non_editable_install_provides_the_command(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, str(REPO)], check=True, cwd=tmp_path)
    # run from outside the repository, so only the installed copy can be imported
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import data_generation, debvader_euclid; "
         "print(data_generation.__file__); print(debvader_euclid.__file__)"],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    assert str(REPO) not in where
    assert str(venv) in where
    command = venv / "bin" / "debvader-euclid"
    help_text = subprocess.run(
        [str(command), "--help"], check=True, capture_output=True, text=True, cwd=tmp_path
    ).stdout
    assert "generate" in help_text
    out = tmp_path / "data"
    subprocess.run(
        [str(command), "generate", "--kind", "blended", "--n-stamps", "3", "--out", str(out),
         "--workers", "1", "--no-progress"],
        check=True, cwd=tmp_path,
    )  # fmt: skip
    assert (out / "manifest.json").is_file()
    # the shipped model is package data: it loads by name from the installed copy
    for name in ("analytic", "realistic"):
        loaded = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "from debvader_euclid import Deblender; "
             "from debvader_euclid.flux_errors import read_flux_error_models; "
             f"d = Deblender.load({name!r}); print(d.folder); "
             "print(sorted(read_flux_error_models(d.folder)))"],
            check=True, capture_output=True, text=True, cwd=tmp_path,
        ).stdout  # fmt: skip
        assert str(venv) in loaded
        assert name in loaded
        assert "'neighbours=keep'" in loaded  # the calibrated flux errors are package data
