"""Flux uncertainties: an error model calibrated on blends with known truth.

The spread of the probabilistic latent (:meth:`Deblender.sample
<debvader_euclid.Deblender.sample>`) is not a flux error: it leaves out the
model's own errors and is several times smaller than the real scatter. A
flux error that a template-fitting code or a catalogue can use has to be
measured against the truth. This module models the variance of the flux
residual ``F_true - F_pred`` (uJy) of one stamp as

.. math::

    \\sigma_F^2 = (b F)^2 + c^2\\, F\\, \\sigma_0 + (a\\, \\sigma_0)^2 + (e\\, K)^2

from three quantities every stamp gives (:func:`error_terms`):

- ``F``, the predicted flux (uJy): ``b`` is the fractional error of the model
  itself, which dominates for bright galaxies;
- ``sigma_0 = sigma sum(c) / sqrt(sum(c^2))`` (uJy), the noise floor of the
  *predicted* profile ``c`` (:func:`debvader_euclid.metrics.noise_floor_fractional`
  with the prediction in place of the truth): ``a`` and ``c`` scale the noise,
  which dominates for faint galaxies and follows the survey's depth;
- ``K`` (uJy), the light left in the stamp once the central galaxy is removed,
  weighted by the central galaxy's profile (the amplitude of ``x - c`` fitted
  with the profile ``c``, clipped at 0): how much of a neighbour lies under the
  central galaxy, so ``e`` carries the uncertainty of the split.

:func:`fit_flux_error_model` fits ``a, b, c, e`` to a calibration set (blends
with truth, never the test set) by maximum likelihood with a Student-t of 4
degrees of freedom, which the rare catastrophic blends do not drag, and then
scales all four so that the normalised residuals ``(F_true - F_pred) / sigma_F``
of the calibration set have a sigma_MAD of 1: about 68 % of the Gaussian core
within 1 sigma_F. The tails are heavier than a Gaussian's; the coverage measured
on held-out blends is in the report of ``debvader-euclid evaluate``
(``flux_errors.md``).

The coefficients depend on the deblending options (``neighbours``, ``refine``,
``symmetrize``), so a deblender folder keeps one model per option set in
``flux_errors.json``, written by ``debvader-euclid calibrate-errors``. Each model
records the SHA-256 of the weights it was calibrated with (``weights_sha256`` in
its ``calibration``); :func:`flux_error_model` refuses a model whose weights have
since been replaced (retrained or fine-tuned), whose errors would describe another
network. Models calibrated before this record existed are used as they are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

#: File of a deblender folder that holds its calibrated flux error models.
FLUX_ERRORS_NAME = "flux_errors.json"

#: Degrees of freedom of the Student-t likelihood of the fit.
STUDENT_DOF = 4.0

#: Normal-consistent scale of the median absolute deviation.
_MAD_TO_SIGMA = 1.4826


class ErrorTerms(NamedTuple):
    """The per-stamp quantities of the error model, all ``(N,)`` float64 in uJy.

    Attributes
    ----------
    flux_uJy : numpy.ndarray
        Predicted flux ``F``, the sum of the deblended pixels.
    floor_uJy : numpy.ndarray
        Noise floor of the predicted profile, ``sigma sum(c) / sqrt(sum(c^2))``.
    contamination_uJy : numpy.ndarray
        Profile-weighted amplitude of the light left once the central galaxy is
        removed, clipped at 0.
    """

    flux_uJy: np.ndarray
    floor_uJy: np.ndarray
    contamination_uJy: np.ndarray


def error_terms(
    stamps_uJy: np.ndarray, central_uJy: np.ndarray, sigma_uJy: float | np.ndarray
) -> ErrorTerms:
    """The inputs of the error model for deblended stamps.

    Parameters
    ----------
    stamps_uJy : array_like
        ``(N, S, S)`` observed stamps, uJy/pixel, background subtracted.
    central_uJy : array_like
        ``(N, S, S)`` their deblended central galaxies, uJy/pixel.
    sigma_uJy : float or array_like
        Pixel noise standard deviation, uJy/pixel: one value or ``(N,)``, > 0.

    Returns
    -------
    ErrorTerms

    Raises
    ------
    ValueError
        On shape mismatches or a non-positive noise.
    """
    from debvader_euclid.metrics import noise_floor_fractional

    stamps = np.asarray(stamps_uJy, dtype=np.float64)
    central = np.asarray(central_uJy, dtype=np.float64)
    if stamps.shape != central.shape or stamps.ndim != 3:
        raise ValueError(
            f"stamps {stamps.shape} and central {central.shape} must both be (N, S, S)"
        )
    sigma = np.broadcast_to(np.asarray(sigma_uJy, dtype=np.float64), (len(stamps),))
    if not np.all(sigma > 0):
        raise ValueError("the noise sigma must be > 0 uJy/pixel for every stamp")
    profile = np.clip(central, 0.0, None)
    total = profile.sum(axis=(1, 2))
    power = (profile**2).sum(axis=(1, 2))
    # A central galaxy predicted empty has no profile: the floor of one pixel, no contamination.
    shaped = power > 0
    floor = sigma.copy()
    floor[shaped] = total[shaped] * noise_floor_fractional(profile[shaped], sigma[shaped])
    contamination = np.zeros(len(stamps))
    amplitude = (profile[shaped] * (stamps - central)[shaped]).sum(axis=(1, 2))
    contamination[shaped] = np.clip(amplitude / power[shaped] * total[shaped], 0.0, None)
    return ErrorTerms(central.sum(axis=(1, 2)), floor, contamination)


@dataclass(frozen=True)
class FluxErrorModel:
    """Calibrated flux error model of one deblender with one set of options.

    Attributes
    ----------
    model_fraction : float
        ``b``: fractional error of the model, dimensionless.
    noise_flux_coefficient : float
        ``c``: coefficient of the ``F sigma_0`` variance term, dimensionless.
    noise_factor : float
        ``a``: multiple of the predicted profile's noise floor.
    contamination_factor : float
        ``e``: multiple of the profile-weighted light of the neighbours.
    options : str
        The deblending options it was calibrated for (:func:`options_key`).
    calibration : dict
        What it was fitted on (data, shards, number of blends, command line) and
        the coverage there.
    """

    model_fraction: float
    noise_flux_coefficient: float
    noise_factor: float
    contamination_factor: float
    options: str
    calibration: dict[str, Any] = field(default_factory=dict)

    def error_uJy(self, terms: ErrorTerms) -> np.ndarray:
        """Flux standard deviation ``sigma_F`` of each stamp, uJy, ``(N,)`` float64."""
        coefficients = (
            self.model_fraction,
            self.noise_flux_coefficient,
            self.noise_factor,
            self.contamination_factor,
        )
        return np.sqrt(_variance_uJy2(coefficients, terms))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> FluxErrorModel:
        """Inverse of :meth:`to_dict`."""
        return cls(**payload)


def options_key(neighbours: str = "keep", refine: bool = False, symmetrize: bool = False) -> str:
    """Name of a set of deblending options, e.g. ``"neighbours=check,refine,symmetrize"``."""
    parts = [f"neighbours={neighbours}"]
    if refine:
        parts.append("refine")
    if symmetrize:
        parts.append("symmetrize")
    return ",".join(parts)


def _variance_uJy2(coefficients: Sequence[float], terms: ErrorTerms) -> np.ndarray:
    """``sigma_F^2`` (uJy^2) of the module's model for coefficients ``(b, c, a, e)``."""
    b, c, a, e = coefficients
    flux = np.clip(terms.flux_uJy, 0.0, None)
    return (
        (b * flux) ** 2
        + c**2 * flux * terms.floor_uJy
        + (a * terms.floor_uJy) ** 2
        + (e * terms.contamination_uJy) ** 2
    )


def fit_flux_error_model(
    flux_true_uJy: np.ndarray,
    terms: ErrorTerms,
    options: str,
    calibration: dict[str, Any] | None = None,
) -> FluxErrorModel:
    """Fit the error model to blends whose true fluxes are known.

    Parameters
    ----------
    flux_true_uJy : array_like
        ``(N,)`` true fluxes of the central galaxies (of their noiseless stamps), uJy.
    terms : ErrorTerms
        From :func:`error_terms` on the same blends, deblended with ``options``.
    options : str
        :func:`options_key` of the deblending options used.
    calibration : dict, optional
        Description of the calibration data, stored in the result.

    Returns
    -------
    FluxErrorModel
        Its ``calibration`` holds ``n`` and the fraction of the calibration blends
        within 1 and 2 sigma_F.

    Raises
    ------
    ValueError
        With fewer than 100 blends, mismatched lengths or non-finite values.
    """
    from scipy.optimize import minimize

    truth = np.asarray(flux_true_uJy, dtype=np.float64)
    if not len(truth) == len(terms.flux_uJy) == len(terms.floor_uJy):
        raise ValueError("flux_true_uJy and the error terms must have one value per blend")
    if len(truth) < 100:
        raise ValueError(f"a flux error model needs at least 100 blends, got {len(truth)}")
    if not (np.all(np.isfinite(truth)) and all(np.all(np.isfinite(t)) for t in terms)):
        raise ValueError("non-finite true fluxes or error terms: remove those blends first")
    residual = truth - terms.flux_uJy

    def negative_log_likelihood(log_coefficients: np.ndarray) -> float:
        variance = _variance_uJy2(np.exp(log_coefficients), terms) + 1e-30
        z2 = residual**2 / variance
        return float(
            np.sum(0.5 * np.log(variance) + 0.5 * (STUDENT_DOF + 1) * np.log1p(z2 / STUDENT_DOF))
        )

    start = np.log([0.03, 0.3, 1.0, 0.3])
    result = minimize(
        negative_log_likelihood,
        start,
        method="Nelder-Mead",
        options={"maxiter": 4000, "xatol": 1e-5, "fatol": 1e-6},
    )
    coefficients = np.exp(result.x)
    pulls = residual / np.sqrt(_variance_uJy2(coefficients, terms))
    scale = _MAD_TO_SIGMA * float(np.median(np.abs(pulls - np.median(pulls))))
    coefficients = coefficients * scale
    pulls = pulls / scale
    summary = dict(calibration or {})
    summary.update(
        n=int(len(truth)),
        within_1_sigma=float(np.mean(np.abs(pulls) < 1)),
        within_2_sigma=float(np.mean(np.abs(pulls) < 2)),
    )
    b, c, a, e = (float(v) for v in coefficients)
    return FluxErrorModel(b, c, a, e, options, summary)


def read_flux_error_models(folder: str | os.PathLike) -> dict[str, FluxErrorModel]:
    """The flux error models of a deblender folder, by :func:`options_key` (empty if none)."""
    path = Path(folder) / FLUX_ERRORS_NAME
    if not path.is_file():
        return {}
    try:
        payload = json.loads(path.read_text())
        return {key: FluxErrorModel.from_dict(value) for key, value in payload.items()}
    except (json.JSONDecodeError, TypeError, AttributeError) as err:
        raise ValueError(f"{path} is not a valid flux error file: {err}") from err


def flux_error_model(folder: str | os.PathLike, options: str) -> FluxErrorModel | None:
    """The flux error model of a deblender folder for ``options`` (None if it has none).

    Parameters
    ----------
    folder : path-like
        A deblender folder written by ``debvader-euclid train deblender``.
    options : str
        :func:`options_key` of the deblending options.

    Returns
    -------
    FluxErrorModel or None

    Raises
    ------
    ValueError
        An unreadable ``flux_errors.json``, or a model calibrated with other
        weights than those the folder's ``provenance.json`` now lists (the
        message names both and the command that recalibrates).
    """
    from debvader_euclid.training.artifacts import read_provenance

    model = read_flux_error_models(folder).get(options)
    if model is None:
        return None
    calibrated = model.calibration.get("weights_sha256")
    current = read_provenance(folder).get("files", {})
    if calibrated is not None and dict(calibrated) != dict(current):
        changed = sorted(
            name
            for name in set(calibrated) | set(current)
            if calibrated.get(name) != current.get(name)
        )
        detail = ", ".join(
            f"{name} {str(calibrated.get(name))[:12]}... then, {str(current.get(name))[:12]}... now"
            for name in changed
        )
        raise ValueError(
            f"the flux error model for {options!r} in {Path(folder) / FLUX_ERRORS_NAME} was "
            f"calibrated with other weights ({detail}): its errors describe another network. "
            f"Recalibrate: debvader-euclid calibrate-errors --model {folder} --data DIR "
            "--overwrite [the same options]"
        )
    return model


def write_flux_error_model(
    folder: str | os.PathLike, model: FluxErrorModel, overwrite: bool = False
) -> Path:
    """Add ``model`` to the ``flux_errors.json`` of a deblender folder, atomically.

    Raises
    ------
    FileExistsError
        If the folder already has a model for the same options and ``overwrite``
        is False.
    """
    from data_generation.io_utils import write_json_atomic

    models = read_flux_error_models(folder)
    if model.options in models and not overwrite:
        raise FileExistsError(
            f"{Path(folder) / FLUX_ERRORS_NAME} already has a flux error model for "
            f"{model.options!r}; pass --overwrite (overwrite=True) to replace it"
        )
    models[model.options] = model
    payload = {key: value.to_dict() for key, value in sorted(models.items())}
    return write_json_atomic(Path(folder) / FLUX_ERRORS_NAME, payload)


def coverage_by_magnitude(
    flux_true_uJy: np.ndarray,
    flux_pred_uJy: np.ndarray,
    error_uJy: np.ndarray,
    mag_true: np.ndarray,
    bins: np.ndarray,
) -> pd.DataFrame:
    """How well ``error_uJy`` describes the residuals, per bin of true magnitude.

    Parameters
    ----------
    flux_true_uJy, flux_pred_uJy, error_uJy : array_like
        ``(N,)`` true and predicted fluxes and predicted flux errors, uJy.
    mag_true : array_like
        ``(N,)`` true AB magnitudes.
    bins : array_like
        Bin edges in AB mag; a last row, with NaN ``mag_lo`` and ``mag_hi``, covers
        every blend.

    Returns
    -------
    pandas.DataFrame
        ``mag_lo, mag_hi, n``, the median and sigma_MAD of the pulls
        ``(F_true - F_pred) / sigma_F``, the fractions within 1 and 2 sigma_F
        (0.683 and 0.954 for Gaussian errors) and the median ``sigma_F / F_pred``.
    """
    pulls = (np.asarray(flux_true_uJy) - np.asarray(flux_pred_uJy)) / np.asarray(error_uJy)
    relative = np.asarray(error_uJy) / np.abs(np.asarray(flux_pred_uJy))
    mag = np.asarray(mag_true)
    edges = np.asarray(bins, dtype=np.float64)
    rows = []
    selections = [
        (lo, hi, (mag >= lo) & (mag < hi)) for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
    selections.append((np.nan, np.nan, np.ones(len(mag), dtype=bool)))  # the "all" row
    for lo, hi, chosen in selections:
        p = pulls[chosen]
        if len(p) == 0:
            continue
        rows.append(
            {
                "mag_lo": lo,
                "mag_hi": hi,
                "n": int(len(p)),
                "pull_median": float(np.median(p)),
                "pull_sigma_mad": _MAD_TO_SIGMA * float(np.median(np.abs(p - np.median(p)))),
                "within_1_sigma": float(np.mean(np.abs(p) < 1)),
                "within_2_sigma": float(np.mean(np.abs(p) < 2)),
                "relative_error_median": float(np.median(relative[chosen])),
            }
        )
    return pd.DataFrame(rows)
