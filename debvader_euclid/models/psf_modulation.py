"""Feature-wise modulation of the blend encoder by the PSF.

A PSF-conditioned blend encoder (``ModelConfig.psf_input``) takes, beside the
stamp, a vector ``d`` describing the stamp's PSF (encircled-light fractions
relative to the model's reference PSF, :func:`psf_features`). After every
convolution level the features ``h`` (``(B, H, W, C)``) become::

    h * (1 + gamma(d)) + beta(d),    [gamma, beta] = Dense(2 C)(d)

(feature-wise linear modulation, FiLM; Perez et al. 2018). The dense layer starts
at zero, so a PSF-conditioned encoder initialised from a plain one computes
exactly what that one did, and training only has to learn how the PSF changes it.

With ``ModelConfig.psf_readout_rank`` ``r > 0`` the read-out of the latent
parameters gets a PSF-dependent low-rank correction (:class:`PSFReadout`)::

    params = W h + U ((V h) * (M d))

``h`` the flattened last-level features, ``V`` (``r`` x features) and ``M``
(``r`` x ``K``) random at the start, ``U`` zero. FiLM can only scale and shift a
whole channel; this term lets how a galaxy's features map to its latent point, and
so its flux, depend on the PSF. It is zero for the reference PSF (``d = 0``) whatever
the weights, so a model with it computes exactly the same for stamps of the
reference PSF as one without it when ``W`` is the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

#: Encircled-light differences are multiplied by this before entering the network
#: (they are a few hundredths between the PSFs of interest).
FEATURE_SCALE = 10.0


def psf_features(descriptors: np.ndarray, reference: Sequence[float]) -> np.ndarray:
    """Network input from encircled-light fractions.

    Parameters
    ----------
    descriptors : numpy.ndarray
        ``(K,)`` or ``(N, K)`` encircled-light fractions
        (:func:`debvader_euclid.psf_descriptor.psf_descriptor`).
    reference : sequence of float
        The model's ``psf_reference`` (``K`` values).

    Returns
    -------
    numpy.ndarray
        float32, same shape: ``FEATURE_SCALE * (descriptors - reference)``, zero for
        the reference PSF.
    """
    d = np.asarray(descriptors, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if d.shape[-1] != ref.shape[0]:
        raise ValueError(
            f"PSF descriptors have {d.shape[-1]} values, the model expects {ref.shape[0]}"
        )
    return (FEATURE_SCALE * (d - ref)).astype(np.float32)


class PSFModulation(keras.layers.Layer):
    """``h * (1 + gamma(d)) + beta(d)``, gamma and beta linear in the PSF vector ``d``.

    Call on ``[features (B, H, W, C), psf (B, K)]``; returns features of the same
    shape. Weights: one dense layer ``K -> 2 C``, initialised at zero.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dense: keras.layers.Dense | None = None

    def build(self, input_shape: Sequence[tf.TensorShape]) -> None:
        features_shape, psf_shape = input_shape
        channels = int(features_shape[-1])
        self.dense = keras.layers.Dense(
            2 * channels, kernel_initializer="zeros", bias_initializer="zeros", name="film"
        )
        self.dense.build(psf_shape)
        super().build(input_shape)

    def call(self, inputs: Sequence[tf.Tensor]) -> tf.Tensor:
        features, psf = inputs
        gamma, beta = tf.split(self.dense(psf), 2, axis=-1)
        return features * (1.0 + gamma[:, None, None, :]) + beta[:, None, None, :]


class PSFReadout(keras.layers.Layer):
    """``U ((V h) * (M d))``: a PSF-dependent low-rank correction of a dense read-out.

    Call on ``[features (B, F), psf (B, K)]``; returns ``(B, units)``, to be added to
    the output of the dense layer that reads ``features``. Zero for ``psf = 0`` (the
    reference PSF) whatever the weights, and zero at the start (``U`` starts at zero).

    Parameters
    ----------
    units : int
        Outputs (those of the dense read-out it corrects).
    rank : int
        ``r``, the rank of the correction.
    feature_initializer, psf_initializer : tf_keras initializer
        Initial ``V`` and ``M`` (seeded by the encoder for reproducible weights).
    """

    def __init__(
        self,
        units: int,
        rank: int,
        feature_initializer: keras.initializers.Initializer | str = "glorot_uniform",
        psf_initializer: keras.initializers.Initializer | str = "glorot_uniform",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if int(rank) < 1 or int(units) < 1:
            raise ValueError(f"PSFReadout needs units and rank >= 1, got {units} and {rank}")
        self.units = int(units)
        self.rank = int(rank)
        self.feature_initializer = keras.initializers.get(feature_initializer)
        self.psf_initializer = keras.initializers.get(psf_initializer)

    def build(self, input_shape: Sequence[tf.TensorShape]) -> None:
        features_shape, psf_shape = (tf.TensorShape(s) for s in input_shape)
        # plain weights (not nested Dense layers) so that each has its own name in the .h5
        self.feature_kernel = self.add_weight(
            name="feature_kernel",
            shape=(int(features_shape[-1]), self.rank),
            initializer=self.feature_initializer,
        )
        self.psf_kernel = self.add_weight(
            name="psf_kernel",
            shape=(int(psf_shape[-1]), self.rank),
            initializer=self.psf_initializer,
        )
        self.output_kernel = self.add_weight(
            name="output_kernel", shape=(self.rank, self.units), initializer="zeros"
        )
        super().build(input_shape)

    def call(self, inputs: Sequence[tf.Tensor]) -> tf.Tensor:
        features, psf = inputs
        mixed = tf.matmul(features, self.feature_kernel) * tf.matmul(psf, self.psf_kernel)
        return tf.matmul(mixed, self.output_kernel)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"units": self.units, "rank": self.rank})
        return config
