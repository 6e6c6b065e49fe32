"""Magnitude-balancing loss weights and a stage-2 encoder wider than the decoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from data_generation.tfrecords import read_numpy
from debvader_euclid.models import ArcsinhNormalizer, ModelConfig, build_encoder_decoder
from debvader_euclid.training import artifacts, train_deblender
from debvader_euclid.training.config import TrainingConfig, resolve_stage2_model
from debvader_euclid.training.data import (
    LossWeights,
    loss_weights,
    split_data,
    training_dataset,
)


def counts_like_number_counts(seed: int = 0) -> np.ndarray:
    """Magnitudes with counts rising ~0.3 dex per magnitude, like galaxy counts."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(size=20_000)
    lo, hi, slope = 18.0, 25.5, 0.3 * np.log(10)
    return lo + np.log1p(u * np.expm1(slope * (hi - lo))) / slope


def test_weights_have_mean_one_and_balance_the_bins() -> None:
    mags = counts_like_number_counts()
    flat = LossWeights.from_magnitudes(mags, alpha=1.0, bin_width=0.5, max_weight=1e6)
    counts, weights = np.array(flat.counts), np.array(flat.weights)
    assert np.sum(counts * weights) / counts.sum() == pytest.approx(1.0)
    per_bin = counts * weights
    assert per_bin.max() / per_bin.min() == pytest.approx(1.0, rel=1e-9)  # alpha=1: flat
    half = LossWeights.from_magnitudes(mags, alpha=0.5, bin_width=0.5, max_weight=1e6)
    w = np.array(half.weights)
    assert np.all(np.diff(w) < 0)  # brighter bins, fewer galaxies, larger weights
    np.testing.assert_allclose(w / w[-1], (counts / counts[-1]) ** -0.5, rtol=1e-9)
    none = LossWeights.from_magnitudes(mags, alpha=0.0, bin_width=0.5, max_weight=10)
    np.testing.assert_allclose(none.weights, 1.0)


def test_weights_are_clipped_and_looked_up_by_bin() -> None:
    mags = counts_like_number_counts()
    weights = LossWeights.from_magnitudes(mags, alpha=1.0, bin_width=0.5, max_weight=3.0)
    raw = np.array(weights.weights)
    assert raw.max() / raw.min() == pytest.approx(9.0)  # clipped at 3 and 1/3, then scaled
    edges = np.array(weights.edges)
    probe = np.array([edges[0] - 5, edges[0] + 0.1, edges[3] + 0.01, edges[-1] + 2])
    got = weights.lookup(tf.constant(probe)).numpy()
    np.testing.assert_allclose(got, raw[[0, 0, 3, -1]], rtol=1e-6)
    with pytest.raises(ValueError, match="no finite central magnitude"):
        LossWeights.from_magnitudes(np.array([np.nan]), 0.5, 0.5, 10)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"magnitude_balance": 1.5}, "magnitude_balance must be in"),
        ({"magnitude_bin_width": 0}, "magnitude_bin_width must be positive"),
        ({"max_balance_weight": 0.5}, "max_balance_weight must be >= 1"),
    ],
)
def test_bad_balance_settings(changes: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrainingConfig(**changes)


def test_weighted_stream_carries_one_weight_per_example(blended_data: Path) -> None:
    config = TrainingConfig(batch_size=16, epochs=1, magnitude_balance=0.5, val_fraction=0.25)
    split = split_data("deblender", blended_data, val_fraction=0.25)
    weights = loss_weights(split, config)
    assert weights is not None
    assert sum(weights.counts) == split.train.n_examples
    dataset, steps = training_dataset(split, config, ArcsinhNormalizer(0.01), weights=weights)
    x, y, w = next(iter(dataset))
    assert x.shape == (16, 32, 32, 1)
    assert y.shape == x.shape
    assert w.shape == (16,)
    assert np.all(w.numpy() > 0)
    assert loss_weights(split, config.replace(magnitude_balance=0.0)) is None


def test_encoder_widths_are_free_and_the_decoder_keeps_filters() -> None:
    config = ModelConfig(
        stamp_size=32, latent_dim=6, filters=(4, 8), kernel_sizes=(3, 3), encoder_filters=(6, 12)
    )
    encoder, decoder = build_encoder_decoder(config)
    assert encoder.get_layer("conv0_down").filters == 6
    assert encoder.get_layer("conv1_down").filters == 12
    assert decoder.output_shape == (None, 32, 32, 1)
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="encoder_filters has 1 entries but filters has 2"):
        config.replace(encoder_filters=(6,))
    with pytest.raises(ValueError, match="encoder_filters must be positive"):
        config.replace(encoder_filters=(6, 0))
    # stage 2 may widen its encoder (the decoder is untouched) but not change filters
    wide = resolve_stage2_model(config.replace(encoder_filters=None), {"encoder_filters": [8, 16]})
    assert wide.encoder_widths == (8, 16)
    assert wide.filters == (4, 8)
    with pytest.raises(ValueError, match="may not change model.filters"):
        resolve_stage2_model(config, {"filters": [8, 16]})


def test_balanced_wide_deblender_trains_loads_and_records_its_weights(
    trained_vae: Path, blended_data: Path, tmp_path: Path, tiny_config
) -> None:
    config = tiny_config(epochs=1, magnitude_balance=0.5)
    config["model"] = {"encoder_filters": [12, 24]}
    out = tmp_path / "deblender"
    train_deblender(trained_vae, blended_data, out, config=config, verbose=0)
    provenance = json.loads((out / "provenance.json").read_text())
    recorded = provenance["loss_weights"]
    assert recorded["alpha"] == 0.5
    assert recorded["field"] == "central_mag_vis"
    assert sum(recorded["counts"]) == provenance["data"]["train"]["n_examples"]
    networks, info = artifacts.load_stage(out, expected_stage="deblender")
    assert info["model"].encoder_widths == (12, 24)
    vae, _ = artifacts.load_stage(trained_vae, expected_stage="vae")
    for a, b in zip(networks.decoder.get_weights(), vae.decoder.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_hard_blend_weights_grow_with_blendedness_and_average_one(blended_data: Path) -> None:
    config = TrainingConfig(
        batch_size=16, epochs=1, blendedness_boost=5.0, val_fraction=0.25, augment=False
    )
    split = split_data("deblender", blended_data, val_fraction=0.25)
    weights = loss_weights(split, config)
    assert weights is not None
    assert weights.blend_boost == 5.0
    np.testing.assert_allclose(weights.weights, 1.0)  # no magnitude balancing asked
    mags = tf.constant([24.0, 24.0, 24.0])
    got = weights.lookup(mags, tf.constant([0.0, 0.1, 1.0])).numpy()
    np.testing.assert_allclose(got * weights.blend_norm, [1.0, 1.5, 6.0], rtol=1e-6)
    # the mean weight over the training examples is 1
    fields = ["central_mag_vis", "blendedness"]
    truth = read_numpy(blended_data, fields=fields, shards=split.train.shards)
    every = weights.lookup(tf.constant(truth["central_mag_vis"]), tf.constant(truth["blendedness"]))
    assert float(np.mean(every.numpy())) == pytest.approx(1.0, rel=1e-5)
    dataset, _ = training_dataset(split, config, ArcsinhNormalizer(0.01), weights=weights)
    _, _, w = next(iter(dataset))
    assert w.shape == (16,)
    assert weights.to_dict()["blendedness_boost"] == 5.0


def test_hard_blend_weights_refused_for_stage_1(isolated_data: Path) -> None:
    split = split_data("vae", isolated_data, val_fraction=0.25)
    with pytest.raises(ValueError, match="applies to `train deblender` only"):
        loss_weights(split, TrainingConfig(blendedness_boost=1.0))
    with pytest.raises(ValueError, match="blendedness_boost must be >= 0"):
        TrainingConfig(blendedness_boost=-1.0)
