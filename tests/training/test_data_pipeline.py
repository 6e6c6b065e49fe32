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
    split_data,
    training_dataset,
    validation_dataset,
)

NORM = ArcsinhNormalizer(0.01)


def batches(dataset: tf.data.Dataset) -> list[np.ndarray]:
    return [x.numpy() for x, _ in dataset]


def test_random_symmetries_cover_the_dihedral_group_and_move_input_and_target_together() -> None:
    image = np.arange(36, dtype=np.float32).reshape(6, 6)
    batch = np.repeat(image[None], 64, axis=0)
    x, y = random_symmetries(tf.constant(batch), tf.constant(2 * batch), tf.constant([7, 1]))
    x, y = x.numpy(), y.numpy()
    np.testing.assert_array_equal(y, 2 * x)
    np.testing.assert_array_equal(x.sum(axis=(1, 2)), image.sum())
    expected = {np.rot90(f, k).tobytes() for f in (image, image[:, ::-1]) for k in range(4)}
    assert {a.tobytes() for a in x} == expected
    again, _ = random_symmetries(tf.constant(batch), tf.constant(batch), tf.constant([7, 1]))
    np.testing.assert_array_equal(again.numpy(), x)  # stateless: reproducible
    other, _ = random_symmetries(tf.constant(batch), tf.constant(batch), tf.constant([7, 2]))
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
