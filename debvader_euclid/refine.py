"""Refine: combine the deblended model with the data where the central galaxy is bright.

The deblender's image of a central galaxy is noiseless but not exact: in pixels
where it is bright its fractional error is a few per cent (the "model pixel
error", :data:`MODEL_PIXEL_ERROR`), so the flux of a VIS 18–20 galaxy is a few per
cent off although the data measure it to 0.1 %. The data, once the neighbours'
light is removed, give a second estimate of every pixel, with the noise as error.
:func:`combine_with_data` takes, pixel by pixel, the inverse-variance weighted
mean of the two:

.. math::

    \\hat c = c + g\\,(x - n - c), \\qquad
    g = \\frac{(\\varepsilon c)^2}{(\\varepsilon c)^2 + \\sigma^2 + (\\varepsilon n)^2}

with ``x`` the stamp, ``c`` the central model, ``n`` the summed models of the
detected neighbours (:func:`debvader_euclid.neighbours.model_neighbours`),
``sigma`` the pixel noise and ``epsilon`` the model pixel error (the neighbour
models are as uncertain as the central one). Faint pixels (``epsilon c`` well
under ``sigma``) keep the model; pixels where the central galaxy is far above the
noise take the data; pixels where a neighbour is bright keep the model, because
the neighbour's model error would enter with the data.

What it changes (figures and commands: the results page of the documentation):
the flux of bright galaxies becomes several times more precise, at the price of a
little noise in the brightest pixels of the returned image (``g sigma`` per pixel,
at most ``epsilon / 2`` of the model's value: with ``t = epsilon c / sigma`` and no
neighbour, ``g sigma / c = epsilon t / (1 + t^2)``) and a slightly larger std of the flux
residuals over all blends.
"""

from __future__ import annotations

import numpy as np

#: Fractional error of the deblender's model in pixels well above the noise:
#: rms of (model - truth) / model over the pixels where the model exceeds 10 times
#: the noise, on the validation shards of the analytic training blends
#: (``debvader-euclid evaluate --model analytic --data data/blended-train
#: --shards 67-74 --neighbours check``: ``pixel_errors.md``).
MODEL_PIXEL_ERROR = 0.08


def combine_with_data(
    central: np.ndarray,
    neighbours: np.ndarray,
    stamps: np.ndarray,
    sigma_uJy: np.ndarray,
    model_error: float = MODEL_PIXEL_ERROR,
) -> np.ndarray:
    """Inverse-variance combination, pixel by pixel, of the central model and the data.

    Parameters
    ----------
    central : numpy.ndarray
        ``(N, S, S)`` deblended central galaxies, uJy/pixel.
    neighbours : numpy.ndarray
        ``(N, S, S)`` summed models of the neighbours in each stamp, uJy/pixel
        (:func:`debvader_euclid.neighbours.model_neighbours`; 0 where none).
    stamps : numpy.ndarray
        ``(N, S, S)`` the observed stamps, uJy/pixel, background subtracted.
    sigma_uJy : numpy.ndarray
        ``(N,)`` pixel noise standard deviation of each stamp, uJy/pixel, > 0.
    model_error : float
        Fractional error of a model pixel, > 0 (module docstring).

    Returns
    -------
    numpy.ndarray
        ``(N, S, S)`` float32, uJy/pixel: the central galaxy, refined.
    """
    if not model_error > 0:
        raise ValueError(f"model_error must be > 0, got {model_error}")
    if not central.shape == neighbours.shape == stamps.shape:
        raise ValueError(
            f"central {central.shape}, neighbours {neighbours.shape} and stamps "
            f"{stamps.shape} must have the same shape"
        )
    sigma = np.asarray(sigma_uJy, dtype=np.float64).reshape(-1, 1, 1)
    if sigma.shape[0] != len(stamps):
        raise ValueError(f"{sigma.shape[0]} noise values for {len(stamps)} stamps")
    c = central.astype(np.float64)
    n = neighbours.astype(np.float64)
    var_model = (model_error * np.clip(c, 0.0, None)) ** 2
    var_data = sigma**2 + (model_error * np.clip(n, 0.0, None)) ** 2
    gain = var_model / (var_model + var_data)
    return (c + gain * (stamps - n - c)).astype(np.float32)
