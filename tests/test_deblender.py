"""The user-facing Deblender API on a tiny trained model (32x32 stamps)."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from debvader_euclid import Deblender, available_models
from debvader_euclid.deblender import DeblendSamples


@pytest.fixture(scope="module")
def deblender(trained_deblender):
    return Deblender.load(trained_deblender)


@pytest.fixture(scope="module")
def stamps(blended_data):
    from data_generation.tfrecords import read_numpy

    return read_numpy(blended_data, fields=["blend_noisy"], max_examples=20)["blend_noisy"]


def test_shapes_and_units_follow_the_input(deblender, stamps):
    assert deblender.stamp_size == 32
    many = deblender.deblend(stamps)
    assert many.shape == stamps.shape
    assert many.dtype == np.float32
    one = deblender.deblend(stamps[3])
    assert one.shape == (32, 32)
    np.testing.assert_allclose(one, many[3], rtol=1e-5, atol=1e-7)
    channel = deblender.deblend(stamps[..., None])
    assert channel.shape == (20, 32, 32, 1)
    np.testing.assert_allclose(channel[..., 0], many, rtol=1e-5, atol=1e-7)


def test_batching_does_not_change_the_result(deblender, stamps):
    np.testing.assert_allclose(
        deblender.deblend(stamps, batch_size=3), deblender.deblend(stamps), rtol=1e-5, atol=1e-7
    )


def test_float64_and_integer_input_is_converted(deblender, stamps):
    np.testing.assert_allclose(
        deblender.deblend(stamps.astype(np.float64)), deblender.deblend(stamps), rtol=1e-6
    )
    assert deblender.deblend(np.zeros((2, 32, 32), dtype=np.int16)).dtype == np.float32


def test_neighbour_modes(deblender, blended_data, stamps):
    from data_generation.tfrecords import read_numpy
    from debvader_euclid.neighbours import CHECK_FLUX_RATIO

    sigma = read_numpy(blended_data, fields=["noise_sigma_uJy"], max_examples=20)["noise_sigma_uJy"]
    plain = deblender.deblend(stamps)
    subtracted = deblender.deblend(stamps, neighbours="subtract", noise_sigma_uJy=sigma)
    checked = deblender.deblend(stamps, neighbours="check", noise_sigma_uJy=sigma)
    assert subtracted.shape == checked.shape == stamps.shape
    assert checked.dtype == np.float32
    np.testing.assert_allclose(
        deblender.deblend(stamps, batch_size=3, neighbours="subtract", noise_sigma_uJy=sigma),
        subtracted,
        rtol=1e-5,
        atol=1e-7,
    )
    # the check takes, stamp by stamp, the plain prediction or the subtracted one
    f_plain, f_sub = plain.sum(axis=(1, 2)), subtracted.sum(axis=(1, 2))
    replaced = (f_sub > 0) & (f_plain > CHECK_FLUX_RATIO * f_sub)
    np.testing.assert_allclose(checked[replaced], subtracted[replaced], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(checked[~replaced], plain[~replaced], rtol=1e-5, atol=1e-7)
    # a stamp with nothing else in it is predicted as without neighbour handling
    empty = np.zeros((1, 32, 32), np.float32)
    for mode in ("check", "subtract"):
        np.testing.assert_array_equal(
            deblender.deblend(empty, neighbours=mode, noise_sigma_uJy=1e-3),
            deblender.deblend(empty),
        )


def test_refine_combines_the_prediction_with_the_data(deblender, blended_data, stamps):
    from data_generation.tfrecords import read_numpy
    from debvader_euclid.neighbours import model_neighbours
    from debvader_euclid.refine import combine_with_data

    sigma = read_numpy(blended_data, fields=["noise_sigma_uJy"], max_examples=20)["noise_sigma_uJy"]
    for mode in ("keep", "check"):
        central = deblender.deblend(
            stamps, neighbours=mode, noise_sigma_uJy=None if mode == "keep" else sigma
        )
        refined = deblender.deblend(stamps, neighbours=mode, refine=True, noise_sigma_uJy=sigma)
        assert refined.shape == stamps.shape
        assert refined.dtype == np.float32
        others = model_neighbours(deblender._predict, stamps, sigma, central)
        expected = combine_with_data(central, others, stamps, sigma)
        np.testing.assert_allclose(refined, expected, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(
            deblender.deblend(
                stamps, batch_size=7, neighbours=mode, refine=True, noise_sigma_uJy=sigma
            ),
            refined,
            rtol=1e-5,
            atol=1e-7,
        )
    with pytest.raises(ValueError, match="refine=True detects the neighbours with sep"):
        deblender.deblend(stamps, refine=True)


def test_the_noise_level_can_be_estimated_from_the_stamps(deblender, stamps):
    from debvader_euclid.noise import estimate_noise_sigma

    sigma = estimate_noise_sigma(stamps)
    np.testing.assert_array_equal(
        deblender.deblend(stamps, neighbours="check", noise_sigma_uJy="estimate"),
        deblender.deblend(stamps, neighbours="check", noise_sigma_uJy=sigma),
    )
    with pytest.raises(ValueError, match="a number, one per stamp, or 'estimate'"):
        deblender.deblend(stamps, refine=True, noise_sigma_uJy="guess")


def test_neighbour_modes_refuse_bad_arguments(deblender, stamps):
    with pytest.raises(ValueError, match="needs the pixel noise: pass noise_sigma_uJy"):
        deblender.deblend(stamps, neighbours="check")
    with pytest.raises(ValueError, match="only used to detect neighbours"):
        deblender.deblend(stamps, noise_sigma_uJy=0.003)
    with pytest.raises(ValueError, match="one value or one per stamp"):
        deblender.deblend(stamps, neighbours="subtract", noise_sigma_uJy=np.ones(3))
    with pytest.raises(ValueError, match="neighbours must be one of keep, check, subtract"):
        deblender.deblend(stamps, neighbours="remove", noise_sigma_uJy=0.003)


def test_flux_and_magnitude(deblender, stamps):
    flux = deblender.flux(stamps)
    assert flux.shape == (20,)
    np.testing.assert_allclose(flux, deblender.deblend(stamps).sum(axis=(1, 2)), rtol=1e-5)
    assert isinstance(deblender.flux(stamps[0]), float)
    positive = flux > 0
    np.testing.assert_allclose(
        deblender.magnitude(stamps)[positive], 23.9 - 2.5 * np.log10(flux[positive]), rtol=1e-6
    )


def test_sampling_gives_an_uncertainty(deblender, stamps):
    result = deblender.sample(stamps[:5], samples=8, seed=1)
    assert isinstance(result, DeblendSamples)
    assert result.mean.shape == (5, 32, 32)
    assert np.all(result.std >= 0)
    assert result.flux_std_uJy.shape == (5,)
    assert np.all(result.flux_std_uJy > 0)
    again = deblender.sample(stamps[:5], samples=8, seed=1)
    np.testing.assert_array_equal(again.mean, result.mean)
    other = deblender.sample(stamps[:5], samples=8, seed=2)
    assert not np.array_equal(other.mean, result.mean)
    single = deblender.sample(stamps[0], samples=4)
    assert single.mean.shape == (32, 32)
    assert isinstance(single.flux_uJy, float | np.floating)
    with pytest.raises(ValueError, match="at least 2"):
        deblender.sample(stamps, samples=1)


@pytest.mark.parametrize("shape", [(32,), (32, 33), (4, 64, 64), (4, 32, 32, 2), (2, 2, 32, 32)])
def test_wrong_shape_names_expected_and_given(deblender, shape):
    with pytest.raises(ValueError, match=r"images have shape .*\(N, 32, 32\)"):
        deblender.deblend(np.zeros(shape, dtype=np.float32))


def test_nonfinite_pixels(deblender, stamps, caplog):
    bad = stamps[:4].copy()
    bad[1, 2, 3] = np.nan
    bad[2, 0, 0] = np.inf
    bad[2, 5, 5] = -np.inf
    with pytest.raises(ValueError, match=r"3 pixel\(s\) in 2 stamp\(s\) are NaN or infinite"):
        deblender.deblend(bad)
    with caplog.at_level(logging.WARNING):
        out = deblender.deblend(bad, nonfinite="zero")
    assert np.isfinite(out).all()
    assert "set to 0 uJy" in caplog.text
    with pytest.raises(ValueError, match="nonfinite must be one of"):
        deblender.deblend(bad, nonfinite="ignore")


def test_non_numeric_input(deblender):
    with pytest.raises(ValueError, match="numeric arrays"):
        deblender.deblend(np.full((32, 32), "a"))


def test_unknown_name_lists_available_models():
    with pytest.raises(ValueError, match=r"unknown model 'nonexistent': models with a trained"):
        Deblender.load("nonexistent")
    assert isinstance(available_models(), list)


def test_missing_and_wrong_folders(tmp_path, trained_vae):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Deblender.load(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="holds no trained deblender"):
        Deblender.load(tmp_path)
    with pytest.raises(ValueError, match="expected a 'deblender' stage"):
        Deblender.load(trained_vae)


def test_model_folder_with_a_deblender_subfolder(tmp_path, trained_deblender, stamps, deblender):
    shutil.copytree(trained_deblender, tmp_path / "mymodel" / "deblender")
    loaded = Deblender.load(tmp_path / "mymodel")
    np.testing.assert_array_equal(loaded.deblend(stamps), deblender.deblend(stamps))


def test_corrupted_weights_are_refused(tmp_path, trained_deblender):
    copy = tmp_path / "deblender"
    shutil.copytree(trained_deblender, copy)
    weights = copy / "encoder.h5"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        Deblender.load(copy)
    (copy / "decoder.h5").unlink()
    with pytest.raises(ValueError, match="missing weight file"):
        Deblender.load(copy)
