"""The user-facing deblender: ``Deblender.load('analytic').deblend(images)``.

A :class:`Deblender` wraps a trained stage-2 network (blend encoder + frozen
stage-1 decoder). Given VIS stamps centred on a galaxy, it returns that galaxy
alone: noiseless, PSF-convolved, in the same units (microJansky per 0.1 arcsec
pixel) and the same shape as the input.

Models are found by name among the ones shipped in ``trained_models/``
(installed as :mod:`debvader_euclid.trained_models`) or by path to a folder
written by ``debvader-euclid train deblender``.
"""

from __future__ import annotations

import importlib.resources
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from data_generation.catalog import flux_to_mag

log = logging.getLogger(__name__)

#: Package holding the shipped models (the repository's top-level ``trained_models/``).
PACKAGED_MODELS = "debvader_euclid.trained_models"

#: Largest plausible pixel value of a VIS stamp in uJy (a 14th-magnitude core):
#: above it the input is probably not in uJy/pixel and a warning is logged.
_IMPLAUSIBLE_PIXEL_UJY = 1e4

NONFINITE_POLICIES = ("raise", "zero")


def uses_noise_sigma(neighbours: str, refine: bool) -> bool:
    """Whether :meth:`Deblender.deblend` needs (and accepts) ``noise_sigma_uJy``.

    The neighbours are detected with sep, so every ``neighbours`` mode but
    ``"keep"``, and ``refine``, need the pixel noise; the network alone does not.
    """
    return neighbours != "keep" or refine


def packaged_models_folder() -> Path:
    """Folder of the shipped models (inside the installed package)."""
    return Path(str(importlib.resources.files(PACKAGED_MODELS)))


#: What each stage is called in messages, and the command that writes it.
_STAGE_HELP = {
    "vae": ("VAE", "debvader-euclid train vae"),
    "deblender": ("deblender", "debvader-euclid train deblender"),
}


def available_models(stage: str = "deblender") -> list[str]:
    """Names of the shipped models that hold a trained ``stage``.

    Parameters
    ----------
    stage : {"deblender", "vae"}
        The stage-2 deblender (default) or the stage-1 VAE.

    Returns
    -------
    list of str
        Sorted names usable with :meth:`Deblender.load` (or, for ``"vae"``, with
        ``debvader-euclid evaluate`` on isolated data).
    """
    root = packaged_models_folder()
    return sorted(
        p.name for p in root.iterdir() if p.is_dir() and (p / stage / "config.json").is_file()
    )


def resolve_stage_folder(name_or_path: str | os.PathLike, stage: str = "deblender") -> Path:
    """The folder of a trained ``stage`` named by a model name or a path.

    Parameters
    ----------
    name_or_path : str or path-like
        A shipped model name (:func:`available_models`), a model folder holding a
        ``<stage>/`` subfolder, or a stage folder written by ``debvader-euclid train``.
    stage : {"deblender", "vae"}

    Returns
    -------
    pathlib.Path
        A folder with a ``config.json`` (its stage is checked when it is loaded).

    Raises
    ------
    ValueError
        Unknown name (the available ones are listed), or a folder without the stage.
    FileNotFoundError
        A path that does not exist.
    """
    what, command = _STAGE_HELP[stage]
    text = os.fspath(name_or_path)
    shipped = available_models(stage)
    if text in shipped:
        return packaged_models_folder() / text / stage
    path = Path(text).expanduser()
    if path.is_dir():
        if (path / "config.json").is_file():
            return path
        if (path / stage / "config.json").is_file():
            return path / stage
        raise ValueError(
            f"{path} holds no trained {what} (no config.json, no {stage}/ subfolder): give a "
            f"folder written by `{command}`, or a model folder holding {stage}/"
        )
    if os.sep in text or path.suffix or path.exists():
        raise FileNotFoundError(f"model folder {path} does not exist")
    listed = ", ".join(repr(n) for n in shipped) or "none installed"
    raise ValueError(
        f"unknown model {text!r}: models with a trained {what} are {listed}, or give the "
        f"path of a folder written by `{command}`"
    )


class FluxEstimate(NamedTuple):
    """Result of :meth:`Deblender.flux_with_error`.

    Attributes
    ----------
    flux_uJy : numpy.ndarray or float
        Flux of the central galaxy, the sum of its deblended pixels, uJy.
    flux_error_uJy : numpy.ndarray or float
        Its calibrated 1-sigma error, uJy (:mod:`debvader_euclid.flux_errors`).
    """

    flux_uJy: np.ndarray | float
    flux_error_uJy: np.ndarray | float


@dataclass
class DeblendSamples:
    """Result of :meth:`Deblender.sample`: the spread of the probabilistic latent.

    Attributes
    ----------
    mean : numpy.ndarray
        Mean image over the latent samples, uJy/pixel, shape of the input.
    std : numpy.ndarray
        Per-pixel standard deviation over the samples, uJy/pixel.
    flux_uJy : numpy.ndarray
        Mean over the samples of the summed flux, uJy, shape ``(N,)`` (a scalar for one stamp).
    flux_std_uJy : numpy.ndarray
        Standard deviation of the summed flux over the samples, uJy.
    samples : int
        Number of latent samples drawn per stamp.
    """

    mean: np.ndarray
    std: np.ndarray
    flux_uJy: np.ndarray
    flux_std_uJy: np.ndarray
    samples: int


class Deblender:
    """Extract the central galaxy of VIS stamps with a trained VAE deblender.

    Use :meth:`load` rather than the constructor.

    Parameters
    ----------
    networks : debvader_euclid.models.StageNetworks
        A trained ``"deblender"`` stage.
    folder : pathlib.Path
        Where it was loaded from.
    info : dict
        ``{"stage", "model", "training", "provenance"}`` from
        :func:`debvader_euclid.training.load_stage`.

    Examples
    --------
    >>> from debvader_euclid import Deblender
    >>> deblender = Deblender.load("analytic")                  # doctest: +SKIP
    >>> central = deblender.deblend(stamps_uJy)                 # doctest: +SKIP
    >>> flux_uJy = deblender.flux(stamps_uJy)                   # doctest: +SKIP
    """

    def __init__(self, networks: Any, folder: Path, info: dict[str, Any]) -> None:
        self.networks = networks
        self.folder = Path(folder)
        self.info = info

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, name_or_path: str | os.PathLike, verify: bool = True) -> Deblender:
        """Load a shipped model by name, or a trained deblender folder by path.

        Parameters
        ----------
        name_or_path : str or path-like
            A name from :func:`available_models` (``"analytic"``), a folder written
            by ``debvader-euclid train deblender``, or a model folder holding such
            a ``deblender/`` subfolder.
        verify : bool
            Check the weight files against the SHA-256 recorded beside them.

        Returns
        -------
        Deblender

        Raises
        ------
        ValueError
            Unknown name (the available ones are listed), a folder that is not a
            finished deblender, or weights that fail their checksum.
        FileNotFoundError
            A path that does not exist.
        """
        from debvader_euclid.training.artifacts import load_stage

        folder = resolve_stage_folder(name_or_path, "deblender")
        networks, info = load_stage(folder, expected_stage="deblender", verify=verify)
        return cls(networks, folder, info)

    # ------------------------------------------------------------------ properties
    @property
    def stamp_size(self) -> int:
        """Side of the square stamps the model takes, pixels (0.1 arcsec)."""
        return int(self.networks.config.stamp_size)

    def __repr__(self) -> str:
        return f"Deblender({str(self.folder)!r}, stamp_size={self.stamp_size})"

    # ------------------------------------------------------------------ inference
    def deblend(
        self,
        images: np.ndarray,
        batch_size: int = 512,
        nonfinite: str = "raise",
        symmetrize: bool = False,
        neighbours: str = "keep",
        noise_sigma_uJy: float | np.ndarray | str | None = None,
        refine: bool = False,
        psf: Any = None,
    ) -> np.ndarray:
        """The central galaxy of each stamp, alone, noiseless and PSF-convolved.

        Parameters
        ----------
        images : array_like
            VIS stamps in uJy per pixel, each centred on the galaxy to extract, of
            shape ``(S, S)``, ``(N, S, S)`` or ``(N, S, S, 1)`` with ``S`` =
            :attr:`stamp_size`. Integer and float64 input is converted to float32.
        batch_size : int
            Stamps per network call; memory beyond the output stays flat for any N.
        nonfinite : {"raise", "zero"}
            NaN or infinite pixels raise ValueError (default), or are replaced by
            0 uJy (the sky level of background-subtracted stamps) with a warning.
        symmetrize : bool
            Average the prediction over the 8 rotations and flips of each stamp
            (:func:`debvader_euclid.symmetries.dihedral_average`): 8 times slower,
            more robust (see the results page of the documentation).
        neighbours : {"keep", "check", "subtract"}
            What to do with the other sources in the stamps
            (:mod:`debvader_euclid.neighbours`; they are detected with sep, so
            ``noise_sigma_uJy`` is needed for "check" and "subtract").
            ``"keep"`` (default): the network alone. ``"subtract"``: also
            deblend the neighbours, subtract those more than 3 times brighter
            than the central galaxy, and deblend again. ``"check"``: the plain
            prediction, replaced by the neighbour-subtracted one where the plain
            flux is more than 1.5 times larger (a neighbour's light taken for the
            central galaxy's). Both take a few times longer and give far fewer
            fluxes several times too large (figures: the results page of the
            documentation).
        noise_sigma_uJy : float, array_like or "estimate", optional
            Pixel noise standard deviation, uJy/pixel, one value or one per stamp
            (``(N,)``); only with ``neighbours="check"`` or ``"subtract"``, or
            ``refine=True``. ``"estimate"``: measured from the stamps themselves,
            one value for all of them
            (:func:`debvader_euclid.noise.estimate_noise_sigma`; for stamps that
            share one noise level).
        refine : bool
            Combine the prediction, pixel by pixel, with the data minus the
            modelled neighbours, weighted by their variances
            (:mod:`debvader_euclid.refine`): where the central galaxy is far
            above the noise the data win. Fluxes of bright galaxies become
            several times more precise; the brightest pixels of the image then
            carry a little noise. Needs ``noise_sigma_uJy``; about twice as slow.
        psf : numpy.ndarray, galsim.GSObject or sequence, optional
            PSF-conditioned models only (:attr:`psf_input`): the PSF of the
            stamps. A 2-D image of the effective PSF on the stamps' 0.1 arcsec
            pixels (any normalisation; as large as the stamps is best), a GalSim
            profile of the optical PSF, or one image per stamp (``(N, ny, nx)``,
            not with ``neighbours`` or ``refine``). None (default): the model's
            reference PSF, the default VIS PSF of the built-in generator (Moffat
            0.17 arcsec; ``model.psf_reference``). See
            :mod:`debvader_euclid.psf_descriptor`.

        Returns
        -------
        numpy.ndarray
            float32, same shape as ``images``, uJy per pixel.

        Raises
        ------
        ValueError
            Wrong shape or stamp size, non-numeric input, non-finite pixels
            with ``nonfinite="raise"``, an unknown ``neighbours`` mode, or
            ``neighbours`` "check"/"subtract" or ``refine`` without a valid
            ``noise_sigma_uJy`` (or a noise level that nothing uses), a ``psf``
            for a model without PSF input, or a PSF image that is not usable.

        See Also
        --------
        debvader_euclid.central_detection : the quality flag; a central galaxy that
            sep does not detect as its own source gets an unreliable prediction.
        """
        stamps, restore = self._prepare(images, nonfinite)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        sigma = self._noise_sigma(neighbours, refine, noise_sigma_uJy, stamps)
        features = self.psf_features(psf, len(stamps))
        if features is not None and features.ndim == 2 and sigma is not None:
            raise ValueError(
                "one PSF per stamp cannot be combined with neighbours='check'/'subtract' or "
                "refine=True (the neighbours are deblended in stamps of their own): deblend "
                "groups of stamps that share a PSF, giving one PSF per call"
            )
        if symmetrize:
            from debvader_euclid.symmetries import dihedral_average

        if sigma is not None:  # neighbours and/or refine
            from debvader_euclid import neighbours as nb
            from debvader_euclid.refine import combine_with_data

        out = np.empty_like(stamps)
        for start in range(0, len(stamps), batch_size):
            chunk = stamps[start : start + batch_size]
            chunk_psf = features
            if features is not None and features.ndim == 2:
                chunk_psf = features[start : start + len(chunk)]

            def plain(x: np.ndarray, psf: np.ndarray | None = chunk_psf) -> np.ndarray:
                return self._predict(x, psf)

            def predict(x: np.ndarray, plain=plain) -> np.ndarray:
                return dihedral_average(plain, x) if symmetrize else plain(x)

            result = predict(chunk)
            if sigma is not None:
                chunk_sigma = sigma[start : start + len(chunk)]
                detections = nb.detect_neighbours(chunk, chunk_sigma)
            if neighbours != "keep":
                subtracted = nb.deblend_subtracting_neighbours(
                    predict, chunk, chunk_sigma, plain=result, detections=detections
                )
                if neighbours == "check":
                    result = nb.check_with_neighbours(result, subtracted)
                else:
                    result = subtracted
            if refine:
                others = nb.model_neighbours(
                    predict, chunk, chunk_sigma, result, detections=detections
                )
                result = combine_with_data(result, others, chunk, chunk_sigma)
            out[start : start + len(chunk)] = result
        return restore(out)

    @staticmethod
    def _noise_sigma(
        neighbours: str,
        refine: bool,
        noise_sigma_uJy: float | np.ndarray | str | None,
        stamps: np.ndarray,
    ) -> np.ndarray | None:
        """Per-stamp noise sigma (uJy/pixel) for neighbours/refine; None when neither needs it."""
        from debvader_euclid.neighbours import NEIGHBOUR_MODES

        if neighbours not in NEIGHBOUR_MODES:
            raise ValueError(
                f"neighbours must be one of {', '.join(NEIGHBOUR_MODES)}, got {neighbours!r}"
            )
        if not uses_noise_sigma(neighbours, refine):
            if noise_sigma_uJy is not None:
                raise ValueError(
                    "noise_sigma_uJy is only used to detect neighbours and to refine: pass "
                    "neighbours='check' (or 'subtract') or refine=True with it, or leave it out"
                )
            return None
        if noise_sigma_uJy is None:
            needs = f"neighbours={neighbours!r}" if neighbours != "keep" else "refine=True"
            raise ValueError(
                f"{needs} detects the neighbours with sep and needs the pixel noise: pass "
                "noise_sigma_uJy (uJy/pixel, one value or one per stamp), or "
                "noise_sigma_uJy='estimate' to measure it from the stamps"
            )
        from debvader_euclid.noise import noise_sigma_for

        return noise_sigma_for(noise_sigma_uJy, stamps)

    def _predict(self, stamps: np.ndarray, psf_features: np.ndarray | None = None) -> np.ndarray:
        """Network prediction for validated ``(N, S, S)`` float32 stamps, one call."""
        return self.networks.predict(
            stamps, batch_size=max(len(stamps), 1), psf_features=psf_features
        )

    def psf_features(self, psf: Any, n_stamps: int) -> np.ndarray | None:
        """The network's PSF input for ``psf`` (see :meth:`deblend`).

        Returns
        -------
        numpy.ndarray or None
            float32 ``(K,)`` for one PSF, ``(n_stamps, K)`` for one per stamp; None
            for ``psf=None`` (the model's reference PSF).

        Raises
        ------
        ValueError
            A PSF for a model without PSF input, a PSF image that is not usable
            (:func:`debvader_euclid.psf_descriptor.psf_image`), or a number of
            per-stamp PSFs that is not the number of stamps.
        """
        if psf is None:
            return None
        config = self.networks.config
        if not config.psf_input:
            raise ValueError(
                f"{self.folder} was not trained with PSF input (model.psf_input is false), so "
                "it cannot be given a PSF: leave psf out; it was trained on the PSF its "
                "README names"
            )
        from debvader_euclid.models.psf_modulation import psf_features
        from debvader_euclid.psf_descriptor import psf_descriptor

        radii = config.psf_radii_pixels
        if _one_psf_per_stamp(psf):
            if len(psf) != n_stamps:
                raise ValueError(
                    f"{len(psf)} PSFs given for {n_stamps} stamps: give one PSF for all the "
                    "stamps, or one per stamp"
                )
            descriptors = np.stack([psf_descriptor(p, radii) for p in psf])
        else:
            descriptors = psf_descriptor(psf, radii)
        return psf_features(descriptors, config.psf_reference)

    @property
    def psf_input(self) -> bool:
        """Whether the model takes the PSF of the stamps (``deblend(..., psf=...)``)."""
        return bool(self.networks.config.psf_input)

    def flux(self, images: np.ndarray, **kwargs: Any) -> np.ndarray:
        """Flux of the central galaxy: the sum of its deblended pixels, uJy.

        Parameters
        ----------
        images : array_like
            As for :meth:`deblend`; keyword arguments are passed on to it.

        Returns
        -------
        numpy.ndarray or float
            float64, shape ``(N,)``, or a float for a single ``(S, S)`` stamp.
        """
        deblended = self.deblend(images, **kwargs)
        return _sum_pixels(deblended)

    def flux_with_error(
        self,
        images: np.ndarray,
        noise_sigma_uJy: float | np.ndarray | str,
        neighbours: str = "keep",
        refine: bool = False,
        symmetrize: bool = False,
        batch_size: int = 512,
        nonfinite: str = "raise",
        psf: Any = None,
    ) -> FluxEstimate:
        """Flux of the central galaxy with a calibrated 1-sigma error, uJy.

        The error comes from the flux error model calibrated for this deblender
        and these options on blends with known truth
        (:mod:`debvader_euclid.flux_errors`, ``debvader-euclid calibrate-errors``):
        the model's own fractional error, the noise floor of the predicted
        profile and the neighbours' light under the central galaxy. Unlike the
        latent spread of :meth:`sample`, it describes the scatter of the fluxes
        around the truth (coverage on held-out blends: the results page of the
        documentation).

        Parameters
        ----------
        images : array_like
            As for :meth:`deblend`.
        noise_sigma_uJy : float, array_like or "estimate"
            Pixel noise standard deviation, uJy/pixel, one value or one per stamp,
            or ``"estimate"`` (as for :meth:`deblend`); always needed, the noise
            sets the error of faint galaxies.
        neighbours, refine, symmetrize, batch_size, nonfinite, psf
            As for :meth:`deblend`.

        Returns
        -------
        FluxEstimate
            ``flux_uJy`` and ``flux_error_uJy``, ``(N,)`` float64 (floats for a
            single ``(S, S)`` stamp).

        Raises
        ------
        ValueError
            Everything :meth:`deblend` refuses, options this deblender has no
            calibrated error model for (the message lists those it has), or a
            model calibrated with weights since replaced.
        """
        from debvader_euclid.flux_errors import (
            error_terms,
            flux_error_model,
            options_key,
            read_flux_error_models,
        )
        from debvader_euclid.noise import noise_sigma_for

        key = options_key(neighbours, refine, symmetrize)
        model = flux_error_model(self.folder, key)
        if model is None:
            have = ", ".join(sorted(read_flux_error_models(self.folder))) or "none"
            raise ValueError(
                f"{self.folder} has no flux error model for {key!r} (calibrated: {have}); "
                "calibrate one on blends with truth: debvader-euclid calibrate-errors "
                f"--model {self.folder} --data DIR [options]"
            )
        stamps, _ = self._prepare(images, nonfinite)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        sigma = noise_sigma_for(noise_sigma_uJy, stamps)
        per_stamp = _one_psf_per_stamp(psf)
        if per_stamp and len(psf) != len(stamps):
            raise ValueError(
                f"{len(psf)} PSFs given for {len(stamps)} stamps: give one PSF for all the "
                "stamps, or one per stamp"
            )
        flux = np.empty(len(stamps))
        error = np.empty(len(stamps))
        for start in range(0, len(stamps), batch_size):
            chunk = stamps[start : start + batch_size]
            chunk_sigma = sigma[start : start + len(chunk)]
            central = self.deblend(
                chunk,
                batch_size=batch_size,
                symmetrize=symmetrize,
                neighbours=neighbours,
                refine=refine,
                noise_sigma_uJy=chunk_sigma if uses_noise_sigma(neighbours, refine) else None,
                psf=psf[start : start + len(chunk)] if per_stamp else psf,
            )
            terms = error_terms(chunk, central, chunk_sigma)
            flux[start : start + len(chunk)] = terms.flux_uJy
            error[start : start + len(chunk)] = model.error_uJy(terms)
        if np.ndim(images) == 2:
            return FluxEstimate(float(flux[0]), float(error[0]))
        return FluxEstimate(flux, error)

    def magnitude(self, images: np.ndarray, **kwargs: Any) -> np.ndarray:
        """AB magnitude of the central galaxy, ``23.9 - 2.5 log10(flux / uJy)``.

        Non-positive predicted fluxes give NaN (with a warning).
        """
        flux = np.asarray(self.flux(images, **kwargs), dtype=np.float64)
        bad = ~(flux > 0)
        if np.any(bad):
            log.warning("%d stamp(s) with non-positive predicted flux: magnitude NaN", bad.sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            mags = np.where(bad, np.nan, flux_to_mag(np.where(bad, 1.0, flux)))
        return mags if mags.ndim else float(mags)

    def sample(
        self,
        images: np.ndarray,
        samples: int = 16,
        seed: int = 0,
        batch_size: int = 128,
        nonfinite: str = "raise",
        psf: Any = None,
    ) -> DeblendSamples:
        """Uncertainty from the probabilistic latent: decode ``samples`` latent draws.

        The blend encoder gives a Gaussian posterior over the latent space for
        each stamp; each draw is decoded to an image. The spread of the images and
        of their summed fluxes measures how well the stamp constrains the central
        galaxy *given the model* (the epistemic part; it does not include errors
        of the model itself, and is several times smaller than the scatter of the
        fluxes around the truth: for a flux error use :meth:`flux_with_error`).
        Reproducible for a given ``seed``.

        Parameters
        ----------
        images : array_like
            As for :meth:`deblend`.
        samples : int
            Latent draws per stamp (at least 2).
        seed : int
            Seed of the draws.
        batch_size : int
            Stamps per network call.
        nonfinite : {"raise", "zero"}
            As for :meth:`deblend`.
        psf : optional
            As for :meth:`deblend`.

        Returns
        -------
        DeblendSamples
        """
        import tensorflow as tf

        if samples < 2:
            raise ValueError(f"samples must be at least 2 to measure a spread, got {samples}")
        stamps, restore = self._prepare(images, nonfinite)
        n = len(stamps)
        features = self.psf_features(psf, n)
        mean = np.empty_like(stamps)
        std = np.empty_like(stamps)
        flux = np.empty(n)
        flux_std = np.empty(n)
        normalizer = self.networks.normalizer
        from debvader_euclid.models.losses import split_output

        for start in range(0, n, batch_size):
            chunk = stamps[start : start + batch_size]
            chunk_psf = features
            if features is not None and features.ndim == 2:
                chunk_psf = features[start : start + len(chunk)]
            posterior = self.networks.latent_distribution(chunk, psf_features=chunk_psf)
            draws = posterior.sample(samples, seed=tf.constant([seed, start], dtype=tf.int32))
            flat = tf.reshape(draws, (-1, draws.shape[-1]))
            decoded, _ = split_output(
                self.networks.decoder(flat, training=False), self.networks.config
            )
            images_uJy = normalizer.denormalize(np.asarray(decoded, dtype=np.float32)).reshape(
                samples, len(chunk), *chunk.shape[1:]
            )
            sl = slice(start, start + len(chunk))
            mean[sl] = images_uJy.mean(axis=0)
            std[sl] = images_uJy.std(axis=0)
            fluxes = images_uJy.sum(axis=(2, 3), dtype=np.float64)
            flux[sl] = fluxes.mean(axis=0)
            flux_std[sl] = fluxes.std(axis=0)
        single = restore(mean).ndim == 2
        return DeblendSamples(
            mean=restore(mean),
            std=restore(std),
            flux_uJy=flux[0] if single else flux,
            flux_std_uJy=flux_std[0] if single else flux_std,
            samples=samples,
        )

    # ------------------------------------------------------------------ input checks
    def _prepare(self, images: np.ndarray, nonfinite: str):
        """Validate and convert to float32 ``(N, S, S)``; return a shape-restoring function."""
        if nonfinite not in NONFINITE_POLICIES:
            raise ValueError(
                f"nonfinite must be one of {', '.join(NONFINITE_POLICIES)}, got {nonfinite!r}"
            )
        array = np.asarray(images)
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise ValueError(f"images must be numeric arrays of uJy/pixel, got dtype {array.dtype}")
        size = self.stamp_size
        shape = array.shape
        expected = f"({size}, {size}), (N, {size}, {size}) or (N, {size}, {size}, 1)"
        if array.ndim == 2 and shape == (size, size):
            stamps = array[None]
        elif array.ndim == 3 and shape[1:] == (size, size):
            stamps = array
        elif array.ndim == 4 and shape[1:] == (size, size, 1):
            stamps = array[..., 0]
        else:
            raise ValueError(
                f"images have shape {shape}; this model takes VIS stamps of shape {expected} "
                f"(uJy per 0.1 arcsec pixel), centred on the galaxy to extract"
            )
        stamps = np.ascontiguousarray(stamps, dtype=np.float32)
        finite = np.isfinite(stamps)
        if not finite.all():
            n_bad = int((~finite).sum())
            n_stamps = int((~finite).any(axis=(1, 2)).sum())
            if nonfinite == "raise":
                raise ValueError(
                    f"{n_bad} pixel(s) in {n_stamps} stamp(s) are NaN or infinite: clean them, "
                    "or pass nonfinite='zero' to set them to 0 uJy (the sky level)"
                )
            log.warning("%d NaN/infinite pixel(s) in %d stamp(s) set to 0 uJy", n_bad, n_stamps)
            stamps = np.where(finite, stamps, np.float32(0.0))
        if stamps.size and np.abs(stamps).max() > _IMPLAUSIBLE_PIXEL_UJY:
            log.warning(
                "pixel values up to %.3g: are the images in uJy per pixel (AB zero point 23.9)?",
                float(np.abs(stamps).max()),
            )

        def restore(result: np.ndarray) -> np.ndarray:
            return result.reshape(shape) if array.ndim != 3 else result

        return stamps, restore


def _one_psf_per_stamp(psf: Any) -> bool:
    """Whether ``psf`` (of :meth:`Deblender.deblend`) holds one PSF per stamp.

    True for a stack of images ``(N, ny, nx)`` or a sequence of GalSim profiles;
    False for None, one image or one profile.
    """
    if psf is None or hasattr(psf, "drawImage"):
        return False
    if isinstance(psf, list | tuple) and psf and hasattr(psf[0], "drawImage"):
        return True
    return np.ndim(psf) == 3


def _sum_pixels(images: np.ndarray) -> np.ndarray | float:
    """Sum over the two (or three, with a channel) last axes, float64."""
    array = np.asarray(images)
    axes = (-2, -1) if array.ndim in (2, 3) else (-3, -2, -1)
    total = array.sum(axis=axes, dtype=np.float64)
    return float(total) if np.ndim(total) == 0 else total
