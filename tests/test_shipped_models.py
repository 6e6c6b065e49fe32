"""The shipped models: intact (SHA256SUMS), complete, and loadable by name."""

from __future__ import annotations

import hashlib

import pytest

from debvader_euclid.deblender import available_models, packaged_models_folder

MODELS = available_models()


@pytest.mark.parametrize("name", ["analytic", "realistic"])
def test_both_models_are_shipped(name):
    assert name in MODELS


@pytest.mark.parametrize("name", MODELS)
def test_checksums_match(name):
    folder = packaged_models_folder() / name
    lines = (folder / "SHA256SUMS").read_text().splitlines()
    assert lines, "empty SHA256SUMS"
    listed = set()
    for line in lines:
        digest, relative = line.split(maxsplit=1)
        path = folder / relative
        listed.add(path.resolve())
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, relative
    for stage in ("vae", "deblender"):
        for required in (
            "config.json",
            "provenance.json",
            "history.csv",
            "encoder.h5",
            "decoder.h5",
        ):
            assert (folder / stage / required).resolve() in listed, f"{stage}/{required}"


@pytest.mark.parametrize("name", MODELS)
def test_size_and_readme(name):
    folder = packaged_models_folder() / name
    total = sum(
        p.stat().st_size
        for p in folder.rglob("*")
        if p.is_file() and "checkpoints" not in p.parts and "logs" not in p.parts
    )
    assert total < 25 * 2**20
    readme = (folder / "README.md").read_text()
    assert "debvader-euclid train deblender" in readme


@pytest.mark.parametrize("name", MODELS)
def test_loads_by_name_and_deblends(name):
    import numpy as np

    from debvader_euclid import Deblender

    deblender = Deblender.load(name)
    size = deblender.stamp_size
    out = deblender.deblend(np.zeros((2, size, size), dtype=np.float32))
    assert out.shape == (2, size, size)
    assert np.isfinite(out).all()
