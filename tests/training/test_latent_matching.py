"""The latent-matching term (``TrainingConfig.latent_weight``): loss, data, training."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from data_generation.tfrecords import read_numpy
from debvader_euclid.models import ArcsinhNormalizer, ModelConfig
from debvader_euclid.models.encoder import build_encoder
from debvader_euclid.models.latent_matching import (
    LATENT_PARAMS_LAYER,
    LatentMatchingLoss,
    connect_with_latent_matching,
    posterior_mean_and_std,
)
from debvader_euclid.models.vae import build_encoder_decoder
from debvader_euclid.training import artifacts, train_deblender, train_vae
from debvader_euclid.training.config import TrainingConfig
from debvader_euclid.training.data import split_data, training_dataset, validation_dataset

NORM = ArcsinhNormalizer(0.01)
CONFIG = ModelConfig(stamp_size=16, filters=(4, 8), kernel_sizes=(3, 3), latent_dim=3)


def _params(encoder: keras.Model) -> keras.Model:
    return keras.Model(encoder.input, encoder.get_layer(LATENT_PARAMS_LAYER).output)


def test_posterior_mean_and_std_are_those_of_the_latent_distribution() -> None:
    encoder = build_encoder(CONFIG, seed=3)
    x = np.random.default_rng(0).normal(size=(5, 16, 16, 1)).astype(np.float32)
    distribution = encoder(x)
    mean, std = posterior_mean_and_std(_params(encoder)(x), CONFIG.latent_dim)
    np.testing.assert_allclose(mean.numpy(), distribution.mean().numpy(), rtol=1e-6)
    np.testing.assert_allclose(std.numpy(), distribution.stddev().numpy(), rtol=1e-5)


def test_the_term_is_half_the_weighted_chi_square_to_the_teacher() -> None:
    d = CONFIG.latent_dim
    rng = np.random.default_rng(1)
    teacher = rng.normal(size=(4, d + d * (d + 1) // 2)).astype(np.float32)
    shift = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    student = teacher.copy()
    student[:, :d] += shift
    output = rng.normal(size=(4, 16, 16, 1)).astype(np.float32)
    layer = LatentMatchingLoss(d, weight=2.5)
    passed = layer([tf.constant(output), tf.constant(student), tf.constant(teacher)])
    np.testing.assert_array_equal(passed.numpy(), output)  # the output passes unchanged
    _, std = posterior_mean_and_std(tf.constant(teacher), d)
    expected = 2.5 * 0.5 * np.mean(np.sum((shift / std.numpy()) ** 2, axis=1))
    assert float(layer.losses[0]) == pytest.approx(expected, rel=1e-5)
    # the student at the teacher's mean costs nothing, whatever its own scale
    student[:, :d] = teacher[:, :d]
    student[:, d:] += 1.0
    layer = LatentMatchingLoss(d, weight=2.5)
    layer([tf.constant(output), tf.constant(student), tf.constant(teacher)])
    assert float(layer.losses[0]) == pytest.approx(0.0, abs=1e-6)
    # the floor adds to the teacher's variance in quadrature
    student[:, :d] = teacher[:, :d] + shift
    layer = LatentMatchingLoss(d, weight=1.0, std_floor=0.7)
    layer([tf.constant(output), tf.constant(student), tf.constant(teacher)])
    expected = 0.5 * np.mean(np.sum(shift**2 / (std.numpy() ** 2 + 0.49), axis=1))
    assert float(layer.losses[0]) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="latent-matching weight must be"):
        LatentMatchingLoss(d, weight=-1.0)
    with pytest.raises(ValueError, match="latent std floor must be"):
        LatentMatchingLoss(d, weight=1.0, std_floor=float("nan"))


def test_only_the_blend_encoder_learns_from_the_term() -> None:
    teacher, decoder = build_encoder_decoder(CONFIG, seed=1)
    student = build_encoder(CONFIG, seed=2, name="blend_encoder")
    decoder.trainable = False
    model = connect_with_latent_matching(student, decoder, teacher, CONFIG.latent_dim, 1.0)
    assert {id(v) for v in model.trainable_variables} == {
        id(v) for v in student.trainable_variables
    }
    x = np.random.default_rng(2).normal(size=(3, 16, 16, 1)).astype(np.float32)
    with tf.GradientTape() as tape:
        model([x, x])
        total = tf.add_n(model.losses)
    grads = tape.gradient(total, student.trainable_variables)
    assert all(g is not None for g in grads)
    assert len(model.losses) == 3  # the KL (and its zero twin) and the latent term


def test_training_stream_gives_the_central_galaxy_with_the_blends_noise(
    blended_data: Path, isolated_data: Path
) -> None:
    split = split_data("deblender", blended_data, val_fraction=0.25)
    config = TrainingConfig(
        seed=2, batch_size=240, epochs=1, augment=False, shuffle_buffer=1, latent_weight=1.0
    )
    (((x, central), y),) = [
        ((x.numpy(), c.numpy()), y.numpy())
        for (x, c), y in training_dataset(split, config, NORM)[0]
    ]
    truth = read_numpy(
        blended_data,
        fields=["blend_noisy", "central_noisy", "central_noiseless"],
        shards=list(split.train.shards),
    )
    # the stream reads the shards in a shuffled order: match examples by their target
    order = np.argsort(NORM.denormalize(y)[..., 0].sum(axis=(1, 2)))
    truth_order = np.argsort(truth["central_noiseless"].sum(axis=(1, 2)))
    np.testing.assert_allclose(
        NORM.denormalize(x)[order, ..., 0], truth["blend_noisy"][truth_order], atol=1e-4
    )
    np.testing.assert_allclose(
        NORM.denormalize(central)[order, ..., 0], truth["central_noisy"][truth_order], atol=1e-4
    )
    # with augmentation and noise scaling: the same turn for all three, and the central
    # input is the target plus the input's (scaled) noise, the neighbour's light excepted
    changed = config.replace(augment=True, noise_scale_range=(0.5, 2.0), neighbour_dropout=0.5)
    (((x2, central2), y2),) = [
        ((x.numpy(), c.numpy()), y.numpy())
        for (x, c), y in training_dataset(split, changed, NORM)[0]
    ]
    blend, centre, target = (NORM.denormalize(a)[..., 0] for a in (x2, central2, y2))
    neighbour_light = (blend - centre).sum(axis=(1, 2))
    kept = neighbour_light > 1e-3
    assert 0.3 < kept.mean() < 0.7  # half the blends lost their neighbour to the dropout
    np.testing.assert_allclose(blend[~kept], centre[~kept], atol=1e-5)
    noise_scale = (
        np.std(centre - target, axis=(1, 2))
        / np.std(truth["central_noisy"] - truth["central_noiseless"], axis=(1, 2)).mean()
    )
    assert noise_scale.min() > 0.4
    assert noise_scale.max() < 2.5
    (((vx, vc), vy),) = list(validation_dataset(split, 80, NORM, central_input=True).take(1))
    val = read_numpy(blended_data, fields=["central_noisy"], shards=list(split.validation.shards))
    np.testing.assert_allclose(
        NORM.denormalize(vc.numpy())[..., 0], val["central_noisy"][:80], atol=1e-5
    )
    vae_split = split_data("vae", isolated_data, val_fraction=0.25)
    with pytest.raises(ValueError, match="latent_weight applies to the deblender"):
        training_dataset(vae_split, config, NORM)


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf")])
def test_bad_latent_weight_and_floor(weight: float) -> None:
    with pytest.raises(ValueError, match="latent_weight must be a finite number >= 0"):
        TrainingConfig(latent_weight=weight)
    with pytest.raises(ValueError, match="latent_std_floor must be a finite number >= 0"):
        TrainingConfig(latent_std_floor=weight)


def test_training_with_the_term_records_it_and_ships_a_plain_deblender(
    tmp_path: Path, trained_vae: Path, blended_data: Path, isolated_data: Path, tiny_config
) -> None:
    out = tmp_path / "latent"
    result = train_deblender(
        trained_vae, blended_data, out, config=tiny_config(epochs=1, latent_weight=1.0), verbose=0
    )
    assert result.status == "complete"
    with (out / artifacts.HISTORY_NAME).open() as f:
        row = next(csv.DictReader(f))
    assert float(row["latent_term"]) > 0
    assert float(row["val_latent_term"]) > 0
    # kl is what is left of the loss once the other terms are taken out
    assert float(row["kl"]) == pytest.approx(
        float(row["loss"]) - float(row["nll"]) - float(row["latent_term"]), abs=1e-2
    )
    networks, info = artifacts.load_stage(out, expected_stage="deblender")
    assert info["training"].latent_weight == 1.0
    stamps = read_numpy(blended_data, fields=["blend_noisy"], max_examples=4)["blend_noisy"]
    assert networks.predict(stamps).shape == stamps.shape
    # the VAE has no teacher: refused before anything is written
    with pytest.raises(ValueError, match="latent_weight applies to the deblender"):
        train_vae(isolated_data, tmp_path / "vae", config=tiny_config(latent_weight=1.0))
    assert not (tmp_path / "vae").exists()
