"""Evaluate a trained model on a data set and write the report folder.

:func:`evaluate` runs the stage that fits the data set (the deblender on blends,
the stage-1 VAE on isolated galaxies, see :mod:`.predictors`), the sep baseline on
the same input stamps, and the morphology measurements, then writes into ``out``:

====================  =============================================================
``metrics.csv``       the paper's Table 1 comparison, long form: one row per method
                      (``ours``, ``sep_auto``, ``sep_iso``) and definition of
                      ``F_true`` (``stamp``, ``catalogue``); std, paper's std, median
                      bias, mean, sigma_MAD, fraction with ``|r| > 0.5``, counts
``metrics.md``        the same in the paper's layout, then in full (Markdown)
``per_magnitude.*``   the statistics per 0.5-mag bin of true magnitude, per method,
                      with the median noise floor and sigma_MAD / floor (CSV, MD)
``predictions.csv``   one row per example: true magnitude and fluxes, predicted flux,
                      residuals, noise floors, sep fluxes and flags, HSM ellipticities
                      and half-light radii of truth and prediction (and, for blends,
                      blendedness, neighbour distance and magnitude)
``morphology.csv``    ellipticity and half-light-radius residual statistics
``blending.csv``      blended sets: statistics in bins of blendedness, distance and
                      neighbour contrast (neighbour minus central VIS magnitude)
``flux_errors.*``     blended sets, when the deblender has a flux error model for the
                      options (:mod:`debvader_euclid.flux_errors`): coverage of its
                      errors per magnitude bin (CSV, MD); ``predictions.csv`` then
                      has a ``flux_error_uJy`` column
``panels.png``        Figs 2/3: input, truth, prediction, percentage-error map
``residuals.png``     Figs 4/5: residual against true magnitude, ours and sep
``morphology.png``    predicted against true e1, e2; half-light-radius residuals
``blending.png``      blended sets: residual against blendedness and distance
``report.md``         the text that ties them together, numbers generated
``evaluation.json``   model, data manifest SHA-256, configuration, software versions
====================  =============================================================

Definitions
-----------
* ``F_pred`` is the **sum of the predicted pixels** (the paper's definition).
* The primary ``F_true`` is the sum of the noiseless central stamp
  (``central_stamp_flux_uJy``): what the stamp holds, hence what a perfect
  prediction of the target sums to. The catalogue flux (``central_flux_uJy``) is
  the secondary reference: with GalSim-drawn bulges a few per cent of the stamps
  hold less than 99 % of it (de Vaucouleurs wings beyond the 6.4 arcsec stamp),
  which no stamp-based method can recover, so it adds a truncation bias that is
  not the model's error. Both are reported; the report states the fraction.
* The normalised residual is ``(F_true - F_pred) / F_true``: positive means the
  flux is underestimated. Table 1's number is its standard deviation.
* The noise floor is ``sigma_pix / sqrt(sum c^2)`` for the noiseless central stamp
  ``c`` (:func:`debvader_euclid.metrics.noise_floor_fractional`), the fractional
  flux error of the matched filter with the true profile. For blends the joint
  two-profile floor is also stored (``noise_floor_joint``).
* sep detection failures have NaN fluxes: counted (``n_failed``, and
  ``sep_detected`` in ``predictions.csv``), left out of the statistics.
* Truth values a galaxy source may leave NaN (COSMOS galaxies: redshift,
  bulge-to-total ratio, radii, axis ratios, position angle, see
  :mod:`data_generation.cosmos`) are not read: the statistics use the images, the
  fluxes and magnitudes, the noise sigma and, for blends, the blendedness and
  neighbour distance, which every source provides; shapes and half-light radii
  are measured on the truth and predicted images. ``debvader-euclid describe``
  counts the NaN truth values of a data set.
"""

from __future__ import annotations

import importlib.metadata
import logging
import math
import os
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data_generation.io_utils import atomic_path, check_output_folder, write_json_atomic
from data_generation.manifest import Manifest, load_manifest, manifest_sha256, utc_now
from debvader_euclid.evaluation.compare import (
    BIN_BIAS_MAG_LIMIT,
    BIN_BIAS_MIN_N,
    largest_bias_bin,
)
from debvader_euclid.evaluation.predictors import (
    INPUT_FIELD,
    TARGET_FIELD,
    ensemble_predictor,
    load_predictor,
)
from debvader_euclid.evaluation.tables import (
    BLENDEDNESS_EDGES,
    FLUX_TRUE_LABELS,
    METHOD_LABELS,
    NEIGHBOUR_CONTRAST_EDGES_MAG,
    binned_table,
    distance_edges,
    flux_metrics_table,
    markdown_table,
    morphology_table,
    per_magnitude_table,
    table1_markdown,
)
from debvader_euclid.flux_errors import (
    coverage_by_magnitude,
    error_terms,
    flux_error_model,
    options_key,
)
from debvader_euclid.metrics import (
    CATASTROPHIC_THRESHOLD,
    DEFAULT_MAG_BINS,
    PIXEL_ERROR_MIN_SNR,
    ellipticity_hsm,
    half_light_radius_arcsec,
    model_pixel_errors,
    noise_floor_fractional,
    normalised_flux_residual,
    predicted_flux_uJy,
)

log = logging.getLogger(__name__)

#: Version of the layout of ``evaluation.json`` and of the report folder.
REPORT_FORMAT_VERSION = 1

#: Every file :func:`evaluate` may write. With ``overwrite``, these (and only these)
#: are replaced; those a run does not produce (``blending.*`` for an isolated set)
#: are removed so that the folder never mixes two reports.
REPORT_FILES = (
    "metrics.csv",
    "metrics.md",
    "per_magnitude.csv",
    "per_magnitude.md",
    "pixel_errors.csv",
    "pixel_errors.md",
    "predictions.csv",
    "morphology.csv",
    "blending.csv",
    "flux_errors.csv",
    "flux_errors.md",
    "panels.png",
    "residuals.png",
    "morphology.png",
    "blending.png",
    "report.md",
    "evaluation.json",
)

#: Pixel scale of VIS, arcsec per pixel.
PIXEL_SCALE_ARCSEC = 0.1

#: Truth fields read from every data set (besides the input and target images).
_TRUTH = (
    "central_id",
    "central_mag_vis",
    "central_flux_uJy",
    "central_stamp_flux_uJy",
    "noise_sigma_uJy",
)
_BLEND_TRUTH = (
    "neighbour_noiseless",
    "neighbour_mag_vis",
    "neighbour_distance_arcsec",
    "blendedness",
)


@dataclass
class EvaluationResult:
    """What :func:`evaluate` computed and wrote.

    Attributes
    ----------
    out : pathlib.Path
        The report folder.
    kind : {"isolated", "blended"}
        Data set kind.
    dataset : str
        Row of the paper's Table 1 (``"analytic"`` or ``"realistic"``).
    stage : {"vae", "deblender"}
        Stage that was evaluated.
    metrics : pandas.DataFrame
        Content of ``metrics.csv`` (see :func:`.tables.flux_metrics_table`).
    per_magnitude : pandas.DataFrame
        Content of ``per_magnitude.csv``.
    predictions : pandas.DataFrame
        Content of ``predictions.csv``, one row per example.
    morphology : pandas.DataFrame
        Content of ``morphology.csv``.
    blending : pandas.DataFrame or None
        Content of ``blending.csv`` (blended sets only).
    files : dict of str to pathlib.Path
        File name -> path of everything written.
    info : dict
        Content of ``evaluation.json``.
    """

    out: Path
    kind: str
    dataset: str
    stage: str
    metrics: pd.DataFrame
    per_magnitude: pd.DataFrame
    predictions: pd.DataFrame
    morphology: pd.DataFrame
    blending: pd.DataFrame | None
    files: dict[str, Path] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def table1(self) -> str:
        """The Table 1 comparison in Markdown (paper, ours, sep)."""
        return table1_markdown(self.metrics)


# --------------------------------------------------------------------------- checks


#: How ``report.md`` describes a ``neighbours`` mode other than "keep".
_NEIGHBOUR_WORDS = {
    "check": "; neighbours checked: the prediction after subtracting the bright neighbours "
    'replaces one more than 1.5 times brighter (`neighbours="check"`)',
    "subtract": "; neighbours more than 3 times brighter than the central galaxy deblended "
    'and subtracted first (`neighbours="subtract"`)',
}


def dataset_name(manifest: Manifest) -> str:
    """Row of the paper's Table 1 for a data set: its generation morphology.

    ``manifest.config["generation"]["morphology"]`` when present, else ``"analytic"``;
    ``"mixed"`` for a data set combined from inputs of different morphologies
    (``debvader-euclid combine``).
    """
    generation = manifest.config.get("generation", {})
    if not isinstance(generation, Mapping):
        return "analytic"
    if "morphology" not in generation and manifest.config.get("combined_from"):
        morphologies = {
            part.get("generation", {}).get("morphology", "analytic")
            for part in manifest.config["combined_from"]
        }
        return morphologies.pop() if len(morphologies) == 1 else "mixed"
    return str(generation.get("morphology", "analytic"))


def required_fields(kind: str) -> list[str]:
    """Fields an evaluation of a data set of ``kind`` reads."""
    fields = [INPUT_FIELD[kind], TARGET_FIELD, *_TRUTH]
    if kind == "blended":
        fields += list(_BLEND_TRUTH)
    return fields


def check_truth_fields(folder: Path, manifest: Manifest, fields: list[str]) -> None:
    """Raise ValueError naming the fields the data set lacks.

    The schema of the manifest's kind must list them, and the first record of the
    first non-empty shard must hold them (a data set written without truth, or by
    other software, fails here rather than deep inside TensorFlow).
    """
    from data_generation.manifest import require_complete
    from data_generation.schema import all_fields

    known = {f.name for f in all_fields(manifest.kind)}
    unknown = [name for name in fields if name not in known]
    if unknown:
        raise ValueError(
            f"data set {folder} ({manifest.kind!r}) has no field(s) {', '.join(unknown)}: "
            "evaluation needs the truth of the central galaxy"
        )
    require_complete(folder, manifest, check_sha256=False)
    shard = next((s for s in sorted(manifest.shards, key=lambda s: s.index) if s.n_examples), None)
    if shard is None:
        raise ValueError(f"data set {folder} holds no examples")
    import tensorflow as tf

    try:
        raw = next(iter(tf.data.TFRecordDataset(str(folder / shard.file)).take(1)))
        present = set(tf.train.Example.FromString(raw.numpy()).features.feature)
    except (tf.errors.OpError, StopIteration) as err:
        raise ValueError(f"cannot read the first record of {folder / shard.file}: {err}") from err
    missing = [name for name in fields if name not in present]
    if missing:
        raise ValueError(
            f"data set {folder} lacks the truth field(s) {', '.join(missing)} that "
            f"evaluation needs (its records hold {', '.join(sorted(present)) or 'nothing'}): "
            "evaluate a data set written by `debvader-euclid generate`"
        )


def panel_indices(mag: np.ndarray, n_panels: int) -> list[int]:
    """``n_panels`` examples spread evenly in true magnitude (quantiles), bright first."""
    if n_panels <= 0:
        return []
    order = np.argsort(np.asarray(mag, dtype=np.float64), kind="stable")
    picks = np.unique(np.round(np.linspace(0, len(order) - 1, min(n_panels, len(order)))))
    return [int(order[int(p)]) for p in picks]


# --------------------------------------------------------------------------- writing


def _write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def _flux_error_coverage(
    folder: Path,
    images: np.ndarray,
    predictions_uJy: np.ndarray,
    sigma_uJy: np.ndarray,
    predictions: pd.DataFrame,
    options: str,
) -> pd.DataFrame | None:
    """Coverage of the deblender's calibrated flux errors (None without a model).

    Adds the ``flux_error_uJy`` column to ``predictions``; the returned table's
    ``attrs["model"]`` is the error model as a dictionary.
    """
    model = flux_error_model(folder, options)
    if model is None:
        log.info("no flux error model for %s in %s: no flux_errors.* report", options, folder)
        return None
    terms = error_terms(images, predictions_uJy, sigma_uJy)
    error = model.error_uJy(terms)
    predictions["flux_error_uJy"] = error
    table = coverage_by_magnitude(
        predictions["flux_true_uJy"].to_numpy(),
        predictions["flux_pred_uJy"].to_numpy(),
        error,
        predictions["mag_true"].to_numpy(),
        DEFAULT_MAG_BINS,
    )
    table.attrs["model"] = model.to_dict()
    return table


def _flux_errors_markdown(table: pd.DataFrame, heading: str = "# Flux errors") -> str:
    """Coverage of the calibrated flux errors per magnitude bin (Markdown)."""
    model = table.attrs["model"]
    calibration = model["calibration"]
    shown = table.copy()
    shown[["mag_lo", "mag_hi"]] = shown[["mag_lo", "mag_hi"]].astype(object)
    shown.loc[shown.index[-1], ["mag_lo", "mag_hi"]] = ["all", ""]
    return "\n".join(
        [
            heading,
            "",
            f"Flux error model `{model['options']}` of the deblender "
            "(`debvader_euclid.flux_errors`): sigma_F^2 = "
            f"({model['model_fraction']:.4f} F)^2 + {model['noise_flux_coefficient']:.4f}^2 "
            f"F sigma_0 + ({model['noise_factor']:.4f} sigma_0)^2 + "
            f"({model['contamination_factor']:.4f} K)^2, calibrated on "
            f"{calibration.get('n', '?')} blends of {calibration.get('data', '?')} "
            f"(shards {calibration.get('shards', '?')}). Pulls (F_true - F_pred) / sigma_F "
            "per bin of true magnitude; Gaussian errors would put 0.683 within 1 sigma_F "
            "and 0.954 within 2.",
            "",
            markdown_table(shown, float_format="{:.3f}"),
            "",
        ]
    )


def _write_csv(path: Path, table: pd.DataFrame) -> Path:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return path


def _software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in (
        "debvader_euclid",
        "tensorflow",
        "tf_keras",
        "tensorflow_probability",
        "numpy",
        "pandas",
        "galsim",
        "sep",
        "matplotlib",
    ):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    if versions["debvader_euclid"] == "not installed":
        from debvader_euclid import __version__

        versions["debvader_euclid"] = __version__
    return versions


# --------------------------------------------------------------------------- evaluation


def _prediction_table(
    data: Mapping[str, np.ndarray],
    kind: str,
    flux_pred: np.ndarray,
    floor: np.ndarray,
    floor_joint: np.ndarray | None,
    sep: pd.DataFrame | None,
    shapes: Mapping[str, np.ndarray],
) -> pd.DataFrame:
    """One row per example; see the module docstring of :mod:`.report`."""
    flux_true = np.asarray(data["central_stamp_flux_uJy"], dtype=np.float64)
    flux_cat = np.asarray(data["central_flux_uJy"], dtype=np.float64)
    columns: dict[str, np.ndarray] = {
        "index": np.arange(len(flux_true)),
        "central_id": np.asarray(data["central_id"]),
        "mag_true": np.asarray(data["central_mag_vis"], dtype=np.float64),
        "flux_true_uJy": flux_true,
        "flux_catalogue_uJy": flux_cat,
        "flux_pred_uJy": flux_pred,
        "residual": normalised_flux_residual(flux_true, flux_pred),
        "residual_catalogue": normalised_flux_residual(flux_cat, flux_pred),
        "noise_sigma_uJy": np.asarray(data["noise_sigma_uJy"], dtype=np.float64),
        "noise_floor": floor,
    }
    if kind == "blended":
        columns.update(
            noise_floor_joint=floor_joint,
            blendedness=np.asarray(data["blendedness"], dtype=np.float64),
            neighbour_distance_arcsec=np.asarray(
                data["neighbour_distance_arcsec"], dtype=np.float64
            ),
            neighbour_mag=np.asarray(data["neighbour_mag_vis"], dtype=np.float64),
        )
    if sep is not None:
        auto = sep["flux_auto_uJy"].to_numpy(dtype=np.float64)
        iso = sep["flux_iso_uJy"].to_numpy(dtype=np.float64)
        columns.update(
            sep_detected=sep["detected"].to_numpy(dtype=bool),
            sep_flag=sep["flag"].to_numpy(dtype=np.int64),
            sep_flux_auto_uJy=auto,
            sep_flux_iso_uJy=iso,
            residual_sep_auto=normalised_flux_residual(flux_true, auto),
            residual_sep_iso=normalised_flux_residual(flux_true, iso),
            residual_sep_auto_catalogue=normalised_flux_residual(flux_cat, auto),
            residual_sep_iso_catalogue=normalised_flux_residual(flux_cat, iso),
        )
    columns.update(shapes)
    return pd.DataFrame(columns)


def _residuals_by_method(predictions: pd.DataFrame, catalogue: bool = False) -> dict[str, Any]:
    """Method -> residual column (stamp flux, or catalogue flux) of the prediction table."""
    suffix = "_catalogue" if catalogue else ""
    out = {"ours": predictions[f"residual{suffix}"].to_numpy()}
    if "residual_sep_auto" in predictions:
        out["sep_auto"] = predictions[f"residual_sep_auto{suffix}"].to_numpy()
        out["sep_iso"] = predictions[f"residual_sep_iso{suffix}"].to_numpy()
    return out


def _keyed_residuals(predictions: pd.DataFrame) -> dict[tuple[str, str], np.ndarray]:
    """(method, F_true flavour) -> residuals, for the metrics table.

    With the sep baseline, ``ours_central_detected`` is ours restricted to the stamps
    where sep detects the central galaxy as its own source (NaN elsewhere, counted
    in ``n_failed``): the stamps the quality flag
    :func:`debvader_euclid.quality.central_detection` passes, and the like-for-like
    comparison with sep, whose statistics leave the others out.
    """
    keyed: dict[tuple[str, str], np.ndarray] = {}
    for flavour, catalogue in (("stamp", False), ("catalogue", True)):
        by_method = _residuals_by_method(predictions, catalogue)
        if "sep_detected" in predictions:
            detected = predictions["sep_detected"].to_numpy(dtype=bool)
            by_method = {
                "ours": by_method["ours"],
                "ours_central_detected": np.where(detected, by_method["ours"], np.nan),
                **{m: r for m, r in by_method.items() if m != "ours"},
            }
        keyed.update({(m, flavour): r for m, r in by_method.items()})
    return keyed


#: What ``evaluate`` tells a PSF-conditioned deblender about the PSF.
PSF_CHOICES = ("data", "reference")


def evaluation_psf(psf: str, manifest: Manifest, kind: str) -> np.ndarray | None:
    """The PSF image ``evaluate`` gives a PSF-conditioned deblender, or None.

    Parameters
    ----------
    psf : {"data", "reference"}
        See :func:`evaluate`.
    manifest : Manifest
        Of the evaluated data set.
    kind : {"blended", "isolated"}

    Raises
    ------
    ValueError
        An unknown ``psf``, or ``"data"`` for a data set combined from inputs with
        several PSFs (evaluate its inputs one by one).

    Notes
    -----
    A data set whose manifest records no instrument (written by another tool) gives
    None, with a log line: the model then assumes its reference PSF.
    """
    if psf not in PSF_CHOICES:
        raise ValueError(f"psf must be one of {', '.join(PSF_CHOICES)}, got {psf!r}")
    if psf == "reference" or kind != "blended":
        return None
    from debvader_euclid.psf_descriptor import data_set_psf_images

    try:
        images = data_set_psf_images(manifest.config)
    except ValueError:
        log.info("the data set records no PSF: a PSF-conditioned model assumes its reference")
        return None
    distinct = {image.tobytes(): image for image in images.values()}
    if len(distinct) > 1:
        raise ValueError(
            "the data set was combined from inputs with different PSFs: evaluate each input "
            "on its own to give a PSF-conditioned deblender its PSF, or pass psf='reference' "
            "(--psf reference)"
        )
    return next(iter(distinct.values()))


def evaluate(
    model: str | os.PathLike,
    data: str | os.PathLike,
    out: str | os.PathLike,
    overwrite: bool = False,
    max_examples: int | None = None,
    shards: tuple[int, ...] | None = None,
    n_panels: int = 6,
    run_sep: bool = True,
    batch_size: int = 512,
    symmetrize: bool = False,
    neighbours: str = "keep",
    refine: bool = False,
    estimate_noise: bool = False,
    command_line: list[str] | None = None,
    ensemble_with: Sequence[str | os.PathLike] = (),
    psf: str = "data",
) -> EvaluationResult:
    """Evaluate a trained model on a data set and write the report folder ``out``.

    Parameters
    ----------
    model : str or path-like
        Shipped model name (``"analytic"``), model folder (holding ``deblender/``
        and/or ``vae/``) or stage folder. A blended data set is evaluated with the
        deblender, an isolated one with the stage-1 VAE.
    data : path-like
        Data set folder written by ``debvader-euclid generate`` (with truth).
    out : path-like
        Report folder; created if needed. Must not exist or be empty unless
        ``overwrite``.
    overwrite : bool
        Replace the report files (:data:`REPORT_FILES`) of an existing folder; any
        other file in it is kept.
    max_examples : int, optional
        Evaluate only the first examples of the data set (all by default).
    shards : tuple of int, optional
        Evaluate only these shards of the data set (all by default); for example
        the validation shards of a training set, which training held out.
    n_panels : int
        Examples shown in ``panels.png`` (spread evenly in true magnitude; 0 for
        no figure).
    run_sep : bool
        Run the sep baseline (FLUX_AUTO and isophotal flux) on the same stamps.
    batch_size : int
        Stamps per network call.
    symmetrize : bool
        Average each prediction over the 8 rotations and flips of its stamp
        (:mod:`debvader_euclid.symmetries`); recorded in ``evaluation.json``.
    neighbours : {"keep", "check", "subtract"}
        Blended data sets: what the deblender does with the detected neighbours
        (:mod:`debvader_euclid.neighbours`; detected with each stamp's true noise
        sigma); recorded in ``evaluation.json``.
    refine : bool
        Blended data sets: combine each prediction with the data where the central
        galaxy is bright (:mod:`debvader_euclid.refine`, with each stamp's true
        noise sigma); recorded in ``evaluation.json``.
    estimate_noise : bool
        Give the deblender (``neighbours``, ``refine``) the noise level estimated
        from the evaluated stamps (:func:`debvader_euclid.noise.estimate_noise_sigma`,
        one value) instead of each stamp's true sigma, as a user without a noise
        map would; the sep baseline keeps the true sigma. The estimate is recorded
        in ``evaluation.json``.
    command_line : list of str, optional
        The command that ran this evaluation, recorded in ``evaluation.json``.
    ensemble_with : sequence of str or path-like
        Further models of the same stage: the prediction is then the pixel-wise mean
        of ``model``'s and theirs, each run with the same options
        (:func:`~debvader_euclid.evaluation.predictors.ensemble_predictor`). An
        ensemble has no calibrated flux errors (no ``flux_errors.*``).
    psf : {"data", "reference"}
        What a PSF-conditioned deblender (``model.psf_input``) is told about the
        PSF: the PSF the data set was simulated with, from its manifest
        (``"data"``, default), or nothing, so that it assumes its reference PSF
        (``"reference"``, as for a caller who does not know the PSF). Other models
        take no PSF; recorded in ``evaluation.json`` either way.

    Returns
    -------
    EvaluationResult

    Raises
    ------
    FileExistsError
        ``out`` exists and is not empty, without ``overwrite``.
    FileNotFoundError
        No data set (manifest) at ``data``, or a model path that does not exist.
    ValueError
        A data set without the truth fields (named), a model whose stamp size
        differs from the data's (both named), an unknown model or one lacking the
        stage the data set needs, or bad arguments.
    """
    start = time.perf_counter()
    out, data = Path(out), Path(data)
    if max_examples is not None and max_examples < 1:
        raise ValueError(f"max_examples must be at least 1, got {max_examples}")
    if n_panels < 0:
        raise ValueError(f"n_panels must be >= 0, got {n_panels}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    from debvader_euclid.deblender import uses_noise_sigma

    if estimate_noise and not uses_noise_sigma(neighbours, refine):
        raise ValueError(
            "estimate_noise gives the noise level to the neighbour handling and to refine: "
            "use it with neighbours 'check' or 'subtract', or with refine"
        )
    check_output_folder(out, overwrite, "report folder", "the report files")

    manifest = load_manifest(data)
    kind, dataset = manifest.kind, dataset_name(manifest)
    fields = required_fields(kind)
    check_truth_fields(data, manifest, fields)
    data_sha = manifest_sha256(data)
    content_sha = manifest.content_sha256()

    psf_given = evaluation_psf(psf, manifest, kind)
    predictors = [
        load_predictor(
            m, kind, symmetrize=symmetrize, neighbours=neighbours, refine=refine, psf=psf_given
        )
        for m in (model, *ensemble_with)
    ]
    predictor = ensemble_predictor(predictors) if len(predictors) > 1 else predictors[0]
    if predictor.stamp_size != manifest.stamp_size:
        raise ValueError(
            f"stamp-size mismatch: the {predictor.stage} in {predictor.folder} takes "
            f"{predictor.stamp_size}x{predictor.stamp_size}-pixel stamps but data set {data} "
            f"has {manifest.stamp_size}x{manifest.stamp_size}-pixel stamps"
        )
    evaluated_shards = (
        sorted(shards) if shards is not None else sorted(s.index for s in manifest.shards)
    )
    seen_shards = predictor.shards_seen_in_training(data_sha, content_sha, evaluated_shards)
    used_in_training = bool(seen_shards)
    if used_in_training:
        log.warning(
            "%d of the %d evaluated shards of data set %s are ones the model was trained or "
            "validated on (listed in evaluation.json): the metrics are not those of unseen data",
            len(seen_shards),
            len(evaluated_shards),
            data,
        )

    from data_generation.tfrecords import read_numpy
    from debvader_euclid.baselines.sep_photometry import sep_central_photometry

    arrays = read_numpy(data, fields=fields, max_examples=max_examples, shards=shards)
    n = len(arrays[TARGET_FIELD])
    if n == 0:
        raise ValueError(f"data set {data} holds no examples to evaluate")
    images, truth = arrays[INPUT_FIELD[kind]], arrays[TARGET_FIELD]
    sigma = np.asarray(arrays["noise_sigma_uJy"], dtype=np.float64)
    sigma_model = sigma
    sigma_estimate = None
    if estimate_noise:
        from debvader_euclid.noise import estimate_noise_sigma

        sigma_estimate = estimate_noise_sigma(images)
        sigma_model = np.full(n, sigma_estimate)
        log.info(
            "noise estimated from the stamps: %.6g uJy/pixel (true median %.6g)",
            sigma_estimate,
            float(np.median(sigma)),
        )
    log.info("predicting %d %s stamps with the %s", n, kind, predictor.stage)
    predictions_uJy = predictor.predict(images, batch_size=batch_size, noise_sigma_uJy=sigma_model)

    flux_pred = predicted_flux_uJy(predictions_uJy)
    floor = noise_floor_fractional(truth, sigma)
    floor_joint = (
        noise_floor_fractional(truth, sigma, arrays["neighbour_noiseless"])
        if kind == "blended"
        else None
    )
    sep_table = None
    if run_sep:
        log.info("sep baseline (FLUX_AUTO, isophotal) on the same %d stamps", n)
        sep_table = sep_central_photometry(images, sigma, deblend_nthresh=32, deblend_cont=0.005)
    log.info("morphology: HSM ellipticities and half-light radii of truth and prediction")
    shapes_true = ellipticity_hsm(truth, PIXEL_SCALE_ARCSEC)
    shapes_pred = ellipticity_hsm(predictions_uJy, PIXEL_SCALE_ARCSEC)
    shapes = {
        "e1_true": shapes_true.e1,
        "e2_true": shapes_true.e2,
        "e1_pred": shapes_pred.e1,
        "e2_pred": shapes_pred.e2,
        "hlr_true_arcsec": half_light_radius_arcsec(truth, PIXEL_SCALE_ARCSEC),
        "hlr_pred_arcsec": half_light_radius_arcsec(predictions_uJy, PIXEL_SCALE_ARCSEC),
    }

    predictions = _prediction_table(arrays, kind, flux_pred, floor, floor_joint, sep_table, shapes)
    residuals = _residuals_by_method(predictions)
    keyed = _keyed_residuals(predictions)
    metrics = flux_metrics_table(keyed, dataset, kind, CATASTROPHIC_THRESHOLD)
    mag = predictions["mag_true"].to_numpy()
    per_mag = per_magnitude_table(mag, residuals, floor, DEFAULT_MAG_BINS)
    morphology = morphology_table(**shapes)
    pixel_errors = model_pixel_errors(predictions_uJy, truth, sigma)
    blending = None
    flux_errors = None
    if kind == "blended":
        if predictor.members:
            log.info("an ensemble has no calibrated flux errors: no flux_errors.* report")
        else:
            flux_errors = _flux_error_coverage(
                predictor.folder,
                images,
                predictions_uJy,
                sigma_model,
                predictions,
                options_key(neighbours, refine, symmetrize),
            )
        blendedness = np.clip(predictions["blendedness"].to_numpy(), 0.0, 1.0)
        distance = predictions["neighbour_distance_arcsec"].to_numpy()
        blending = pd.concat(
            [
                binned_table(blendedness, residuals, BLENDEDNESS_EDGES, "blendedness"),
                binned_table(
                    distance, residuals, distance_edges(distance), "neighbour_distance_arcsec"
                ),
                binned_table(
                    predictions["neighbour_mag"].to_numpy() - mag,
                    residuals,
                    NEIGHBOUR_CONTRAST_EDGES_MAG,
                    "neighbour_contrast_mag",
                ),
            ],
            ignore_index=True,
        )

    # ---- write ---------------------------------------------------------------------
    from debvader_euclid import plotting

    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    def put(name: str, path: Path) -> None:
        files[name] = path

    put("metrics.csv", _write_csv(out / "metrics.csv", metrics))
    metrics_md = _metrics_markdown(metrics, predictor.stage)
    put("metrics.md", _write_text(out / "metrics.md", metrics_md))
    put("per_magnitude.csv", _write_csv(out / "per_magnitude.csv", per_mag))
    put(
        "per_magnitude.md",
        _write_text(out / "per_magnitude.md", _per_magnitude_markdown(per_mag)),
    )
    put("pixel_errors.csv", _write_csv(out / "pixel_errors.csv", pixel_errors))
    put(
        "pixel_errors.md",
        _write_text(out / "pixel_errors.md", _pixel_errors_markdown(pixel_errors)),
    )
    put("predictions.csv", _write_csv(out / "predictions.csv", predictions))
    put("morphology.csv", _write_csv(out / "morphology.csv", morphology))
    if blending is not None:
        put("blending.csv", _write_csv(out / "blending.csv", blending))
    if flux_errors is not None:
        put("flux_errors.csv", _write_csv(out / "flux_errors.csv", flux_errors))
        put(
            "flux_errors.md",
            _write_text(out / "flux_errors.md", _flux_errors_markdown(flux_errors)),
        )

    title = (
        f"{dataset} {kind} data set, {n} galaxies; model: {predictor.stage} ({predictor.folder})"
    )
    log.info("drawing figures")
    if n_panels:
        indices = panel_indices(mag, n_panels)
        labels = [_panel_label(predictions.iloc[i], kind) for i in indices]
        put(
            "panels.png",
            plotting.plot_deblending_panels(
                images,
                truth,
                predictions_uJy,
                out / "panels.png",
                indices,
                sigma,
                row_labels=labels,
                input_title="input: noisy blend" if kind == "blended" else "input: noisy galaxy",
                prediction_title=f"prediction ({predictor.stage})",
            ),
        )
    titled = {_method_title(m, predictor.stage): r for m, r in residuals.items()}
    put(
        "residuals.png",
        plotting.plot_residuals_vs_magnitude(
            mag, titled, out / "residuals.png", noise_floor=floor, suptitle=title
        ),
    )
    put(
        "morphology.png",
        plotting.plot_morphology(mag, **shapes, path=out / "morphology.png", suptitle=title),
    )
    if kind == "blended":
        put(
            "blending.png",
            plotting.plot_blending_dependence(
                predictions["blendedness"].to_numpy(),
                predictions["neighbour_distance_arcsec"].to_numpy(),
                titled,
                out / "blending.png",
                suptitle=title,
            ),
        )

    info = {
        "format_version": REPORT_FORMAT_VERSION,
        "created_utc": utc_now(),
        "command_line": list(command_line) if command_line is not None else None,
        "model": {
            "argument": os.fspath(model),
            **({"ensemble_with": [os.fspath(m) for m in ensemble_with]} if ensemble_with else {}),
            "symmetrize": bool(symmetrize),
            "neighbours": neighbours,
            "refine": bool(refine),
            "psf": psf if getattr(predictor.info.get("model"), "psf_input", False) else None,
            "noise_sigma_estimated_uJy": sigma_estimate,
            **predictor.describe(),
        },
        "data": {
            "folder": str(data.resolve()),
            "manifest_sha256": data_sha,
            "content_sha256": content_sha,
            "kind": kind,
            "dataset": dataset,
            "stamp_size": manifest.stamp_size,
            "instrument": manifest.instrument_summary(),
            "n_examples_in_data_set": manifest.counts["n_examples"],
            "n_examples_evaluated": n,
            "used_in_training": used_in_training,
            "shards_seen_in_training": seen_shards,
        },
        "config": {
            "max_examples": max_examples,
            "shards": list(shards) if shards is not None else None,
            "n_panels": n_panels,
            "run_sep": run_sep,
            "batch_size": batch_size,
            "input_field": INPUT_FIELD[kind],
            "target_field": TARGET_FIELD,
            "flux_true": FLUX_TRUE_LABELS,
            "flux_pred": "sum of the predicted pixels",
            "residual": "(F_true - F_pred) / F_true",
            "catastrophic_threshold": CATASTROPHIC_THRESHOLD,
            "magnitude_bins": [float(x) for x in DEFAULT_MAG_BINS],
            "blendedness_bins": list(BLENDEDNESS_EDGES) if kind == "blended" else None,
            "pixel_scale_arcsec": PIXEL_SCALE_ARCSEC,
            "sep": sep_table.attrs.get("settings") if sep_table is not None else None,
            "panels": "100 (pred - true) / true, masked where true < noise sigma",
        },
        "counts": {
            "sep_not_detected": (
                int(sep_table.attrs.get("n_not_detected", 0)) if sep_table is not None else None
            ),
            "hsm_failed_true": int(shapes_true.flag.sum()),
            "hsm_failed_pred": int(shapes_pred.flag.sum()),
            "outside_magnitude_bins": int(per_mag.attrs.get("n_outside", 0)),
        },
        "model_pixel_error": {
            "min_snr": PIXEL_ERROR_MIN_SNR,
            "rms_above_min_snr": pixel_errors.attrs["rms_above"],
        },
        "software": _software_versions(),
        "flux_error_model": flux_errors.attrs["model"] if flux_errors is not None else None,
    }
    report = report_markdown(
        info,
        metrics,
        per_mag,
        morphology,
        blending,
        predictions,
        sorted([*files, "report.md", "evaluation.json"]),
    )
    if flux_errors is not None:
        report += _flux_errors_markdown(flux_errors, heading="## Flux errors")
    put("report.md", _write_text(out / "report.md", report))
    info["files"] = sorted([*files, "evaluation.json"])
    info["elapsed_s"] = round(time.perf_counter() - start, 2)
    put("evaluation.json", write_json_atomic(out / "evaluation.json", _jsonable(info)))

    for name in REPORT_FILES:  # a previous report's files this run did not rewrite
        stale = out / name
        if name not in files and stale.is_file():
            stale.unlink()
            log.info("removed %s from a previous report", stale)
    log.info("report written to %s (%.1f s)", out, time.perf_counter() - start)
    return EvaluationResult(
        out=out,
        kind=kind,
        dataset=dataset,
        stage=predictor.stage,
        metrics=metrics,
        per_magnitude=per_mag,
        predictions=predictions,
        morphology=morphology,
        blending=blending,
        files=files,
        info=info,
    )


def _jsonable(value: Any) -> Any:
    """numpy scalars and paths to plain JSON; NaN to None."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------- text


def _method_title(method: str, stage: str) -> str:
    return f"ours ({stage})" if method == "ours" else METHOD_LABELS[method]


def _panel_label(row: pd.Series, kind: str) -> str:
    label = f"VIS {row['mag_true']:.2f}\nflux residual {100 * row['residual']:+.1f}%"
    if kind == "blended":
        label += f'\nd = {row["neighbour_distance_arcsec"]:.2f}", b = {row["blendedness"]:.3f}'
    return label


def _pct(value: float, signed: bool = False) -> str:
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    return f"{100 * float(value):+.2f}%" if signed else f"{100 * float(value):.2f}%"


_METRIC_FORMATS = {
    "std": "{:.4f}",
    "paper_std": "{:.4f}",
    "ratio_to_paper": "{:.3f}",
    "bias": "{:+.4f}",
    "mean": "{:+.4f}",
    "sigma_mad": "{:.4f}",
    "fraction_catastrophic": "{:.4f}",
}


_BIN_FORMATS = {
    "mag_lo": "{:.2f}",
    "mag_hi": "{:.2f}",
    "bias": "{:+.4f}",
    "bias_err": "{:.4f}",
    "mean": "{:+.4f}",
}


def _instrument_words(instrument: Mapping[str, Any] | None) -> str:
    """``"; PSF ..., noise ..."`` for the data line of ``report.md`` (empty if unrecorded)."""
    if not instrument or instrument.get("psf") is None:
        return ""
    words = f"; {instrument['psf']} PSF"
    if instrument.get("psf_fwhm_arcsec") is not None:
        words += f" of FWHM {instrument['psf_fwhm_arcsec']:.3g} arcsec"
    if instrument.get("noise_sigma_uJy") is not None:
        words += f", noise {instrument['noise_sigma_uJy']:.4g} uJy/pixel"
    return words


def _metrics_markdown(metrics: pd.DataFrame, stage: str) -> str:
    return (
        "# Flux accuracy: the paper's Table 1\n\n"
        "Standard deviation of the normalised flux residuals (F_true - F_pred) / F_true, "
        f'F_pred the sum of the predicted pixels; "ours" is the {stage}, the paper\'s '
        "number is its VAE (Nemani et al. 2023, Table 1).\n\n"
        + table1_markdown(metrics)
        + "\n## All statistics (fractions)\n\n"
        "bias = median residual (positive: flux underestimated); sigma_mad = 1.4826 "
        "median |r - median r|; fraction_catastrophic = fraction with |r| > "
        f"{CATASTROPHIC_THRESHOLD}; n_failed = failed measurements (sep: no detection), "
        "counted, not in the statistics.\n\n" + markdown_table(metrics, formats=_METRIC_FORMATS)
    )


def _pixel_errors_markdown(pixel_errors: pd.DataFrame) -> str:
    """``pixel_errors.md``: the model pixel error table (:func:`model_pixel_errors`)."""
    return (
        "# Fractional error of the predicted pixels\n\n"
        "e = (prediction - truth) / prediction per pixel, in bins of prediction / noise "
        "sigma; rms, median and sigma_MAD of e. Pooled over every pixel above "
        f"{PIXEL_ERROR_MIN_SNR:g} sigma: rms {pixel_errors.attrs['rms_above']:.4f} "
        "(the model pixel error of debvader_euclid.refine).\n\n"
        + markdown_table(
            pixel_errors, float_format="{:.4f}", formats={"snr_lo": "{:g}", "snr_hi": "{:g}"}
        )
        + "\n"
    )


def _per_magnitude_markdown(per_mag: pd.DataFrame) -> str:
    lines = [
        "# Flux residuals per bin of true VIS magnitude\n",
        "Bins [lo, hi) in AB mag; bias = median residual, bias_err = its standard "
        "error sqrt(pi/2) sigma_mad / sqrt(n); noise_floor_median = median of sigma_pix / "
        "sqrt(sum c^2) in the bin; sigma_mad_over_floor = sigma_mad / that floor.",
        f"Galaxies outside all bins: {per_mag.attrs.get('n_outside', 0)}.\n",
    ]
    for method, group in per_mag.groupby("method", sort=False):
        lines.append(f"## {METHOD_LABELS.get(str(method), str(method))}\n")
        lines.append(
            markdown_table(
                group.drop(columns="method"), float_format="{:.4f}", formats=_BIN_FORMATS
            )
        )
    return "\n".join(lines)


def _populated(per_mag: pd.DataFrame, method: str, min_n: int = 10) -> pd.DataFrame:
    rows = per_mag[(per_mag["method"] == method) & (per_mag["n"] >= min_n)]
    return rows if len(rows) else per_mag[(per_mag["method"] == method) & (per_mag["n"] > 0)]


def _row(metrics: pd.DataFrame, method: str, flux_true: str = "stamp") -> pd.Series | None:
    rows = metrics[(metrics["method"] == method) & (metrics["flux_true"] == flux_true)]
    return rows.iloc[0] if len(rows) else None


def _flag_capture_sentence(predictions: pd.DataFrame) -> str:
    """How many of the worst residuals the quality flag (no sep central) catches."""
    residual = predictions["residual"].to_numpy()
    flagged = ~predictions["sep_detected"].to_numpy(dtype=bool)
    parts = []
    for limit in (1.0, CATASTROPHIC_THRESHOLD):
        bad = np.abs(residual) > limit
        parts.append(f"{int((bad & flagged).sum())} of the {int(bad.sum())} with |r| > {limit:g}")
    return f"The flagged stamps hold {parts[0]} and {parts[1]}."


def report_markdown(
    info: Mapping[str, Any],
    metrics: pd.DataFrame,
    per_mag: pd.DataFrame,
    morphology: pd.DataFrame,
    blending: pd.DataFrame | None,
    predictions: pd.DataFrame,
    files: list[str],
) -> str:
    """The text of ``report.md``: every number generated from the tables.

    Parameters
    ----------
    info : mapping
        The content of ``evaluation.json`` (model, data, config, counts).
    metrics, per_mag, morphology, blending, predictions : pandas.DataFrame
        The tables of the report (``blending`` None for isolated sets).
    files : list of str
        Names of the files of the report folder.

    Returns
    -------
    str
        Markdown.
    """
    model, data, counts = info["model"], info["data"], info["counts"]
    stage, kind, n = model["stage"], data["kind"], int(data["n_examples_evaluated"])
    ours = _row(metrics, "ours")
    ours_cat = _row(metrics, "ours", "catalogue")
    lines = [
        f"# Evaluation of the {stage} on the {data['dataset']} {kind} data set",
        "",
        f"- model: {stage} stage in `{model['folder']}` "
        + (f"(from `{model['argument']}`) " if model["argument"] != model["folder"] else "")
        + f"({model['stamp_size']}x{model['stamp_size']} stamps)"
        + (
            "; each prediction averaged over the 8 rotations and flips of its stamp"
            if model.get("symmetrize")
            else ""
        )
        + _NEIGHBOUR_WORDS.get(model.get("neighbours", "keep"), "")
        + (
            "; refined: combined with the data where the central galaxy is bright (`refine=True`)"
            if model.get("refine")
            else ""
        )
        + (
            "; noise level estimated from the stamps, "
            f"{model['noise_sigma_estimated_uJy']:.5g} uJy/pixel (`noise_sigma_uJy='estimate'`)"
            if model.get("noise_sigma_estimated_uJy") is not None
            else ""
        ),
        f"- model pixel error (rms of (prediction - truth) / prediction over the pixels "
        f"above {info['model_pixel_error']['min_snr']:g} sigma): "
        f"{100 * info['model_pixel_error']['rms_above_min_snr']:.1f} % (`pixel_errors.md`)",
        f"- data: `{data['folder']}` ({kind}, {n} of {data['n_examples_in_data_set']} "
        f"examples evaluated), manifest SHA-256 `{data['manifest_sha256'][:16]}...`"
        + _instrument_words(data.get("instrument")),
        f"- input `{info['config']['input_field']}`, target `{info['config']['target_field']}`; "
        "F_pred = sum of the predicted pixels; residual r = (F_true - F_pred) / F_true "
        "(positive: flux underestimated)",
        f"- created {info['created_utc']}; details in `evaluation.json`",
    ]
    if data.get("used_in_training"):
        lines += [
            "",
            f"**Warning: the model was trained or validated on "
            f"{len(data.get('shards_seen_in_training') or [])} of the evaluated shards of "
            "this data set (`evaluation.json`, `shards_seen_in_training`); these are "
            "not the metrics of unseen data.**",
        ]

    # ---- Table 1 ------------------------------------------------------------------
    lines += ["", "## Flux accuracy (the paper's Table 1)", "", table1_markdown(metrics)]
    if ours is not None:
        paper = float(ours["paper_std"])
        versus = (
            f" against the paper's {_pct(paper)} (ratio {ours['ratio_to_paper']:.2f})"
            if math.isfinite(paper)
            else " (the paper has no number for this case)"
        )
        lines.append(
            f"Our standard deviation of the residuals is {_pct(ours['std'])}{versus}. "
            f"Median bias {_pct(ours['bias'], True)}, mean {_pct(ours['mean'], True)}, "
            f"sigma_MAD {_pct(ours['sigma_mad'])}, {_pct(ours['fraction_catastrophic'])} "
            f"of the galaxies with |r| > {int(100 * CATASTROPHIC_THRESHOLD)}%."
        )
        flagged = _row(metrics, "ours_central_detected")
        if flagged is not None:
            lines.append(
                f"On the {int(flagged['n'])} stamps whose central galaxy is detected as its "
                "own source (the quality flag `debvader_euclid.central_detection`; "
                f"{int(flagged['n_failed'])} flagged) our std is {_pct(flagged['std'])}, "
                f"median bias {_pct(flagged['bias'], True)}, sigma_MAD "
                f"{_pct(flagged['sigma_mad'])}, {_pct(flagged['fraction_catastrophic'])} with "
                f"|r| > {int(100 * CATASTROPHIC_THRESHOLD)}%. "
                + _flag_capture_sentence(predictions)
            )
    kept = predictions["flux_true_uJy"] / predictions["flux_catalogue_uJy"]
    lines += [
        "",
        "F_true is the sum of the noiseless central stamp (`central_stamp_flux_uJy`): what "
        "the stamp holds and what a perfect prediction sums to. The catalogue flux "
        "(`central_flux_uJy`, rows `catalogue`) also counts light outside the stamp "
        "(de Vaucouleurs wings beyond its edge), which no stamp-based method can recover: "
        f"here {_pct(float(np.mean(kept < 0.99)))} of the stamps hold less than 99% of it "
        f"(median fraction held {float(np.median(kept)):.4f})."
        + (
            f" Against the catalogue flux our std is {_pct(ours_cat['std'])} and the bias "
            f"{_pct(ours_cat['bias'], True)}."
            if ours_cat is not None
            else ""
        ),
        "",
        "Full statistics: `metrics.csv`, `metrics.md`; per example: `predictions.csv`.",
    ]

    # ---- sep -----------------------------------------------------------------------
    from debvader_euclid.baselines.sep_photometry import DEFAULT_MAX_CENTRE_DISTANCE_PIX

    auto, iso = _row(metrics, "sep_auto"), _row(metrics, "sep_iso")
    lines += ["", "## Baseline: sep (SExtractor-style) on the same stamps", ""]
    if auto is None:
        lines.append("Not run (run_sep=False / --no-sep).")
    else:
        lines.append(
            f"Detection with deblending (DEBLEND_NTHRESH 32, DEBLEND_MINCONT 0.005) at 1.5 sigma "
            f"of the true noise; the object nearest the centre, if within "
            f"{DEFAULT_MAX_CENTRE_DISTANCE_PIX:g} pixels; FLUX_AUTO (Kron ellipse, other "
            f"segments masked) and isophotal flux. No central detection in "
            f"{counts['sep_not_detected']} of {n} stamps: counted in `n_failed`, not in the "
            "statistics."
        )
        lines.append("")
        matched = _row(metrics, "ours_central_detected")
        rows = [("FLUX_AUTO", auto), ("FLUX_ISO", iso)]
        if matched is not None:
            rows.append((f"ours on the same {int(matched['n'])} stamps", matched))
        for label, row in rows:
            lines.append(
                f"- {label}: std {_pct(row['std'])}, median bias {_pct(row['bias'], True)}, "
                f"sigma_MAD {_pct(row['sigma_mad'])}, |r| > 50%: "
                f"{_pct(row['fraction_catastrophic'])}"
            )

    # ---- per magnitude -------------------------------------------------------------
    lines += ["", "## Residuals against true magnitude (Figs 4/5)", "", "![](residuals.png)", ""]
    lines.append(
        "Points: residuals; black / yellow lines: running mean / median (0.25-mag bins); "
        "dashed: the data set's mean / median; red: zero; blue band: ± the median noise "
        "floor sigma_pix / sqrt(sum c^2), the fractional flux error of a matched filter "
        "that knows the true profile."
    )
    bins = _populated(per_mag, "ours")
    if len(bins):
        bright, faint = bins.iloc[0], bins.iloc[-1]
        lines += [
            "",
            f"Ours, brightest populated bin {bright['mag_lo']:.1f}-{bright['mag_hi']:.1f} mag "
            f"(n = {int(bright['n'])}): bias {_pct(bright['bias'], True)}, sigma_MAD "
            f"{_pct(bright['sigma_mad'])}, noise floor {_pct(bright['noise_floor_median'])}; "
            f"faintest {faint['mag_lo']:.1f}-{faint['mag_hi']:.1f} mag (n = {int(faint['n'])}): "
            f"bias {_pct(faint['bias'], True)}, sigma_MAD {_pct(faint['sigma_mad'])}, noise "
            f"floor {_pct(faint['noise_floor_median'])}. sigma_MAD / floor ranges from "
            f"{np.nanmin(bins['sigma_mad_over_floor']):.2f} to "
            f"{np.nanmax(bins['sigma_mad_over_floor']):.2f} over the populated bins "
            "(a biased method can beat the floor in scatter: read it with the bias).",
        ]
    largest = largest_bias_bin(per_mag)
    if largest is not None:
        lines.append(
            f"Largest median bias among the bins brighter than VIS {BIN_BIAS_MAG_LIMIT:g} with "
            f"at least {BIN_BIAS_MIN_N} galaxies: {_pct(largest['bias'], True)} "
            f"± {_pct(largest['bias_err'])} (its standard error, `bias_err`) in "
            f"{largest['mag_lo']:.1f}-{largest['mag_hi']:.1f} mag (n = {int(largest['n'])})."
        )
    if counts.get("outside_magnitude_bins"):
        lines.append(
            f"{counts['outside_magnitude_bins']} galaxies lie outside the magnitude bins "
            f"{info['config']['magnitude_bins'][0]}-{info['config']['magnitude_bins'][-1]}."
        )
    ours_bins = per_mag[per_mag["method"] == "ours"].drop(columns="method")
    ours_bins = ours_bins[ours_bins["n"] + ours_bins["n_nonfinite"] > 0]
    columns = [
        c
        for c in (
            "mag_lo",
            "mag_hi",
            "n",
            "bias",
            "bias_err",
            "std",
            "sigma_mad",
            "noise_floor_median",
        )
        if c in ours_bins
    ]
    lines += [
        "",
        "Ours per magnitude bin (all methods: `per_magnitude.csv`, `per_magnitude.md`):",
        "",
        markdown_table(ours_bins[columns], float_format="{:.4f}", formats=_BIN_FORMATS),
    ]

    # ---- panels --------------------------------------------------------------------
    if "panels.png" in files:
        lines += [
            "## Examples (Figs 2/3)",
            "",
            "![](panels.png)",
            "",
            "Columns: the input stamp, the true central galaxy, the prediction (arcsinh "
            "stretch, linear below the noise sigma) and the per-pixel error "
            "100 (pred - true) / true in percent, shown only where the true pixel is at "
            "least the noise sigma (below it a relative error diverges). Rows: examples "
            "spread evenly in true magnitude, brightest first.",
            "",
        ]

    # ---- morphology ------------------------------------------------------------------
    lines += ["## Morphology", "", "![](morphology.png)", ""]
    lines.append(
        "Ellipticities from GalSim HSM adaptive moments (reduced shear, no PSF correction) "
        "and non-parametric half-light radii (circle holding half the flux around the "
        "light-weighted centroid), measured on the true and predicted central galaxies:"
    )
    lines += [
        "",
        markdown_table(
            morphology, float_format="{:.4f}", formats={"median": "{:+.4f}", "mean": "{:+.4f}"}
        ),
        f"HSM failures: {counts['hsm_failed_true']} on the truth, {counts['hsm_failed_pred']} "
        "on the predictions (counted in n_failed).",
        "",
    ]

    # ---- blending --------------------------------------------------------------------
    if blending is not None:
        lines += ["## Dependence on blending", "", "![](blending.png)", ""]
        for variable, unit in (
            ("blendedness", ""),
            ("neighbour_distance_arcsec", " arcsec"),
            ("neighbour_contrast_mag", " mag"),
        ):
            rows = blending[
                (blending["variable"] == variable)
                & (blending["method"] == "ours")
                & (blending["n"] >= 5)
            ]
            if len(rows) == 0:
                continue
            parts = [
                f"{row['lo']:g}-{row['hi']:g}{unit} (n = {int(row['n'])}): std "
                f"{_pct(row['std'])}, bias {_pct(row['bias'], True)}"
                for _, row in (rows.iloc[[0, -1]] if len(rows) > 1 else rows).iterrows()
            ]
            lines.append(
                f"- ours against {variable}, "
                + (
                    "lowest and highest populated bins: " + "; ".join(parts)
                    if len(parts) > 1
                    else "one populated bin: " + parts[0]
                )
                + "."
            )
        lines += [
            "",
            "The neighbour contrast is the neighbour's VIS magnitude minus the central "
            "galaxy's (negative: the neighbour is brighter). All bins and methods: "
            "`blending.csv`.",
            "",
        ]

    lines += ["## Files", ""] + [f"- `{name}`" for name in files] + [""]
    return "\n".join(lines)
