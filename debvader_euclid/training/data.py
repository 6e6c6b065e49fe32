"""Training data: checks, the train/validation split, and the tf.data pipelines.

Data sets are folders of TFRecord shards described by a manifest
(:mod:`data_generation.manifest`), streamed by
:func:`data_generation.tfrecords.read_dataset`; nothing is ever loaded whole, so
memory is bounded by the shuffle buffer (:attr:`TrainingConfig.shuffle_buffer`
examples), the prefetch queue and the interleave buffers, whatever the data set size.

Pipeline of one training epoch ``e``::

    read_dataset(train shards, shard order shuffled with seed f(seed, e), 8 shards interleaved)
      -> shuffle(shuffle_buffer, seed f(seed, e))
      -> batch(batch_size) -> take(steps_per_epoch)
      -> the input's noise scaled by a factor drawn log-uniformly per example
         (input = noiseless galaxies + s * (input - noiseless galaxies)), stateless
         seeds (f(seed, e), batch index)  [if noise_scale_range is not (1, 1)]
      -> neighbour of a random fraction of the blends replaced by the next blend's
         in the batch, randomly turned (input = blend_noisy - neighbour_noiseless
         + other neighbour), stateless seeds (f(seed, e), batch index)
         [stage 2, if neighbour_swap > 0]
      -> neighbour removed from the input of a random fraction of the blends
         (input = blend_noisy - neighbour_noiseless), stateless seeds
         (f(seed, e), batch index)  [stage 2, if neighbour_dropout > 0]
      [-> the central galaxy without its neighbour (blend - neighbour_noiseless,
         taken before the dropout: the central galaxy with the blend's noise), a
         second input for the latent-matching term  [stage 2, if latent_weight > 0]]
      -> random dihedral symmetry (8 rotations/flips) per example, same on input(s)
         and target, drawn with stateless seeds (f(seed, e), batch index)  [if augment]
      -> arcsinh normalisation (input(s) and target)
      [-> the PSF vector of the example's shard as a second input  [stage 2, if the
         model has psf_input; see :class:`ShardPSFs`]]
      [-> loss weight per example from the central galaxy's magnitude and the
         blend's blendedness, if TrainingConfig.magnitude_balance or
         blendedness_boost > 0; see :class:`LossWeights`]

Every random choice is a function of ``(seed, epoch)``, not of how many epochs the
process has run: the training stream is the concatenation of the epochs
``initial_epoch .. epochs - 1``, so a resumed run sees exactly the batches an
uninterrupted one would. Validation reads its shards in a fixed order, without
augmentation.

Validation split: with a separate validation data set (``--val-data``) all its
shards validate and all the training set's shards train. Otherwise the last
``max(1, round(val_fraction * n_shards))`` shards (highest indices) of the
training set are held out; a single-shard data set then needs ``--val-data``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from data_generation.manifest import (
    Manifest,
    load_manifest,
    manifest_sha256,
    require_complete,
    shard_ranges,
)
from data_generation.tfrecords import read_dataset
from debvader_euclid.models.config import ModelConfig
from debvader_euclid.models.normalization import ArcsinhNormalizer
from debvader_euclid.models.psf_modulation import psf_features
from debvader_euclid.psf_descriptor import data_set_psf_images, encircled_light
from debvader_euclid.training.config import TrainingConfig

log = logging.getLogger(__name__)

#: Truth field the magnitude-balancing weights are computed from (both kinds have it).
BALANCE_FIELD = "central_mag_vis"

#: Truth field of the hard-blend loss weights (blended data sets only).
BLEND_FIELD = "blendedness"

#: Input field of stage 2, and the truth field that ``neighbour_dropout`` and
#: ``neighbour_swap`` subtract from it.
BLEND_INPUT = "blend_noisy"
NEIGHBOUR_FIELD = "neighbour_noiseless"

#: Stage-2 validation field of the central galaxy without its neighbour, with the
#: blend's noise: the second input of the latent-matching term (``latent_weight``).
CENTRAL_INPUT = "central_noisy"

#: Name of the shard-index field read for PSF-conditioned models.
SHARD_FIELD = "shard_index"

#: Data set kind each stage trains on.
STAGE_KIND = {"vae": "isolated", "deblender": "blended"}

#: (input, target) fields of each stage (see :mod:`data_generation.schema`).
STAGE_FIELDS = {
    "vae": ("central_noisy", "central_noiseless"),
    "deblender": (BLEND_INPUT, "central_noiseless"),
}

_STAGE_COMMAND = {"vae": "train vae", "deblender": "train deblender"}


@dataclass(frozen=True)
class DataPart:
    """Shards of one data set used for training or validation.

    Attributes
    ----------
    folder : pathlib.Path
    manifest : Manifest
    manifest_sha256 : str
        SHA-256 of the manifest file, identifying the data set.
    content_sha256 : str
        SHA-256 of the data set's content (:meth:`Manifest.content_sha256`), the same
        for a data set regenerated with identical shards.
    shards : tuple of int
        Shard indices used.
    n_examples : int
        Examples in those shards.
    """

    folder: Path
    manifest: Manifest
    manifest_sha256: str
    shards: tuple[int, ...]
    n_examples: int

    @property
    def content_sha256(self) -> str:
        """SHA-256 of the data set's content, independent of creation time and folder."""
        return self.manifest.content_sha256()

    def provenance(self) -> dict[str, Any]:
        """JSON summary for ``provenance.json``.

        For a data set made by ``debvader-euclid combine``, ``combined_from`` also
        names, for each input, its hashes and the *source* indices of the shards
        used here, so that ``evaluate`` recognises those shards in the inputs.
        """
        record: dict[str, Any] = {
            "folder": str(self.folder.resolve()),
            "manifest_sha256": self.manifest_sha256,
            "content_sha256": self.content_sha256,
            "kind": self.manifest.kind,
            "stamp_size": self.manifest.stamp_size,
            "shards": list(self.shards),
            "n_examples": self.n_examples,
        }
        parts = self.manifest.config.get("combined_from")
        if parts:
            used = set(self.shards)
            record["combined_from"] = [
                {
                    "folder": part.get("folder"),
                    "manifest_sha256": part.get("manifest_sha256"),
                    "content_sha256": part.get("content_sha256"),
                    "shards": sorted(int(src) for src, new in part["shards"] if new in used),
                }
                for part in parts
            ]
        return record


@dataclass(frozen=True)
class DataSplit:
    """Training and validation parts of the data of one stage.

    Attributes
    ----------
    stage : {"vae", "deblender"}
    train, validation : DataPart
    """

    stage: str
    train: DataPart
    validation: DataPart
    fields: tuple[str, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", STAGE_FIELDS[self.stage])

    @property
    def stamp_size(self) -> int:
        """Side of the stamps, pixels."""
        return self.train.manifest.stamp_size


@dataclass(frozen=True)
class ShardPSFs:
    """The PSF vector of every shard of a data part, for PSF-conditioned deblenders.

    Attributes
    ----------
    features : numpy.ndarray
        float32 ``(max shard index + 1, K)``: row ``i`` is the network input
        (:func:`~debvader_euclid.models.psf_modulation.psf_features`) of the PSF
        the stamps of shard ``i`` were simulated with.
    """

    features: np.ndarray

    @classmethod
    def for_part(cls, part: DataPart, model: ModelConfig) -> ShardPSFs:
        """Measure the PSF of each shard of ``part`` from its manifest.

        Raises
        ------
        ValueError
            If the manifest does not record the instrument (the PSF is unknown).
        """
        images = data_set_psf_images(part.manifest.config)
        cache: dict[int, np.ndarray] = {}
        rows = np.zeros((max(part.shards) + 1, len(model.psf_radii_pixels)), np.float32)
        for index in part.shards:
            image = images.get(index, images.get(-1))
            if image is None:
                raise ValueError(f"{part.folder}: the manifest records no PSF for shard {index}")
            if id(image) not in cache:
                ee = encircled_light(image, model.psf_radii_pixels)
                cache[id(image)] = psf_features(ee, model.psf_reference)
            rows[index] = cache[id(image)]
        log.info("%s: %d distinct PSF(s) over %d shards", part.folder, len(cache), len(part.shards))
        return cls(rows)

    def lookup(self, shard_index: tf.Tensor) -> tf.Tensor:
        """``(B, K)`` PSF vectors of the examples of a batch, from their shard indices."""
        return tf.gather(tf.constant(self.features), shard_index)


def open_data_set(folder: str | os.PathLike, stage: str, role: str) -> tuple[Manifest, str]:
    """Load and check the manifest of a data set for ``stage``.

    Parameters
    ----------
    folder : path-like
    stage : {"vae", "deblender"}
    role : str
        ``"training"`` or ``"validation"``, for messages.

    Returns
    -------
    manifest : Manifest
    sha256 : str
        SHA-256 of its manifest file.

    Raises
    ------
    FileNotFoundError
        If the folder or its manifest does not exist.
    ValueError
        If the data set is of the wrong kind or has no examples.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"{role} data folder {folder} does not exist")
    if not folder.is_dir():
        raise FileNotFoundError(f"{role} data folder {folder} is not a folder")
    manifest = load_manifest(folder)
    expected = STAGE_KIND[stage]
    if manifest.kind != expected:
        other = "vae" if stage == "deblender" else "deblender"
        raise ValueError(
            f"{role} data {folder} is a {manifest.kind!r} data set but `{_STAGE_COMMAND[stage]}` "
            f"trains on {expected!r} data sets (a {manifest.kind!r} data set is for "
            f"`{_STAGE_COMMAND[other]}`)"
        )
    if manifest.counts["n_examples"] == 0:
        raise ValueError(f"{role} data {folder} has no examples")
    return manifest, manifest_sha256(folder)


def split_data(
    stage: str,
    data: str | os.PathLike,
    val_data: str | os.PathLike | None = None,
    val_fraction: float = 0.1,
    verify: bool = False,
) -> DataSplit:
    """Check the data of a stage and split it into training and validation shards.

    Parameters
    ----------
    stage : {"vae", "deblender"}
    data : path-like
        Training data set folder.
    val_data : path-like, optional
        Separate validation data set; otherwise shards of ``data`` are held out
        (see the module docstring).
    val_fraction : float
        Fraction of the shards held out when ``val_data`` is None.
    verify : bool
        Check the SHA-256 of every shard (reads everything once); without it only
        the presence and size of the shards are checked.

    Returns
    -------
    DataSplit

    Raises
    ------
    FileNotFoundError, ValueError
        Missing folder or manifest, wrong kind, incomplete shards, stamp sizes of
        training and validation data that differ, or a single shard and no
        ``val_data``.
    """
    data = Path(data)
    manifest, sha = open_data_set(data, stage, "training")
    indices = sorted(s.index for s in manifest.shards)
    if val_data is None:
        if len(indices) < 2:
            raise ValueError(
                f"training data {data} has a single shard: nothing can be held out for "
                "validation; give a separate validation data set with --val-data or "
                "generate the data in several shards"
            )
        n_val = min(max(1, round(val_fraction * len(indices))), len(indices) - 1)
        train_idx, val_idx = tuple(indices[:-n_val]), tuple(indices[-n_val:])
        val_folder, val_manifest, val_sha = data, manifest, sha
    else:
        val_folder = Path(val_data)
        val_manifest, val_sha = open_data_set(val_folder, stage, "validation")
        if val_sha == sha or val_manifest.content_sha256() == manifest.content_sha256():
            raise ValueError(
                f"the validation data {val_folder} is the training data set itself: give a "
                "different data set, or no --val-data to hold out shards of the training set"
            )
        if val_manifest.stamp_size != manifest.stamp_size:
            raise ValueError(
                f"stamp-size mismatch: training data {data} has {manifest.stamp_size}-pixel "
                f"stamps, validation data {val_folder} {val_manifest.stamp_size}-pixel stamps"
            )
        train_idx = tuple(indices)
        val_idx = tuple(sorted(s.index for s in val_manifest.shards))
    require_complete(data, manifest, check_sha256=verify, shards=train_idx)
    require_complete(val_folder, val_manifest, check_sha256=verify, shards=val_idx)

    def part(folder: Path, m: Manifest, digest: str, idx: tuple[int, ...]) -> DataPart:
        n = sum(m.shard(i).n_examples for i in idx)
        return DataPart(folder, m, digest, idx, n)

    split = DataSplit(
        stage,
        part(data, manifest, sha, train_idx),
        part(val_folder, val_manifest, val_sha, val_idx),
    )
    log.info(
        "%s data: %d training examples (shards %s of %s), %d validation examples (shards %s of %s)",
        stage,
        split.train.n_examples,
        shard_ranges(train_idx),
        data,
        split.validation.n_examples,
        shard_ranges(val_idx),
        val_folder,
    )
    if split.validation.n_examples == 0 or split.train.n_examples == 0:
        raise ValueError(
            f"empty split: {split.train.n_examples} training and "
            f"{split.validation.n_examples} validation examples"
        )
    return split


# --------------------------------------------------------------------------- balancing


@dataclass(frozen=True)
class LossWeights:
    """Loss weights per bin of the central galaxy's true VIS magnitude, optionally
    times a hard-blend factor.

    See :attr:`TrainingConfig.magnitude_balance` and
    :attr:`TrainingConfig.blendedness_boost` for the definitions. The weight of an
    example is ``weights[bin(m)] * (1 + blend_boost * b) / blend_norm``, ``b`` its
    blendedness; ``blend_norm`` makes the mean weight over the training set 1.

    Attributes
    ----------
    edges : tuple of float
        Bin edges, AB mag (``len(weights) + 1`` values). Magnitudes outside take the
        weight of the nearest end bin.
    counts : tuple of int
        Training examples per bin.
    weights : tuple of float
        Weight of an example in each bin (mean 1 over the training examples).
    alpha : float
        The balancing exponent used.
    blend_boost : float
        Factor of the blendedness in the hard-blend term (0: none).
    blend_norm : float
        Mean over the training examples of ``weights[bin(m)] * (1 + blend_boost * b)``.
    """

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    weights: tuple[float, ...]
    alpha: float
    blend_boost: float = 0.0
    blend_norm: float = 1.0

    @classmethod
    def from_magnitudes(
        cls, magnitudes: np.ndarray, alpha: float, bin_width: float, max_weight: float
    ) -> LossWeights:
        """Weights from the magnitudes of the training examples.

        Parameters
        ----------
        magnitudes : numpy.ndarray
            True VIS magnitudes of the central galaxies of the training examples, AB mag.
        alpha : float
            Balancing exponent in [0, 1].
        bin_width : float
            Bin width, AB mag.
        max_weight : float
            Clip of the weights (and of their inverse) before normalisation.

        Returns
        -------
        LossWeights
        """
        magnitudes = np.asarray(magnitudes, dtype=np.float64)
        magnitudes = magnitudes[np.isfinite(magnitudes)]
        if magnitudes.size == 0:
            raise ValueError("no finite central magnitude in the training data: cannot balance")
        low = math.floor(magnitudes.min() / bin_width) * bin_width
        n_bins = max(1, math.ceil((magnitudes.max() - low) / bin_width + 1e-9))
        edges = low + bin_width * np.arange(n_bins + 1)
        counts, _ = np.histogram(magnitudes, bins=edges)
        occupied = counts > 0
        raw = np.ones(n_bins)
        raw[occupied] = (counts[occupied] / counts[occupied].mean()) ** -alpha
        raw = np.clip(raw, 1.0 / max_weight, max_weight)
        raw /= np.sum(raw * counts) / counts.sum()
        return cls(
            tuple(float(e) for e in edges),
            tuple(int(c) for c in counts),
            tuple(float(w) for w in raw),
            float(alpha),
        )

    def with_blend_boost(
        self, magnitudes: np.ndarray, blendedness: np.ndarray, boost: float
    ) -> LossWeights:
        """A copy with the hard-blend term, normalised over these training examples.

        Parameters
        ----------
        magnitudes : numpy.ndarray
            True VIS magnitudes of the central galaxies, AB mag.
        blendedness : numpy.ndarray
            Their blendedness (dimensionless, 0 to 1).
        boost : float
            Factor of the blendedness, >= 0.
        """
        magnitude_part = self.lookup(tf.constant(magnitudes)).numpy()
        product = magnitude_part * (1.0 + float(boost) * np.asarray(blendedness))
        return dataclasses.replace(self, blend_boost=float(boost), blend_norm=float(product.mean()))

    def lookup(self, magnitudes: tf.Tensor, blendedness: tf.Tensor | None = None) -> tf.Tensor:
        """Weights of a batch of examples, float32 of the shape of ``magnitudes``.

        Parameters
        ----------
        magnitudes : tf.Tensor
            True VIS magnitudes of the central galaxies, AB mag.
        blendedness : tf.Tensor, optional
            Their blendedness (needed when ``blend_boost > 0``).
        """
        edges = tf.constant(self.edges[1:-1], tf.float64)
        index = tf.searchsorted(edges, tf.reshape(tf.cast(magnitudes, tf.float64), [-1]), "right")
        weights = tf.reshape(
            tf.gather(tf.constant(self.weights, tf.float32), index), tf.shape(magnitudes)
        )
        if self.blend_boost > 0:
            if blendedness is None:
                raise ValueError("these weights need the blendedness of each example")
            factor = 1.0 + self.blend_boost * tf.cast(blendedness, tf.float32)
            weights = weights * factor / self.blend_norm
        return weights

    def to_dict(self) -> dict[str, Any]:
        """JSON form, recorded in ``provenance.json``."""
        return {
            "field": BALANCE_FIELD,
            "alpha": self.alpha,
            "edges_mag": list(self.edges),
            "counts": list(self.counts),
            "weights": list(self.weights),
            "blendedness_boost": self.blend_boost,
            "blendedness_norm": self.blend_norm,
        }


def loss_weights(split: DataSplit, config: TrainingConfig) -> LossWeights | None:
    """The loss weights of a training run, or None when it uses none.

    Magnitude balancing (:attr:`TrainingConfig.magnitude_balance`) times the
    hard-blend factor (:attr:`TrainingConfig.blendedness_boost`, stage 2 only).

    Reads the central magnitude (and, with the hard-blend factor, the
    blendedness) of every training example once: one pass over the training
    shards, parsing those fields only.
    """
    boost = config.blendedness_boost
    if config.magnitude_balance <= 0 and boost <= 0:
        return None
    if boost > 0 and split.stage != "deblender":
        raise ValueError(
            "blendedness_boost weights blends by their blendedness: it applies to "
            "`train deblender` only; remove it from the stage-1 configuration"
        )
    fields = [BALANCE_FIELD] + ([BLEND_FIELD] if boost > 0 else [])
    with _quiet_reader():
        ds = read_dataset(split.train.folder, fields=fields, shards=split.train.shards)
    batches = list(ds.batch(8192).as_numpy_iterator())
    mags = np.concatenate([batch[BALANCE_FIELD] for batch in batches])
    weights = LossWeights.from_magnitudes(
        mags, config.magnitude_balance, config.magnitude_bin_width, config.max_balance_weight
    )
    if boost > 0:
        blendedness = np.concatenate([batch[BLEND_FIELD] for batch in batches])
        weights = weights.with_blend_boost(mags, blendedness, boost)
        log.info("hard-blend weights 1 + %g x blendedness (normalised)", boost)
    log.info(
        "magnitude balancing (alpha=%g): weights %.3g (brightest bin) to %.3g (faintest)",
        weights.alpha,
        weights.weights[0],
        weights.weights[-1],
    )
    return weights


# --------------------------------------------------------------------------- pipelines


def _weighted_fields(inp: str, tgt: str, weights: LossWeights | None) -> list[str]:
    if weights is None:
        return [inp, tgt]
    return [inp, tgt, BALANCE_FIELD] + ([BLEND_FIELD] if weights.blend_boost > 0 else [])


def epoch_seed(seed: int, epoch: int) -> int:
    """A 31-bit seed for epoch ``epoch`` of a run with master seed ``seed``."""
    return (int(seed) * 1_000_003 + int(epoch) * 7_919 + 12_345) % (2**31 - 1)


def drop_neighbours(
    blends: tf.Tensor, neighbours: tf.Tensor, probability: float, seed: tf.Tensor
) -> tf.Tensor:
    """Remove the neighbour from a random fraction of a batch of blends.

    Parameters
    ----------
    blends : tf.Tensor
        ``(B, S, S)`` noisy blends, uJy/pixel.
    neighbours : tf.Tensor
        ``(B, S, S)`` their noiseless neighbours, uJy/pixel.
    probability : float
        Chance, per example, that the neighbour is removed.
    seed : tf.Tensor
        Stateless seed, shape ``(2,)`` int64.

    Returns
    -------
    tf.Tensor
        ``blends - neighbours`` for the chosen examples (the central galaxy with the
        blend's own noise), ``blends`` for the others.
    """
    drop = _chosen_examples(blends, probability, seed, stream=1)
    return tf.where(drop, blends - neighbours, blends)


def _chosen_examples(
    images: tf.Tensor, probability: float, seed: tf.Tensor, stream: int
) -> tf.Tensor:
    """``(B, 1, 1)`` booleans, each True with ``probability``, from stream ``stream`` of ``seed``.

    Each augmentation folds its own stream number into the batch's stateless seed
    (drop_neighbours 1, swap_neighbours 2 and 3, scale_noise 4), so that none shares
    random_symmetries' draws, which use the seed itself.
    """
    draw_seed = tf.random.experimental.stateless_fold_in(seed, stream)
    draws = tf.random.stateless_uniform(tf.shape(images)[:1], draw_seed)
    return tf.reshape(draws < probability, [-1, 1, 1])


def scale_noise(
    inputs: tf.Tensor, clean: tf.Tensor, scale_range: tuple[float, float], seed: tf.Tensor
) -> tf.Tensor:
    """Scale the noise of a batch of inputs by a random factor per example.

    Parameters
    ----------
    inputs : tf.Tensor
        ``(B, S, S)`` noisy inputs, uJy/pixel.
    clean : tf.Tensor
        ``(B, S, S)`` the same scenes without noise (every galaxy in them), uJy/pixel.
    scale_range : (float, float)
        Smallest and largest factor; drawn log-uniformly between them.
    seed : tf.Tensor
        Stateless seed, shape ``(2,)`` int64.

    Returns
    -------
    tf.Tensor
        ``clean + s * (inputs - clean)``: white Gaussian noise of sigma ``s`` times
        the inputs', on the same galaxies.
    """
    low, high = (math.log(float(v)) for v in scale_range)
    # stream 4 (see _chosen_examples)
    draw_seed = tf.random.experimental.stateless_fold_in(seed, 4)
    log_scale = tf.random.stateless_uniform(
        tf.shape(inputs)[:1], draw_seed, minval=low, maxval=high
    )
    scale = tf.reshape(tf.exp(log_scale), [-1, 1, 1])
    return clean + scale * (inputs - clean)


def swap_neighbours(
    blends: tf.Tensor, neighbours: tf.Tensor, probability: float, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Give a random fraction of a batch of blends another blend's neighbour.

    Example ``i`` takes the neighbour of example ``i + 1`` (the last takes the
    first's; after the shuffle buffer, consecutive examples are unrelated), turned by
    one of the 8 rotations and flips about the stamp centre, drawn per example.

    Parameters
    ----------
    blends, neighbours : tf.Tensor
        ``(B, S, S)`` noisy blends and their noiseless neighbours, uJy/pixel.
    probability : float
        Chance, per example, that the neighbour is swapped.
    seed : tf.Tensor
        Stateless seed, shape ``(2,)`` int64 (streams 2 and 3 are folded in).

    Returns
    -------
    blends : tf.Tensor
        ``blends - neighbours + new_neighbours`` for the chosen examples (their
        central galaxy and noise are kept), ``blends`` for the others.
    neighbours : tf.Tensor
        The neighbour each returned blend now holds, uJy/pixel.
    """
    swap = _chosen_examples(blends, probability, seed, stream=2)
    turn_seed = tf.random.experimental.stateless_fold_in(seed, 3)
    others = dihedral_transform(
        tf.roll(neighbours, shift=-1, axis=0), _dihedral_bits(neighbours, turn_seed)
    )
    new_neighbours = tf.where(swap, others, neighbours)
    return blends - neighbours + new_neighbours, new_neighbours


def _dihedral_bits(images: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Three independent fair bits per example (transpose, flip up-down, flip left-right)."""
    bits = tf.random.stateless_uniform(
        [3, tf.shape(images)[0], 1, 1], seed=seed, minval=0, maxval=2, dtype=tf.int32
    )
    return tuple(tf.unstack(tf.cast(bits, tf.bool)))


def dihedral_transform(
    images: tf.Tensor, bits: tuple[tf.Tensor, tf.Tensor, tf.Tensor]
) -> tf.Tensor:
    """Transpose, flip up-down and flip left-right each image where its bit is set.

    Parameters
    ----------
    images : tf.Tensor
        ``(B, S, S)`` images.
    bits : tuple of tf.Tensor
        Three ``(B, 1, 1)`` booleans: transpose, flip up-down, flip left-right. Their 8
        combinations are exactly the 8 symmetries of the square.

    Returns
    -------
    tf.Tensor
        ``(B, S, S)``.
    """
    transpose, flip_ud, flip_lr = bits
    images = tf.where(transpose, tf.transpose(images, [0, 2, 1]), images)
    images = tf.where(flip_ud, tf.reverse(images, axis=[1]), images)
    return tf.where(flip_lr, tf.reverse(images, axis=[2]), images)


def random_symmetries(images: Sequence[tf.Tensor], seed: tf.Tensor) -> list[tf.Tensor]:
    """Apply a random symmetry of the square to each example of batches of images.

    Each example draws, with a stateless seed, one of the 8 elements of the
    dihedral group (rotations by 0, 90, 180, 270 degrees with or without a flip)
    as three independent fair bits: transpose, flip up-down, flip left-right;
    their 8 combinations are exactly the 8 symmetries. The images of an example
    (input, target, and the central input of the latent-matching term) get the same
    one. Rotations are about the stamp centre: for an even stamp size a galaxy
    centred on pixel ``S // 2`` moves by at most one pixel, together with its
    target. Vectorised over the batch (no per-example branch).

    Parameters
    ----------
    images : sequence of tf.Tensor
        Batches of ``(B, S, S)`` images, all of the same batch size ``B``.
    seed : tf.Tensor
        Stateless seed, int32 or int64 ``(2,)``.

    Returns
    -------
    list of tf.Tensor
        The transformed batches, in the order given, each ``(B, S, S)``.
    """
    bits = _dihedral_bits(images[0], seed)
    return [dihedral_transform(image, bits) for image in images]


def steps_per_epoch(split: DataSplit, config: TrainingConfig, drop_remainder: bool = False) -> int:
    """Batches per training epoch (a full pass, or ``config.steps_per_epoch`` if fewer).

    A full pass is ``ceil(n_train / batch_size)`` batches, or ``floor(...)`` with
    ``drop_remainder``.
    """
    if drop_remainder:
        full = split.train.n_examples // config.batch_size
        if full == 0:
            raise ValueError(
                f"{split.train.n_examples} training examples do not fill one batch of "
                f"{config.batch_size}"
            )
    else:
        full = math.ceil(split.train.n_examples / config.batch_size)
    if config.steps_per_epoch is None:
        return full
    if config.steps_per_epoch > full:
        log.warning(
            "steps_per_epoch=%d is more than one pass over the %d training examples: using %d",
            config.steps_per_epoch,
            split.train.n_examples,
            full,
        )
        return full
    return int(config.steps_per_epoch)


@contextlib.contextmanager
def _quiet_reader() -> Iterator[None]:
    """Silence the reader's per-call INFO line while the epochs are assembled."""
    logger = logging.getLogger("data_generation.tfrecords")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _epoch_dataset(
    split: DataSplit,
    config: TrainingConfig,
    normalizer: ArcsinhNormalizer,
    epoch: int,
    steps: int,
    drop_remainder: bool,
    weights: LossWeights | None = None,
    psfs: ShardPSFs | None = None,
) -> tf.data.Dataset:
    inp, tgt = split.fields
    seed = epoch_seed(config.seed, epoch)
    dropout = float(config.neighbour_dropout)
    swap = float(config.neighbour_swap)
    latent = float(config.latent_weight) > 0
    config.check_stage("vae" if inp != BLEND_INPUT else "deblender")
    noise_scaled = tuple(config.noise_scale_range) != (1.0, 1.0)
    uses_neighbours = dropout > 0 or swap > 0 or latent or (noise_scaled and inp == BLEND_INPUT)
    fields = _weighted_fields(inp, tgt, weights) + ([NEIGHBOUR_FIELD] if uses_neighbours else [])
    ds = read_dataset(
        split.train.folder,
        fields=fields,
        shuffle_shards=True,
        seed=seed,
        shards=split.train.shards,
        shard_field=SHARD_FIELD if psfs is not None else None,
    )
    ds = ds.shuffle(config.shuffle_buffer, seed=seed, reshuffle_each_iteration=False)
    ds = ds.batch(config.batch_size, drop_remainder=drop_remainder).take(steps)
    augment = config.augment

    def prepare(index: tf.Tensor, batch: dict[str, tf.Tensor]) -> tuple[tf.Tensor, ...]:
        x, y = batch[inp], batch[tgt]
        stateless = tf.stack([tf.constant(seed, tf.int64), tf.cast(index, tf.int64)])
        neighbours = batch.get(NEIGHBOUR_FIELD)
        if noise_scaled:
            clean = y if neighbours is None else y + neighbours
            x = scale_noise(x, clean, config.noise_scale_range, stateless)
        if swap > 0:
            x, neighbours = swap_neighbours(x, neighbours, swap, stateless)
        images = [x, y]
        if latent:
            images.append(x - neighbours)
        if dropout > 0:
            images[0] = drop_neighbours(x, neighbours, dropout, stateless)
        if augment:
            images = random_symmetries(images, stateless)
        x, y, *central = (normalizer.normalize(image)[..., None] for image in images)
        if psfs is not None:
            pair = ((x, psfs.lookup(batch[SHARD_FIELD])), y)
        else:
            pair = ((x, central[0]), y) if latent else (x, y)
        if weights is None:
            return pair
        return (*pair, weights.lookup(batch[BALANCE_FIELD], batch.get(BLEND_FIELD)))

    return ds.enumerate().map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def training_dataset(
    split: DataSplit,
    config: TrainingConfig,
    normalizer: ArcsinhNormalizer,
    initial_epoch: int = 0,
    drop_remainder: bool = False,
    weights: LossWeights | None = None,
    psfs: ShardPSFs | None = None,
) -> tuple[tf.data.Dataset, int]:
    """The training stream for epochs ``initial_epoch .. config.epochs - 1``.

    Parameters
    ----------
    split : DataSplit
    config : TrainingConfig
    normalizer : ArcsinhNormalizer
    initial_epoch : int
        First epoch (0-based) still to run, when resuming.
    drop_remainder : bool
        Only full batches (used with several replicas: TensorFlow would hand a
        replica an empty batch, which its CPU convolution kernels mishandle).
    weights : LossWeights, optional
        Loss weights (see :func:`loss_weights`); None for none.
    psfs : ShardPSFs, optional
        PSF-conditioned deblenders: the PSF vector of each training shard, given
        with each stamp (the input is then the pair ``(stamps, psf (B, K))``).

    Returns
    -------
    dataset : tf.data.Dataset
        ``(input, target)`` batches, both ``(B, S, S, 1)`` float32 in normalised
        units (``(input, target, weight)`` with ``weights``, weight ``(B,)``);
        exactly ``steps`` batches per epoch,
        the epochs one after the other (give ``steps_per_epoch=steps`` to ``fit``).
    steps : int
        Batches per epoch.
    """
    steps = steps_per_epoch(split, config, drop_remainder)
    epochs = range(initial_epoch, config.epochs)
    if not epochs:
        raise ValueError(
            f"no epoch left to run: initial_epoch={initial_epoch}, epochs={config.epochs}"
        )
    with _quiet_reader():
        parts = [
            _epoch_dataset(split, config, normalizer, e, steps, drop_remainder, weights, psfs)
            for e in epochs
        ]
    dataset = parts[0]
    for part in parts[1:]:
        dataset = dataset.concatenate(part)
    return dataset.prefetch(tf.data.AUTOTUNE), steps


def validation_dataset(
    split: DataSplit,
    batch_size: int,
    normalizer: ArcsinhNormalizer,
    drop_remainder: bool = False,
    central_input: bool = False,
    psfs: ShardPSFs | None = None,
) -> tf.data.Dataset:
    """Validation batches, in a fixed order, without augmentation.

    With ``drop_remainder`` (several replicas) the last ``n_val % batch_size``
    examples are left out, always the same ones.

    Parameters
    ----------
    split : DataSplit
    batch_size : int
    normalizer : ArcsinhNormalizer
    drop_remainder : bool
    central_input : bool
        Stage 2 with ``latent_weight > 0``: the input is the pair (blend, central
        galaxy with the blend's noise, :data:`CENTRAL_INPUT`), as in training.
    psfs : ShardPSFs, optional
        PSF-conditioned deblenders: the PSF vector of each validation shard.

    Returns
    -------
    tf.data.Dataset
        ``(input, target)`` batches as in :func:`training_dataset`.
    """
    inp, tgt = split.fields
    if central_input and inp != BLEND_INPUT:
        raise ValueError("central_input (latent_weight > 0) is for the deblender stage only")
    fields = [inp, tgt] + ([CENTRAL_INPUT] if central_input else [])
    ds = read_dataset(
        split.validation.folder,
        fields=fields,
        shards=split.validation.shards,
        shard_field=SHARD_FIELD if psfs is not None else None,
    )

    def prepare(example: dict[str, tf.Tensor]) -> tuple[Any, tf.Tensor]:
        x = normalizer.normalize(example[inp])[..., None]
        y = normalizer.normalize(example[tgt])[..., None]
        if psfs is not None:
            return (x, psfs.lookup(example[SHARD_FIELD])), y
        if central_input:
            return (x, normalizer.normalize(example[CENTRAL_INPUT])[..., None]), y
        return x, y

    if drop_remainder and split.validation.n_examples < batch_size:
        raise ValueError(
            f"{split.validation.n_examples} validation examples do not fill one batch of "
            f"{batch_size}"
        )
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
