"""``debvader-euclid calibrate-errors``: fit a deblender's flux error model.

Deblends a blended data set with truth (the validation shards of the training
set, never a test set) with the chosen options, fits the error model of
:mod:`debvader_euclid.flux_errors` and adds it to ``flux_errors.json`` in the
deblender folder, where :meth:`Deblender.flux_with_error
<debvader_euclid.Deblender.flux_with_error>` and ``debvader-euclid evaluate``
find it. Example::

    debvader-euclid calibrate-errors --model analytic --data data/blended-train \\
        --shards 67-74 --neighbours check --refine

A model for the same options is replaced only with ``--overwrite``. A shipped
model's ``SHA256SUMS`` lists the file: run ``make model-checksums`` afterwards.
"""

from __future__ import annotations

import argparse
import logging
import sys

from debvader_euclid.deblending_options import add_deblending_options, deblending_option_words

log = logging.getLogger(__name__)

#: Fields of a blended data set the calibration reads.
CALIBRATION_FIELDS = ("blend_noisy", "central_stamp_flux_uJy", "noise_sigma_uJy")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``calibrate-errors`` subcommand to the CLI."""
    from debvader_euclid.evaluation.command import shard_list

    parser = subparsers.add_parser(
        "calibrate-errors",
        help="fit a deblender's flux error model on blends with truth",
        description=(
            "Deblend a blended data set with known truth (validation shards, not a test set), "
            "fit the flux error model (model fraction, noise floor of the predicted profile, "
            "neighbour light under the central galaxy) and add it to flux_errors.json of the "
            "deblender folder, for Deblender.flux_with_error and evaluate."
        ),
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="NAME|DIR",
        help="shipped model name (e.g. analytic) or a folder written by `train deblender`",
    )
    parser.add_argument(
        "--data", required=True, metavar="DIR", help="blended data set folder with truth"
    )
    parser.add_argument(
        "--shards", type=shard_list, metavar="LIST", help="shards to use, e.g. 67-74"
    )
    parser.add_argument("--max-examples", type=int, metavar="N", help="use the first N blends")
    add_deblending_options(parser, prefix="calibrate the errors of this option: ")
    parser.add_argument(
        "--batch-size", type=int, default=512, help="stamps per network call (default 512)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a model already calibrated for the same options",
    )
    parser.set_defaults(func=run)


def command_line(args: argparse.Namespace) -> list[str]:
    """The command that reproduces ``args``."""
    cmd = ["debvader-euclid", "calibrate-errors", "--model", str(args.model)]
    cmd += ["--data", str(args.data)]
    if args.shards is not None:
        cmd += ["--shards", ",".join(map(str, args.shards))]
    if args.max_examples is not None:
        cmd += ["--max-examples", str(args.max_examples)]
    cmd += deblending_option_words(args)
    if args.overwrite:
        cmd.append("--overwrite")
    return cmd


def run(args: argparse.Namespace) -> int:
    """Calibrate, write, and print the coefficients and the coverage."""
    from pathlib import Path

    from data_generation.manifest import load_manifest, manifest_sha256
    from data_generation.tfrecords import read_numpy
    from debvader_euclid.deblender import Deblender, uses_noise_sigma
    from debvader_euclid.flux_errors import (
        error_terms,
        fit_flux_error_model,
        options_key,
        write_flux_error_model,
    )
    from debvader_euclid.training.artifacts import read_provenance

    manifest = load_manifest(args.data)
    if manifest.kind != "blended":
        raise ValueError(
            f"{args.data} holds {manifest.kind} stamps; the flux errors of a deblender are "
            "calibrated on a blended data set"
        )
    deblender = Deblender.load(args.model)
    key = options_key(args.neighbours, args.refine, args.symmetrize)
    data = read_numpy(
        args.data, CALIBRATION_FIELDS, max_examples=args.max_examples, shards=args.shards
    )
    stamps, sigma = data["blend_noisy"], data["noise_sigma_uJy"]
    log.info("deblending %d blends of %s with %s", len(stamps), args.data, key)
    central = deblender.deblend(
        stamps,
        batch_size=args.batch_size,
        symmetrize=args.symmetrize,
        neighbours=args.neighbours,
        refine=args.refine,
        noise_sigma_uJy=sigma if uses_noise_sigma(args.neighbours, args.refine) else None,
    )
    terms = error_terms(stamps, central, sigma)
    calibration = {
        "command_line": command_line(args),
        "data": str(Path(args.data).resolve()),
        "manifest_sha256": manifest_sha256(args.data),
        "content_sha256": manifest.content_sha256(),
        "shards": list(args.shards) if args.shards is not None else "all",
        "weights_sha256": read_provenance(deblender.folder).get("files", {}),
    }
    model = fit_flux_error_model(data["central_stamp_flux_uJy"], terms, key, calibration)
    path = write_flux_error_model(deblender.folder, model, overwrite=args.overwrite)
    summary = model.calibration
    sys.stdout.write(
        f"flux error model for {key} ({summary['n']} blends): "
        f"sigma_F^2 = ({model.model_fraction:.4f} F)^2 + {model.noise_flux_coefficient:.4f}^2 "
        f"F sigma_0 + ({model.noise_factor:.4f} sigma_0)^2 + "
        f"({model.contamination_factor:.4f} K)^2\n"
        f"within 1 sigma_F: {summary['within_1_sigma']:.3f}, "
        f"within 2 sigma_F: {summary['within_2_sigma']:.3f}\n"
        f"written to {path}\n"
    )
    log.info("a shipped model lists %s in SHA256SUMS: run `make model-checksums`", path.name)
    return 0
