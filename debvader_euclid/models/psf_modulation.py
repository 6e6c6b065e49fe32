"""Feature-wise modulation of the blend encoder by the PSF.

A PSF-conditioned blend encoder (``ModelConfig.psf_input``) takes, beside the
stamp, a vector ``d`` describing the stamp's PSF (encircled-light fractions
relative to the model's reference PSF, :func:`psf_features`). After every
convolution level the features ``h`` (``(B, H, W, C)``) become::

    h * (1 + gamma(d)) + beta(d),    [gamma, beta] = Dense(2 C)(d)

(feature-wise linear modulation, FiLM; Perez et al. 2018). The dense layer starts
at zero, so a PSF-conditioned encoder initialised from a plain one computes
exactly what that one did, and training only has to learn how the PSF changes it.
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
