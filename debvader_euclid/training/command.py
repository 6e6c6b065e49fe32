"""``debvader-euclid train vae`` and ``debvader-euclid train deblender``.

Examples
--------
::

    debvader-euclid train vae --data data/isolated --out runs/vae --config vae.json
    debvader-euclid train deblender --vae runs/vae --data data/blended --out runs/deblender

    # continue an interrupted run (same command plus --resume)
    debvader-euclid train vae --data data/isolated --out runs/vae --resume

TensorFlow is imported only when a subcommand runs, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand (with ``vae`` and ``deblender``) to the CLI."""
    train = subparsers.add_parser(
        "train",
        help="train the VAE (stage 1) or the deblender (stage 2)",
        description=(
            "Train stage 1 (`train vae`: noisy -> noiseless isolated stamps) or stage 2 "
            "(`train deblender`: a new encoder for blends into the frozen stage-1 decoder)."
        ),
    )
    stages = train.add_subparsers(dest="stage", metavar="STAGE", required=True)

    vae = stages.add_parser(
        "vae",
        help="stage 1: VAE on isolated stamps",
        description="Stage 1: train the VAE on an 'isolated' data set.",
    )
    _add_common(vae, kind="isolated")
    vae.set_defaults(func=run_train, vae=None, init_encoder=None)

    deblender = stages.add_parser(
        "deblender",
        help="stage 2: deblender on blended stamps, decoder frozen",
        description=(
            "Stage 2: train a freshly initialised encoder on a 'blended' data set, "
            "feeding the frozen decoder of a finished stage-1 folder."
        ),
    )
    deblender.add_argument(
        "--vae", required=True, metavar="DIR", help="finished output folder of `train vae`"
    )
    deblender.add_argument(
        "--init-encoder",
        metavar="DIR",
        help="start the blend encoder from the weights of a finished `train deblender` "
        "folder with the same architecture and the same stage-1 decoder (fine-tuning, "
        "e.g. with another loss); default: a fresh initialisation",
    )
    _add_common(deblender, kind="blended")
    deblender.set_defaults(func=run_train)


def _add_common(parser: argparse.ArgumentParser, kind: str) -> None:
    parser.add_argument(
        "--data",
        required=True,
        metavar="DIR",
        help=f"{kind!r} data set folder (with manifest.json)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder: config, weights, history, provenance, checkpoints, logs",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help='JSON configuration {"model": {...}, "training": {...}}, partial (defaults '
        "fill the rest); a previous run's config.json works",
    )
    parser.add_argument(
        "--val-data",
        metavar="DIR",
        help="separate validation data set (default: hold out the last shards of --data, "
        "see training.val_fraction)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last checkpoint (starts it if there is none)",
    )
    mode.add_argument(
        "--overwrite", action="store_true", help="delete a previous run in --out first"
    )
    parser.add_argument(
        "--verify-data",
        action="store_true",
        help="check the SHA-256 of every shard before training (reads the data once)",
    )
    parser.add_argument(
        "--progress",
        choices=("auto", "bar", "epoch", "none"),
        default="auto",
        help="progress display: a bar, one line per epoch, or none (default: a bar on a "
        "terminal, else one line per epoch)",
    )


def command_line(args: argparse.Namespace) -> list[str]:
    """The command that reproduces ``args`` (recorded in ``provenance.json``)."""
    cmd = ["debvader-euclid", "train", args.stage]
    if args.vae is not None:
        cmd += ["--vae", str(args.vae)]
    if getattr(args, "init_encoder", None):
        cmd += ["--init-encoder", str(args.init_encoder)]
    cmd += ["--data", str(args.data), "--out", str(args.out)]
    if args.config:
        cmd += ["--config", str(args.config)]
    if args.val_data:
        cmd += ["--val-data", str(args.val_data)]
    for flag in ("resume", "overwrite", "verify_data"):
        if getattr(args, flag):
            cmd.append("--" + flag.replace("_", "-"))
    return cmd


def run_train(args: argparse.Namespace) -> int:
    """Run ``train vae`` / ``train deblender``.

    Returns
    -------
    int
        0 when training completed, 1 when it failed (non-finite loss). Bad input
        raises ValueError / FileNotFoundError / FileExistsError before training.
    """
    from debvader_euclid.training.trainer import train_stage

    verbose = {"auto": None, "bar": 1, "epoch": 2, "none": 0}[args.progress]
    result = train_stage(
        args.stage,
        args.data,
        args.out,
        config=args.config,
        vae=args.vae,
        init_encoder=getattr(args, "init_encoder", None),
        val_data=args.val_data,
        resume=args.resume,
        overwrite=args.overwrite,
        verify_data=args.verify_data,
        command_line=command_line(args),
        verbose=verbose,
    )
    return 0 if result.status == "complete" else 1
