"""``debvader-euclid evaluate``: metrics, figures and a report for a trained model.

Examples
--------
::

    debvader-euclid evaluate --model analytic --data data/blended-test --out reports/blended
    debvader-euclid evaluate --model trained_models/analytic --data data/isolated-test \\
        --out reports/isolated --max-examples 2000

A blended data set is evaluated with the model's deblender (stage 2), an isolated
one with its stage-1 VAE. TensorFlow is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import logging
import sys

from data_generation.manifest import parse_shard_list
from debvader_euclid.deblending_options import add_deblending_options, deblending_option_words

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand to the CLI."""
    parser = subparsers.add_parser(
        "evaluate",
        help="metrics, figures and a report of a trained model on a data set",
        description=(
            "Evaluate a trained model on a data set with truth: the paper's Table 1 "
            "(std of (F_true - F_pred) / F_true) next to ours and a sep baseline, "
            "per-magnitude statistics, Fig 2-5-style figures, morphology and blending "
            "dependence, written to a report folder. A blended data set is evaluated "
            "with the deblender, an isolated one with the stage-1 VAE."
        ),
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="NAME|DIR",
        help="shipped model name (e.g. analytic), model folder holding deblender/ and vae/, "
        "or a stage folder written by `debvader-euclid train`",
    )
    parser.add_argument(
        "--ensemble-with",
        action="append",
        default=[],
        metavar="NAME|DIR",
        help="another model of the same stage (repeatable): the prediction becomes the "
        "pixel-wise mean of --model's and theirs, each with the same options; no flux "
        "error report for an ensemble",
    )
    parser.add_argument(
        "--data", required=True, metavar="DIR", help="data set folder (with manifest.json)"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="report folder to write")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the report files of an existing --out (other files are kept)",
    )
    parser.add_argument(
        "--max-examples",
        type=int,
        metavar="N",
        help="evaluate only the first N examples (default: all)",
    )
    parser.add_argument(
        "--shards",
        type=shard_list,
        metavar="LIST",
        help="evaluate only these shards, e.g. 67-74 or 0,3,5 (default: all); for "
        "example the validation shards a training held out",
    )
    parser.add_argument(
        "--panels",
        type=int,
        default=6,
        metavar="N",
        help="examples shown in panels.png (default 6; 0: no figure)",
    )
    parser.add_argument(
        "--no-sep", action="store_true", help="skip the sep (SExtractor-style) baseline"
    )
    parser.add_argument(
        "--batch-size", type=int, default=512, help="stamps per network call (default 512)"
    )
    add_deblending_options(
        parser,
        noise_note=" (blended data; the neighbours are detected with each stamp's true noise "
        "sigma, or the estimate with --estimate-noise)",
    )
    parser.add_argument(
        "--psf",
        choices=("data", "reference"),
        default="data",
        help="PSF-conditioned deblenders only: give them the PSF the data set was simulated "
        "with (data, default) or none, so that they assume their reference PSF (reference); "
        "other models take no PSF",
    )
    parser.add_argument(
        "--estimate-noise",
        action="store_true",
        help="with --neighbours check/subtract or --refine: give the deblender the noise "
        "level estimated from the stamps instead of the true one "
        "(Deblender.deblend(..., noise_sigma_uJy='estimate'))",
    )
    parser.set_defaults(func=run)


def shard_list(text: str) -> tuple[int, ...]:
    """Parse ``"67-74"`` or ``"0,3,5"`` (or a mix, ``"0-2,9"``) into shard indices.

    :func:`data_generation.manifest.parse_shard_list`, raising the error argparse reports.
    """
    try:
        return parse_shard_list(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def command_line(args: argparse.Namespace) -> list[str]:
    """The command that reproduces ``args`` (recorded in ``evaluation.json``)."""
    cmd = ["debvader-euclid", "evaluate", "--model", str(args.model)]
    for other in getattr(args, "ensemble_with", None) or ():
        cmd += ["--ensemble-with", str(other)]
    cmd += ["--data", str(args.data), "--out", str(args.out)]
    if args.overwrite:
        cmd.append("--overwrite")
    if args.max_examples is not None:
        cmd += ["--max-examples", str(args.max_examples)]
    if getattr(args, "shards", None) is not None:
        cmd += ["--shards", ",".join(map(str, args.shards))]
    cmd += ["--panels", str(args.panels), "--batch-size", str(args.batch_size)]
    if args.no_sep:
        cmd.append("--no-sep")
    cmd += deblending_option_words(args)
    if getattr(args, "estimate_noise", False):
        cmd.append("--estimate-noise")
    if getattr(args, "psf", "data") != "data":
        cmd += ["--psf", args.psf]
    return cmd


def run(args: argparse.Namespace) -> int:
    """Run the evaluation; print the Table 1 comparison; return the exit status."""
    from debvader_euclid.evaluation.report import evaluate

    result = evaluate(
        args.model,
        args.data,
        args.out,
        overwrite=args.overwrite,
        max_examples=args.max_examples,
        shards=args.shards,
        n_panels=args.panels,
        run_sep=not args.no_sep,
        batch_size=args.batch_size,
        symmetrize=args.symmetrize,
        neighbours=args.neighbours,
        refine=args.refine,
        estimate_noise=args.estimate_noise,
        command_line=command_line(args),
        ensemble_with=args.ensemble_with,
        psf=args.psf,
    )
    sys.stdout.write(result.table1())
    print(f"report: {result.out / 'report.md'}")
    return 0
