"""Convolutional encoder: stamp -> Gaussian posterior over the latent space.

Architecture (:class:`~debvader_euclid.models.config.ModelConfig` names)::

    input (S, S, 1), normalised units
    for each level l = 0 .. L-1, with f = encoder_widths[l] (encoder_filters or filters):
        (convs_per_level - 1) x [Conv2D(f, kernel_sizes[l]) + PReLU]
        Conv2D(f, kernel_sizes[l], stride 2) + PReLU              # side halves
    Flatten
    [Dense(dense_units) + PReLU]                                  # if dense_units > 0
    Dense(latent_dim + latent_dim (latent_dim + 1) / 2)           # mean + Cholesky factor
    tfp.layers.MultivariateNormalTriL(latent_dim)                 # KL regulariser to N(0, I)

PReLU slopes are shared over the image axes (one slope per channel), so the
number of weights does not grow with the stamp size.

With ``psf_input`` (PSF-conditioned blend encoders) a second input, the PSF
vector ``(K,)`` of :func:`.psf_modulation.psf_features`, modulates the features
after each level's strided convolution (:class:`.psf_modulation.PSFModulation`,
layers ``psf{l}``), and with ``psf_readout_rank`` it corrects the read-out of the
latent parameters (:class:`.psf_modulation.PSFReadout`, layer ``psf_readout``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

from debvader_euclid.models.config import ModelConfig
from debvader_euclid.models.psf_modulation import PSFModulation, PSFReadout

tfd = tfp.distributions
tfpl = tfp.layers


def seeded_initializers(seed: int) -> Iterator[keras.initializers.Initializer]:
    """An endless stream of Glorot-uniform initialisers with distinct seeds.

    Seeded initialisers make a network's initial weights a function of ``seed``
    alone, independent of what else the process has built before.
    """
    index = 0
    while True:
        yield keras.initializers.GlorotUniform(seed=int(seed) * 10_007 + index)
        index += 1


def prelu(name: str) -> keras.layers.PReLU:
    """PReLU after a convolution: one learned slope per channel."""
    return keras.layers.PReLU(shared_axes=[1, 2], name=name)


class KLDivergenceToPrior(tfpl.KLDivergenceRegularizer):
    """:class:`tfp.layers.KLDivergenceRegularizer` that counts the KL once per call.

    A ``DistributionLambda`` layer returns both the distribution and its tensor
    value from ``__call__`` and Keras applies the activity regulariser to every
    output, so the parent class adds the same KL term twice (doubling the
    effective weight). This subclass regularises the distribution output only and
    returns 0 for its tensor twin. ``tests/models`` checks that the model losses
    add up to exactly ``weight * KL``.
    """

    def __call__(self, distribution_a: tfd.Distribution | tf.Tensor) -> tf.Tensor:
        if not isinstance(distribution_a, tfd.Distribution):
            return tf.constant(0.0, dtype=tf.float32)
        return super().__call__(distribution_a)


def latent_layer(
    config: ModelConfig,
    convert_to_tensor_fn: Callable[[tfd.Distribution], tf.Tensor] | None = None,
    name: str = "latent",
) -> tfpl.MultivariateNormalTriL:
    """The latent distribution layer with its KL regulariser.

    Parameters
    ----------
    config : ModelConfig
        Supplies ``latent_dim`` and ``kl_weight``.
    convert_to_tensor_fn : callable, optional
        How the distribution becomes a tensor for the decoder: a random draw while
        training (:class:`debvader_euclid.models.vae.LatentSampler`), the mean
        (default) for deterministic predictions.
    name : str

    Returns
    -------
    tfp.layers.MultivariateNormalTriL
        Adds ``kl_weight * KL(q(z | x) || N(0, I))`` (exact, averaged over the
        batch) to the model losses.

    Notes
    -----
    :class:`tfp.layers.KLDivergenceRegularizer` returns the KL *summed* over the
    batch and Keras divides activity regularisers by the batch size, so the term
    added to the loss is the batch mean, consistent with the likelihood term.
    """
    d = int(config.latent_dim)
    prior = tfd.MultivariateNormalDiag(
        loc=tf.zeros(d, dtype=tf.float32), scale_diag=tf.ones(d, dtype=tf.float32)
    )
    regularizer = KLDivergenceToPrior(prior, weight=float(config.kl_weight), use_exact_kl=True)
    return tfpl.MultivariateNormalTriL(
        d,
        convert_to_tensor_fn=convert_to_tensor_fn or tfd.Distribution.mean,
        activity_regularizer=regularizer,
        name=name,
    )


def build_encoder(
    config: ModelConfig,
    seed: int = 0,
    convert_to_tensor_fn: Callable[[tfd.Distribution], tf.Tensor] | None = None,
    name: str = "encoder",
) -> keras.Model:
    """Build the encoder network.

    Parameters
    ----------
    config : ModelConfig
    seed : int
        Seed of the initial weights.
    convert_to_tensor_fn : callable, optional
        See :func:`latent_layer` (default: the posterior mean).
    name : str
        Model name (stage 2 uses ``"blend_encoder"``).

    Returns
    -------
    tf_keras.Model
        Input ``(batch, S, S, 1)`` normalised stamps (with ``config.psf_input``, the
        pair ``[stamps, psf (batch, K)]``); output the latent distribution (a tensor-coercible
        :class:`tfp.distributions.MultivariateNormalTriL` of event size
        ``latent_dim``).
    """
    init = seeded_initializers(seed)
    size = config.stamp_size
    inputs = keras.Input(shape=(size, size, 1), name="stamp")
    psf = None
    if config.psf_input:
        psf = keras.Input(shape=(len(config.psf_radii_pixels),), name="psf")
    h = inputs
    for level, (filters, kernel) in enumerate(
        zip(config.encoder_widths, config.kernel_sizes, strict=True)
    ):
        for j in range(config.convs_per_level - 1):
            h = keras.layers.Conv2D(
                filters,
                kernel,
                padding="same",
                kernel_initializer=next(init),
                name=f"conv{level}_{j}",
            )(h)
            h = prelu(f"conv{level}_{j}_prelu")(h)
        h = keras.layers.Conv2D(
            filters,
            kernel,
            strides=2,
            padding="same",
            kernel_initializer=next(init),
            name=f"conv{level}_down",
        )(h)
        h = prelu(f"conv{level}_down_prelu")(h)
        if psf is not None:
            h = PSFModulation(name=f"psf{level}")([h, psf])
    h = keras.layers.Flatten(name="flatten")(h)
    if config.dense_units:
        h = keras.layers.Dense(config.dense_units, kernel_initializer=next(init), name="dense")(h)
        h = keras.layers.PReLU(name="dense_prelu")(h)
    n_params = tfpl.MultivariateNormalTriL.params_size(config.latent_dim)
    params = keras.layers.Dense(n_params, kernel_initializer=next(init), name="latent_params")(h)
    if psf is not None and config.psf_readout_rank:
        correction = PSFReadout(
            n_params,
            config.psf_readout_rank,
            feature_initializer=next(init),
            psf_initializer=next(init),
            name="psf_readout",
        )([h, psf])
        params = keras.layers.Add(name="latent_params_psf")([params, correction])
    latent = latent_layer(config, convert_to_tensor_fn)(params)
    return keras.Model(inputs if psf is None else [inputs, psf], latent, name=name)
