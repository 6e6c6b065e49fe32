"""``debvader-euclid describe``: summarise what a data set holds.

Truth values that the galaxy source does not provide are stored as NaN (COSMOS
galaxies: redshift, bulge-to-total ratio, radii, axis ratios and position angle
without GalSim's parametric fits, the bulge fields of single-Sersic fits; see
:mod:`data_generation.cosmos`). No summary statistic reads them; the summary ends
with one line counting them per field (:func:`nan_truth_counts`), absent when
every truth value is finite.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from data_generation.manifest import (
    instrument_summary_from_config,
    load_manifest,
    manifest_sha256,
    psf_label,
)
from data_generation.schema import truth_fields

_SUMMARY_FIELDS = {
    "isolated": (
        "central_mag_vis",
        "central_flux_uJy",
        "central_stamp_flux_uJy",
        "noise_sigma_uJy",
    ),
    "blended": (
        "central_mag_vis",
        "central_flux_uJy",
        "central_stamp_flux_uJy",
        "noise_sigma_uJy",
        "neighbour_mag_vis",
        "neighbour_distance_arcsec",
        "blendedness",
    ),
}


def describe_dataset(folder: str | os.PathLike) -> list[str]:
    """Lines summarising a data set: counts, magnitudes, flux kept in the stamp, blending.

    Parameters
    ----------
    folder : path-like
        A data set written by ``debvader-euclid generate``.

    Returns
    -------
    list of str
    """
    from data_generation.tfrecords import read_numpy

    manifest = load_manifest(folder)
    scalar = [f.name for f in truth_fields(manifest.kind) if f.dtype.startswith("float")]
    data = read_numpy(folder, fields=sorted({*_SUMMARY_FIELDS[manifest.kind], *scalar}))
    mags = data["central_mag_vis"]
    kept = data["central_stamp_flux_uJy"] / data["central_flux_uJy"]
    sigma = data["noise_sigma_uJy"]
    noise = (
        f"{sigma[0]:.5f} uJy/pixel"
        if np.all(sigma == sigma[0])
        else f"{sigma.min():.5f} to {sigma.max():.5f} uJy/pixel"
    )
    generation = manifest.config.get("generation", {})
    combined = bool(manifest.config.get("combined_from"))
    seeds = "seeds of the inputs below" if combined else f"seed {manifest.seed}"
    lines = [
        f"{folder}: {manifest.kind}, {manifest.counts['n_examples']} examples in "
        f"{manifest.counts['n_shards']} shards, {manifest.stamp_size}x{manifest.stamp_size} "
        f"pixels, {seeds}",
        f"central galaxies: VIS {mags.min():.2f} to {mags.max():.2f} mag "
        f"(quartiles {np.percentile(mags, 25):.2f}, {np.median(mags):.2f}, "
        f"{np.percentile(mags, 75):.2f})",
        f"noiseless central stamps hold {np.median(kept):.4f} of the catalogue flux (median; "
        f"{np.mean(kept < 0.99):.1%} below 0.99); noise sigma {noise}",
    ]
    parts = manifest.config.get("combined_from")
    if parts:
        lines.append(f"combined from {len(parts)} inputs (`debvader-euclid combine`):")
        for part in parts:
            summary = instrument_summary_from_config(part)
            sigma_part = summary["noise_sigma_uJy"]
            lines.append(
                f"  {part['folder']}: {part['n_examples']} examples from {len(part['shards'])} "
                f"shards, seed {part['seed']}, PSF {psf_label(summary)} (FWHM in arcsec), noise "
                + ("unrecorded" if sigma_part is None else f"{sigma_part:.5f} uJy/pixel")
            )
    if "morphology" in generation or not parts:
        lines.append(morphology_line(generation, manifest.config.get("catalogue", {})))
    measured = manifest.config.get("instrument_measured")
    if measured:
        lines.append(
            f"PSF: FWHM {measured['psf_fwhm_arcsec']:.4f} arcsec "
            f"({measured['pixelised_psf_fwhm_arcsec']:.4f} with the 0.1 arcsec pixel), "
            f"noise-equivalent area {measured['noise_equivalent_area_pix']:.2f} pixels"
        )
    if manifest.kind == "blended":
        b = data["blendedness"]
        d = data["neighbour_distance_arcsec"]
        n_mags = data["neighbour_mag_vis"]
        lines += [
            f"neighbours: VIS {n_mags.min():.2f} to {n_mags.max():.2f} mag; distance "
            f"{d.min():.2f} to {d.max():.2f} arcsec (median {np.median(d):.2f}; annulus "
            f"{generation.get('annulus_arcsec')})",
            f"blendedness: median {np.median(b):.4f}; above 0.01: {np.mean(b > 0.01):.1%}, "
            f"above 0.1: {np.mean(b > 0.1):.1%}, above 0.3: {np.mean(b > 0.3):.1%}",
        ]
        fraction = generation.get("bright_neighbour_fraction", 0.0)
        if fraction:
            lo, hi = generation["bright_neighbour_mag_range"]
            min_central_mag = generation.get("bright_neighbour_min_central_mag")
            beside = (
                f" beside centrals of VIS >= {min_central_mag:g}"
                if min_central_mag is not None
                else ""
            )
            lines.append(
                f"bright neighbours oversampled: {fraction:.0%} drawn from VIS {lo:g}-{hi:g}"
                f"{beside} "
                f"(a training set: not the sky's mix of pairs); {np.mean(n_mags < hi):.1%} of "
                f"the neighbours are brighter than VIS {hi:g}"
            )
    lines.append(
        f"content SHA-256 {manifest.content_sha256()} (the same for identical data written "
        f"again; manifest file SHA-256 {manifest_sha256(folder)})"
    )
    missing = nan_truth_counts({name: data[name] for name in scalar})
    if missing:
        n = len(mags)
        lines.append(
            "truth not provided by the galaxy source (NaN, in no statistic above): "
            + ", ".join(f"{name} {count} of {n}" for name, count in missing.items())
        )
    return lines


def nan_truth_counts(truth: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Number of NaN values of each truth field that has any.

    Parameters
    ----------
    truth : mapping of str to numpy.ndarray
        Scalar truth fields of a data set (one value per example).

    Returns
    -------
    dict of str to int
        Field name -> number of NaN values, in the mapping's order; fields without
        NaN are left out.
    """
    counts = {
        name: int(np.isnan(np.asarray(v, dtype=np.float64)).sum()) for name, v in truth.items()
    }
    return {name: count for name, count in counts.items() if count}


def morphology_line(generation: Mapping[str, Any], catalogue: Mapping[str, Any]) -> str:
    """One line naming a data set's galaxy morphology and its main parameters.

    Parameters
    ----------
    generation : mapping
        ``manifest.config["generation"]`` (data sets written before the morphology
        option are analytic).
    catalogue : mapping
        ``manifest.config["catalogue"]`` (COSMOS file list, when there is one).

    Returns
    -------
    str
    """
    name = generation.get("morphology", "analytic")
    if name == "analytic":
        return "morphology: analytic (de Vaucouleurs bulge + exponential disk)"
    cosmos = generation.get("cosmos_catalogue")
    if cosmos:
        n_files = len(catalogue.get("files", []))
        return (
            f"morphology: realistic, HST COSMOS galaxies from {cosmos} ({n_files} files "
            "recorded with their SHA-256), randomly rotated, flux from the F814W magnitude"
        )
    from data_generation.morphology import RealisticMorphologyConfig

    c = RealisticMorphologyConfig.from_dict(generation.get("realistic", {}))
    return (
        f"morphology: realistic, embedded model: knots carry {c.knot_fraction_ref:.0%} of the "
        f"disk light at sSFR {c.ssfr_ref_per_yr:.0e}/yr ({c.knot_fraction_slope_per_dex:+.2f} "
        f"per dex, at most {c.knot_fraction_max:.0%}, none when passive); lopsided clump "
        f"({c.asym_light_fraction_range[0]:.0%}-{c.asym_light_fraction_range[1]:.0%} of the "
        f"disk light) in {c.asym_probability_ref:.0%} of star-forming galaxies at that sSFR, "
        f"{c.asym_probability_passive:.0%} of passive ones"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``describe`` subcommand."""
    parser = subparsers.add_parser("describe", help="summarise a generated data set")
    parser.add_argument("--data", required=True, help="data set folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary; returns the exit status."""
    print("\n".join(describe_dataset(args.data)))
    return 0
