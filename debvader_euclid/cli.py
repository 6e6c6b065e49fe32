"""The ``debvader-euclid`` command.

Each subcommand lives in the module that does its job and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the
parsed arguments, returns an exit status). This module only assembles them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from debvader_euclid import __version__

log = logging.getLogger("debvader_euclid")

#: Modules that contribute subcommands, in the order they appear in ``--help``.
SUBCOMMAND_MODULES = (
    "data_generation.command",
    "data_generation.combine",
    "data_generation.describe",
    "data_generation.validate_command",
    "debvader_euclid.training.command",
    "debvader_euclid.evaluation.command",
    "debvader_euclid.evaluation.compare",
    "debvader_euclid.deblend_command",
    "debvader_euclid.calibrate_command",
    "debvader_euclid.demo",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="debvader-euclid",
        description="Simulate, train and deblend Euclid VIS galaxy stamps with VAEs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log debug messages (default: info)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``debvader-euclid`` console script.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 2 for bad input (the message says what and how
        to fix it), 130 when interrupted.
    """
    # Quiet TensorFlow's C++ start-up chatter in this command and its worker processes.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        log.error("%s", err)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted: re-run the same command to resume where it stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
