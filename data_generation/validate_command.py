"""``debvader-euclid validate-catalogue``: compare the EGG-recipe catalogues with the literature.

Prints the Markdown report of :func:`data_generation.validation.run_validation`
(galaxy number counts, cumulative density and median sizes against published
measurements) and exits with status 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from data_generation.io_utils import atomic_path

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``validate-catalogue`` subcommand."""
    parser = subparsers.add_parser(
        "validate-catalogue",
        help="compare the built-in EGG-recipe catalogues with published galaxy counts and sizes",
        description=(
            "Draw the built-in EGG-recipe catalogues and compare them with COSMOS2020 "
            "i-band counts (Weaver et al. 2022), the LSST Science Book density at i < 25 "
            "and the Miller et al. (2013) size-magnitude relation. Prints Markdown tables "
            "and one PASS/FAIL line per check; exit status 0 when all pass, 1 otherwise."
        ),
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the catalogues (default: 42)")
    parser.add_argument("--out", type=Path, help="also write the Markdown report to this file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print (and optionally write) the report; returns the exit status.

    Raises
    ------
    FileExistsError
        ``--out`` exists and ``--overwrite`` was not given (checked before any work).
    """
    from data_generation.validation import run_validation

    out: Path | None = args.out
    if out is not None and out.exists() and not args.overwrite:
        raise FileExistsError(f"{out} exists: pass --overwrite to replace it")
    t0 = time.perf_counter()
    result = run_validation(seed=args.seed)
    report = result.to_markdown()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out) as tmp:
            tmp.write_text(report)
        log.info("report written to %s", out)
    print(report, end="")
    log.info(
        "catalogue validation %s in %.1f s",
        "passed" if result.passed else "FAILED",
        time.perf_counter() - t0,
    )
    return 0 if result.passed else 1
