"""Averaging predictions over the 8 symmetries of the square."""

from __future__ import annotations

import json

import numpy as np
import pytest

from debvader_euclid.symmetries import (
    N_SYMMETRIES,
    apply_symmetry,
    dihedral_average,
    dihedral_transforms,
    undo_symmetry,
)


def _asymmetric_stamps(n: int = 3, size: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, size, size)).astype(np.float32)


def test_the_eight_transforms_are_distinct_and_undone_exactly() -> None:
    stamps = _asymmetric_stamps()
    transforms = list(dihedral_transforms())
    assert len(transforms) == N_SYMMETRIES == len(set(transforms))
    images = [apply_symmetry(stamps, k, flip) for k, flip in transforms]
    for i, a in enumerate(images):
        for b in images[i + 1 :]:
            assert not np.array_equal(a, b)
    for (k, flip), image in zip(transforms, images, strict=True):
        np.testing.assert_array_equal(undo_symmetry(image, k, flip), stamps)


def test_an_equivariant_prediction_is_unchanged() -> None:
    stamps = _asymmetric_stamps()
    np.testing.assert_allclose(dihedral_average(np.square, stamps), np.square(stamps), rtol=1e-6)


def test_a_prediction_tied_to_the_pixel_grid_is_averaged_over_orientations() -> None:
    stamps = np.zeros((2, 4, 4), dtype=np.float32)
    ramp = np.arange(4, dtype=np.float32)[None, None, :]  # grows to the right, whatever the input

    averaged = dihedral_average(lambda x: x + ramp, stamps)
    # the ramp seen from all 8 orientations averages to its mean everywhere
    np.testing.assert_allclose(averaged, np.full((2, 4, 4), ramp.mean()), rtol=1e-6)


def test_non_square_stamps_are_refused() -> None:
    with pytest.raises(ValueError, match=r"square stamps of shape \(N, S, S\)"):
        dihedral_average(np.square, np.zeros((2, 4, 5)))


def test_deblend_symmetrize_is_the_mean_of_the_eight_orientations(trained_deblender, blended_data):
    from data_generation.tfrecords import read_numpy
    from debvader_euclid import Deblender

    deblender = Deblender.load(trained_deblender)
    stamps = read_numpy(blended_data, fields="blend_noisy", max_examples=5)["blend_noisy"]
    expected = np.mean(
        [
            undo_symmetry(deblender.deblend(apply_symmetry(stamps, k, flip)), k, flip)
            for k, flip in dihedral_transforms()
        ],
        axis=0,
    )
    got = deblender.deblend(stamps, symmetrize=True, batch_size=2)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    assert not np.allclose(got, deblender.deblend(stamps), rtol=1e-4)  # it does something
    single = deblender.deblend(stamps[0], symmetrize=True)
    assert single.shape == stamps[0].shape
    np.testing.assert_allclose(
        deblender.flux(stamps, symmetrize=True), got.sum(axis=(1, 2)), rtol=1e-5
    )


def test_evaluate_records_symmetrize(trained_deblender, blended_data, tmp_path):
    from debvader_euclid.evaluation.report import evaluate

    out = tmp_path / "report"
    evaluate(
        str(trained_deblender),
        blended_data,
        out,
        max_examples=16,
        n_panels=0,
        run_sep=False,
        symmetrize=True,
    )
    info = json.loads((out / "evaluation.json").read_text())
    assert info["model"]["symmetrize"] is True
    assert "8 rotations and flips" in (out / "report.md").read_text()


def test_symmetrized_vae_predictions_are_the_orientation_mean(trained_vae):
    from debvader_euclid.evaluation.predictors import load_predictor

    stamps = _asymmetric_stamps(n=5, size=32) * 0.01 + 0.02
    plain = load_predictor(str(trained_vae), "isolated")
    symmetric = load_predictor(str(trained_vae), "isolated", symmetrize=True)
    expected = dihedral_average(lambda x: plain.predict(x), stamps)
    np.testing.assert_allclose(symmetric.predict(stamps, batch_size=2), expected, rtol=1e-5)
