"""Deblending options shared by the ``evaluate``, ``deblend`` and ``calibrate-errors`` commands.

Each command runs :meth:`debvader_euclid.Deblender.deblend` with the same three
choices: ``symmetrize``, ``neighbours`` and ``refine``. They are declared once here
so that the three commands spell them, check them and record them alike.
"""

from __future__ import annotations

import argparse

#: The choices of ``--neighbours``: :data:`debvader_euclid.neighbours.NEIGHBOUR_MODES`,
#: repeated so that building the command-line parser does not import sep.
NEIGHBOUR_CHOICES = ("keep", "check", "subtract")

_HELP = {
    "symmetrize": "average each prediction over the 8 rotations and flips of its stamp "
    "(8 times slower; Deblender.deblend(..., symmetrize=True))",
    "neighbours": "what the deblender does with the other sources sep detects in each stamp: "
    "keep (default, the network alone), subtract (deblend the neighbours, subtract those "
    "more than 3 times brighter than the central galaxy, deblend again) or check (the plain "
    "prediction, replaced by the subtracted one where it is more than 1.5 times brighter); "
    "see debvader_euclid.neighbours",
    "refine": "combine each prediction with the data where the central galaxy is bright "
    "(inverse-variance weights: more precise fluxes of bright galaxies, a little noise in "
    "their brightest pixels); see debvader_euclid.refine",
}


def add_deblending_options(
    parser: argparse.ArgumentParser, prefix: str = "", noise_note: str = ""
) -> None:
    """Add ``--symmetrize``, ``--neighbours {keep,check,subtract}`` and ``--refine``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    prefix : str
        Words put before each help text, saying what the option is for in this
        command (e.g. ``"calibrate the errors of this option: "``).
    noise_note : str
        Words put after the help texts of ``--neighbours`` and ``--refine``, the two
        options that need the pixel noise: where this command takes it from.
    """
    parser.add_argument("--symmetrize", action="store_true", help=prefix + _HELP["symmetrize"])
    parser.add_argument(
        "--neighbours",
        choices=NEIGHBOUR_CHOICES,
        default="keep",
        help=prefix + _HELP["neighbours"] + noise_note,
    )
    parser.add_argument("--refine", action="store_true", help=prefix + _HELP["refine"] + noise_note)


def deblending_option_words(args: argparse.Namespace) -> list[str]:
    """The options of ``args`` that differ from the defaults, as command-line words.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of a command that called :func:`add_deblending_options`.

    Returns
    -------
    list of str
        E.g. ``["--symmetrize", "--neighbours", "check", "--refine"]``, in that order.
    """
    words = []
    if getattr(args, "symmetrize", False):
        words.append("--symmetrize")
    if getattr(args, "neighbours", "keep") != "keep":
        words += ["--neighbours", args.neighbours]
    if getattr(args, "refine", False):
        words.append("--refine")
    return words
