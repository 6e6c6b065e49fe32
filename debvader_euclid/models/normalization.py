"""Invertible arcsinh normalisation of stamps.

Formula
-------
With ``x`` a pixel value in uJy/pixel and ``s`` a fixed scale in uJy/pixel
(:attr:`ModelConfig.normalization_scale <debvader_euclid.models.config.ModelConfig>`)::

    normalise:    y = arcsinh(x / s)
    denormalise:  x = s * sinh(y)

Why this form
-------------
* It is exactly invertible for every real ``x`` (negative noise pixels included),
  with no clipping and no saturation. (debvader's ``tanh(arcsinh(x / s))`` maps all
  bright pixels to within float32 rounding of 1 and cannot give their flux back.)
* It is linear, ``y ~ x / s``, for ``|x| << s``: with ``s`` a few times the noise
  sigma (~0.0035 uJy/pixel for VIS at 27.1 mag) the noise stays Gaussian-like
  around 0 with a standard deviation of ``sigma / s``.
* It is logarithmic, ``y ~ sign(x) ln(2 |x| / s)``, for ``|x| >> s``: galaxies from
  0.05 to 300 uJy (more than 7 magnitudes) end up within a few units of each
  other, so the network sees faint and bright galaxies on comparable scales.
* A fixed error ``dy`` in normalised units is an error ``dx = sqrt(x^2 + s^2) dy``
  in flux: absolute (``s dy``) in the faint wings, relative (``|x| dy``) in bright
  cores. This is what the fixed-sigma likelihood of :mod:`.losses` relies on.

Precision
---------
The arithmetic is done in float64 and the result cast back to the input's dtype,
so the round trip ``denormalise(normalise(x))`` adds only the rounding of the
normalised values to their dtype: for float32 a relative error of at most about
``|y| * 2**-24`` per pixel, below 1e-6 for every pixel brighter than the noise, and
the flux (the sum of the pixels) keeps the same relative precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import tensorflow as tf

ArrayLike = TypeVar("ArrayLike", np.ndarray, tf.Tensor)


@dataclass(frozen=True)
class ArcsinhNormalizer:
    """``y = arcsinh(x / scale)`` and its inverse ``x = scale * sinh(y)``.

    Parameters
    ----------
    scale : float
        The scale ``s`` in uJy/pixel. Pixels much fainter than ``s`` are mapped
        linearly, brighter ones logarithmically.

    Notes
    -----
    Works on numpy arrays (returns numpy) and TensorFlow tensors (returns tensors,
    usable inside ``tf.data`` and ``tf.function``). Both compute in float64 and
    return the input's floating dtype (float32 for an integer input).
    """

    scale: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"scale must be a positive number of uJy/pixel, got {self.scale}")

    def normalize(self, images: ArrayLike) -> ArrayLike:
        """Flux to normalised units.

        Parameters
        ----------
        images : numpy.ndarray or tf.Tensor
            Pixel values in uJy/pixel, any shape.

        Returns
        -------
        numpy.ndarray or tf.Tensor
            ``arcsinh(images / scale)``, dimensionless, same shape.
        """
        if isinstance(images, tf.Tensor | tf.Variable):
            dtype = _float_dtype_tf(images.dtype)
            x = tf.cast(images, tf.float64)
            return tf.cast(tf.math.asinh(x / self.scale), dtype)
        images = np.asarray(images)
        dtype = _float_dtype_np(images.dtype)
        return np.arcsinh(images.astype(np.float64) / self.scale).astype(dtype)

    def denormalize(self, normalized: ArrayLike) -> ArrayLike:
        """Normalised units back to flux.

        Parameters
        ----------
        normalized : numpy.ndarray or tf.Tensor
            Normalised pixel values, any shape.

        Returns
        -------
        numpy.ndarray or tf.Tensor
            ``scale * sinh(normalized)`` in uJy/pixel, same shape.
        """
        if isinstance(normalized, tf.Tensor | tf.Variable):
            dtype = _float_dtype_tf(normalized.dtype)
            y = tf.cast(normalized, tf.float64)
            return tf.cast(self.scale * tf.math.sinh(y), dtype)
        normalized = np.asarray(normalized)
        dtype = _float_dtype_np(normalized.dtype)
        return (self.scale * np.sinh(normalized.astype(np.float64))).astype(dtype)

    def flux_sigma(self, normalized: ArrayLike, sigma: ArrayLike | float) -> ArrayLike:
        """Propagate a normalised-unit standard deviation to uJy/pixel (first order).

        Parameters
        ----------
        normalized : numpy.ndarray or tf.Tensor
            Normalised pixel values ``y``.
        sigma : numpy.ndarray, tf.Tensor or float
            Standard deviation in normalised units at each pixel.

        Returns
        -------
        numpy.ndarray or tf.Tensor
            ``scale * cosh(y) * sigma`` in uJy/pixel.
        """
        if isinstance(normalized, tf.Tensor | tf.Variable):
            return self.scale * tf.math.cosh(normalized) * sigma
        return self.scale * np.cosh(np.asarray(normalized)) * np.asarray(sigma)


def _float_dtype_np(dtype: np.dtype) -> np.dtype:
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float32)


def _float_dtype_tf(dtype: tf.DType) -> tf.DType:
    return dtype if dtype.is_floating else tf.float32
