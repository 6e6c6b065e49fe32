"""``debvader-euclid demo``: the main job, end to end, on fresh data.

1. Generates a fresh isolated and a fresh blended test set with the built-in
   EGG-recipe generator (seed 2026, never used for the shipped models' training).
2. Evaluates the shipped model on them: the stage-1 VAE on the isolated stamps,
   the deblender on the blends, with the sep (SExtractor-style) baseline on the
   same stamps.
3. Evaluates the deblender once more on the same blends with
   ``neighbours="check"`` (bright neighbours deblended and subtracted where they
   inflate the central galaxy; :mod:`debvader_euclid.neighbours`).
4. Prints the Table 1 comparison (ours beside the paper's) and the neighbour
   check's figures, and leaves the three evaluation reports (tables, figures,
   ``report.md``) in the output folder.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: Seed of the demo's data: the shipped models were trained on seeds 1 and 2 and
#: tested on 1001 and 1002 (trained_models/analytic/README.md).
DEMO_SEED = 2026


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="generate fresh VIS stamps, deblend them with the shipped model, compare with "
        "the paper's Table 1",
    )
    parser.add_argument("--out", default="demo_output", help="output folder (demo_output)")
    parser.add_argument("--model", default="analytic", help="model name or folder (analytic)")
    parser.add_argument("--n-stamps", type=int, default=2000, help="stamps per data set (2000)")
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help=f"seed ({DEMO_SEED})")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit status."""
    import pandas as pd

    from data_generation.config import GenerationConfig
    from data_generation.describe import describe_dataset
    from data_generation.pipeline import generate_dataset
    from debvader_euclid.evaluation import evaluate
    from debvader_euclid.evaluation.tables import table1_markdown

    out = Path(args.out)
    results = []
    for offset, kind in enumerate(("isolated", "blended")):
        data_dir = out / f"{kind}-data"
        config = GenerationConfig(
            kind=kind, n_stamps=args.n_stamps, seed=args.seed + offset, shard_size=500
        )
        generate_dataset(config, data_dir, workers=args.workers, progress=True)
        print("\n".join(describe_dataset(data_dir)), end="\n\n")
        results.append(evaluate(args.model, data_dir, out / f"{kind}-report", overwrite=True))

    checked = evaluate(
        args.model,
        out / "blended-data",
        out / "blended-check-report",
        overwrite=True,
        n_panels=0,
        neighbours="check",
    )

    metrics = pd.concat([r.metrics for r in results], ignore_index=True)
    print("Table 1: std of (F_true - F_pred) / F_true, F_true = flux of the noiseless stamp")
    print(table1_markdown(metrics))
    print(_comparison_line(results[1].metrics, checked.metrics))
    for label, result in zip(
        ("isolated", "blended", "blended, neighbours='check'"), (*results, checked), strict=True
    ):
        print(f"{label} report: {result.out / 'report.md'} (figures beside it)")
    return 0


def _comparison_line(plain: pd.DataFrame, checked: pd.DataFrame) -> str:
    """One line: the deblender's statistics on the blends without and with the neighbour check."""

    def stats(metrics: pd.DataFrame) -> str:
        row = metrics[(metrics["method"] == "ours") & (metrics["flux_true"] == "stamp")].iloc[0]
        return (
            f"std {100 * row['std']:.2f}%, sigma_MAD {100 * row['sigma_mad']:.2f}%, "
            f"|r| > 50% {100 * row['fraction_catastrophic']:.2f}%"
        )

    return (
        f"Blends, Deblender.deblend(...): {stats(plain)}; with neighbours='check': "
        f"{stats(checked)}\n"
    )
