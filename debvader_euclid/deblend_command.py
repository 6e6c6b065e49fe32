"""``debvader-euclid deblend``: deblend a file of your own VIS stamps.

Reads a stamp cube (FITS or ``.npy``, uJy/pixel, each stamp centred on the galaxy
to extract; :func:`debvader_euclid.stamp_files.open_stamp_cube`), deblends it in
chunks with a shipped or trained deblender, and writes to the output folder:

``deblended.fits``
    The noiseless, PSF-convolved central galaxies, ``(N, S, S)`` float32 in
    uJy/pixel (``BUNIT = 'uJy'``), in input order.
``catalogue.csv``
    One row per stamp: ``index``, ``flux_uJy`` (sum of the deblended pixels),
    ``mag_ab`` (``23.9 - 2.5 log10(flux_uJy)``, NaN for a non-positive flux),
    ``flux_error_uJy`` when ``--noise-sigma`` is given and the deblender has a flux
    error model calibrated for the chosen options (:mod:`debvader_euclid.flux_errors`;
    the shipped models have them for the recommended settings) and,
    unless ``--no-quality-flag``, the quality flag of
    :func:`debvader_euclid.quality.central_detection`: ``central_detected``,
    ``offset_pixels``, ``n_sources``. Trust a flux only where ``central_detected``.
``deblend.json``
    The command line, model folder, input file and its size, noise level, options,
    counts and software version.

Memory stays flat: ``--chunk`` stamps are read, deblended and written at a time.
Every output file is written under a temporary name and renamed when complete; an
output folder that holds files is refused without ``--overwrite``.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path

import numpy as np

from debvader_euclid import __version__
from debvader_euclid.deblending_options import add_deblending_options, deblending_option_words

logger = logging.getLogger(__name__)

OUTPUT_FILES = ("deblended.fits", "catalogue.csv", "deblend.json")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``deblend`` subcommand to the CLI."""
    parser = subparsers.add_parser(
        "deblend",
        help="deblend a FITS or .npy file of your own VIS stamps",
        description=(
            "Deblend the central galaxy of each stamp of a FITS cube or .npy array (uJy per "
            "0.1 arcsec pixel, background subtracted, stamps centred on the galaxies to "
            "extract). Writes deblended.fits, catalogue.csv (flux, AB magnitude, quality "
            "flag) and deblend.json to --out."
        ),
    )
    parser.add_argument(
        "--model",
        default="analytic",
        metavar="NAME|DIR",
        help="shipped model name (default analytic) or a folder written by `train deblender`",
    )
    parser.add_argument(
        "--stamps", required=True, metavar="FILE", help="FITS (.fits, .fits.gz) or .npy file"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--noise-sigma",
        type=noise_level,
        metavar="UJY|estimate",
        help="pixel noise standard deviation, uJy/pixel, or 'estimate' (measured from the "
        "first --chunk stamps: debvader_euclid.estimate_noise_sigma), for the quality flag, "
        "--neighbours check/subtract and --refine (required unless --no-quality-flag with "
        "--neighbours keep and no --refine)",
    )
    parser.add_argument(
        "--no-quality-flag",
        action="store_true",
        help="skip the quality flag (no central_detected column)",
    )
    add_deblending_options(parser, noise_note=" (needs --noise-sigma)")
    parser.add_argument(
        "--nonfinite",
        choices=("raise", "zero"),
        default="raise",
        help="NaN/inf pixels: stop with an error (default) or set them to 0 uJy",
    )
    parser.add_argument(
        "--chunk",
        type=int,
        default=8192,
        metavar="N",
        help="stamps read, deblended and written at a time (default 8192)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=512, metavar="N", help="stamps per network call"
    )
    parser.add_argument(
        "--psf",
        metavar="FILE",
        help="PSF-conditioned deblenders only: the stamps' PSF, a 2-D image of the effective "
        "PSF on the 0.1 arcsec pixels (FITS or .npy, any normalisation; default: the model's "
        "reference PSF)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the output files of an existing --out"
    )
    parser.set_defaults(func=run)


def noise_level(text: str) -> float | str:
    """``--noise-sigma``: a number (uJy/pixel) or ``"estimate"``."""
    if text == "estimate":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--noise-sigma must be a number (uJy/pixel) or 'estimate', got {text!r}"
        ) from None


def command_line(args: argparse.Namespace) -> list[str]:
    """The command that reproduces ``args`` (recorded in ``deblend.json``)."""
    cmd = ["debvader-euclid", "deblend", "--model", str(args.model)]
    cmd += ["--stamps", str(args.stamps), "--out", str(args.out)]
    if args.no_quality_flag:
        cmd.append("--no-quality-flag")
    if args.noise_sigma is not None:
        cmd += ["--noise-sigma", str(args.noise_sigma)]
    cmd += deblending_option_words(args)
    cmd += ["--nonfinite", args.nonfinite, "--chunk", str(args.chunk)]
    cmd += ["--batch-size", str(args.batch_size)]
    if getattr(args, "psf", None):
        cmd += ["--psf", str(args.psf)]
    if args.overwrite:
        cmd.append("--overwrite")
    return cmd


def run(args: argparse.Namespace) -> int:
    """Deblend ``args.stamps`` into ``args.out``; see the module docstring."""
    from data_generation.catalog import flux_to_mag
    from data_generation.io_utils import atomic_path, check_output_folder, write_json_atomic
    from debvader_euclid.deblender import Deblender, uses_noise_sigma
    from debvader_euclid.quality import central_detection
    from debvader_euclid.stamp_files import FitsCubeWriter, open_stamp_cube

    out = Path(args.out)
    flag = not args.no_quality_flag
    needs_noise = uses_noise_sigma(args.neighbours, args.refine)
    if needs_noise and args.noise_sigma is None:
        needs = f"--neighbours {args.neighbours}" if args.neighbours != "keep" else "--refine"
        raise ValueError(
            f"--noise-sigma (uJy/pixel) is needed by {needs} to detect the neighbours: "
            "give the pixel noise standard deviation of the stamps"
        )
    if flag and args.noise_sigma is None:
        raise ValueError(
            "--noise-sigma (uJy/pixel) is needed for the quality flag: give the pixel noise "
            "standard deviation of the stamps, or pass --no-quality-flag"
        )
    estimated = args.noise_sigma == "estimate"
    if (
        not estimated
        and args.noise_sigma is not None
        and not (math.isfinite(args.noise_sigma) and args.noise_sigma > 0)
    ):
        raise ValueError(f"--noise-sigma must be finite and > 0 uJy/pixel, got {args.noise_sigma}")
    for name in ("chunk", "batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
    check_output_folder(out, args.overwrite, "output folder", ", ".join(OUTPUT_FILES))

    stamps = open_stamp_cube(args.stamps)
    n, size = len(stamps), int(stamps.shape[1])
    deblender = Deblender.load(args.model)
    if size != deblender.stamp_size:
        raise ValueError(
            f"{args.stamps} holds {size}x{size}-pixel stamps but the model in "
            f"{deblender.folder} takes {deblender.stamp_size}x{deblender.stamp_size}: cut "
            f"stamps of {deblender.stamp_size} pixels centred on the galaxies"
        )
    psf = None
    if getattr(args, "psf", None):
        from debvader_euclid.psf_descriptor import read_psf_file

        if not deblender.psf_input:
            raise ValueError(
                f"--psf: the model in {deblender.folder} takes no PSF input (it was trained on "
                "one PSF, named in its README); leave --psf out"
            )
        psf = read_psf_file(args.psf)
    noise_sigma = args.noise_sigma
    if estimated:
        from debvader_euclid.noise import estimate_noise_sigma

        sample = stamps.read(0, min(n, args.chunk))
        if args.nonfinite == "zero":
            sample = np.nan_to_num(sample, nan=0.0, posinf=0.0, neginf=0.0)
        noise_sigma = estimate_noise_sigma(sample)
        logger.info(
            "--noise-sigma estimate: %.6g uJy/pixel from %d stamps", noise_sigma, len(sample)
        )
    out.mkdir(parents=True, exist_ok=True)
    logger.info("deblending %d stamps of %s with %s", n, args.stamps, deblender.folder)

    error_model = None
    if noise_sigma is not None:
        from debvader_euclid.flux_errors import error_terms, options_key, read_flux_error_models

        key = options_key(args.neighbours, args.refine, args.symmetrize)
        error_model = read_flux_error_models(deblender.folder).get(key)
        if error_model is None:
            logger.info(
                "no flux error model for %s in %s: no flux_error_uJy", key, deblender.folder
            )
    start = time.perf_counter()
    fluxes = np.empty(n, dtype=np.float64)
    errors = np.empty(n, dtype=np.float64)
    detection = []
    header = {
        "DVMODEL": (
            f"{deblender.folder.parent.name}/{deblender.folder.name}"[-60:],
            "debvader_euclid model/stage folder",
        ),
        "DVVERS": (__version__, "debvader_euclid version"),
        "DVSYMM": (bool(args.symmetrize), "prediction averaged over 8 orientations"),
        "DVNEIGH": (args.neighbours, "neighbours: keep, check or subtract"),
        "DVREFINE": (bool(args.refine), "combined with the data where bright"),
    }
    with FitsCubeWriter(out / "deblended.fits", n, size, header) as writer:
        for first in range(0, n, args.chunk):
            chunk = stamps.read(first, first + args.chunk)
            try:
                deblended = deblender.deblend(
                    chunk,
                    batch_size=args.batch_size,
                    nonfinite=args.nonfinite,
                    symmetrize=args.symmetrize,
                    neighbours=args.neighbours,
                    refine=args.refine,
                    noise_sigma_uJy=(noise_sigma if needs_noise else None),
                    psf=psf,
                )
            except ValueError as err:  # say where, and give the command-line fix
                where = f"stamps {first} to {first + len(chunk) - 1} of {args.stamps}"
                text = str(err).replace("nonfinite='zero'", "--nonfinite zero")
                raise ValueError(f"{where}: {text}") from err
            writer.write(deblended)
            fluxes[first : first + len(chunk)] = deblended.sum(axis=(1, 2), dtype=np.float64)
            if error_model is not None or flag:
                clean = np.nan_to_num(chunk, nan=0.0, posinf=0.0, neginf=0.0)
            if error_model is not None:
                terms = error_terms(clean, deblended, noise_sigma)
                errors[first : first + len(chunk)] = error_model.error_uJy(terms)
            if flag:
                detection.append(central_detection(clean, noise_sigma))
            logger.info("%d / %d stamps", min(first + args.chunk, n), n)
    seconds = time.perf_counter() - start

    import pandas as pd

    with np.errstate(divide="ignore", invalid="ignore"):
        mags = np.where(fluxes > 0, flux_to_mag(np.where(fluxes > 0, fluxes, 1.0)), np.nan)
    table = pd.DataFrame({"index": np.arange(n), "flux_uJy": fluxes, "mag_ab": mags})
    if error_model is not None:
        table.insert(2, "flux_error_uJy", errors)
    if flag:
        table = pd.concat([table, pd.concat(detection, ignore_index=True)], axis=1)
    with atomic_path(out / "catalogue.csv") as tmp:
        table.to_csv(tmp, index=False, float_format="%.7g")
    n_flagged = int((~table["central_detected"]).sum()) if flag else None
    info = {
        "command_line": command_line(args),
        "debvader_euclid_version": __version__,
        "model_folder": str(deblender.folder),
        "stamps": {
            "file": str(Path(args.stamps).resolve()),
            "bytes": Path(args.stamps).stat().st_size,
        },
        "n_stamps": n,
        "stamp_size_pixels": size,
        "noise_sigma_uJy_per_pixel": noise_sigma,
        "noise_sigma_estimated": estimated,
        "quality_flag": flag,
        "n_flagged": n_flagged,
        "n_nonpositive_flux": int(np.sum(~(fluxes > 0))),
        "symmetrize": bool(args.symmetrize),
        "neighbours": args.neighbours,
        "refine": bool(args.refine),
        "psf_file": str(Path(args.psf).resolve()) if getattr(args, "psf", None) else None,
        "flux_error_model": error_model.to_dict() if error_model is not None else None,
        "nonfinite": args.nonfinite,
        "seconds": round(seconds, 3),
    }
    write_json_atomic(out / "deblend.json", info)
    logger.info(
        "wrote %s (%.1f s, %.0f stamps/s)%s",
        ", ".join(str(out / name) for name in OUTPUT_FILES),
        seconds,
        n / seconds if seconds > 0 else float("inf"),
        f"; {n_flagged} of {n} stamps flagged (central_detected False)" if flag else "",
    )
    return 0
