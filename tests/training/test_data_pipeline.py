"""The tf.data pipelines: split, augmentation, per-epoch determinism, flux preservation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from data_generation.tfrecords import read_numpy
from debvader_euclid.models import ArcsinhNormalizer
from debvader_euclid.training.config import TrainingConfig
from debvader_euclid.training.data import (
    drop_neighbours,
    random_symmetries,
    scale_noise,
    split_data,
    swap_neighbours,
    training_dataset,
    validation_dataset,
)

NORM = ArcsinhNormalizer(0.01)


def batches(dataset: tf.data.Dataset) -> list[np.ndarray]:
    return [x.numpy() for x, _ in dataset]


def test_random_symmetries_cover_the_dihedral_group_and_move_input_and_target_together() -> None:
    image = np.arange(36, dtype=np.float32).reshape(6, 6)
    batch = np.repeat(image[None], 64, axis=0)
    x, y = random_symmetries([tf.constant(batch), tf.constant(2 * batch)], tf.constant([7, 1]))
    x, y = x.numpy(), y.numpy()
    np.testing.assert_array_equal(y, 2 * x)
    np.testing.assert_array_equal(x.sum(axis=(1, 2)), image.sum())
    expected = {np.rot90(f, k).tobytes() for f in (image, image[:, ::-1]) for k in range(4)}
    assert {a.tobytes() for a in x} == expected
    again, _ = random_symmetries([tf.constant(batch), tf.constant(batch)], tf.constant([7, 1]))
    np.testing.assert_array_equal(again.numpy(), x)  # stateless: reproducible
    other, _ = random_symmetries([tf.constant(batch), tf.constant(batch)], tf.constant([7, 2]))
    assert not np.array_equal(other.numpy(), x)


@pytest.mark.parametrize(("fraction", "n_val"), [(0.01, 1), (0.25, 1), (0.5, 2), (0.99, 3)])
def test_split_holds_out_the_last_shards(isolated_data: Path, fraction: float, n_val: int) -> None:
    split = split_data("vae", isolated_data, val_fraction=fraction)
    assert split.validation.shards == tuple(range(4 - n_val, 4))
    assert split.train.shards == tuple(range(4 - n_val))
    assert split.train.n_examples + split.validation.n_examples == 320
    assert split.fields == ("central_noisy", "central_noiseless")


def test_each_epoch_is_a_function_of_the_seed_and_epoch_only(isolated_data: Path) -> None:
    split = split_data("vae", isolated_data, val_fraction=0.25)
    config = TrainingConfig(seed=5, batch_size=64, epochs=3, shuffle_buffer=100)
    stream, steps = training_dataset(split, config, NORM)
    assert steps == 4  # ceil(240 / 64)
    full = batches(stream)
    assert len(full) == 3 * steps
    resumed, _ = training_dataset(split, config, NORM, initial_epoch=1)
    tail = batches(resumed)
    assert len(tail) == 2 * steps
    for a, b in zip(full[steps:], tail, strict=True):
        np.testing.assert_array_equal(a, b)
    # epochs differ from each other (order and augmentation)
    assert not np.array_equal(full[0], full[steps])
    # every training example is seen once per epoch
    assert sum(len(b) for b in full[:steps]) == 240

    shorter, steps = training_dataset(split, config.replace(steps_per_epoch=2), NORM)
    assert steps == 2
    assert len(batches(shorter)) == 6
    with pytest.raises(ValueError, match="no epoch left"):
        training_dataset(split, config, NORM, initial_epoch=3)


def test_pipeline_preserves_flux(isolated_data: Path) -> None:
    split = split_data("vae", isolated_data, val_fraction=0.25)
    config = TrainingConfig(seed=1, batch_size=50, epochs=1, shuffle_buffer=1000, augment=True)
    stream, _ = training_dataset(split, config, NORM)
    stored = read_numpy(isolated_data, fields=["central_noiseless"], shards=[0, 1, 2])
    fluxes = np.sort(stored["central_noiseless"].astype(np.float64).sum(axis=(1, 2)))
    seen = []
    for x, y in stream:
        assert x.shape[1:] == y.shape[1:] == (32, 32, 1)
        seen.extend(NORM.denormalize(y.numpy()).astype(np.float64).sum(axis=(1, 2, 3)))
    np.testing.assert_allclose(np.sort(seen), fluxes, rtol=2e-6)

    val = validation_dataset(split, 32, NORM)
    first_x, first_y = next(iter(val))
    raw = read_numpy(isolated_data, fields=["central_noisy"], shards=[3], max_examples=32)
    np.testing.assert_allclose(
        NORM.denormalize(first_x.numpy()[..., 0]), raw["central_noisy"], rtol=2e-6, atol=1e-12
    )


def test_drop_neighbours_removes_the_neighbour_from_a_seeded_fraction() -> None:
    rng = np.random.default_rng(0)
    blends = tf.constant(rng.normal(size=(2000, 4, 4)).astype(np.float32))
    neighbours = tf.constant(rng.normal(size=(2000, 4, 4)).astype(np.float32))
    out = drop_neighbours(blends, neighbours, 0.25, tf.constant([3, 9], tf.int64)).numpy()
    dropped = ~np.all(out == blends.numpy(), axis=(1, 2))
    np.testing.assert_allclose(out[dropped], (blends - neighbours).numpy()[dropped])
    assert 0.21 < dropped.mean() < 0.29
    again = drop_neighbours(blends, neighbours, 0.25, tf.constant([3, 9], tf.int64)).numpy()
    np.testing.assert_array_equal(again, out)
    never = drop_neighbours(blends, neighbours, 0.0, tf.constant([3, 9], tf.int64)).numpy()
    np.testing.assert_array_equal(never, blends.numpy())


def test_neighbour_dropout_in_the_training_stream(blended_data: Path, isolated_data: Path) -> None:
    split = split_data("deblender", blended_data, val_fraction=0.25)
    config = TrainingConfig(seed=2, batch_size=240, epochs=1, augment=False)
    plain = batches(training_dataset(split, config, NORM)[0])[0]
    dropped = batches(training_dataset(split, config.replace(neighbour_dropout=0.5), NORM)[0])[0]
    changed = ~np.all(np.isclose(plain, dropped), axis=(1, 2, 3))
    assert 0.3 < changed.mean() < 0.7
    # the changed inputs hold less light: the neighbour is gone
    flux = NORM.denormalize(plain).sum(axis=(1, 2, 3)) - NORM.denormalize(dropped).sum(
        axis=(1, 2, 3)
    )
    assert np.all(flux[changed] > 0)
    vae_split = split_data("vae", isolated_data, val_fraction=0.25)
    with pytest.raises(ValueError, match="neighbour_dropout applies to the deblender"):
        training_dataset(vae_split, config.replace(neighbour_dropout=0.5), NORM)
    with pytest.raises(ValueError, match="neighbour_dropout must be in"):
        config.replace(neighbour_dropout=1.0)


def _symmetries(image: np.ndarray) -> set[bytes]:
    return {np.rot90(f, k).tobytes() for f in (image, image.T) for k in range(4)}


def test_swap_neighbours_gives_each_blend_the_next_ones_neighbour_turned() -> None:
    rng = np.random.default_rng(4)
    centrals = rng.normal(size=(500, 6, 6)).astype(np.float32)
    neighbours = rng.normal(size=(500, 6, 6)).astype(np.float32)
    blends = tf.constant(centrals + neighbours)
    seed = tf.constant([5, 2], tf.int64)
    out, new = swap_neighbours(blends, tf.constant(neighbours), 1.0, seed)
    out, new = out.numpy(), new.numpy()
    np.testing.assert_allclose(out, centrals + new, atol=1e-5)  # central and noise kept
    following = np.roll(neighbours, -1, axis=0)
    for i in range(len(new)):
        assert new[i].tobytes() in _symmetries(following[i])
    turns = {
        new[i].tobytes() for i in range(len(new)) if new[i].tobytes() != following[i].tobytes()
    }
    assert len(turns) > 0.8 * len(new)  # 7 of 8 draws turn it
    again, _ = swap_neighbours(blends, tf.constant(neighbours), 1.0, seed)
    np.testing.assert_array_equal(again.numpy(), out)
    some, some_new = swap_neighbours(blends, tf.constant(neighbours), 0.3, seed)
    swapped = ~np.all(some_new.numpy() == neighbours, axis=(1, 2))
    assert 0.24 < swapped.mean() < 0.36
    np.testing.assert_array_equal(some.numpy()[~swapped], blends.numpy()[~swapped])
    never, _ = swap_neighbours(blends, tf.constant(neighbours), 0.0, seed)
    np.testing.assert_array_equal(never.numpy(), blends.numpy())


def test_neighbour_swap_in_the_training_stream(blended_data: Path, isolated_data: Path) -> None:
    split = split_data("deblender", blended_data, val_fraction=0.25)
    config = TrainingConfig(seed=2, batch_size=240, epochs=1, augment=False)
    ((plain_x, plain_y),) = [
        (x.numpy(), y.numpy()) for x, y in training_dataset(split, config, NORM)[0]
    ]
    ((swap_x, swap_y),) = [
        (x.numpy(), y.numpy())
        for x, y in training_dataset(split, config.replace(neighbour_swap=1.0), NORM)[0]
    ]
    np.testing.assert_array_equal(swap_y, plain_y)  # the targets stay
    assert np.mean(~np.all(np.isclose(plain_x, swap_x), axis=(1, 2, 3))) > 0.9
    # the batch holds the same neighbours, handed round: its total light is unchanged
    np.testing.assert_allclose(
        NORM.denormalize(swap_x).sum(), NORM.denormalize(plain_x).sum(), rtol=1e-4
    )
    vae_split = split_data("vae", isolated_data, val_fraction=0.25)
    with pytest.raises(ValueError, match="neighbour_swap applies to the deblender"):
        training_dataset(vae_split, config.replace(neighbour_swap=0.5), NORM)
    with pytest.raises(ValueError, match="neighbour_swap must be in"):
        config.replace(neighbour_swap=1.5)
    with pytest.raises(ValueError, match="cannot be combined with blendedness_boost"):
        config.replace(neighbour_swap=0.5, blendedness_boost=2.0)


def test_scale_noise_multiplies_the_noise_by_a_log_uniform_factor() -> None:
    rng = np.random.default_rng(8)
    clean = rng.uniform(0.0, 1.0, size=(4000, 8, 8)).astype(np.float32)
    noise = rng.normal(0.0, 0.01, size=clean.shape).astype(np.float32)
    seed = tf.constant([1, 6], tf.int64)
    out = scale_noise(tf.constant(clean + noise), tf.constant(clean), (0.25, 4.0), seed).numpy()
    factors = ((out - clean) * noise).sum(axis=(1, 2)) / (noise**2).sum(axis=(1, 2))
    np.testing.assert_allclose(out - clean, factors[:, None, None] * noise, atol=1e-5)
    assert 0.25 - 1e-4 <= factors.min()
    assert factors.max() <= 4.0 + 1e-4
    # log-uniform: log2 of the factor uniform on [-2, 2], so each half holds half of them
    assert 0.45 < np.mean(factors < 1.0) < 0.55
    assert 0.2 < np.mean(factors < 0.5) < 0.3
    again = scale_noise(tf.constant(clean + noise), tf.constant(clean), (0.25, 4.0), seed)
    np.testing.assert_array_equal(again.numpy(), out)
    same = scale_noise(tf.constant(clean + noise), tf.constant(clean), (1.0, 1.0), seed)
    np.testing.assert_allclose(same.numpy(), clean + noise, atol=1e-6)


@pytest.mark.parametrize("stage", ["vae", "deblender"])
def test_noise_scaling_in_the_training_stream(
    stage: str, blended_data: Path, isolated_data: Path
) -> None:
    data = blended_data if stage == "deblender" else isolated_data
    inp, tgt = (
        ("blend_noisy", "central_noiseless")
        if stage == "deblender"
        else (
            "central_noisy",
            "central_noiseless",
        )
    )
    split = split_data(stage, data, val_fraction=0.25)
    config = TrainingConfig(seed=2, batch_size=240, epochs=1, augment=False, shuffle_buffer=1)
    ((plain_x, plain_y),) = [
        (x.numpy(), y.numpy()) for x, y in training_dataset(split, config, NORM)[0]
    ]
    noisy = config.replace(noise_scale_range=[3.0, 3.0])  # a list, as JSON gives it
    assert noisy.noise_scale_range == (3.0, 3.0)
    ((scaled_x, scaled_y),) = [
        (x.numpy(), y.numpy()) for x, y in training_dataset(split, noisy, NORM)[0]
    ]
    np.testing.assert_array_equal(scaled_y, plain_y)
    # the noise, input minus every noiseless galaxy, is three times as large
    truth = read_numpy(
        data,
        fields=[inp, tgt] + (["neighbour_noiseless"] if stage == "deblender" else []),
        shards=list(split.train.shards),
    )
    clean = truth[tgt] + truth.get("neighbour_noiseless", 0.0)
    noise = truth[inp] - clean
    plain_noise = NORM.denormalize(plain_x)[..., 0] - NORM.denormalize(plain_y)[..., 0]
    scaled_noise = NORM.denormalize(scaled_x)[..., 0] - NORM.denormalize(plain_y)[..., 0]
    extra = scaled_noise - plain_noise  # = 2 x noise, in whatever order the batch came
    assert np.std(extra) == pytest.approx(2.0 * np.std(noise), rel=0.02)


@pytest.mark.parametrize("bad", [[0.0, 1.0], [2.0, 1.0], [1.0, float("inf")], [1.0], 2.0])
def test_noise_scale_range_refusals(bad: object) -> None:
    with pytest.raises(ValueError, match="noise_scale_range must be a pair"):
        TrainingConfig(noise_scale_range=bad)
