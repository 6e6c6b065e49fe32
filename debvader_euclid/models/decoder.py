"""Convolutional decoder: latent vector -> per-pixel likelihood parameters.

Architecture, the mirror of :mod:`.encoder` (``w = ceil(S / 2**L)``)::

    input (latent_dim,)
    [Dense(dense_units) + PReLU]                                  # if dense_units > 0
    Dense(w * w * filters[L-1]) + PReLU, Reshape (w, w, filters[L-1])
    for each level l = L-1 .. 0:
        Conv2DTranspose(filters[l-1] (filters[0] for l = 0), kernel_sizes[l], stride 2) + PReLU
        (convs_per_level - 1) x [Conv2D(same filters, kernel_sizes[l]) + PReLU]
    Cropping2D to (S, S)                                          # if w * 2**L > S
    Conv2D(output_channels, kernel_sizes[0]), linear              # mean [, raw sigma]

The output is in normalised units (see :mod:`.normalization`); its channels are
read by :func:`debvader_euclid.models.losses.split_output`. The mean is linear,
not clipped to positive values: the arcsinh normalisation already maps faint
pixels linearly, and a ReLU would stop gradients for pixels predicted negative.
"""

from __future__ import annotations

import tf_keras as keras

from debvader_euclid.models.config import ModelConfig
from debvader_euclid.models.encoder import prelu, seeded_initializers


def build_decoder(config: ModelConfig, seed: int = 0, name: str = "decoder") -> keras.Model:
    """Build the decoder network.

    Parameters
    ----------
    config : ModelConfig
    seed : int
        Seed of the initial weights.
    name : str

    Returns
    -------
    tf_keras.Model
        Input ``(batch, latent_dim)``; output ``(batch, S, S, output_channels)``
        raw likelihood parameters in normalised units.
    """
    init = seeded_initializers(seed + 1_000_003)
    levels = len(config.filters)
    w = config.bottleneck_size
    inputs = keras.Input(shape=(config.latent_dim,), name="latent")
    h = inputs
    if config.dense_units:
        h = keras.layers.Dense(config.dense_units, kernel_initializer=next(init), name="dense")(h)
        h = keras.layers.PReLU(name="dense_prelu")(h)
    h = keras.layers.Dense(
        w * w * config.filters[-1], kernel_initializer=next(init), name="expand"
    )(h)
    h = keras.layers.PReLU(name="expand_prelu")(h)
    h = keras.layers.Reshape((w, w, config.filters[-1]), name="reshape")(h)
    for level in reversed(range(levels)):
        filters = config.filters[max(level - 1, 0)]
        kernel = config.kernel_sizes[level]
        h = keras.layers.Conv2DTranspose(
            filters,
            kernel,
            strides=2,
            padding="same",
            kernel_initializer=next(init),
            name=f"deconv{level}_up",
        )(h)
        h = prelu(f"deconv{level}_up_prelu")(h)
        for j in range(config.convs_per_level - 1):
            h = keras.layers.Conv2D(
                filters,
                kernel,
                padding="same",
                kernel_initializer=next(init),
                name=f"deconv{level}_{j}",
            )(h)
            h = prelu(f"deconv{level}_{j}_prelu")(h)
    excess = w * 2**levels - config.stamp_size
    if excess:
        crop = (excess // 2, excess - excess // 2)
        h = keras.layers.Cropping2D((crop, crop), name="crop")(h)
    outputs = keras.layers.Conv2D(
        config.output_channels,
        config.kernel_sizes[0],
        padding="same",
        kernel_initializer=next(init),
        name="output",
    )(h)
    return keras.Model(inputs, outputs, name=name)
