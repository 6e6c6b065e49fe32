"""Networks, configuration, likelihood and the KL term."""

from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

from data_generation.io_utils import sha256_file
from debvader_euclid.models import (
    LatentSampler,
    ModelConfig,
    PixelGaussianNLL,
    StageNetworks,
    build_blend_encoder,
    build_encoder_decoder,
    connect,
    split_output,
)

TINY = ModelConfig(stamp_size=32, latent_dim=6, filters=(4, 8), kernel_sizes=(3, 5))


def stamps(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.abs(rng.normal(0, 0.05, (n, size, size))).astype(np.float32)


@pytest.mark.parametrize(
    ("changes", "channels"),
    [
        ({}, 1),
        ({"stamp_size": 33, "convs_per_level": 2, "dense_units": 16}, 1),  # odd: cropped
        ({"likelihood": "gaussian_learned_sigma"}, 2),
    ],
)
def test_shapes(changes: dict, channels: int) -> None:
    config = TINY.replace(**changes)
    encoder, decoder = build_encoder_decoder(config)
    size = config.stamp_size
    x = np.zeros((3, size, size, 1), np.float32)
    z = encoder(x)
    assert isinstance(z.tensor_distribution, tfp.distributions.MultivariateNormalTriL)
    assert tf.convert_to_tensor(z).shape == (3, config.latent_dim)
    assert decoder(tf.convert_to_tensor(z)).shape == (3, size, size, channels)
    assert config.output_channels == channels


def test_kl_term_is_counted_once_with_its_weight() -> None:
    config = TINY.replace(kl_weight=0.7)
    encoder, decoder = build_encoder_decoder(config, sampler=LatentSampler(0))
    model = connect(encoder, decoder, "vae")
    nll = PixelGaussianNLL(config)
    model.compile(loss=nll, metrics=[keras.metrics.MeanMetricWrapper(nll.call, name="nll")])
    x = 10 * stamps(8)[..., None]
    loss, nll_value = model.evaluate(x, x, batch_size=8, verbose=0)  # inside tf.function
    posterior = encoder(x).tensor_distribution
    prior = tfp.distributions.MultivariateNormalDiag(tf.zeros(6), tf.ones(6))
    kl = tf.reduce_mean(tfp.distributions.kl_divergence(posterior, prior)).numpy()
    assert kl > 0.1
    np.testing.assert_allclose(loss - nll_value, 0.7 * kl, rtol=1e-3)


@pytest.mark.parametrize("likelihood", ["gaussian_fixed_sigma", "gaussian_learned_sigma"])
def test_likelihood_is_summed_over_pixels_and_averaged_over_the_batch(likelihood: str) -> None:
    config = TINY.replace(likelihood=likelihood, likelihood_sigma=0.2)
    rng = np.random.default_rng(1)
    y_true = rng.normal(size=(5, 32, 32, 1)).astype(np.float32)
    y_pred = rng.normal(size=(5, 32, 32, config.output_channels)).astype(np.float32)
    mean = y_pred[..., 0].astype(np.float64)
    if likelihood == "gaussian_fixed_sigma":
        sigma = np.full_like(mean, 0.2)
    else:
        sigma = 0.2 + np.log1p(np.exp(y_pred[..., 1].astype(np.float64)))
    per_pixel = (
        0.5 * ((y_true[..., 0] - mean) / sigma) ** 2 + np.log(sigma) + 0.5 * math.log(2 * math.pi)
    )
    expected = per_pixel.sum(axis=(1, 2))
    loss = PixelGaussianNLL(config)
    np.testing.assert_allclose(loss.call(y_true, y_pred).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(loss(y_true, y_pred).numpy(), expected.mean(), rtol=1e-5)
    m, s = split_output(tf.constant(y_pred), config)
    np.testing.assert_allclose(s.numpy(), sigma, rtol=1e-6)
    np.testing.assert_array_equal(m.numpy(), y_pred[..., 0])


def test_initial_weights_depend_on_the_seed_only(tmp_path: Path) -> None:
    a_enc, a_dec = build_encoder_decoder(TINY, seed=4)
    build_encoder_decoder(TINY, seed=9)  # other models built in between change nothing
    b_enc, b_dec = build_encoder_decoder(TINY, seed=4)
    for a, b in ((a_enc, b_enc), (a_dec, b_dec)):
        for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
            np.testing.assert_array_equal(wa, wb)
    a_enc.save_weights(str(tmp_path / "a.h5"))
    b_enc.save_weights(str(tmp_path / "b.h5"))
    assert sha256_file(tmp_path / "a.h5") == sha256_file(tmp_path / "b.h5")
    blend = build_blend_encoder(TINY, seed=4)
    assert blend.name == "blend_encoder"
    assert not np.array_equal(blend.get_weights()[0], a_enc.get_weights()[0])


def test_weight_files_hold_no_code(tmp_path: Path) -> None:
    encoder, _ = build_encoder_decoder(TINY, sampler=LatentSampler(0))
    encoder.save_weights(str(tmp_path / "encoder.h5"))
    with h5py.File(tmp_path / "encoder.h5") as handle:
        assert set(handle.attrs) == {"backend", "keras_version", "layer_names"}
        names = [n.decode() if isinstance(n, bytes) else n for n in handle.attrs["layer_names"]]
    assert "latent" in names  # the distribution layer has no weights and no stored config
    assert b"lambda" not in (tmp_path / "encoder.h5").read_bytes().lower()


def test_latent_sampler_draws_reproducibly_and_the_mean_is_deterministic() -> None:
    x = stamps(4)[..., None]
    draws = []
    for _ in range(2):
        encoder, _ = build_encoder_decoder(TINY, sampler=LatentSampler(3))
        draws.append([tf.convert_to_tensor(encoder(x)).numpy() for _ in range(2)])
    np.testing.assert_array_equal(draws[0][0], draws[1][0])
    np.testing.assert_array_equal(draws[0][1], draws[1][1])
    assert not np.array_equal(draws[0][0], draws[0][1])  # the generator advances

    encoder, decoder = build_encoder_decoder(TINY)
    nets = StageNetworks("vae", TINY, encoder, decoder)
    first = nets.predict(stamps(4), batch_size=2)
    np.testing.assert_array_equal(first, nets.predict(stamps(4), batch_size=2))
    flux, sigma = nets.predict(stamps(4)[0], return_sigma=True)
    assert flux.shape == sigma.shape == (1, 32, 32)
    assert np.all(sigma > 0)
    with pytest.raises(ValueError, match=r"expected stamps of shape \(N, 32, 32\)"):
        nets.predict(np.zeros((2, 16, 16)))


def test_config_round_trip_and_errors(tmp_path: Path) -> None:
    config = TINY.replace(kl_weight=0.5, likelihood="gaussian_learned_sigma")
    config.to_json(tmp_path / "model.json")
    assert json.loads((tmp_path / "model.json").read_text())["filters"] == [4, 8]
    assert ModelConfig.from_json(tmp_path / "model.json") == config
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="kernel_sizes has 1 entries but filters has 2"):
        TINY.replace(kernel_sizes=(3,))
    with pytest.raises(ValueError, match="unknown likelihood"):
        TINY.replace(likelihood="poisson")
    with pytest.raises(ValueError, match="halve a 8-pixel stamp"):
        ModelConfig(stamp_size=8, filters=(1, 2, 3, 4), kernel_sizes=(3, 3, 3, 3))
    with pytest.raises(ValueError, match="unknown key.*'latent'.*valid keys"):
        ModelConfig.from_dict({"latent": 3})
